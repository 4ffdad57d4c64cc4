//! Libraries of several translation units, each compiled to its own IR file and given to
//! aotlink together, as a runtime or a build system does: a C++ library of three units, C files
//! with clashing `static` names, common symbols, weak definitions, constructors and a linker
//! set, and a library half C half Rust. Each image runs one C program's sequence of calls and prints what
//! the same sources built by gcc / g++ as a shared library print, whatever the shard count.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn source(name: &str) -> PathBuf {
    repo().join("tests/it/translation_units").join(name)
}

/// The C program that loads a library and prints what `NAME:ARG` calls return, in order.
fn caller(dir: &Path) -> PathBuf {
    let exe = dir.join("caller");
    check(
        Command::new("cc")
            .arg(source("caller.c"))
            .arg("-o")
            .arg(&exe)
            .arg("-ldl"),
    );
    exe
}

/// What `caller library calls...` prints (it must succeed).
fn calls_on(caller: &Path, library: &Path, calls: &[&str]) -> String {
    let out = check(Command::new(caller).arg(library).args(calls));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each of `files` compiled by `compiler` with `flags` to bitcode in `dir`, one file each.
fn ir_files(dir: &Path, compiler: &str, flags: &[&str], files: &[&str]) -> Vec<PathBuf> {
    (files.iter())
        .map(|file| {
            let out = dir.join(Path::new(file).with_extension("bc"));
            check(
                Command::new(compiler)
                    .args(flags)
                    .args(["-c", "-emit-llvm", "-o"])
                    .arg(&out)
                    .arg(source(file)),
            );
            out
        })
        .collect()
}

/// The same files built by `compiler -O2 -fPIC -shared` with `flags`: the reference.
fn reference(dir: &Path, compiler: &str, flags: &[&str], files: &[&str]) -> PathBuf {
    let library = dir.join("libreference.so");
    check(
        Command::new(compiler)
            .args(["-O2", "-fPIC", "-shared"])
            .args(flags)
            .args(files.iter().map(|f| source(f)))
            .arg("-o")
            .arg(&library),
    );
    library
}

/// `aotlink build inputs... --export-all --shards N -o image` with `extra`.
fn image_of(inputs: &[PathBuf], image: &Path, shards: usize, extra: &[&str]) {
    let mut args: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.splice(0..0, ["build".to_string()]);
    args.extend(["--export-all", "--no-cache", "-o"].map(String::from));
    args.push(image.display().to_string());
    args.extend(["--shards".to_string(), shards.to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    aotlink_ok(&args);
}

/// Builds `inputs` over 1 to 4 shards and checks each image prints what `reference` does.
fn assert_runs_like(dir: &Path, inputs: &[PathBuf], reference: &Path, calls: &[&str]) {
    let caller = caller(dir);
    let expected = calls_on(&caller, reference, calls);
    assert!(!expected.contains("not found"), "{expected}");
    for shards in 1..=4 {
        let image = dir.join(format!("image{shards}.so"));
        image_of(inputs, &image, shards, &[]);
        let printed = calls_on(&caller, &image, calls);
        assert_eq!(printed, expected, "{shards} shards, {}", image.display());
    }
}

const CXX_FILES: [&str; 3] = ["library_a.cpp", "library_b.cpp", "library_c.cpp"];
const CXX_CALLS: [&str; 13] = [
    "counter_value:0",
    "a_entry:1",
    "b_entry:2",
    "c_entry:3",
    "register_one:1",
    "b_lookup:1",
    "counter_value:0",
    "tl_value:0",
    "describe_len:4",
    "rtti:5",
    "c_entry:-1",
    "b_entry:9",
    "counter_value:0",
];

/// The C++ library's units, each compiled alone: one instance of what several instantiate, the
/// units' constructors in the order of the inputs (a_entry and b_entry return what each unit's
/// constructor drew from a counter in the header: the first unit's cannot run at compile time,
/// and over one, three or four shards LLVM ran the others' before it).
#[test]
fn cplusplus_units_run_like_gpps_library() {
    let dir = scratch("translation_units_cplusplus");
    for flags in [&["-O2"][..], &["-O0", "-g"]] {
        let flags = [flags, &["-std=c++17"]].concat();
        let inputs = ir_files(&dir, "clang++-22", &flags, &CXX_FILES);
        let text = String::from_utf8_lossy(
            &check(
                Command::new("llvm-dis-22")
                    .arg(&inputs[1])
                    .arg("-o")
                    .arg("-"),
            )
            .stdout,
        )
        .into_owned();
        for what in [
            "comdat",
            "linkonce_odr",
            "thread_local",
            "@llvm.global_ctors",
        ] {
            assert!(text.contains(what), "library_b's IR has no {what}");
        }
        let reference = reference(&dir, "g++", &["-std=c++17"], &CXX_FILES);
        assert_runs_like(&dir, &inputs, &reference, &CXX_CALLS);
    }
}

/// The C++ library linked by a C compiler driver (`--kind sysimg --cc gcc`; `cc` is the
/// default) loads into a C program and runs as g++'s build does: the driver got no C++ runtime,
/// and the image's open failed (undefined symbol: `_ZTVN10__cxxabiv120__si_class_type_infoE`).
#[test]
fn cplusplus_units_linked_by_a_c_driver_load_into_a_c_program() {
    let dir = scratch("translation_units_cplusplus_cc");
    let flags = ["-O2", "-std=c++17"];
    let inputs = ir_files(&dir, "clang++-22", &flags, &CXX_FILES);
    let reference = reference(&dir, "g++", &flags[1..], &CXX_FILES);
    let caller = caller(&dir);
    let image = dir.join("sysimg.so");
    image_of(&inputs, &image, 3, &["--kind", "sysimg", "--cc", "gcc"]);
    assert_eq!(
        calls_on(&caller, &image, &CXX_CALLS),
        calls_on(&caller, &reference, &CXX_CALLS)
    );
}

/// Constructors of one priority in three files run in the order of the inputs for any shard
/// count, as gcc's library runs them, not those LLVM can run at compile time first.
#[test]
fn constructors_run_in_the_order_of_the_inputs() {
    let dir = scratch("translation_units_constructors");
    let files = ["order_a.c", "order_b.c", "order_c.c"];
    let inputs = ir_files(&dir, CLANG, &["-O2"], &files);
    let reference = reference(&dir, "gcc", &[], &files);
    let calls = [
        "constructed:-1",
        "constructed:0",
        "constructed:1",
        "constructed:2",
    ];
    assert_runs_like(&dir, &inputs, &reference, &calls);
    let caller = caller(&dir);
    assert!(calls_on(&caller, &dir.join("image1.so"), &calls).contains("constructed(0) = 1\n"));
}

/// C files with clashing `static` names, common symbols, weak definitions another file
/// overrides, a C99 inline function and constructors of several priorities; optimized and
/// not, with debug information and without, bitcode and text mixed.
#[test]
fn c_units_run_like_gccs_library() {
    let dir = scratch("translation_units_c");
    let files = ["c_unit_a.c", "c_unit_b.c", "c_unit_c.c"];
    let calls = [
        "get_log:-1",
        "get_log:0",
        "get_log:1",
        "get_log:2",
        "get_log:3",
        "get_log:4",
        "get_log:5",
        "a_entry:0",
        "b_entry:1",
        "c_entry:2",
        "a_entry:3",
        "b_entry:4",
        "get_common:5",
    ];
    let reference = reference(&dir, "gcc", &["-fcommon"], &files);
    for flags in [&["-O2"][..], &["-O0", "-g"], &["-O1", "-gdwarf-4"]] {
        let flags = [flags, &["-fcommon"]].concat();
        let inputs = ir_files(&dir, CLANG, &flags, &files);
        assert_runs_like(&dir, &inputs, &reference, &calls);
    }
    // One file as text IR with debug information, the others bitcode without.
    let mut inputs = ir_files(&dir, CLANG, &["-O2", "-fcommon"], &files[..2]);
    let text = dir.join("c_unit_c.ll");
    clang_ir(
        &source("c_unit_c.c"),
        &text,
        &["-O0", "-g", "-fcommon", "-S", "-emit-llvm"],
    );
    inputs.push(text);
    assert_runs_like(&dir, &inputs, &reference, &calls);
}

/// A linker set's entries, one section filled by three files, walked in the order of the
/// inputs as in gcc's library, over any shard count; sorted by name they came out reversed.
#[test]
fn linker_set_entries_keep_the_order_of_the_inputs() {
    let dir = scratch("translation_units_linker_set");
    let files = ["linker_set_a.c", "linker_set_b.c", "linker_set_c.c"];
    let flags = ["-O2", "-fcommon", "-fgnu89-inline"];
    let inputs = ir_files(&dir, CLANG, &flags, &files);
    let reference = reference(&dir, "gcc", &flags[1..], &files);
    let calls = ["count_reg:0", "call_reg:3", "call_reg:-2", "misc:3"];
    assert_runs_like(&dir, &inputs, &reference, &calls);
    let caller = caller(&dir);
    // twice, square, neg: ((0*7 + 6+5)*7 + 9+6)*7 - 3+3
    assert!(calls_on(&caller, &dir.join("image2.so"), &calls).contains("call_reg(3) = 644\n"));
    // --export-all exports what gcc's library does: not the function the source hid (it was
    // exported, and two images holding it would clash in one method table).
    let image = open(&dir.join("image1.so"));
    let exports: Vec<&str> = (image.meta().exports.iter())
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        exports,
        ["call_reg", "count_reg", "gnu_inline", "impl", "misc"]
    );
}

/// C from clang (`x86_64-pc-linux-gnu`) and a Rust crate's IR from rustc
/// (`x86_64-unknown-linux-gnu`) in one image: two spellings of one target. aotlink refused the
/// pair ("target triple ... differs").
#[test]
fn c_and_rust_units_go_into_one_image() {
    let dir = scratch("translation_units_rust");
    let rust_bc = dir.join("rust_half.bc");
    let rust_obj = dir.join("rust_half.o");
    for (emit, out) in [("llvm-bc", &rust_bc), ("obj", &rust_obj)] {
        check(
            Command::new("rustc")
                .args(["-O", "--crate-type=staticlib", "-C", "panic=abort"])
                .args(["-C", "relocation-model=pic", "--emit", emit, "-o"])
                .arg(out)
                .arg(source("rust_half.rs")),
        );
    }
    let c_ll = dir.join("c_half.ll");
    clang_ir(&source("c_half.c"), &c_ll, &["-O2", "-S", "-emit-llvm"]);
    let c_text = std::fs::read_to_string(&c_ll).unwrap();
    assert!(
        c_text.contains("x86_64-pc-linux-gnu"),
        "clang's triple changed"
    );
    let reference = dir.join("libreference.so");
    check(
        Command::new("gcc")
            .args(["-O2", "-fPIC", "-shared"])
            .arg(source("c_half.c"))
            .arg(&rust_obj)
            .arg("-o")
            .arg(&reference),
    );
    let calls: Vec<String> = (0..8).map(|i| format!("entry:{i}")).collect();
    let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
    assert_runs_like(&dir, &[c_ll.clone(), rust_bc.clone()], &reference, &calls);
    // Either first: the image keeps the first input's spelling.
    assert_runs_like(&dir, &[rust_bc.clone(), c_ll], &reference, &calls);
    // Another target is still refused.
    let arm_ll = dir.join("c_half_aarch64.ll");
    let arm = ["--target=aarch64-linux-gnu", "-O2", "-S", "-emit-llvm"];
    clang_ir(&source("c_half.c"), &arm_ll, &arm);
    let image = dir.join("mixed.so");
    let out = run_aotlink([
        "build".as_ref(),
        rust_bc.as_os_str(),
        arm_ll.as_os_str(),
        "-o".as_ref(),
        image.as_os_str(),
    ]);
    assert_clean_failure(&out, "target triple `aarch64-unknown-linux-gnu` differs");
}
