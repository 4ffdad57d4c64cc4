//! Bad input at every stage: one clear line, non-zero exit, no panic, no output left behind,
//! and nothing of a damaged image runs.

use std::path::Path;

use aotload::{Image, LoadCause, LoadOptions};
use object::Object;

use crate::common::*;

fn build_into(dir: &Path, inputs: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["build".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), dir.join("out.so").display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    run_aotlink(&args)
}

#[test]
fn missing_input_file() {
    let dir = scratch("bad-missing");
    let out = build_into(&dir, &[&dir.join("nope.ll")], &[]);
    assert_clean_failure(&out, "nope.ll: cannot read");
    assert_only_files(&dir, &[]);
}

#[test]
fn malformed_ir() {
    let dir = scratch("bad-ir");
    let ll = dir.join("broken.ll");
    std::fs::write(&ll, "define i32 @f() {\n  ret i32 %undefined_value\n}\n").unwrap();
    let out = build_into(&dir, &[&ll], &[]);
    assert_clean_failure(&out, "broken.ll");
    assert_only_files(&dir, &["broken.ll"]);
    std::fs::write(&ll, "define i32 @f(i32 %x) {\n  ret i32 %x\n}\n").unwrap();
    assert_clean_failure(
        &build_into(&dir, &[&ll], &[]),
        "broken.ll: names no target triple",
    );
    std::fs::write(&ll, b"BC\xc0\xde garbage that is not bitcode").unwrap();
    assert_clean_failure(&build_into(&dir, &[&ll], &[]), "broken.ll");
    assert_only_files(&dir, &["broken.ll"]);
}

#[test]
fn trace_naming_an_unknown_function() {
    let dir = scratch("bad-trace");
    let trace = dir.join("trace.txt");
    std::fs::write(&trace, "# comment\ndot_product\n\nno_such_function\n").unwrap();
    let out = build_into(
        &dir,
        &[kernels_ll()],
        &["--trace", &trace.display().to_string()],
    );
    assert_clean_failure(
        &out,
        "trace.txt:4: `no_such_function` is not a function of the inputs",
    );
    assert_only_files(&dir, &["trace.txt"]);
}

