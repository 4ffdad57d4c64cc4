//! Gives libaotlink.so a soname that carries the version of its C ABI, so that a program
//! linked against one ABI never loads a library of another (`libaotlink.so.0`).

/// Bumped whenever a declaration of include/aotlink.h changes or goes; tests/it/c_api/abi.rs
/// fails when one does and this has not moved.
const ABI_VERSION: u32 = 0;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libaotlink.so.{ABI_VERSION}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
