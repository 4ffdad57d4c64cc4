//! Real C code bases as Windows DLLs linked by the embedded LLD against MinGW-w64's C runtime
//! (its start-up code, libmingwex, msvcrt or the UCRT, kernel32): Lua and zlib, compiled by
//! clang for x86_64-w64-mingw32, called by host programs MinGW's gcc built, under wine, must
//! print what the same programs print with gcc's own DLL of the same sources.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{have, wine};
use crate::common::*;
use crate::lua::{library_sources, lua_sources, run};

const GCC: &str = "x86_64-w64-mingw32-gcc";

fn mingw_and_wine() -> bool {
    have(&["/usr/lib/wine/wine64", GCC])
}

/// Bitcode of each of `sources` for Windows, from clang-22, in `dir`.
fn windows_bitcode(sources: &[PathBuf], dir: &Path, flags: &[&str]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    run(Command::new(CLANG)
        .current_dir(dir)
        .args(["--target=x86_64-w64-mingw32", "-O2", "-c", "-emit-llvm"])
        .args(flags)
        .args(sources));
    files_ending_in(dir, "bc")
}

/// `aotlink build` (a package DLL, default CPU targets, the embedded LLD) of `bitcode` into
/// `dll`, with its import library beside it, and `extra` options.
fn aotlink_dll(bitcode: &[PathBuf], dll: &Path, extra: &[&str]) {
    std::fs::create_dir_all(dll.parent().unwrap()).unwrap();
    let mut args = vec![
        "build".to_string(),
        "--target".into(),
        "x86_64-w64-mingw32".into(),
        "--export-all".into(),
        "-o".into(),
        dll.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(bitcode.iter().map(|p| p.display().to_string()));
    aotlink_ok(&args);
}

/// gcc's DLL of `sources` and its import library (`x.dll` -> `x.lib`).
fn gcc_dll(sources: &[PathBuf], dll: &Path) {
    std::fs::create_dir_all(dll.parent().unwrap()).unwrap();
    run(Command::new(GCC)
        .args(["-O2", "-shared", "-o"])
        .arg(dll)
        .args(sources)
        .arg(format!(
            "-Wl,--out-implib,{}",
            dll.with_extension("lib").display()
        )));
}

/// Builds `harness` with MinGW's gcc against the DLL `dll` (through its import library, into
/// the DLL's directory) and runs it there under wine with `args`; its standard output.
fn run_against(dll: &Path, harness: &Path, include: &Path, args: &[&Path]) -> String {
    let dir = dll.parent().unwrap();
    let exe = dir.join("harness.exe");
    run(Command::new(GCC)
        .args(["-O2", "-DDIRECT"])
        .arg(format!("-I{}", include.display()))
        .arg("-o")
        .arg(&exe)
        .arg(harness)
        .arg(dll.with_extension("lib")));
    // Relative names: wine reads an absolute Unix path as one on drive C:.
    let out = run(Command::new(wine())
        .current_dir(dir)
        .env("WINEDEBUG", "-all")
        .arg("./harness.exe")
        .args(args));
    // The C runtime writes text-mode CRLF.
    String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
}

/// The DLLs a PE file imports from, lower case.
fn imported_dlls(dll: &Path) -> Vec<String> {
    use object::Object;
    let bytes = std::fs::read(dll).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let mut dlls: Vec<String> = file
        .imports()
        .unwrap()
        .iter()
        .map(|i| String::from_utf8_lossy(i.library()).to_ascii_lowercase())
        .collect();
    dlls.sort();
    dlls.dedup();
    dlls
}

#[test]
fn lua_as_a_package_dll_runs_under_wine_like_gccs_build() {
    if !mingw_and_wine() {
        eprintln!("skipped: needs wine and {GCC}");
        return;
    }
    let src = lua_sources();
    let sources = library_sources(&src);
    let dir = scratch("mingw-lua");
    let harness = repo().join("tests/it/lua/harness.c");
    let script = repo().join("tests/it/lua/script.lua");
    std::fs::copy(&script, dir.join("script.lua")).unwrap();
    let script = Path::new("script.lua");

    let reference = dir.join("gcc/lua.dll");
    gcc_dll(&sources, &reference);
    std::fs::copy(dir.join("script.lua"), dir.join("gcc/script.lua")).unwrap();
    let expected = run_against(&reference, &harness, &src, &[Path::new("lua.dll"), script]);
    assert!(
        expected.contains("sort 2002 2001") && expected.trim_end().ends_with("end"),
        "{expected}"
    );

    // msvcrt (MinGW-w64's default), and the UCRT (--crt ucrt) for code compiled against its
    // headers.
    for (name, flags, options, crt) in [
        ("msvcrt", &[][..], &[][..], "msvcrt.dll"),
        (
            "ucrt",
            &["-D_UCRT"][..],
            &["--crt", "ucrt"][..],
            "api-ms-win-crt-runtime-l1-1-0.dll",
        ),
    ] {
        let bitcode = windows_bitcode(&sources, &dir.join(format!("ir-{name}")), flags);
        let image = dir.join(format!("{name}/lua.dll"));
        aotlink_dll(&bitcode, &image, options);
        let imports = imported_dlls(&image);
        assert!(
            imports.iter().any(|d| d == crt),
            "{name}: imports {imports:?}"
        );
        if name == "ucrt" {
            assert!(!imports.iter().any(|d| d == "msvcrt.dll"), "{imports:?}");
            // Linked with the default runtime, msvcrt, what only the UCRT has is named.
            let mut args = vec![
                "build",
                "--target",
                "x86_64-w64-mingw32",
                "--export-all",
                "-o",
            ];
            let refused = dir.join("refused/lua.dll");
            std::fs::create_dir_all(refused.parent().unwrap()).unwrap();
            args.push(refused.to_str().unwrap());
            args.extend(bitcode.iter().map(|p| p.to_str().unwrap()));
            let result = run_aotlink(&args);
            assert_clean_failure(&result, "pass --crt ucrt");
            assert!(!refused.exists());
        }
        std::fs::copy(
            dir.join("script.lua"),
            dir.join(format!("{name}/script.lua")),
        )
        .unwrap();
        let output = run_against(&image, &harness, &src, &[Path::new("lua.dll"), script]);
        assert_eq!(output, expected, "Lua DLL against {name}");
    }
}

#[test]
fn zlib_as_a_package_dll_runs_under_wine_like_gccs_build() {
    if !mingw_and_wine() {
        eprintln!("skipped: needs wine and {GCC}");
        return;
    }
    let src = dev_dependency_dir("libz-sys").join("src/zlib");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    sources.sort();
    assert!(sources.len() >= 15, "zlib sources: {sources:?}");
    let dir = scratch("mingw-zlib");
    let harness = repo().join("tests/it/mingw/zlib_harness.c");

    let reference = dir.join("gcc/zlib.dll");
    gcc_dll(&sources, &reference);
    let expected = run_against(&reference, &harness, &src, &[]);
    // zlib's documented values for this string (as Python's zlib and every other build agree).
    assert!(
        expected.starts_with("crc32 414fa339\nadler32 5bdc0fda\n"),
        "{expected}"
    );
    assert!(
        expected.contains("round-trips") && !expected.contains("BROKEN"),
        "{expected}"
    );
    assert!(expected.trim_end().ends_with("end"), "{expected}");

    let bitcode = windows_bitcode(&sources, &dir.join("ir"), &[]);
    let image = dir.join("aot/zlib.dll");
    aotlink_dll(&bitcode, &image, &[]);
    assert_eq!(run_against(&image, &harness, &src, &[]), expected);
}

/// Without MinGW-w64, a DLL that calls the C library is refused at link time with what to
/// install; a `--sysroot` that holds no MinGW-w64 is refused naming where it looked.
#[test]
fn a_missing_windows_c_runtime_is_one_clear_error() {
    let dir = scratch("mingw-missing");
    let source = dir.join("calls_libc.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include <stdlib.h>\n\
         int show(int x) { char *b = malloc(32); int n = snprintf(b, 32, \"%d\", x); puts(b); free(b); return n; }\n",
    )
    .unwrap();
    let ir = dir.join("calls_libc.ll");
    clang_ir(
        &source,
        &ir,
        &["--target=x86_64-w64-mingw32", "-O1", "-S", "-emit-llvm"],
    );

    let empty = dir.join("empty-sysroot");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run_aotlink([
        "build".as_ref(),
        "--export-all".as_ref(),
        "--sysroot".as_ref(),
        empty.as_os_str(),
        "-o".as_ref(),
        dir.join("a.dll").as_os_str(),
        ir.as_os_str(),
    ]);
    assert_clean_failure(&out, "no x86_64-pc-windows-gnu C runtime there");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains(&empty.display().to_string()), "{text}");

    // No MinGW gcc on PATH (and no clang to find a compiler runtime with).
    let out = Command::new(aotlink())
        .env("PATH", dir.join("no-tools"))
        .args(["build", "--export-all", "-o"])
        .arg(dir.join("b.dll"))
        .arg(&ir)
        .output()
        .unwrap();
    assert_clean_failure(&out, "C runtime was not found");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("install MinGW-w64") && text.contains("--sysroot"),
        "{text}"
    );
    assert!(
        text.contains("malloc") || text.contains("snprintf"),
        "names what is missing: {text}"
    );
    // A C runtime asked for by name is not quietly left out.
    let out = Command::new(aotlink())
        .env("PATH", dir.join("no-tools"))
        .args(["build", "--export-all", "--crt", "msvcrt", "-o"])
        .arg(dir.join("b.dll"))
        .arg(&ir)
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        "--crt msvcrt: no x86_64-pc-windows-gnu C runtime was found",
    );

    // A real MinGW-w64 sysroot given explicitly works like the one gcc reports.
    if have(&[GCC]) {
        let out = Command::new(GCC)
            .arg("-print-file-name=libmingwex.a")
            .output()
            .unwrap();
        let lib = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let sysroot = std::fs::canonicalize(lib.parent().unwrap().parent().unwrap()).unwrap();
        aotlink_ok([
            "build".as_ref(),
            "--export-all".as_ref(),
            "--sysroot".as_ref(),
            sysroot.as_os_str(),
            "-o".as_ref(),
            dir.join("c.dll").as_os_str(),
            ir.as_os_str(),
        ]);
    }
}

