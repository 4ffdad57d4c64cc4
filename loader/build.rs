//! Gives libaotload.so a soname that carries the version of its C ABI, so that a program
//! linked against one ABI never loads a library of another (`libaotload.so.0`).
//!
//! Only with the `capi` feature: cargo passes a dependency's cdylib link arguments on to the
//! cdylibs that link it, and libaotlink (which links aotload without `capi`) has a soname of
//! its own.

/// Bumped whenever a declaration of include/aotload.h changes or goes; tests/it/c_api/abi.rs
/// fails when one does and this has not moved.
const ABI_VERSION: u32 = 0;

fn main() {
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if linux && std::env::var_os("CARGO_FEATURE_CAPI").is_some() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libaotload.so.{ABI_VERSION}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
