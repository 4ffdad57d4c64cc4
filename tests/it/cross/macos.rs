//! macOS images of real C code (Lua, zlib, SQLite, compiled for macOS with the Darwin headers
//! of the ziglang package), checked against what aotlink did not write: every undefined
//! symbol is bound to libSystem (two-level namespace) and exported by ziglang's
//! `libSystem.tbd`; the arm64 code signature holds. And the vendored libSystem stub is
//! exactly ziglang's names (`AOTLINK_BLESS_LIBSYSTEM=1` rewrites it from them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::read::macho::{LoadCommandVariant, Nlist};

use super::tbd::{self, Arch};
use super::*;
use crate::common::*;

/// The ziglang package (lib/libc/...): in `$AOTLINK_ZIGLANG_VENV`, else where setup.sh puts
/// it.
pub fn ziglang() -> PathBuf {
    let venv = std::env::var_os("AOTLINK_ZIGLANG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".local/share/aotlink-test/ziglang-0.17.1")
        });
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import os, ziglang; print(os.path.dirname(ziglang.__file__))",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: scripts/setup.sh --cross installs ziglang (or set AOTLINK_ZIGLANG_VENV)",
                venv.display()
            )
        });
    assert!(out.status.success(), "no ziglang in {}", venv.display());
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// ziglang's libSystem.tbd (from Apple's SDK: what aotlink's own stub is held to).
pub fn zig_libsystem() -> PathBuf {
    ziglang().join("lib/libc/darwin/libSystem.tbd")
}

/// The header of the vendored stub: where its names come from and how to regenerate it.
const STUB_HEADER: &str = "\
# libSystem as a text-based stub: every name /usr/lib/libSystem.B.dylib exports (itself and
# the libraries it re-exports) on x86_64 and arm64 macOS, so calls into the C runtime bind to
# it (two-level namespace) without an SDK. Generated from the names of the libSystem.tbd of
# the ziglang package 0.17.1 (PyPI; MIT), less its `$ld$` linker directives; symbol names are
# facts. Regenerate: AOTLINK_BLESS_LIBSYSTEM=1 cargo test --test it cross::macos::the_libsystem
";

/// The names ziglang's libSystem exports for `arch`, without the `$ld$` directives (they
/// hide or move names for macOS versions below the 11.0 images are for).
fn zig_exports(arch: Arch) -> tbd::Exports {
    let text = std::fs::read_to_string(zig_libsystem()).unwrap();
    let mut exports = tbd::exports(&text, arch);
    for names in exports.values_mut() {
        names.retain(|n| !n.starts_with("$ld$"));
    }
    exports
}

#[test]
fn the_libsystem_stub_exports_exactly_what_zigs_libsystem_does() {
    let stub = repo().join("vendor/macos/libSystem.tbd");
    let (x86_64, arm64) = (zig_exports(Arch::X86_64), zig_exports(Arch::Arm64));
    if std::env::var_os("AOTLINK_BLESS_LIBSYSTEM").is_some() {
        std::fs::write(&stub, tbd::write_stub(STUB_HEADER, &x86_64, &arm64)).unwrap();
    }
    let ours = std::fs::read_to_string(&stub).unwrap();
    for (arch, theirs) in [(Arch::X86_64, &x86_64), (Arch::Arm64, &arm64)] {
        let mine = tbd::exports(&ours, arch);
        let (a, b) = (tbd::symbols(&mine), tbd::symbols(theirs));
        assert!(
            a == b,
            "{arch:?}: the stub lacks {:?}... and has {:?}... beyond ziglang's",
            b.difference(&a).take(10).collect::<Vec<_>>(),
            a.difference(&b).take(10).collect::<Vec<_>>()
        );
    }
    // The names Apple's headers select on x86_64 (64-bit inodes) and with _FORTIFY_SOURCE.
    let x86 = tbd::symbols(&tbd::exports(&ours, Arch::X86_64));
    for name in [
        "_stat$INODE64",
        "_fstatfs$INODE64",
        "___memcpy_chk",
        "___strlcpy_chk",
    ] {
        assert!(x86.contains(name), "{name}");
    }
}

