//! libtinystore: the C ABI and UniFFI bindings (filled in by later issues).
