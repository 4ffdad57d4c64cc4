//! Compiles src/llvm_shim.cpp against LLVM 14's headers (the LLVM libraries themselves are
//! linked by llvm-sys).

use std::process::Command;

fn main() {
    let prefix = std::env::var("LLVM_SYS_140_PREFIX").unwrap_or_else(|_| "/usr/lib/llvm-14".into());
    let llvm_config = format!("{prefix}/bin/llvm-config");
    let cxxflags = Command::new(&llvm_config)
        .arg("--cxxflags")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {llvm_config}: {e} (install llvm-14-dev: scripts/setup.sh)")
        });
    let cxxflags = String::from_utf8(cxxflags.stdout).expect("llvm-config prints UTF-8");
    let mut build = cc::Build::new();
    build.cpp(true).file("src/llvm_shim.cpp");
    // LLVM's own -std and warning flags are not ours to inherit.
    for flag in cxxflags
        .split_whitespace()
        .filter(|f| !f.starts_with("-std=") && !f.starts_with("-W"))
    {
        build.flag(flag);
    }
    build
        .flag("-std=c++17")
        .warnings(false)
        .compile("aotlink_llvm_shim");
    println!("cargo:rerun-if-changed=src/llvm_shim.cpp");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_140_PREFIX");
}
