//! Rebuilds that parse only the changed function bodies and their shards (src/build/rebuild.rs),
//! through the command line: the build report says how much was parsed, and every image
//! equals the one a clean build (no cache, every body parsed) makes of the same IR, byte for
//! byte. What a stub cannot stand for (other references, a new function, shards gone from the
//! cache, several CPU targets) parses everything and still gives the clean build's image.
//! Real code: the generated C kernels as clang 22 writes them (with and without debug
//! information), checked against gcc's build of the edited source; SQLite's IR edited.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::c_kernels::{generate_c, C_FLAGS};
use crate::cache::{build_report, emitted, os, shards};
use crate::common::*;

/// `aotlink build IR -o OUT --export-all` with `extra`, into the cache `cache` (or none).
fn build(ir: &Path, out: &Path, cache: Option<&Path>, extra: &[&str]) -> Value {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut args = vec![os("build"), ir.as_os_str(), os("--export-all")];
    args.extend([os("-o"), out.as_os_str()]);
    match cache {
        Some(dir) => args.extend([os("--cache-dir"), dir.as_os_str()]),
        None => args.push(os("--no-cache")),
    }
    args.extend(extra.iter().map(|a| os(a)));
    build_report(&args)
}

/// The report's functions (parsed, stubbed) of a rebuild from stubs; panics with the reason
/// when everything was parsed.
fn partial(report: &Value) -> (u64, u64) {
    let partial = &report["rebuild"]["partial"];
    match (partial["parsed"].as_u64(), partial["stubbed"].as_u64()) {
        (Some(parsed), Some(stubbed)) => (parsed, stubbed),
        _ => panic!("expected a rebuild from stubs: {}", report["rebuild"]),
    }
}

/// Why everything was parsed; panics on a rebuild from stubs.
fn whole(report: &Value) -> String {
    (report["rebuild"]["whole"]["why"].as_str())
        .unwrap_or_else(|| panic!("expected every function parsed: {}", report["rebuild"]))
        .to_string()
}

/// Builds `ir` without a cache beside `image` (same file name: it is the soname) and asserts
/// the two images are the same bytes.
fn assert_clean_build_gives(ir: &Path, image: &Path, extra: &[&str]) {
    let clean = image
        .parent()
        .unwrap()
        .join("clean")
        .join(image.file_name().unwrap());
    build(ir, &clean, None, extra);
    assert!(
        std::fs::read(image).unwrap() == std::fs::read(&clean).unwrap(),
        "{} differs from the clean build {}",
        image.display(),
        clean.display()
    );
}

/// The generated kernels' C (one kernel edited, or none) at `dir/kernels.c`, its clang-22
/// text IR at `dir/kernels.ll` (the same paths each time: clang records them), with `flags`.
fn kernels_ir(dir: &Path, kernels: usize, edit: Option<usize>, flags: &[&str]) -> PathBuf {
    let c = dir.join("kernels.c");
    std::fs::write(&c, generate_c(kernels, edit)).unwrap();
    let ir = dir.join("kernels.ll");
    check(
        Command::new(CLANG)
            .current_dir(dir)
            .args(C_FLAGS)
            .args(flags)
            .args(["-S", "-emit-llvm", "kernels.c", "-o", "kernels.ll"]),
    );
    ir
}

/// gcc's `kernels_run(seed)` of the source in `dir/kernels.c`, built as `dir/NAME`.
fn gcc_result(dir: &Path, name: &str, seed: u64) -> u64 {
    let library = dir.join(name);
    check(
        Command::new("gcc")
            .args(C_FLAGS)
            .arg("-shared")
            .arg(dir.join("kernels.c"))
            .arg("-o")
            .arg(&library)
            .arg("-lm"),
    );
    // SAFETY: gcc's build of the generated source, whose `kernels_run` has this signature.
    unsafe {
        let library = libloading::Library::new(&library).unwrap();
        let run = library
            .get::<extern "C" fn(u64) -> u64>(b"kernels_run")
            .unwrap();
        run(seed)
    }
}

