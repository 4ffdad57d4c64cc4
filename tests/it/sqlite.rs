//! SQLite's amalgamation (about 2,100 functions, 9 MB of C) as clang 22 writes it, text and
//! bitcode, built into images that run a SQL workload exactly as gcc's build of the same
//! sources does. The sources come from libsqlite3-sys as cargo fetches it (not a
//! dev-dependency: its build script would compile SQLite into every test build).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::lua::run;

/// libsqlite3-sys's `sqlite3` directory, fetched by cargo for a scratch crate in `dir`.
pub fn amalgamation(dir: &Path) -> PathBuf {
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

/// `sqlite3.c` compiled by clang 22 to IR at `out` (`mode` `-S`: text, `-c`: bitcode).
pub(crate) fn sqlite_ir(c: &Path, mode: &str, out: &Path) {
    run(Command::new(CLANG)
        .args(["-O2", "-fno-vectorize", "-fno-slp-vectorize", "-fPIC", mode])
        .arg("-emit-llvm")
        .args(DEFINES)
        .arg(c)
        .arg("-o")
        .arg(out));
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
        sqlite_ir(&c, mode, &ir);
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

/// A function added anywhere in SQLite (its name sorting first, in the middle or last), one
/// removed and one renamed: each rebuild from a cache that holds the original's shards emits
/// at most two shards (the build's report says which), and its image equals a clean build's.
/// One target keeps the clean builds short; the partition does not depend on the target count.
#[test]
fn sqlite_rebuilds_after_an_added_removed_or_renamed_function_emit_at_most_two_shards() {
    rebuilds_emit_at_most_two_shards(&scratch("sqlite-increments"), None);
}

/// The same through the remote cache: the original is built and uploaded from one machine,
/// each variant is rebuilt on a fresh one (an empty local cache), so every shard it does not
/// emit comes from the BuildGrid server.
#[test]
fn sqlite_rebuilds_through_the_remote_cache_emit_at_most_two_shards() {
    let dir = scratch("sqlite-increments-remote");
    let server = crate::buildgrid::BuildGrid::start(&dir.join("server"));
    rebuilds_emit_at_most_two_shards(&dir, Some(&server.url()));
}

/// Builds SQLite with a cache (local, or a fresh local one per build in front of the server at
/// `remote`), then each variant from it: ≤ 2 shards emitted, the image a clean build's.
fn rebuilds_emit_at_most_two_shards(dir: &Path, remote: Option<&str>) {
    use crate::cache::{build_report, emitted, os};
    let sources = amalgamation(&dir.join("fetch"));
    let original = dir.join("sqlite3.ll");
    sqlite_ir(&sources.join("sqlite3.c"), "-S", &original);
    let text = std::fs::read_to_string(&original).unwrap();
    // A function nothing else names (only its definition mentions it): it can go or be renamed.
    let lone = (text.lines())
        .filter_map(|l| l.strip_prefix("define "))
        .filter_map(|l| {
            l.split_once(" @")?
                .1
                .split_once('(')
                .map(|(n, _)| n.to_string())
        })
        .find(|n| n.starts_with("sqlite3_") && mentions(&text, n) == 1)
        .expect("a function only its definition names");
    let added = |name: &str| {
        format!("{text}\ndefine i32 @{name}(i32 %x) {{\n  %y = mul i32 %x, 3\n  ret i32 %y\n}}\n")
    };
    let without = {
        let start = text.find(&format!(" @{lone}(")).unwrap();
        let start = text[..start].rfind("\ndefine ").unwrap() + 1;
        let end = start + text[start..].find("\n}\n").unwrap() + 3;
        format!("{}{}", &text[..start], &text[end..])
    };
    let variants = [
        ("added-first", added("aaa_added")),
        ("added-middle", added("sqlite3_mmm_added")),
        ("added-last", added("zzz_added")),
        ("removed", without),
        (
            "renamed",
            text.replace(&format!("@{lone}("), "@aaa_renamed("),
        ),
    ];
    // With a server, each build has a cache of its own: another machine.
    let cache_of = |out: &Path| match remote {
        Some(_) => out.with_extension("cache"),
        None => dir.join("cache"),
    };
    let build = |ir: &Path, out: &Path, cached: bool| {
        let cache = cache_of(out);
        let mut args = vec![os("build"), ir.as_os_str(), os("--export-all")];
        args.extend([os("--cpu-target"), os("generic"), os("-o"), out.as_os_str()]);
        match cached {
            true => args.extend([os("--cache-dir"), cache.as_os_str()]),
            false => args.push(os("--no-cache")),
        }
        if let (true, Some(url)) = (cached, remote) {
            args.extend([os("--remote-cache"), os(url)]);
        }
        build_report(&args)
    };
    let first = build(&original, &dir.join("original.so"), true);
    let shards = crate::cache::shards(&first);
    if remote.is_some() {
        assert_eq!(first["remote"]["stored"].as_u64(), Some(shards), "{first}");
    }
    assert!(
        shards >= 8,
        "SQLite should make several shards, made {shards}"
    );
    assert!(variants.iter().all(|(_, v)| *v != text));
    for (name, variant) in variants {
        // The variant's IR lives under the original's file name: clang records it.
        let vdir = dir.join(name);
        std::fs::create_dir_all(&vdir).unwrap();
        let ir = vdir.join("sqlite3.ll");
        std::fs::write(&ir, variant).unwrap();
        // The same file name for both images: it is their soname.
        for sub in ["rebuilt", "clean"] {
            std::fs::create_dir_all(vdir.join(sub)).unwrap();
        }
        let rebuilt = build(&ir, &vdir.join("rebuilt/libsqlite.so"), true);
        let changed = emitted(&rebuilt);
        assert!(
            changed.len() <= 2,
            "{name}: {} of {shards} shards emitted ({changed:?})",
            changed.len()
        );
        if remote.is_some() {
            let fetched = rebuilt["cache"]["remote_hits"].as_u64().unwrap_or(0);
            assert!(
                fetched + 2 >= crate::cache::shards(&rebuilt),
                "{name}: the server gave {fetched} shards: {rebuilt}"
            );
        }
        build(&ir, &vdir.join("clean/libsqlite.so"), false);
        assert!(
            std::fs::read(vdir.join("rebuilt/libsqlite.so")).unwrap()
                == std::fs::read(vdir.join("clean/libsqlite.so")).unwrap(),
            "{name}: the rebuilt image differs from a clean build's"
        );
    }
}

/// How often `@name` stands in `text` as a whole name.
fn mentions(text: &str, name: &str) -> usize {
    let needle = format!("@{name}");
    text.match_indices(&needle)
        .filter(|(at, _)| {
            let next = text[at + needle.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
        .count()
}