/// The C runtime DLLs among the DLLs a PE file imports from (msvcrt.dll, ucrtbase.dll and the
/// UCRT's api-ms-win-crt-*.dll), lower case.
fn imported_c_runtimes(file: &Path) -> Vec<String> {
    imported_dlls(file)
        .into_iter()
        .filter(|d| d == "msvcrt.dll" || d == "ucrtbase.dll" || d.starts_with("api-ms-win-crt-"))
        .collect()
}

/// A program MinGW's gcc built and an aotlink DLL of SQLite share one C runtime: memory the
/// DLL allocates the program frees, and the other way round (sqlite3_mprintf strings and error
/// messages given to `free`; a `malloc`ed buffer SQLite frees, grows with `realloc` and
/// measures with `_msize`), and both import from msvcrt.dll, as gcc links it by default,
/// though SQLite calls C99 math that msvcrt.dll lacks (libmingwex has it, as for gcc). With
/// `--crt ucrt`, SQLite compiled for the UCRT imports from the UCRT alone.
#[test]
fn sqlite_dll_shares_the_c_runtime_of_its_mingw_host() {
    if !mingw_and_wine() {
        eprintln!("skipped: needs wine and {GCC}");
        return;
    }
    let dir = scratch("mingw-sqlite-crt");
    let sources = crate::sqlite::amalgamation(&dir.join("fetch"));
    let c = sources.join("sqlite3.c");
    // sqlite3_malloc is then the C runtime's malloc itself (no size header in front; the
    // size is asked of _msize).
    let defines = [
        "-DSQLITE_ENABLE_MATH_FUNCTIONS",
        "-DSQLITE_USE_MALLOC_H",
        "-DSQLITE_USE_MSIZE",
    ];
    let harness = repo().join("tests/it/mingw/sqlite_crt.c");

    let bitcode = windows_bitcode(std::slice::from_ref(&c), &dir.join("ir"), &defines);
    let image = dir.join("msvcrt/sqlite3.dll");
    aotlink_dll(&bitcode, &image, &[]);
    let output = run_against(&image, &harness, &sources, &[]);
    // The table's names: (i * 7919) % 2003 for i in 1..=2000, printed as n%05d.
    let names: Vec<u64> = (1..=2000u64).map(|i| (i * 7919) % 2003).collect();
    let expected = format!(
        "mprintf aotlink-999-124.875\nbound HOST-OWNED TEXT 15\ngrown 300 msize-ok 1\n\
         error no such table: missing\n\
         1.31695789692482|10|-2|0.549306144334055\n2000|n{:05}|n{:05}|2001000\nheap ok\nend\n",
        names.iter().min().unwrap(),
        names.iter().max().unwrap()
    );
    assert_eq!(output, expected);
    let host = dir.join("msvcrt/harness.exe");
    assert_eq!(imported_c_runtimes(&host), ["msvcrt.dll"], "the program");
    assert_eq!(imported_c_runtimes(&image), ["msvcrt.dll"], "the DLL");

    let mut ucrt_defines = defines.to_vec();
    ucrt_defines.push("-D_UCRT");
    let bitcode = windows_bitcode(
        std::slice::from_ref(&c),
        &dir.join("ir-ucrt"),
        &ucrt_defines,
    );
    let image = dir.join("ucrt/sqlite3.dll");
    aotlink_dll(&bitcode, &image, &["--crt", "ucrt"]);
    let crts = imported_c_runtimes(&image);
    assert!(
        !crts.is_empty() && crts.iter().all(|d| d.starts_with("api-ms-win-crt-")),
        "{crts:?}"
    );
    // What the shared runtime is for: the msvcrt program with the UCRT DLL has two heaps, and
    // the DLL cannot grow the program's memory.
    std::fs::copy(&host, dir.join("ucrt/harness.exe")).unwrap();
    let out = Command::new(wine())
        .current_dir(dir.join("ucrt"))
        .env("WINEDEBUG", "-all")
        .arg("./harness.exe")
        .output()
        .unwrap();
    let mismatched = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success()
            && mismatched.contains("realloc failed")
            && !mismatched.contains("heap ok"),
        "{mismatched}"
    );
}

/// `--crt` applies where there is a Microsoft C runtime to choose: a Windows DLL linked by
/// LLD. A Linux image or a system image (whose C compiler driver links its own runtime) with
/// it is refused, naming why, and nothing is written.
#[test]
fn crt_is_refused_where_there_is_no_microsoft_c_runtime_to_choose() {
    let dir = scratch("mingw-crt-refused");
    let source = dir.join("f.c");
    std::fs::write(&source, "int f(int x) { return x * 3; }\n").unwrap();
    let ir = dir.join("f.ll");
    clang_ir(&source, &ir, &["-O1", "-S", "-emit-llvm"]);
    for (kind, expect) in [
        (
            "pkg",
            "--crt ucrt: linux images link no Microsoft C runtime",
        ),
        ("sysimg", "--crt only applies to --kind pkg"),
    ] {
        let out = run_aotlink([
            "build".as_ref(),
            "--kind".as_ref(),
            kind.as_ref(),
            "--crt".as_ref(),
            "ucrt".as_ref(),
            "-o".as_ref(),
            dir.join("f.so").as_os_str(),
            ir.as_os_str(),
        ]);
        assert_clean_failure(&out, expect);
    }
    assert_only_files(&dir, &["f.c", "f.ll"]);
}
