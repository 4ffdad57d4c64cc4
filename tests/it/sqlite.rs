//! SQLite's amalgamation (about 2,100 functions, 9 MB of C) as clang 22 writes it, text and
//! bitcode, built into images that run a SQL workload exactly as gcc's build of the same
//! sources does. The sources come from libsqlite3-sys as cargo fetches it (not a
//! dev-dependency: its build script would compile SQLite into every test build).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::lua::run;

/// libsqlite3-sys's `sqlite3` directory, fetched by cargo for a scratch crate in `dir`.
fn amalgamation(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fetch-sqlite\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nlibsqlite3-sys = { version = \"=0.40.0\", default-features = false }\n\n\
         [workspace]\n",
    )
    .unwrap();
    let sources = cargo_package_dir(dir, "libsqlite3-sys", false).join("sqlite3");
    assert!(sources.join("sqlite3.c").exists(), "{}", sources.display());
    sources
}

/// The same configuration for both compilers: SQL math functions on (sqrt, exp).
const DEFINES: &[&str] = &["-DSQLITE_ENABLE_MATH_FUNCTIONS", "-DSQLITE_THREADSAFE=1"];

#[test]
fn sqlite_from_clang_22_text_and_bitcode_runs_sql_like_gccs_build() {
    let dir = scratch("sqlite");
    let sources = amalgamation(&dir.join("fetch"));
    let c = sources.join("sqlite3.c");
    let reference = dir.join("libsqlite-gcc.so");
    run(Command::new("gcc")
        .args(["-O2", "-fPIC", "-shared"])
        .args(DEFINES)
        .arg("-o")
        .arg(&reference)
        .arg(&c)
        .arg("-lm"));
    let harness = dir.join("harness");
    run(Command::new("cc")
        .arg("-o")
        .arg(&harness)
        .arg(repo().join("tests/it/sqlite/harness.c"))
        .arg("-ldl"));
    let workload =
        |lib: &Path| String::from_utf8(run(Command::new(&harness).arg(lib)).stdout).unwrap();
    let expected = workload(&reference);
    assert!(
        expected.contains("-- 15\nok\nend") && !expected.contains("error:"),
        "{expected}"
    );
    for (mode, file) in [("-S", "sqlite3.ll"), ("-c", "sqlite3.bc")] {
        let ir = dir.join(file);
        run(Command::new(CLANG)
            .args(["-O2", "-fno-vectorize", "-fno-slp-vectorize", "-fPIC", mode])
            .arg("-emit-llvm")
            .args(DEFINES)
            .arg(&c)
            .arg("-o")
            .arg(&ir));
        let image = dir.join(format!("libsqlite-{file}.so"));
        aotlink_ok([
            "build".as_ref(),
            ir.as_os_str(),
            "--export-all".as_ref(),
            "--cpu-target".as_ref(),
            "generic".as_ref(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
        assert_eq!(workload(&image), expected, "{file}");
    }
}
