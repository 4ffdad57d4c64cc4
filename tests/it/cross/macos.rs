//! macOS images of real C code (Lua, zlib, SQLite, compiled for macOS with the Darwin headers
//! of the ziglang package), checked against what aotlink did not write: every undefined
//! symbol is bound to libSystem (two-level namespace) and exported by ziglang's
//! `libSystem.tbd`; the arm64 code signature holds. And the vendored libSystem stub is
//! exactly ziglang's names (`AOTLINK_BLESS_LIBSYSTEM=1` rewrites it from them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::read::macho::{LoadCommandVariant, MachHeader, Nlist};

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
