//! The bench's large real module: SQLite's amalgamation (sqlite3.c of libsqlite3-sys, as cargo
//! unpacked it, about 2,100 functions) compiled by clang to one bitcode file, untimed. The
//! sources are copied into the bench's own directory first, so an edited copy compiles under
//! the same file name (clang records it in the IR) and differs from the original in the edit
//! alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::source::CLANG;

/// How the amalgamation becomes bitcode: as Lua's (vectorizing is left to each CPU target).
const FLAGS: &[&str] = &[
    "-O2",
    "-fno-vectorize",
    "-fno-slp-vectorize",
    "-fPIC",
    "-c",
    "-emit-llvm",
];

/// One function's body changed: `sqlite3_libversion_number` returns another number.
pub const EDIT: (&str, &str) = (
    "SQLITE_API int sqlite3_libversion_number(void){ return SQLITE_VERSION_NUMBER; }",
    "SQLITE_API int sqlite3_libversion_number(void){ return SQLITE_VERSION_NUMBER + 1; }",
);

/// libsqlite3-sys's `sqlite3` directory in cargo's registry (`$CARGO_HOME/registry/src/*/`).
/// Not a dev-dependency: without features its build script does not compile, and with
/// `bundled` every test build would compile SQLite. Where no version is unpacked
/// (`cargo fetch` of a crate depending on libsqlite3-sys unpacks one), the SQLite rows are
/// skipped with this error.
fn amalgamation_dir() -> Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("no CARGO_HOME or HOME")?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libsqlite3-sys-"))
                && p.join("sqlite3/sqlite3.c").exists()
        })
        .collect();
    found.sort();
    match found.pop() {
        Some(dir) => Ok(dir.join("sqlite3")),
        None => bail!(
            "no libsqlite3-sys sources in {}/registry/src",
            home.display()
        ),
    }
}

/// `dir/sqlite3.bc` from the amalgamation, with `edit` (from, to) applied if given.
pub fn sqlite_bitcode(dir: &Path, edit: Option<(&str, &str)>) -> Result<PathBuf> {
    let source = amalgamation_dir()?;
    std::fs::create_dir_all(dir)?;
    let mut text = std::fs::read_to_string(source.join("sqlite3.c"))
        .with_context(|| format!("{}: cannot read sqlite3.c", source.display()))?;
    if let Some((from, to)) = edit {
        if text.matches(from).count() != 1 {
            bail!("sqlite3.c: the edit's text is not there exactly once");
        }
        text = text.replace(from, to);
    }
    std::fs::write(dir.join("sqlite3.c"), text)?;
    std::fs::copy(source.join("sqlite3.h"), dir.join("sqlite3.h"))?;
    let status = Command::new(CLANG)
        .current_dir(dir)
        .args(FLAGS)
        .args(["sqlite3.c", "-o", "sqlite3.bc"])
        .status()
        .with_context(|| format!("cannot run {CLANG}"))?;
    if !status.success() {
        bail!("{CLANG} failed on sqlite3.c");
    }
    Ok(dir.join("sqlite3.bc"))
}
