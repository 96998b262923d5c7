//! Unit tests live in the integration suite for now.