/// A C code base to compile for macOS: its sources and preprocessor flags.
struct CodeBase {
    name: &'static str,
    sources: Vec<PathBuf>,
    flags: Vec<String>,
}

fn c_files(dir: &Path, except: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .filter(|p| !except.contains(&p.file_name().unwrap().to_str().unwrap()))
        .collect();
    files.sort();
    files
}

/// `code` as bitcode for `target`, with ziglang's Darwin headers instead of the host's,
/// optimized (so `__OPTIMIZE__` is defined, and with it Apple's `_FORTIFY_SOURCE` `*_chk`
/// calls) at -O1: aotlink runs its own -O2 on it anyway, and SQLite at clang's -O2 would
/// double the test's time.
fn macos_bitcode(code: &CodeBase, target: &Target, dir: &Path) -> Vec<PathBuf> {
    let include = ziglang().join("lib/libc/include/any-darwin-any");
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new(CLANG)
        .current_dir(dir)
        .arg(format!("--target={}", target.clang))
        .args(["-O1", "-c", "-emit-llvm"])
        .arg("-nostdlibinc")
        .arg("-isystem")
        .arg(&include)
        .arg("-Wno-everything")
        .args(&code.flags)
        .args(&code.sources)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{}: clang for {}",
        code.name,
        target.clang
    );
    files_ending_in(dir, "bc")
}