/// Kernels edited one at a time (the first, one in the middle, the last), each rebuilt from
/// the cache the build before left: only the edited kernel's shard is parsed and emitted,
/// and the image is the clean build's and computes what gcc's build of the edited C does.
/// With debug information too, as DWARF 4: the edit keeps every line where it was, so only
/// the body changes. (DWARF 5, clang's default, records the source's MD5 in the module's
/// file entry, which every shard's line table carries: any edit changes every shard, and the
/// build parses everything.)
#[test]
fn kernel_edits_parse_one_shard_and_give_the_clean_builds_image() {
    const KERNELS: usize = 2_000;
    for (name, flags) in [("plain", &[][..]), ("debug-info", &["-g", "-gdwarf-4"][..])] {
        let dir = scratch(&format!("rebuild-kernels-{name}"));
        let cache = dir.join("cache");
        let generic = ["--cpu-target", "generic"];
        let ir = kernels_ir(&dir, KERNELS, None, flags);
        let first = build(&ir, &dir.join("original/libk.so"), Some(&cache), &generic);
        assert!(whole(&first).contains("no record"), "{first}");
        assert_eq!(first["shard_tables"], "emitted");
        let total = shards(&first);
        assert!(total >= 4, "{total} shards");
        for edit in [0, KERNELS / 2, KERNELS - 1] {
            let ir = kernels_ir(&dir, KERNELS, Some(edit), flags);
            let image = dir.join(format!("edit-{edit}/libk.so"));
            let report = build(&ir, &image, Some(&cache), &generic);
            let (parsed, stubbed) = partial(&report);
            assert!(
                parsed * 4 < parsed + stubbed,
                "{name}, kernel {edit}: {parsed} parsed, {stubbed} stubbed"
            );
            let emitted = emitted(&report);
            assert!(emitted.len() <= 2, "{name}, kernel {edit}: {emitted:?}");
            // No function moved: the tables are those of the build before.
            assert_eq!(report["shard_tables"], "cached", "{name}, kernel {edit}");
            assert_clean_build_gives(&ir, &image, &generic);
            let seed = 0x0123_4567_89ab_cdef;
            assert_eq!(
                call(&image, "kernels_run", seed) as u64,
                gcc_result(&dir, &format!("gcc-{edit}.so"), seed as u64),
                "{name}, kernel {edit}"
            );
        }
    }
}

/// A small module of eight functions in four shards: an internal helper, a declared C
/// library function, a table of two of them.
const MODULE: &str = r#"target triple = "x86_64-unknown-linux-gnu"

@table = global [2 x ptr] [ptr @f0, ptr @f1]

declare i64 @labs(i64)

define internal i64 @helper(i64 %x) {
  %y = mul i64 %x, 7
  ret i64 %y
}

define i64 @f0(i64 %x) {
  %y = call i64 @helper(i64 %x)
  ret i64 %y
}

define i64 @f1(i64 %x) {
  %y = call i64 @labs(i64 %x)
  ret i64 %y
}

define i64 @f2(i64 %x) {
  %y = add i64 %x, 2
  ret i64 %y
}

define i64 @f3(i64 %x) {
  %y = mul i64 %x, 3
  ret i64 %y
}

define i64 @f4(i64 %x) {
  %y = add i64 %x, 4
  ret i64 %y
}

define i64 @f5(i64 %x) {
  %y = sub i64 %x, 5
  ret i64 %y
}

define i64 @f6(i64 %x) {
  %y = add i64 %x, 6
  ret i64 %y
}

define i64 @f7(i64 %x) {
  %p = load ptr, ptr @table
  %y = call i64 %p(i64 %x)
  ret i64 %y
}
"#;

