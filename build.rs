//! Compiles the two C++ shims against LLVM 22's headers: src/llvm_shim.cpp (LLVM C++ calls the
//! C API lacks) and src/lld_shim.cpp (LLD's drivers, in the process). The LLVM libraries are
//! linked by llvm-sys; the LLD libraries here, before them on the link line.

use std::process::Command;

const LLD_LIBRARIES: [&str; 5] = ["lldMinGW", "lldCOFF", "lldMachO", "lldELF", "lldCommon"];

fn main() {
    let prefix = std::env::var("LLVM_SYS_221_PREFIX").unwrap_or_else(|_| "/usr/lib/llvm-22".into());
    let llvm_config = format!("{prefix}/bin/llvm-config");
    let run = |arg: &str| {
        let out = Command::new(&llvm_config)
            .arg(arg)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {llvm_config}: {e} (install llvm-22-dev: scripts/setup.sh)")
            });
        String::from_utf8(out.stdout).expect("llvm-config prints UTF-8")
    };
    let cxxflags = run("--cxxflags");
    let libdir = run("--libdir");
    let libdir = libdir.trim();
    for lib in LLD_LIBRARIES {
        let path = format!("{libdir}/lib{lib}.a");
        if !std::path::Path::new(&path).exists() {
            panic!("{path} is missing (install liblld-22-dev: scripts/setup.sh)");
        }
    }

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("src/llvm_shim.cpp")
        .file("src/lld_shim.cpp");
    // LLVM's -std (c++17) and defines, not its warning flags.
    for flag in cxxflags.split_whitespace().filter(|f| !f.starts_with("-W")) {
        build.flag(flag);
    }
    build.include(format!("{prefix}/include"));
    build.warnings(false).compile("aotlink_llvm_shim");

    println!("cargo:rustc-link-search=native={libdir}");
    for lib in LLD_LIBRARIES {
        println!("cargo:rustc-link-lib=static={lib}");
    }
    // LLD's COFF driver merges manifests with libxml2.
    println!("cargo:rustc-link-lib=dylib=xml2");
    println!("cargo:rustc-env=AOTLINK_SOURCE_DIGEST={}", source_digest());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=loader/src");
    println!("cargo:rerun-if-changed=platform");
    println!("cargo:rerun-if-changed=src/llvm_shim.cpp");
    println!("cargo:rerun-if-changed=src/lld_shim.cpp");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_221_PREFIX");
}

/// BLAKE3 (first 16 hex digits) over the paths and contents of every file that decides what
/// aotlink emits: its sources, the loader's (the table formats) and the platform data.
fn source_digest() -> String {
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        let Ok(items) = std::fs::read_dir(dir) else {
            return;
        };
        for item in items.flatten() {
            let path = item.path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["src", "loader/src", "platform"] {
        walk(std::path::Path::new(dir), &mut files);
    }
    files.sort();
    let mut hasher = blake3::Hasher::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.to_string_lossy();
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    hasher.finalize().to_hex()[..16].to_string()
}
