//! The generated C code base of small kernels (tests/support/c_kernels.rs, the 50,000
//! at a size that keeps this to about a minute) as clang 22 writes its IR: built with one
//! target and with the default four, every target this CPU runs gives gcc's results, and the
//! image does not depend on the thread count or on whether the shards came from the cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::c_kernels::{generate_c, C_FLAGS};
use crate::cache::{build_report, emitted, os, shards};
use crate::common::*;

const KERNELS: usize = 2_000;
const SEEDS: [u64; 4] = [0, 1, 0x0123_4567_89ab_cdef, u64::MAX];

/// The C source in `dir`, its clang-22 IR and gcc's shared library of it.
struct Fixture {
    ir: PathBuf,
    reference: PathBuf,
}

fn fixture(dir: &Path) -> Fixture {
    let c = dir.join("kernels.c");
    std::fs::write(&c, generate_c(KERNELS, None)).unwrap();
    let ir = dir.join("kernels.ll");
    check(
        Command::new(CLANG)
            .args(C_FLAGS)
            .args(["-S", "-emit-llvm"])
            .arg(&c)
            .arg("-o")
            .arg(&ir),
    );
    let reference = dir.join("libkernels-gcc.so");
    check(
        Command::new("gcc")
            .args(C_FLAGS)
            .arg("-shared")
            .arg(&c)
            .arg("-o")
            .arg(&reference)
            .arg("-lm"),
    );
    Fixture { ir, reference }
}

/// `aotlink build` of `ir` into `out` with `extra` arguments; the build report.
fn build(ir: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut args = vec![os("build"), ir.as_os_str(), os("--export-all"), os("-o")];
    args.push(out.as_os_str());
    args.extend(extra.iter().map(|a| os(a)));
    build_report(&args)
}

/// gcc's `kernels_run` for each seed.
fn expected(reference: &Path) -> Vec<u64> {
    // SAFETY: gcc's build of the generated source, whose `kernels_run` has this signature.
    unsafe {
        let library = libloading::Library::new(reference).unwrap();
        let run = library
            .get::<extern "C" fn(u64) -> u64>(b"kernels_run")
            .unwrap();
        SEEDS.iter().map(|&s| run(s)).collect()
    }
}

/// Opens `image` on each of its targets this CPU runs and compares `kernels_run` with gcc's
/// results; returns how many targets ran.
fn assert_every_runnable_target_agrees(image: &Path, expected: &[u64]) -> usize {
    on_each_runnable_target(image, |opened| {
        let export = (opened.meta().exports.iter())
            .find(|e| e.name == "kernels_run")
            .expect("kernels_run is exported");
        let address = opened.fvars()[export.fvar as usize];
        // SAFETY: the image's `kernels_run`, compiled from the same source as gcc's.
        let run: extern "C" fn(u64) -> u64 = unsafe { std::mem::transmute(address) };
        let got: Vec<u64> = SEEDS.iter().map(|&s| run(s)).collect();
        let target = opened.target_name();
        assert_eq!(got, expected, "target {target} of {}", image.display());
    })
}

