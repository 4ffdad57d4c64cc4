//! aotlink as a library, the way a runtime calls it from its own process: C compiled to bitcode
//! in memory (by clang, standing in for the runtime's code generator), an image built from
//! those bytes with the shard cache, then loaded with `aotload` and called.
//!
//! `cargo run --release --example embed [CACHE_DIR]` (default: a temp dir). It builds twice:
//! the second build takes every shard from the cache. The test suite runs it.

use std::io::Write as _;
use std::process::{Command, Stdio};

use aotlink::target::CpuTarget;
use aotlink::{Build, CacheLocation};
use aotload::{Image, LoadOptions};

const SOURCE: &str = r#"
double dot(const double *a, const double *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bitcode = compile_to_bitcode(SOURCE)?;
    let scratch = tempfile::tempdir()?;
    let cache = match std::env::args_os().nth(1) {
        Some(dir) => dir.into(),
        None => scratch.path().join("cache"),
    };
    let image = scratch.path().join("embedded.so");
    let build = Build::new()
        .bitcode("runtime-module.bc", bitcode)
        .export("dot")
        .export("fib")
        .cpu_targets(CpuTarget::parse_list("generic;haswell,-rdrnd,base(0)")?)
        .threads(2)
        .cache(CacheLocation::Dir(cache));
    for round in ["first", "second"] {
        let report = build.build(&image)?;
        println!(
            "{round} build: {} shard(s), {} emitted, {} from the cache, {:.1} ms",
            report.shards.len(),
            report.emitted(),
            report.cache.hits,
            report.timings.total.as_secs_f64() * 1e3
        );
    }

    let loaded = Image::open(&image, &LoadOptions::default())?;
    let fib = loaded.lookup("fib").ok_or("fib is not exported")?;
    let dot = loaded.lookup("dot").ok_or("dot is not exported")?;
    // SAFETY: the image was built from SOURCE, where these are the functions' C types.
    let (fib, dot) = unsafe {
        (
            std::mem::transmute::<*const std::ffi::c_void, extern "C" fn(i64) -> i64>(fib),
            std::mem::transmute::<
                *const std::ffi::c_void,
                extern "C" fn(*const f64, *const f64, i64) -> f64,
            >(dot),
        )
    };
    let (a, b) = ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);
    println!("target {}", loaded.target_name());
    println!("fib(20) = {}", fib(20));
    println!("dot = {}", dot(a.as_ptr(), b.as_ptr(), 3));
    Ok(())
}

/// `clang-22 -x c - -emit-llvm -c -o -`: C in, bitcode out, through pipes.
fn compile_to_bitcode(source: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut clang = Command::new("clang-22")
        .args([
            "-x",
            "c",
            "-",
            "-O2",
            "-fno-vectorize",
            "-fno-slp-vectorize",
        ])
        .args(["-emit-llvm", "-c", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run clang-22: {e}"))?;
    clang
        .stdin
        .take()
        .expect("piped")
        .write_all(source.as_bytes())?;
    let out = clang.wait_with_output()?;
    if !out.status.success() {
        return Err("clang-22 failed".into());
    }
    Ok(out.stdout)
}
