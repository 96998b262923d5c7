//! Gives the shared library its SONAME on Linux (and other ELF systems): `libtinystore.so.<major>`,
//! the ABI version of `include/README.md`'s policy, so that a program linked with `-ltinystore`
//! records the ABI it was built against and keeps loading any later `libtinystore.so.<major>.y.z`.
//! Which symbols the library exports needs no script of ours: rustc exports exactly the
//! `#[no_mangle]` items (`tinystore_*` and UniFFI's), and `make dist` checks that it stays so.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = !matches!(os.as_str(), "macos" | "ios" | "windows" | "android" | "");
    if elf {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtinystore.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