/// Each undefined symbol of the dylib at `path` (the library ordinal its symbol-table entry
/// records, two-level namespace) with the dylibs it loads.
fn undefined_symbols(bytes: &[u8]) -> (Vec<String>, Vec<(String, u8)>) {
    let file = object::File::parse(bytes).unwrap();
    let object::File::MachO64(m) = &file else {
        panic!("not Mach-O 64")
    };
    let endian = m.endian();
    let mut dylibs = Vec::new();
    let mut commands = m.macho_load_commands().unwrap();
    while let Some(command) = commands.next().unwrap() {
        if let LoadCommandVariant::Dylib(d) = command.variant().unwrap() {
            let name = command.string(endian, d.dylib.name).unwrap();
            dylibs.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    let symbols = m.macho_symbol_table();
    let mut undefined = Vec::new();
    for nlist in symbols.iter() {
        let (kind, external) = (
            nlist.n_type() & object::macho::N_TYPE,
            nlist.n_type() & object::macho::N_EXT,
        );
        if kind == object::macho::N_UNDF
            && external != 0
            && nlist.n_type() & object::macho::N_STAB == 0
        {
            let name = String::from_utf8_lossy(nlist.name(endian, symbols.strings()).unwrap());
            undefined.push((name.into_owned(), (nlist.n_desc(endian) >> 8) as u8));
        }
    }
    (dylibs, undefined)
}

/// Builds `code` for both macOS architectures with default options and holds each dylib to
/// ziglang's libSystem: every undefined symbol bound to libSystem (ordinal 1, the only dylib
/// loaded), never to flat lookup, and exported by ziglang's stub; arm64's signature holds.
fn builds_bound_to_libsystem(code: &CodeBase) {
    let zig = std::fs::read_to_string(zig_libsystem()).unwrap();
    for triple in ["x86_64-apple-macosx11.0", "arm64-apple-macosx11.0"] {
        let target = target(triple);
        let dir = scratch(&format!("macos-{}-{}", code.name, target.clang));
        let bitcode = macos_bitcode(code, target, &dir.join("ir"));
        let image = dir.join(format!("lib{}.dylib", code.name));
        let mut args: Vec<String> = vec!["build".into()];
        args.extend(bitcode.iter().map(|p| p.display().to_string()));
        args.extend(["--export-all", "--target", triple].map(String::from));
        args.extend(["-o".into(), image.display().to_string()]);
        aotlink_ok(&args);
        let bytes = std::fs::read(&image).unwrap();
        let arch = Arch::of(target.arch);
        let exported = tbd::symbols(&tbd::exports(&zig, arch));
        let (dylibs, undefined) = undefined_symbols(&bytes);
        assert_eq!(dylibs, ["/usr/lib/libSystem.B.dylib"], "{}", code.name);
        assert!(undefined.len() > 10, "{}: {undefined:?}", code.name);
        let unbound: Vec<&(String, u8)> = undefined
            .iter()
            .filter(|(_, ordinal)| *ordinal != 1)
            .collect();
        assert!(
            unbound.is_empty(),
            "{} {triple}: not bound to libSystem (ordinal 0xfe: flat lookup): {unbound:?}",
            code.name
        );
        let unknown: BTreeSet<&str> = (undefined.iter())
            .map(|(n, _)| n.as_str())
            .filter(|n| !exported.contains(*n))
            .collect();
        assert!(
            unknown.is_empty(),
            "{} {triple}: not exported by ziglang's libSystem.tbd: {unknown:?}",
            code.name
        );
        if arch == Arch::Arm64 {
            super::structure::assert_code_signature_holds(&bytes);
        }
    }
}

#[test]
fn lua_links_as_macos_dylibs_bound_to_libsystem() {
    let sources = crate::lua::lua_sources();
    builds_bound_to_libsystem(&CodeBase {
        name: "lua",
        sources: c_files(&sources, &["lua.c", "luac.c", "onelua.c"]),
        flags: vec!["-DLUA_USE_MACOSX".into()],
    });
}

/// zlib's `crc32.c` uses the CRC instructions in inline assembly for arm64 macOS: it needs
/// the platform's apple-m1 base (a generic one cannot assemble it).
#[test]
fn zlib_links_as_macos_dylibs_bound_to_libsystem() {
    let src = dev_dependency_dir("libz-sys").join("src/zlib");
    builds_bound_to_libsystem(&CodeBase {
        name: "z",
        sources: c_files(&src, &[]),
        flags: vec!["-DHAVE_UNISTD_H".into(), "-DHAVE_STDARG_H".into()],
    });
}

#[test]
fn sqlite_links_as_macos_dylibs_bound_to_libsystem() {
    let dir = scratch("macos-sqlite-fetch");
    let sources = crate::sqlite::amalgamation(&dir);
    builds_bound_to_libsystem(&CodeBase {
        name: "sqlite3",
        sources: vec![sources.join("sqlite3.c")],
        flags: vec![
            "-DSQLITE_ENABLE_MATH_FUNCTIONS".into(),
            "-DSQLITE_THREADSAFE=1".into(),
        ],
    });
}

/// `text` without any YAML flow-list item `item` (and the comma that separates it).
fn without_list_item(text: &str, item: &str) -> String {
    let mut out = text.to_string();
    while let Some(at) = out.find(item) {
        let before = out[..at].trim_end();
        let end = at + item.len();
        if let Some(comma) = before.strip_suffix(',') {
            out.replace_range(comma.len()..end, "");
        } else {
            let after = out[end..].trim_start_matches([',', ' ', '\n']);
            let rest = out.len() - after.len();
            out.replace_range(at..rest, "");
        }
    }
    out
}

/// `--sysroot SDK` links against the SDK's `usr/lib/libSystem.tbd` instead of the vendored
/// stub, and a name no stub has (a runtime's own function) binds by flat lookup, which
/// `--verbose` and the build report name. The SDK here is ziglang's libSystem.tbd (multiple
/// documents, re-exported libraries, as Apple's) with one name added, so that what binds
/// shows which stub was used; less its `arm64e.x1` slices, an architecture LLVM 22 does not
/// know.
#[test]
fn a_sysroot_sdks_libsystem_is_used_and_flat_lookup_names_are_reported() {
    let dir = scratch("macos-sysroot");
    let sdk = dir.join("MacOSX.sdk");
    std::fs::create_dir_all(sdk.join("usr/lib")).unwrap();
    let mut stub = std::fs::read_to_string(zig_libsystem()).unwrap();
    for slice in ["arm64e.x1-maccatalyst", "arm64e.x1-macos"] {
        stub = without_list_item(&stub, slice);
    }
    assert!(!stub.contains("arm64e.x1"), "the SDK stub keeps arm64e.x1");
    let hook = "_mach_init_routine ]";
    assert!(stub.contains(hook));
    stub = stub.replacen(hook, "_mach_init_routine, _runtime_hook ]", 1);
    std::fs::write(sdk.join("usr/lib/libSystem.tbd"), stub).unwrap();

    let c = dir.join("hook.c");
    std::fs::write(
        &c,
        "#include <stdio.h>\n#include <sys/stat.h>\nextern int runtime_hook(long long);\n\
         int size_of(const char *p) {\n  struct stat s;\n  if (stat(p, &s)) return -1;\n\
         \x20 printf(\"%lld\\n\", (long long)s.st_size);\n  return runtime_hook(s.st_size);\n}\n",
    )
    .unwrap();
    for triple in ["x86_64-apple-macosx11.0", "arm64-apple-macosx11.0"] {
        let target = target(triple);
        let code = CodeBase {
            name: "hook",
            sources: vec![c.clone()],
            flags: Vec::new(),
        };
        let bitcode = macos_bitcode(&code, target, &dir.join(format!("ir-{}", target.clang)));
        let image = dir.join(format!("hook-{}.dylib", target.clang));
        let build = |extra: &[&str]| {
            let mut args: Vec<String> = vec!["build".into(), bitcode[0].display().to_string()];
            args.extend(["--export-all", "-v", "--timings=json", "-o"].map(String::from));
            args.push(image.display().to_string());
            args.extend(extra.iter().map(|s| s.to_string()));
            let out = aotlink_ok(&args);
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let (_, undefined) = undefined_symbols(&std::fs::read(&image).unwrap());
            (stderr, undefined)
        };
        // The vendored stub: stat (as the headers spell it) binds to libSystem, the hook by
        // flat lookup, which -v and the report name.
        let (stderr, undefined) = build(&[]);
        let stat = if target.arch == object::Architecture::X86_64 {
            "_stat$INODE64"
        } else {
            "_stat"
        };
        assert!(undefined.contains(&(stat.to_string(), 1)), "{undefined:?}");
        assert!(
            undefined.contains(&("_runtime_hook".to_string(), 0xfe)),
            "{undefined:?}"
        );
        assert!(
            stderr.contains("bound at load time by flat lookup (1): _runtime_hook\n"),
            "{stderr}"
        );
        assert!(
            stderr.contains("\"flat_lookup\": [\n    \"_runtime_hook\"\n  ]"),
            "{stderr}"
        );
        // The SDK's stub, which has the hook too: everything binds to libSystem.
        let sysroot = sdk.display().to_string();
        let (stderr, undefined) = build(&["--sysroot", &sysroot]);
        assert!(
            undefined.iter().all(|(_, ordinal)| *ordinal == 1),
            "{undefined:?}"
        );
        assert!(
            !stderr.contains("flat lookup") && !stderr.contains("flat_lookup"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{sysroot}/usr/lib/libSystem.tbd")),
            "{stderr}"
        );
    }
    // A sysroot that is no SDK is one error line.
    let out = run_aotlink([
        "build".as_ref(),
        dir.join("ir-arm64-apple-macos11/hook.bc").as_os_str(),
        "--sysroot".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        dir.join("none.dylib").as_os_str(),
    ]);
    assert_clean_failure(&out, "no usr/lib/libSystem.tbd there");
}
