//! Vector arguments and results across CPU versions (x86_64): a 256-bit vector travels in
//! memory or xmm pairs without AVX and in ymm with it, a 512-bit one in zmm with AVX-512, so
//! code of different targets must never call each other with such vectors. Every target this
//! CPU runs must give what gcc's build of the same C gives: exported, internal, through
//! function pointers, through an external-method slot, and called from base-ABI C code.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use aotload::{Image, LoadOptions, MethodTable};

use crate::common::*;

fn source(name: &str) -> PathBuf {
    repo().join("tests/it/vectors").join(name)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `name.c` as text IR with the example's flags.
fn ir(dir: &Path, name: &str) -> PathBuf {
    ir_with(dir, name, &[])
}

fn ir_with(dir: &Path, name: &str, defines: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.ll"));
    run(Command::new(CLANG)
        .args(IR_FLAGS)
        .args(defines)
        .arg("-S")
        .arg("-Wno-psabi")
        .arg(source(&format!("{name}.c")))
        .arg("-o")
        .arg(&out));
    out
}

/// gcc's build of `name.c` as a shared library.
fn gcc_library(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(format!("lib{name}-gcc.so"));
    run(Command::new("gcc")
        .args([
            "-O2",
            "-ffp-contract=off",
            "-fPIC",
            "-shared",
            "-Wno-psabi",
            "-o",
        ])
        .arg(&out)
        .arg(source(&format!("{name}.c"))));
    out
}

struct Fixtures {
    dir: PathBuf,
    image: PathBuf,
    reference: PathBuf,
    /// caller.c by gcc (calls gcc's library) and by clang (calls the image): clang and gcc
    /// return 256-bit vectors differently without AVX (xmm pair / memory), so each caller
    /// is compiled by the frontend of the code it calls.
    gcc_caller: PathBuf,
    clang_caller: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let dir = scratch("vectors");
        let image = dir.join("vectors.so");
        let ll = ir(&dir, "vectors");
        aotlink_ok([
            "build".as_ref(),
            ll.as_os_str(),
            "--export-all".as_ref(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
        let clang_caller = dir.join("libcaller-clang.so");
        run(Command::new(CLANG)
            .args([
                "-O2",
                "-ffp-contract=off",
                "-fPIC",
                "-shared",
                "-Wno-psabi",
                "-o",
            ])
            .arg(&clang_caller)
            .arg(source("caller.c")));
        Fixtures {
            reference: gcc_library(&dir, "vectors"),
            gcc_caller: gcc_library(&dir, "caller"),
            clang_caller,
            image,
            dir,
        }
    })
}

/// The image's targets this CPU runs, each with its own copy of the file (so each open has
/// its own dispatch slots).
fn usable_targets(image: &Path, dir: &Path) -> Vec<(String, PathBuf)> {
    let meta = open(image).meta().clone();
    let usable: Vec<(String, PathBuf)> = meta
        .targets
        .iter()
        .filter(|t| host_runs(t))
        .map(|t| {
            let copy = dir.join(format!(
                "{}-{}",
                t.name,
                image.file_name().unwrap().to_string_lossy()
            ));
            std::fs::copy(image, &copy).unwrap();
            (t.name.clone(), copy)
        })
        .collect();
    assert!(
        usable.len() >= 2,
        "this CPU runs generic and sandybridge at least"
    );
    usable
}

fn forced(path: &Path, target: &str) -> Image {
    let options = LoadOptions {
        target: Some(target.to_string()),
        ..Default::default()
    };
    let image = Image::open(path, &options).unwrap();
    assert_eq!(image.target_name(), target);
    image
}

unsafe fn symbol<T: Copy>(lib: &libloading::Library, name: &str) -> T {
    *lib.get::<T>(name.as_bytes()).unwrap()
}

fn fn_ptr<T: Copy>(image: &Image, name: &str) -> T {
    let p = image
        .lookup(name)
        .unwrap_or_else(|| panic!("{name} has no address"));
    assert_eq!(
        std::mem::size_of::<T>(),
        std::mem::size_of::<*const c_void>()
    );
    // SAFETY: T is the extern "C" fn type of `name`'s C signature (checked by the callers).
    unsafe { std::mem::transmute_copy(&p) }
}

const XS: [f32; 6] = [1.5, -2.25, 0.0, 1e-3, 1234.5, -7.0];

#[test]
fn vector_arguments_agree_with_gcc_on_every_target_this_cpu_runs() {
    let f = fixtures();
    // SAFETY: gcc's builds of the fixture sources.
    let reference = unsafe { libloading::Library::new(&f.reference) }.unwrap();
    type F1 = extern "C" fn(f32) -> f32;
    type F2 = extern "C" fn(f32, i64) -> f32;
    type D1 = extern "C" fn(f64) -> f64;
    type I1 = extern "C" fn(i64) -> i64;
    let (r128, r256, r512, rd, ri): (F1, F2, F2, D1, I1) = unsafe {
        (
            symbol(&reference, "run128"),
            symbol(&reference, "run256"),
            symbol(&reference, "run512"),
            symbol(&reference, "run_double"),
            symbol(&reference, "run_int"),
        )
    };
    for (target, path) in usable_targets(&f.image, &f.dir) {
        let image = forced(&path, &target);
        let (i128, i256, i512): (F1, F2, F2) = (
            fn_ptr(&image, "run128"),
            fn_ptr(&image, "run256"),
            fn_ptr(&image, "run512"),
        );
        let (id, ii): (D1, I1) = (fn_ptr(&image, "run_double"), fn_ptr(&image, "run_int"));
        for x in XS {
            assert_eq!(
                i128(x).to_bits(),
                r128(x).to_bits(),
                "{target}: run128({x})"
            );
            for which in [0, 1] {
                assert_eq!(
                    i256(x, which).to_bits(),
                    r256(x, which).to_bits(),
                    "{target}: run256({x}, {which})"
                );
                assert_eq!(
                    i512(x, which).to_bits(),
                    r512(x, which).to_bits(),
                    "{target}: run512({x}, {which})"
                );
            }
            let d = x as f64 * 1.75;
            assert_eq!(
                id(d).to_bits(),
                rd(d).to_bits(),
                "{target}: run_double({d})"
            );
            let n = (x * 1000.0) as i64 ^ 0x5a5a;
            assert_eq!(ii(n), ri(n), "{target}: run_int({n})");
        }
    }
}

#[test]
fn base_abi_c_code_calls_exported_vector_functions_on_every_target() {
    let f = fixtures();
    // SAFETY: gcc's builds of the fixture sources.
    let reference = unsafe { libloading::Library::new(&f.reference) }.unwrap();
    let gcc_caller = unsafe { libloading::Library::new(&f.gcc_caller) }.unwrap();
    let clang_caller = unsafe { libloading::Library::new(&f.clang_caller) }.unwrap();
    type Call = unsafe extern "C" fn(*const c_void, f32) -> f32;
    // (the caller in caller.c, the exported function it calls): vector arguments (in memory
    // without AVX, so never versioned) and vector results only (versioned, pinned).
    const PAIRS: [(&str, &str); 4] = [
        ("call_v8f", "madd8"),
        ("call_v16f", "madd16"),
        ("call_ret8", "splat8"),
        ("call_ret16", "splat16"),
    ];
    for (target, path) in usable_targets(&f.image, &f.dir.join("exported").tap_mkdir()) {
        let image = forced(&path, &target);
        for (caller, callee) in PAIRS {
            let (ref_call, call): (Call, Call) =
                unsafe { (symbol(&gcc_caller, caller), symbol(&clang_caller, caller)) };
            let theirs = unsafe { *reference.get::<*const c_void>(callee.as_bytes()).unwrap() };
            let ours = image.lookup(callee).unwrap();
            for x in XS {
                unsafe {
                    assert_eq!(
                        call(ours, x).to_bits(),
                        ref_call(theirs, x).to_bits(),
                        "{target}: {callee} at {x}"
                    );
                }
            }
        }
    }
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn versioned_package_code_calls_vector_methods_through_slots() {
    let dir = scratch("vectors-methods");
    let (sys_ll, pkg_ll) = (ir(&dir, "vec_sys"), ir(&dir, "vec_pkg"));
    let sys = dir.join("vec_sys.so");
    aotlink_ok([
        "build".as_ref(),
        sys_ll.as_os_str(),
        "--export-all".as_ref(),
        "--kind".as_ref(),
        "sysimg".as_ref(),
        "-o".as_ref(),
        sys.as_os_str(),
    ]);
    let table = aotlink_ok([
        "inspect".as_ref(),
        "--method-table".as_ref(),
        sys.as_os_str(),
    ]);
    let table_file = dir.join("vec_sys.json");
    std::fs::write(&table_file, &table.stdout).unwrap();
    let pkg = dir.join("vec_pkg.so");
    aotlink_ok([
        "build".as_ref(),
        pkg_ll.as_os_str(),
        "--export-all".as_ref(),
        "--method-table".as_ref(),
        table_file.as_os_str(),
        "-o".as_ref(),
        pkg.as_os_str(),
    ]);
    // The reference: both files built by gcc into one library.
    let reference = dir.join("libvec-gcc.so");
    run(Command::new("gcc")
        .args([
            "-O2",
            "-ffp-contract=off",
            "-fPIC",
            "-shared",
            "-Wno-psabi",
            "-o",
        ])
        .arg(&reference)
        .arg(source("vec_sys.c"))
        .arg(source("vec_pkg.c")));
    // SAFETY: gcc's build of the fixture sources.
    let reference = unsafe { libloading::Library::new(&reference) }.unwrap();
    type F1 = extern "C" fn(f32) -> f32;
    let (r256, r512): (F1, F1) = unsafe {
        (
            symbol(&reference, "pkg_run256"),
            symbol(&reference, "pkg_run512"),
        )
    };
    let pkg_targets = usable_targets(&pkg, &dir);
    let sys_targets = usable_targets(&sys, &dir.join("sys").tap_mkdir());
    for ((target, pkg_copy), (_, sys_copy)) in pkg_targets.iter().zip(&sys_targets) {
        let options = LoadOptions {
            target: Some(target.clone()),
            ..Default::default()
        };
        let mut table = MethodTable::new();
        let _sys = Image::open_in(sys_copy, &options, &mut table).unwrap();
        let image = Image::open_in(pkg_copy, &options, &mut table).unwrap();
        assert!(image.invalidated().is_empty(), "{:?}", image.invalidated());
        let (i256, i512): (F1, F1) = (fn_ptr(&image, "pkg_run256"), fn_ptr(&image, "pkg_run512"));
        for x in XS {
            assert_eq!(
                i256(x).to_bits(),
                r256(x).to_bits(),
                "{target}: pkg_run256({x})"
            );
            assert_eq!(
                i512(x).to_bits(),
                r512(x).to_bits(),
                "{target}: pkg_run512({x})"
            );
        }
    }
}

/// `target("avx2")` kernels behind a run-time check build with the default targets, keep AVX2
/// in every version (the generic one included), and agree with gcc on every target this CPU
/// runs: with a header-only cpuid check in a pkg image (embedded LLD), and with
/// `__builtin_cpu_supports` in a sysimg image (the C driver links the compiler runtime that
/// defines `__cpu_model`).
#[test]
fn target_attribute_kernels_keep_their_features_in_every_version() {
    let dir = scratch("vectors-avx2");
    let reference = gcc_library(&dir, "avx2_dispatch");
    // SAFETY: gcc's build of the fixture source.
    let reference = unsafe { libloading::Library::new(&reference) }.unwrap();
    type Sum = extern "C" fn(i64, i64, i64) -> i64;
    let expected: Sum = unsafe { symbol(&reference, "weighted_sum") };
    let uses_avx2: extern "C" fn() -> i64 = unsafe { symbol(&reference, "uses_avx2") };
    eprintln!(
        "this CPU takes the {} path",
        if uses_avx2() == 1 { "AVX2" } else { "portable" }
    );

    for (defines, kind) in [(&[][..], "pkg"), (&["-DDISPATCH_BUILTIN"][..], "sysimg")] {
        let ll = ir_with(&dir, "avx2_dispatch", defines);
        let archive = dir.join(format!("{kind}.a"));
        let asm = one_shard_asm(&ll, &archive, "obj,asm");
        let generic = function_asm(&asm, "weighted_sum_avx2.aotlink.base");
        assert!(
            generic.contains("%ymm"),
            "{kind}: the generic version lost AVX2"
        );

        let image = dir.join(format!("avx2-{kind}.so"));
        let link = if kind == "pkg" { "pkg" } else { "sysimg" };
        aotlink_ok([
            link.as_ref(),
            archive.as_os_str(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
        for (target, path) in usable_targets(&image, &dir) {
            let loaded = forced(&path, &target);
            let sum: Sum = fn_ptr(&loaded, "weighted_sum");
            for (n, seed, w) in [
                (4096, 7, 3),
                (1000, -5, -77),
                (13, 1 << 40, i64::MAX),
                (0, 1, 2),
            ] {
                assert_eq!(
                    sum(n, seed, w),
                    expected(n, seed, w),
                    "{kind} {target}: weighted_sum({n}, {seed}, {w})"
                );
            }
        }
    }
}
