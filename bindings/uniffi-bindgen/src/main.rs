//! `uniffi-bindgen` at exactly the UniFFI version of `libtinystore` (a mismatch fails at load
//! time), run from the workspace: `cargo run -p uniffi-bindgen -- generate <lib> -l python ...`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