#[test]
fn generated_kernels_with_one_and_four_targets_give_gccs_results() {
    let dir = scratch("scale-c-kernels");
    let fixture = fixture(&dir);
    let expected = expected(&fixture.reference);
    // The fold really depends on the seed (a constant result would compare equal anyway).
    assert!(expected.windows(2).all(|w| w[0] != w[1]), "{expected:?}");

    let one = dir.join("one/libkernels.so");
    build(
        &fixture.ir,
        &one,
        &["--cpu-target", "generic", "--no-cache"],
    );
    assert_eq!(assert_every_runnable_target_agrees(&one, &expected), 1);
    // What the kernels reach through the table of all of them is kept once, on the table: the
    // manifest grows with the kernels. Copied into each kernel that calls through the table
    // (a sixth of them), it had 670,000 edges here and 270 MB of metadata at 20,000 kernels.
    let opened = crate::common::open(&one);
    let meta = opened.meta();
    let edges = |c: &[u32], x: &[u32], d: &[u32]| c.len() + x.len() + d.len();
    let total: usize = (meta
        .methods
        .iter()
        .map(|m| edges(&m.callees, &m.external, &m.data)))
    .chain(
        meta.gvars
            .iter()
            .map(|g| edges(&g.callees, &g.external, &g.data)),
    )
    .sum();
    assert!(total < 4 * KERNELS, "{total} edges for {KERNELS} kernels");
    let table = (meta.gvars.iter())
        .find(|g| g.name == "kernel_table")
        .expect("the table is a gvar");
    assert_eq!(table.callees.len(), KERNELS, "the table holds every kernel");

    let four = dir.join("four/libkernels.so");
    let report = build(&fixture.ir, &four, &["--no-cache"]);
    assert!(shards(&report) >= 2, "{report}");
    let targets = crate::common::open(&four).meta().targets.len();
    assert_eq!(targets, 4, "the default x86_64 targets");
    let ran = assert_every_runnable_target_agrees(&four, &expected);
    assert!(
        ran >= 2,
        "this CPU should run generic and sandybridge at least"
    );
}

/// The command line builds from the input check's bitcode of the text IR (the child hands it
/// over), the library, which runs no check, from the text; both parse the text with the
/// kernel table moved after the kernels. `llvm-as` reads the text as it is. One module, one
/// image.
#[test]
fn the_checked_bitcode_and_the_text_give_the_same_image() {
    let dir = scratch("scale-checked-bitcode");
    let fixture = fixture(&dir);
    let cli = dir.join("cli/libkernels.so");
    let generic = ["--cpu-target", "generic", "--no-cache"];
    build(&fixture.ir, &cli, &generic);
    let assembled = dir.join("kernels.bc");
    check(
        Command::new("llvm-as-22")
            .arg(&fixture.ir)
            .arg("-o")
            .arg(&assembled),
    );
    let from_bitcode = dir.join("bitcode/libkernels.so");
    build(&assembled, &from_bitcode, &generic);
    assert!(
        std::fs::read(&cli).unwrap() == std::fs::read(&from_bitcode).unwrap(),
        "{} and {} differ",
        cli.display(),
        from_bitcode.display()
    );
    let library = dir.join("library/libkernels.so");
    std::fs::create_dir_all(library.parent().unwrap()).unwrap();
    aotlink::Build::new()
        .input(&fixture.ir)
        .export_all(true)
        .cpu_targets(aotlink::target::CpuTarget::parse_list("generic").unwrap())
        .cache(aotlink::CacheLocation::Off)
        .build(&library)
        .unwrap();
    assert!(
        std::fs::read(&cli).unwrap() == std::fs::read(&library).unwrap(),
        "{} and {} differ",
        cli.display(),
        library.display()
    );
}

/// The default four targets: emitted on 2 threads without a cache, on 1 thread into an empty
/// cache, and on 2 threads all from that cache: one image, byte for byte.
#[test]
fn generated_kernels_image_is_the_same_at_any_thread_count_cold_or_warm() {
    let dir = scratch("scale-c-kernels-determinism");
    let fixture = fixture(&dir);
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    // One file name throughout: the image records it as its soname.
    let image = |name: &str| dir.join(name).join("libkernels.so");
    build(
        &fixture.ir,
        &image("clean"),
        &["--threads", "2", "--no-cache"],
    );
    let cold = build(
        &fixture.ir,
        &image("cold"),
        &["--threads", "1", "--cache-dir", cache],
    );
    assert_eq!(emitted(&cold).len() as u64, shards(&cold), "{cold}");
    let warm = build(
        &fixture.ir,
        &image("warm"),
        &["--threads", "2", "--cache-dir", cache],
    );
    assert_eq!(emitted(&warm), Vec::<u64>::new(), "{warm}");
    let clean = std::fs::read(image("clean")).unwrap();
    assert!(
        clean == std::fs::read(image("cold")).unwrap(),
        "1 thread, cold cache"
    );
    assert!(clean == std::fs::read(image("warm")).unwrap(), "warm cache");
}