/// A traced function that LLVM's GlobalDCE deletes (a `static` or linkonce function nothing
/// calls) is said, not left out of the image in silence; a traced external one stays.
#[test]
fn trace_naming_a_function_nothing_keeps() {
    let dir = scratch("bad-trace-dead");
    let ll = dir.join("dead.ll");
    std::fs::write(
        &ll,
        "target triple = \"x86_64-unknown-linux-gnu\"\n\
         define internal i32 @lonely() {\n  ret i32 1\n}\n\
         define linkonce_odr i32 @odr() {\n  ret i32 2\n}\n\
         define i32 @kept() {\n  ret i32 3\n}\n",
    )
    .unwrap();
    let trace = dir.join("trace.txt");
    for name in ["lonely", "odr"] {
        std::fs::write(&trace, format!("kept\n{name}\n")).unwrap();
        let out = build_into(&dir, &[&ll], &["--trace", &trace.display().to_string()]);
        assert_clean_failure(
            &out,
            &format!("selection removed `{name}`, which the trace reaches"),
        );
        assert_only_files(&dir, &["dead.ll", "trace.txt"]);
    }
    std::fs::write(&trace, "kept\n").unwrap();
    let out = build_into(&dir, &[&ll], &["--trace", &trace.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn export_of_an_unknown_function() {
    let dir = scratch("bad-export");
    let out = build_into(&dir, &[kernels_ll()], &["--export", "nothing_here"]);
    assert_clean_failure(&out, "--export nothing_here");
    assert_only_files(&dir, &[]);
}

#[test]
fn unknown_cc_program() {
    let dir = scratch("bad-cc");
    let out = build_into(
        &dir,
        &[kernels_ll()],
        &["--kind", "sysimg", "--cc", "no-such-cc-1234"],
    );
    assert_clean_failure(&out, "no-such-cc-1234");
    assert_only_files(&dir, &[]);
}

/// A good archive from `dump`, for damaging.
fn good_archive(dir: &Path) -> Vec<u8> {
    let archive = dir.join("good.a");
    aotlink_ok([
        "dump".as_ref(),
        kernels_ll().as_os_str(),
        "--shards".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::remove_file(archive).unwrap();
    bytes
}

#[test]
fn corrupt_and_truncated_archives_given_to_pkg() {
    let dir = scratch("bad-archive");
    let good = good_archive(&dir);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.a", Vec::new()),
        (
            "random.a",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("truncated.a", good[..good.len() / 2].to_vec()),
        ("header-only.a", good[..8].to_vec()),
    ];
    for (name, bytes) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = run_aotlink([
            "pkg".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            dir.join("out.so").as_os_str(),
        ]);
        assert_clean_failure(&out, name);
        let out = run_aotlink([
            "sysimg".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            dir.join("out.so").as_os_str(),
        ]);
        assert_clean_failure(&out, name);
    }
    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    assert_only_files(&dir, &names);
}

fn good_image() -> Vec<u8> {
    std::fs::read(example_image("for-damage", &["--export-all"])).unwrap()
}

#[test]
fn truncated_image_given_to_inspect_and_run() {
    let dir = scratch("bad-truncated-image");
    let good = good_image();
    for cut in [0, 64, good.len() / 3, good.len() - 16] {
        let path = dir.join(format!("cut{cut}.so"));
        std::fs::write(&path, &good[..cut]).unwrap();
        for cmd in [vec!["inspect"], vec!["run"]] {
            let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            args.push(path.display().to_string());
            if cmd[0] == "run" {
                args.extend(["prime_at".to_string(), "1".to_string()]);
            }
            assert_clean_failure(&run_aotlink(&args), &format!("cut{cut}.so"));
        }
    }
}

#[test]
fn foreign_files_are_not_images() {
    // A shared library that is not an aotlink image.
    let out = run_aotlink(["inspect", reference_library().to_str().unwrap()]);
    assert_clean_failure(&out, "not an aotlink image");
    // Text is not a shared library at all.
    let out = run_aotlink(["run", data_file().to_str().unwrap(), "f"]);
    assert_clean_failure(&out, "not a shared library");
}

#[test]
fn image_for_another_architecture_is_refused_before_loading() {
    let dir = scratch("bad-foreign-arch");
    let c = dir.join("tiny.c");
    std::fs::write(&c, "long twice(long x) { return 2 * x; }\n").unwrap();
    let ll = dir.join("tiny.ll");
    let status = std::process::Command::new(crate::common::CLANG)
        .args([
            "--target=aarch64-unknown-linux-gnu",
            "-O2",
            "-S",
            "-emit-llvm",
            "-o",
        ])
        .arg(&ll)
        .arg(&c)
        .status()
        .unwrap();
    assert!(status.success());
    let image = dir.join("tiny-aarch64.so");
    aotlink_ok([
        "build".as_ref(),
        ll.as_os_str(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        image.as_os_str(),
    ]);
    // inspect reads it whatever the host; run refuses it.
    let report = aotlink_ok(["inspect".as_ref(), image.as_os_str()]);
    assert!(String::from_utf8_lossy(&report.stdout).contains("Aarch64"));
    assert_clean_failure(
        &run_aotlink([
            "run".as_ref(),
            image.as_os_str(),
            "twice".as_ref(),
            "2".as_ref(),
        ]),
        "image is for Aarch64",
    );
}

#[test]
fn damaged_code_is_caught_by_the_checksum_before_anything_runs() {
    let dir = scratch("bad-checksum");
    let mut bytes = good_image();
    // Flip a byte in the middle of the code.
    let text = object::File::parse(&*bytes)
        .unwrap()
        .section_by_name(".text")
        .and_then(|s| object::ObjectSection::file_range(&s))
        .unwrap();
    bytes[(text.0 + text.1 / 2) as usize] ^= 0x40;
    let path = dir.join("damaged.so");
    std::fs::write(&path, &bytes).unwrap();
    assert_clean_failure(
        &run_aotlink(["run", path.to_str().unwrap(), "prime_at", "1"]),
        "checksum mismatch",
    );
    assert_clean_failure(
        &run_aotlink(["inspect", path.to_str().unwrap()]),
        "checksum mismatch",
    );
    match Image::open(&path, &LoadOptions::default()) {
        Err(e) => assert!(matches!(e.cause, LoadCause::Checksum { .. }), "{e}"),
        Ok(_) => panic!("damaged image opened"),
    }
}

#[test]
fn header_parser_survives_random_damage() {
    let good = good_image();
    let file = aotload::ImageFile::parse(&good).unwrap();
    let root = file.checksum_file_offset - aotload::format::CHECKSUM_OFFSET;
    let mut rng = Args::new(99);
    let mut next = move || match rng.value(aotload::call::Scalar::Int(64)) {
        aotload::call::Value::Int(v) => v as u64,
        _ => unreachable!(),
    };
    for round in 0..3000 {
        let mut bytes = good.clone();
        // Mostly damage the root and metadata, sometimes anywhere, sometimes cut.
        for _ in 0..1 + next() % 4 {
            let at = match round % 3 {
                0 => root + (next() as usize % 4096).min(bytes.len() - root - 1),
                _ => next() as usize % bytes.len(),
            };
            bytes[at] = next() as u8;
        }
        if round % 7 == 0 {
            bytes.truncate(next() as usize % bytes.len());
        }
        // Never a panic; a parse that succeeds still fails the checksum if a byte the
        // checksum covers changed (the symbol table, for one, it does not cover).
        if let Ok(parsed) = aotload::ImageFile::parse(&bytes) {
            let covered_change = (0..good.len())
                .any(|at| bytes.get(at) != Some(&good[at]) && file.checksum_coverage.covers(at));
            if covered_change {
                assert!(
                    parsed.verify_checksum(&bytes).is_err(),
                    "round {round}: damage not detected"
                );
            }
        }
    }
}

/// A link that fails with many diagnostics names the first twenty, counts them, and says
/// where all of them are: here a Windows DLL (every import must resolve at link time) calling 30 functions
/// nothing defines.
#[test]
fn a_failed_link_keeps_every_diagnostic_line() {
    let dir = scratch("bad-link-diagnostics");
    let mut c = String::new();
    for i in 0..30 {
        c += &format!("long undefined_{i:02}(long);\n");
    }
    c += "long calls_all(long x) { long s = 0;\n";
    for i in 0..30 {
        c += &format!("  s += undefined_{i:02}(x);\n");
    }
    c += "  return s; }\n";
    let source = dir.join("undefined.c");
    std::fs::write(&source, c).unwrap();
    let ll = dir.join("undefined.ll");
    let flag = format!(
        "--target={}",
        crate::cross::target("x86_64-pc-windows-gnu").clang
    );
    let args = [flag.as_str(), "-O2", "-S", "-emit-llvm"];
    clang_ir(&source, &ll, &args);
    let out = build_into(&dir, &[&ll], &["--export-all"]);
    assert_clean_failure(&out, "undefined_");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The message itself names the first twenty and counts them all.
    for i in 0..20 {
        assert!(stderr.contains(&format!("undefined_{i:02}")), "{stderr}");
    }
    assert!(stderr.contains("(30 errors, "), "{stderr}");
    let log = stderr
        .split("all in ")
        .nth(1)
        .and_then(|rest| rest.split_once(')'))
        .map(|(log, _)| log)
        .unwrap_or_else(|| panic!("no log file named: {stderr}"));
    let text = std::fs::read_to_string(log).unwrap();
    for i in 0..30 {
        assert!(
            text.contains(&format!("undefined_{i:02}")),
            "undefined_{i:02} missing from {log}"
        );
    }
    let _ = std::fs::remove_file(log);
}

/// When the dynamic loader refuses an image, its own reason (dlerror's text) reaches the Rust
/// API's error and the CLI's line: here a function no library defines.
#[test]
fn a_dlopen_failure_carries_the_dynamic_loaders_reason() {
    let dir = scratch("bad-dlopen-reason");
    let source = dir.join("u.c");
    std::fs::write(
        &source,
        "long no_such_function_anywhere(long);\nlong f(long x) { return no_such_function_anywhere(x) + 1; }\n",
    )
    .unwrap();
    let ll = dir.join("u.ll");
    clang_ir(&source, &ll, &["-O2", "-S", "-emit-llvm"]);
    let image = dir.join("u.so");
    build_image(&ll, &image, &[]);
    let err = match Image::open(&image, &LoadOptions::default()) {
        Err(e) => e,
        Ok(_) => panic!("an image with an undefined function loaded"),
    };
    assert!(matches!(err.cause, LoadCause::Dlopen(_)));
    assert!(
        err.to_string()
            .contains("undefined symbol: no_such_function_anywhere"),
        "{err}"
    );
    let out = run_aotlink([
        "run".as_ref(),
        image.as_os_str(),
        "f".as_ref(),
        "1".as_ref(),
    ]);
    assert_clean_failure(&out, "undefined symbol: no_such_function_anywhere");
}

/// Files that are not regular files are refused at once, by the loader, `run` and `inspect`:
/// /dev/zero would grow without end, a FIFO would block forever.
#[test]
fn non_regular_files_are_refused_without_reading_them() {
    let dir = scratch("bad-non-regular");
    let fifo = dir.join("image.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    for path in [Path::new("/dev/zero"), fifo.as_path()] {
        let err = match Image::open(path, &LoadOptions::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{} opened", path.display()),
        };
        assert!(err.contains("not a regular file"), "{err}");
        let out = run_aotlink(["run".as_ref(), path.as_os_str(), "f".as_ref()]);
        assert_clean_failure(&out, "not a regular file");
        let out = run_aotlink(["inspect".as_ref(), path.as_os_str()]);
        assert_clean_failure(&out, "not a regular file");
    }
}

/// A shard count beyond the module's definitions is one clear error, not a huge allocation.
#[test]
fn shard_counts_beyond_the_definitions_are_refused() {
    let dir = scratch("bad-shards");
    for shards in ["4294967295", "100000"] {
        let out = build_into(&dir, &[kernels_ll()], &["--shards", shards]);
        assert_clean_failure(&out, &format!("--shards {shards}"));
        assert_only_files(&dir, &[]);
    }
}

/// Bitcode with one flipped bit that makes LLVM's reader crash (a segmentation fault inside
/// LLVMParseIRInContext, found by flipping bits of clang-19's bitcode of the example; LLVM 22
/// still crashes on it):
/// aotlink reads inputs in a child process first, so the crash is one error line naming the
/// file, never a signal of aotlink itself.
#[test]
fn bitcode_that_crashes_llvm_is_one_error_line() {
    // A fixed file, not a flip of bitcode compiled here: clang's output moves with the source
    // and its path, so a flip at a fixed offset of fresh bitcode stops crashing LLVM without
    // notice. This is examples/kernels/kernels.c as clang-19 -O2 -c -emit-llvm made it (source
    // named by a relative path), with bit 1 of byte 8930 flipped: the bitcode reader of LLVM 19
    // and of LLVM 22 then segfaults while materializing the module (llvm-dis-22 dies with
    // SIGSEGV too).
    let dir = scratch("bad-bitcode-crash");
    let damaged = dir.join("damaged.bc");
    std::fs::copy(
        repo().join("tests/it/bad_input/kernels-flipped.bc"),
        &damaged,
    )
    .unwrap();
    let out = build_into(&dir, &[&damaged], &["--export-all"]);
    assert_clean_failure(&out, "damaged.bc: LLVM crashed reading it");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_only_files(&dir, &["damaged.bc"]);
}

/// C whose inline assembly the base CPU cannot assemble: arm64's `crc32b` (zlib's `crc32.c`
/// uses it when clang defines `__ARM_FEATURE_CRC32`) for a target without CRC. LLVM reports
/// it as a diagnostic and, without a handler of ours, printed it in its own form and ended
/// the process with exit(1), a runtime building through the library included.
fn ir_with_inline_asm_only_crc_cpus_assemble(
    dir: &Path,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let c = dir.join("crc.c");
    std::fs::write(
        &c,
        "unsigned crc_byte(unsigned c, unsigned char b) {\n\
         \x20   __asm__(\"crc32b %w0, %w0, %w1\" : \"+r\"(c) : \"r\"(b));\n\
         \x20   return c;\n}\n",
    )
    .unwrap();
    let other = dir.join("other.c");
    std::fs::write(&other, "int plain(int x) { return x + 1; }\n").unwrap();
    let ir = |source: &Path| {
        let out = source.with_extension("ll");
        clang_ir(
            source,
            &out,
            &["--target=arm64-apple-macosx11.0", "-O2", "-S", "-emit-llvm"],
        );
        out
    };
    (ir(&other), ir(&c))
}

#[test]
fn an_llvm_error_during_emission_is_one_line_naming_the_input_and_function() {
    let dir = scratch("bad-inline-asm");
    let (other, crc) = ir_with_inline_asm_only_crc_cpus_assemble(&dir);
    let out = dir.join("out.dylib");
    let run = run_aotlink([
        "build".as_ref(),
        other.as_os_str(),
        crc.as_os_str(),
        "--export-all".as_ref(),
        "--no-cache".as_ref(),
        "--cpu-target".as_ref(),
        "generic".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_clean_failure(
        &run,
        &format!(
            "{}: function `crc_byte` for CPU target `generic`: <inline asm>:1:2: instruction requires: crc (`crc32b w",
            crc.display()
        ),
    );
    assert_only_files(&dir, &["crc.c", "crc.ll", "other.c", "other.ll"]);
    // The platform's default base (apple-m1) has CRC: the same inputs build.
    aotlink_ok([
        "build".as_ref(),
        other.as_os_str(),
        crc.as_os_str(),
        "--export-all".as_ref(),
        "--no-cache".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
}

/// In the library, the same error is an `Err`, and the process (this test) goes on.
#[test]
fn an_llvm_error_during_emission_does_not_end_a_process_building_in_it() {
    let dir = scratch("bad-inline-asm-library");
    let (_, crc) = ir_with_inline_asm_only_crc_cpus_assemble(&dir);
    let result = aotlink::Build::new()
        .input(&crc)
        .export_all(true)
        .cpu_targets(aotlink::target::CpuTarget::parse_list("generic").unwrap())
        .cache(aotlink::CacheLocation::Off)
        .build(&dir.join("out.dylib"));
    let error = result
        .expect_err("the generic version cannot be assembled")
        .to_string();
    assert!(
        error.contains("function `crc_byte` for CPU target `generic`: <inline asm>"),
        "{error}"
    );
    assert_only_files(&dir, &["crc.c", "crc.ll", "other.c", "other.ll"]);
}

/// A `--target` aotlink cannot build for is one line that says why once, before any work.
#[test]
fn an_unsupported_target_is_one_line_saying_why_once() {
    let dir = scratch("bad-target");
    for (triple, why) in [
        ("riscv64-unknown-linux-gnu", "unsupported target"),
        ("x86_64-apple-macosx10.9", "the minimum is 11.0"),
    ] {
        let out = run_aotlink([
            "build".as_ref(),
            kernels_ll().as_os_str(),
            "--target".as_ref(),
            triple.as_ref(),
            "-o".as_ref(),
            dir.join("x.so").as_os_str(),
        ]);
        assert_clean_failure(&out, why);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.matches(why).count(),
            1,
            "said more than once: {stderr}"
        );
    }
    assert_only_files(&dir, &[]);
}

/// An output in a folder that does not exist is one line naming the folder, before any work
/// (it used to fail after the whole build, naming the linker's temp file).
#[test]
fn an_output_in_a_missing_folder_is_one_line_before_any_work() {
    let dir = scratch("bad-output-folder");
    let missing = dir.join("no-such-folder");
    let out = run_aotlink([
        "build".as_ref(),
        kernels_ll().as_os_str(),
        "--no-cache".as_ref(),
        "--timings=json".as_ref(),
        "-o".as_ref(),
        missing.join("x.so").as_os_str(),
    ]);
    assert_clean_failure(&out, "the folder");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} does not exist", missing.display())),
        "{stderr}"
    );
    assert!(!stderr.contains(".aotlink-"), "names a temp file: {stderr}");
    assert_only_files(&dir, &[]);
}

/// The verifier's message names the value it is about, in the user's names, though the text
/// LLVM parsed had its local values numbered: the message is the one of the text as given.
#[test]
fn a_verifier_error_in_named_ir_names_the_users_value() {
    let dir = scratch("bad-verify-named");
    let ll = dir.join("broken.ll");
    std::fs::write(
        &ll,
        "target triple = \"x86_64-unknown-linux-gnu\"\n\
         define i32 @f(i32 %count) {\nentry:\n  %total = add i32 %later, %count\n  \
         %later = add i32 %count, 1\n  ret i32 %total\n}\n",
    )
    .unwrap();
    let out = build_into(&dir, &[&ll], &[]);
    assert_clean_failure(&out, "broken.ll: invalid IR");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Instruction does not dominate all uses! (`%later = add i32 %count, 1`)"),
        "{stderr}"
    );
    assert_only_files(&dir, &["broken.ll"]);
}
