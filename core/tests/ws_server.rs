//! WebSocket server tests (being written).