/// `FUNCTION(ARG)` of `image`, through the loader (which prints an `i64`: LLVM's integers
/// have no sign).
fn call(image: &Path, function: &str, arg: i64) -> i64 {
    let out = aotlink_ok([
        os("run"),
        image.as_os_str(),
        os(function),
        os(&arg.to_string()),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().trim();
    (last.parse()).unwrap_or_else(|e| panic!("{e}: `aotlink run` printed {stdout}"))
}

/// Builds `MODULE` into a fresh cache, then `edited` of it from that cache; the rebuild's
/// report after the image was checked against a clean build.
fn rebuild_of(name: &str, edited: &str, extra: &[&str]) -> (PathBuf, Value) {
    let dir = scratch(&format!("rebuild-{name}"));
    let cache = dir.join("cache");
    let ir = dir.join("m.ll");
    std::fs::write(&ir, MODULE).unwrap();
    let mut args = vec!["--shards", "4"];
    args.extend(extra);
    build(&ir, &dir.join("original/libm.so"), Some(&cache), &args);
    std::fs::write(&ir, edited).unwrap();
    let image = dir.join("edited/libm.so");
    let report = build(&ir, &image, Some(&cache), &args);
    assert_clean_build_gives(&ir, &image, &args);
    (image, report)
}

#[test]
fn a_body_edit_of_a_small_module_parses_its_shard_only() {
    let edited = MODULE.replace("mul i64 %x, 3", "mul i64 %x, 30");
    let (image, report) = rebuild_of("small-edit", &edited, &["--cpu-target", "generic"]);
    let (parsed, stubbed) = partial(&report);
    assert!(
        stubbed > 0 && parsed < 9,
        "{parsed} parsed, {stubbed} stubbed"
    );
    assert_eq!(emitted(&report).len(), 1, "{report}");
    assert_eq!(call(&image, "f3", 5), 150);
    assert_eq!(call(&image, "f0", 5), 35, "a stubbed function still runs");
    assert_eq!(call(&image, "f1", -5), 5);
}

/// A call to an external definition does not change what selection keeps (every one is
/// kept): the body edit is rebuilt from stubs.
#[test]
fn a_new_call_to_an_exported_function_is_still_a_body_edit() {
    // As many instructions as before: a function that grows may move others between shards
    // (then the build parses everything).
    let edited = MODULE.replace("%y = add i64 %x, 6", "%y = call i64 @f2(i64 %x)");
    let (image, report) = rebuild_of("new-external-call", &edited, &["--cpu-target", "generic"]);
    partial(&report);
    assert_eq!(call(&image, "f6", 1), 3);
}

#[test]
fn what_a_stub_cannot_stand_for_parses_everything() {
    let generic = ["--cpu-target", "generic"];
    let cases: [(&str, String, &[&str], &str); 6] = [
        (
            "new-internal-call",
            MODULE.replace(
                "  %y = sub i64 %x, 5\n",
                "  %z = call i64 @helper(i64 %x)\n  %y = sub i64 %z, 5\n",
            ),
            &generic,
            "refers to other globals",
        ),
        (
            "new-declared-call",
            MODULE.replace(
                "  %y = sub i64 %x, 5\n",
                "  %z = call i64 @labs(i64 %x)\n  %y = sub i64 %z, 5\n",
            ),
            &generic,
            "refers to other globals",
        ),
        (
            "added-function",
            format!("{MODULE}\ndefine i64 @f8(i64 %x) {{\n  ret i64 %x\n}}\n"),
            &generic,
            "more than function bodies changed",
        ),
        (
            "four-targets",
            MODULE.replace("mul i64 %x, 3", "mul i64 %x, 30"),
            &[],
            "more than one CPU target",
        ),
        (
            "traced-new-call",
            MODULE.replace("%y = add i64 %x, 6", "%y = call i64 @f2(i64 %x)"),
            &["--cpu-target", "generic", "--trace", "TRACE"],
            "refers to other globals",
        ),
        (
            "grown-function",
            MODULE.replace(
                "  %y = add i64 %x, 6\n",
                "  %z = call i64 @f2(i64 %x)\n  %w = mul i64 %z, %z\n  %y = add i64 %w, 6\n",
            ),
            &generic,
            "is not a shard of the build before",
        ),
    ];
    for (name, edited, extra, why) in cases {
        let trace = scratch(&format!("rebuild-trace-{name}")).join("trace.txt");
        std::fs::write(&trace, "f0\nf1\nf2\nf3\nf4\nf5\nf6\nf7\n").unwrap();
        let extra: Vec<&str> = (extra.iter())
            .map(|a| match *a {
                "TRACE" => trace.to_str().unwrap(),
                a => a,
            })
            .collect();
        let (_, report) = rebuild_of(name, &edited, &extra);
        let said = whole(&report);
        assert!(said.contains(why), "{name}: {said}");
        if name == "four-targets" {
            // Told from the options and the triple before anything is parsed twice.
            let phases = report["timings"]["phases"].as_array().unwrap();
            assert!(
                !(phases.iter()).any(|p| p["name"] == "stub" || p["name"] == "stubs-refused"),
                "{report}"
            );
        }
    }
}

/// The library with an input checker (a child process parses what the build will): the
/// child checks only the stubbed text, and the image is the command line's clean build's.
#[test]
fn a_library_build_with_an_input_checker_rebuilds_from_stubs() {
    let dir = scratch("rebuild-library-checked");
    let ir = dir.join("m.ll");
    let cache = dir.join("cache");
    let build = |out: &Path| {
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        aotlink::Build::new()
            .input(&ir)
            .export_all(true)
            .shards(4)
            .cpu_targets(aotlink::target::CpuTarget::parse_list("generic").unwrap())
            .cache(aotlink::CacheLocation::Dir(cache.clone()))
            .check_inputs_with(aotlink())
            .build(out)
            .unwrap()
    };
    std::fs::write(&ir, MODULE).unwrap();
    build(&dir.join("original/libm.so"));
    std::fs::write(&ir, MODULE.replace("mul i64 %x, 3", "mul i64 %x, 30")).unwrap();
    let image = dir.join("edited/libm.so");
    let report = build(&image);
    match report.rebuild {
        Some(aotlink::build::Rebuild::Partial { stubbed, .. }) => assert!(stubbed > 0),
        other => panic!("expected a rebuild from stubs: {other:?}"),
    }
    assert!(
        (report.timings.phases.iter()).any(|p| p.name.as_str() == "check-inputs"),
        "the stubbed text is checked"
    );
    assert_clean_build_gives(&ir, &image, &["--shards", "4", "--cpu-target", "generic"]);
    assert_eq!(call(&image, "f3", 5), 150);
}

/// The shards the record names are gone from the cache: the stubs cannot be emitted, so the
/// build parses everything (and says why).
#[test]
fn shards_gone_from_the_cache_parse_everything() {
    let dir = scratch("rebuild-shards-gone");
    let cache = dir.join("cache");
    let ir = dir.join("m.ll");
    let args = ["--shards", "4", "--cpu-target", "generic"];
    std::fs::write(&ir, MODULE).unwrap();
    build(&ir, &dir.join("original/libm.so"), Some(&cache), &args);
    std::fs::remove_dir_all(cache.join("shards")).unwrap();
    std::fs::write(&ir, MODULE.replace("mul i64 %x, 3", "mul i64 %x, 30")).unwrap();
    let image = dir.join("edited/libm.so");
    let report = build(&ir, &image, Some(&cache), &args);
    assert!(whole(&report).contains("no store has it"), "{report}");
    assert_eq!(emitted(&report).len(), 4, "{report}");
    assert_clean_build_gives(&ir, &image, &args);
    assert_eq!(call(&image, "f3", 5), 150);
}

/// A traced build whose edit keeps the references rebuilds from stubs; untraced functions
/// stay out of the image.
#[test]
fn a_traced_build_rebuilds_from_stubs() {
    let dir = scratch("rebuild-traced");
    let trace = dir.join("trace.txt");
    std::fs::write(&trace, "f0\nf3\nf5\nf6\n").unwrap();
    let edited = MODULE.replace("sub i64 %x, 5", "sub i64 %x, 50");
    let extra = [
        "--cpu-target",
        "generic",
        "--trace",
        trace.to_str().unwrap(),
    ];
    let (image, report) = rebuild_of("traced-edit", &edited, &extra);
    partial(&report);
    assert_eq!(call(&image, "f5", 60), 10);
    assert_eq!(call(&image, "f0", 1), 7);
}

/// SQLite as clang 22 writes its text IR at -O2 (TBAA and loop metadata, hundreds of static
/// functions): a constant changed in the bodies of two functions, one static, one
/// exported, is rebuilt from stubs and gives the clean build's image.
#[test]
fn sqlite_body_edits_rebuild_from_stubs() {
    let dir = scratch("rebuild-sqlite");
    let sources = crate::sqlite::amalgamation(&dir.join("fetch"));
    let ir = dir.join("sqlite3.ll");
    crate::sqlite::sqlite_ir(&sources.join("sqlite3.c"), "-S", &ir);
    let text = std::fs::read_to_string(&ir).unwrap();
    let cache = dir.join("cache");
    let generic = ["--cpu-target", "generic"];
    build(
        &ir,
        &dir.join("original/libsqlite.so"),
        Some(&cache),
        &generic,
    );
    let edited = edit_first_constant(
        &edit_first_constant(&text, "define internal "),
        "define i32 @sqlite3_",
    );
    assert_ne!(edited, text);
    std::fs::write(&ir, &edited).unwrap();
    let image = dir.join("edited/libsqlite.so");
    let report = build(&ir, &image, Some(&cache), &generic);
    let (parsed, stubbed) = partial(&report);
    assert!(parsed * 4 < stubbed, "{parsed} parsed, {stubbed} stubbed");
    assert!(emitted(&report).len() <= 2, "{report}");
    assert_clean_build_gives(&ir, &image, &generic);
}

/// `text` with the first `add i32 %N, K` (K a small constant) of the first function whose
/// `define` line starts with `prefix` changed to `K + 1`.
fn edit_first_constant(text: &str, prefix: &str) -> String {
    let mut at = 0;
    while let Some(found) = text[at..].find(&format!("\n{prefix}")) {
        let start = at + found + 1;
        let end = start + text[start..].find("\n}\n").unwrap();
        let body = &text[start..end];
        let hit = body.lines().find_map(|line| {
            let (before, constant) = line.rsplit_once(", ")?;
            let k: i64 = constant.trim().parse().ok()?;
            (before.contains("= add ") && before.contains(" i32 ") && (1..100).contains(&k))
                .then(|| (line, format!("{before}, {}", k + 1)))
        });
        if let Some((line, replaced)) = hit {
            let body = body.replacen(line, &replaced, 1);
            return format!("{}{body}{}", &text[..start], &text[end..]);
        }
        at = end;
    }
    panic!("no function starting `{prefix}` adds a small constant")
}

/// Other targets' archives (`aotlink dump`): ELF for aarch64, COFF for Windows (whose shards
/// hold their own tables), Mach-O for macOS; a body edit is dumped from stubs and gives the
/// clean dump's archive, byte for byte.
#[test]
fn other_targets_dump_from_stubs_to_the_clean_archive() {
    for triple in [
        "aarch64-unknown-linux-gnu",
        "x86_64-w64-windows-gnu",
        "arm64-apple-macosx11.0.0",
    ] {
        let dir = scratch(&format!("rebuild-dump-{triple}"));
        let ir = dir.join("m.ll");
        let module = MODULE.replace("x86_64-unknown-linux-gnu", triple);
        let dump = |out: &str, cache: Option<&Path>| {
            let out = dir.join(out);
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            let mut args = vec![os("dump"), ir.as_os_str(), os("-o"), out.as_os_str()];
            args.extend(["--shards", "4", "--cpu-target", "generic"].map(os));
            match cache {
                Some(dir) => args.extend([os("--cache-dir"), dir.as_os_str()]),
                None => args.push(os("--no-cache")),
            }
            (build_report(&args), std::fs::read(out).unwrap())
        };
        let cache = dir.join("cache");
        std::fs::write(&ir, &module).unwrap();
        dump("original/m.a", Some(&cache));
        std::fs::write(&ir, module.replace("mul i64 %x, 3", "mul i64 %x, 30")).unwrap();
        let (report, rebuilt) = dump("edited/m.a", Some(&cache));
        let (_, stubbed) = partial(&report);
        assert!(stubbed > 0, "{triple}: {report}");
        let (_, clean) = dump("clean/m.a", None);
        assert!(rebuilt == clean, "{triple}: the archives differ");
    }
}

/// IR written to a new file each time (a runtime's temp file): the record of the last build
/// with the same options is tried. With a `source_filename` the module does not depend on
/// the file's name and the edit rebuilds from stubs; without one LLVM names the module after
/// the file, every shard depends on that name, and the build parses everything.
#[test]
fn ir_in_a_new_file_each_time_rebuilds_from_the_last_record() {
    let dir = scratch("rebuild-new-file-name");
    let args = ["--shards", "4", "--cpu-target", "generic"];
    for (case, module) in [
        ("named", format!("source_filename = \"m.c\"\n{MODULE}")),
        ("unnamed", MODULE.to_string()),
    ] {
        let cache = dir.join(format!("{case}-cache"));
        let first = dir.join(format!("{case}-1.ll"));
        std::fs::write(&first, &module).unwrap();
        build(
            &first,
            &dir.join(format!("{case}-1/libm.so")),
            Some(&cache),
            &args,
        );
        let second = dir.join(format!("{case}-2.ll"));
        std::fs::write(&second, module.replace("mul i64 %x, 3", "mul i64 %x, 30")).unwrap();
        let image = dir.join(format!("{case}-2/libm.so"));
        let report = build(&second, &image, Some(&cache), &args);
        match case {
            "named" => {
                partial(&report);
            }
            _ => assert!(whole(&report).contains("common part"), "{report}"),
        }
        assert_clean_build_gives(&second, &image, &args);
        assert_eq!(call(&image, "f3", 5), 150);
    }
}
