//! The shard cache through the command line: a rebuild emits only what changed and gives the
//! image a clean build gives; every input of emission is in the key (a test per input that
//! would fail without it); builds share a cache at once; damage is caught; the bound holds.
//! Real code: Lua 5.4 for the edit, the method-table fixtures for the key's method hashes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

/// `aotlink ARGS --timings=json`, expecting success: the build report.
pub(crate) fn build_report(args: &[&std::ffi::OsStr]) -> Value {
    let out = aotlink_ok(
        args.iter()
            .copied()
            .chain([std::ffi::OsStr::new("--timings=json")]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json = &stderr[stderr.find('{').expect("a JSON report on stderr")..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn count(report: &Value, what: &str) -> u64 {
    report["cache"][what].as_u64().unwrap()
}

pub(crate) fn shards(report: &Value) -> u64 {
    report["shards"].as_array().unwrap().len() as u64
}

/// The shard indices the report says were emitted (not taken from the local or remote cache).
pub(crate) fn emitted(report: &Value) -> Vec<u64> {
    (report["shards"].as_array().unwrap().iter())
        .filter(|s| s["source"] == "emitted" || s["source"] == "damaged")
        .map(|s| s["index"].as_u64().unwrap())
        .collect()
}

pub(crate) fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Lua's library as bitcode, one file per source, compiled in `dir` from `sources` (copied
/// there first, so an edited copy compiles under the same file names).
pub(crate) fn lua_bitcode(dir: &Path, edit: Option<(&str, &str, &str)>) -> Vec<PathBuf> {
    let src = crate::lua::lua_sources();
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "c" || e == "h") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    if let Some((file, from, to)) = edit {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{from:?} once in {file}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
    let sources = crate::lua::library_sources(dir);
    let names: Vec<&std::ffi::OsStr> = sources.iter().map(|p| p.file_name().unwrap()).collect();
    check(
        Command::new(CLANG)
            .current_dir(dir)
            .args([
                "-O2",
                "-fno-vectorize",
                "-fno-slp-vectorize",
                "-DLUA_USE_POSIX",
            ])
            .args(["-c", "-emit-llvm"])
            .args(&names),
    );
    let mut bitcode: Vec<PathBuf> = (sources.iter()).map(|p| p.with_extension("bc")).collect();
    bitcode.sort();
    bitcode
}

/// `build INPUTS --export-all --threads 2 -o DIR/NAME` plus `extra`; the report.
fn build(inputs: &[PathBuf], out: &Path, extra: &[&str]) -> Value {
    let mut args: Vec<&std::ffi::OsStr> = vec![os("build")];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend([os("--export-all"), os("--threads"), os("2"), os("-o")]);
    args.push(out.as_os_str());
    args.extend(extra.iter().map(|s| os(s)));
    build_report(&args)
}

pub(crate) fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// math.abs of a negative integer now adds one: one function's body changes.
pub(crate) const ONE_FUNCTION_EDIT: (&str, &str, &str) = (
    "lmathlib.c",
    "if (n < 0) n = (lua_Integer)(0u - (lua_Unsigned)n);",
    "if (n < 0) n = (lua_Integer)(1u - (lua_Unsigned)n);",
);

#[test]
fn an_edit_reemits_its_shard_only_and_gives_the_clean_builds_image() {
    let dir = scratch("cache-edit");
    let cache = dir.join("cache");
    let cache_arg = ["--cache-dir", cache.to_str().unwrap()];
    let original = lua_bitcode(&dir.join("original"), None);
    let edited = lua_bitcode(&dir.join("edited"), Some(ONE_FUNCTION_EDIT));
    let image = |name: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d.join("liblua.so")
    };

    let cold = build(&original, &image("cold"), &cache_arg);
    assert!(shards(&cold) >= 4, "Lua should make several shards: {cold}");
    assert_eq!(emitted(&cold).len() as u64, shards(&cold));

    let again = build(&original, &image("again"), &cache_arg);
    assert_eq!(
        emitted(&again),
        Vec::<u64>::new(),
        "no change, no shard emitted"
    );
    assert_eq!(count(&again, "hits"), shards(&cold));
    assert_eq!(bytes(&image("cold")), bytes(&image("again")));

    let edit = build(&edited, &image("edit"), &cache_arg);
    assert_eq!(
        emitted(&edit).len(),
        1,
        "only math_abs's shard is emitted again: {edit}"
    );
    let clean = build(&edited, &image("clean"), &["--no-cache"]);
    assert!(!clean["cache"]["enabled"].as_bool().unwrap());
    assert_eq!(
        bytes(&image("edit")),
        bytes(&image("clean")),
        "the rebuilt image is the clean build's, byte for byte"
    );
    assert_ne!(bytes(&image("edit")), bytes(&image("cold")));
}

/// Builds `ir` twice into one cache, first with `first` then with `second` arguments, and
/// once with `second` and no cache: the cached build must emit every shard `reemit` says
/// and produce the uncached build's output.
fn key_covers(name: &str, ir: &Path, first: &[&str], second: &[&str], command: &str) {
    let dir = scratch(name);
    let cache = dir.join("cache");
    let out = |which: &str| {
        let d = dir.join(which);
        std::fs::create_dir_all(&d).unwrap();
        d.join(if command == "dump" { "out.a" } else { "out.so" })
    };
    let run = |which: &str, extra: &[&str], cached: bool| {
        let mut args: Vec<&std::ffi::OsStr> = vec![os(command), ir.as_os_str()];
        args.extend(extra.iter().map(|s| os(s)));
        let target = out(which);
        args.extend([os("-o"), target.as_os_str()]);
        let cache_args = [os("--cache-dir"), cache.as_os_str()];
        match cached {
            true => args.extend(cache_args),
            false => args.push(os("--no-cache")),
        }
        build_report(&args)
    };
    run("first", first, true);
    let second_report = run("second", second, true);
    run("uncached", second, false);
    assert_eq!(
        bytes(&out("second")),
        bytes(&out("uncached")),
        "{name}: a cached build differs from an uncached one: {second_report}"
    );
    assert_ne!(
        bytes(&out("first")),
        bytes(&out("second")),
        "{name}: the change shows"
    );
}

#[test]
fn the_key_covers_the_cpu_targets() {
    // Changes that leave the clone sets (and so each shard's own IR) as they were, so only
    // the targets in the key tell the builds apart: another base CPU, one target, no clones;
    key_covers(
        "cache-key-cpu",
        kernels_bc(),
        &["--cpu-target", "generic", "--export-all"],
        &["--cpu-target", "x86-64-v2", "--export-all"],
        "build",
    );
    // and one feature less on a cloned target (BMI2 decides no cloning).
    key_covers(
        "cache-key-features",
        kernels_bc(),
        &["--cpu-target", "generic;haswell", "--export-all"],
        &["--cpu-target", "generic;haswell,-bmi2", "--export-all"],
        "build",
    );
}

#[test]
fn the_key_covers_the_triple() {
    let dir = scratch("cache-key-triple");
    // One IR text, two triples: only the triple and data layout lines differ.
    let text = std::fs::read_to_string(kernels_ll()).unwrap();
    let both = dir.join("linux.ll");
    std::fs::write(&both, &text).unwrap();
    let windows = dir.join("windows.ll");
    let layout = text
        .lines()
        .find(|l| l.starts_with("target datalayout"))
        .unwrap();
    // x86_64 Windows (COFF mangling in the datalayout), same code otherwise.
    let target = crate::cross::target("x86_64-pc-windows-gnu");
    std::fs::write(
        &windows,
        text.replace(
            text.lines()
                .find(|l| l.starts_with("target triple"))
                .unwrap(),
            &format!("target triple = \"{}\"", target.llvm),
        )
        .replace(
            layout,
            &format!("target datalayout = \"{}\"", target.datalayout),
        ),
    )
    .unwrap();
    // dump: the archives alone (no link), so the Windows half needs no MinGW here.
    let cache = dir.join("cache");
    let out = |name: &str| dir.join(format!("{name}.a"));
    let dump = |ir: &Path, name: &str, cached: bool| {
        let target = out(name);
        let mut args = vec![os("dump"), ir.as_os_str(), os("--export-all"), os("-o")];
        args.push(target.as_os_str());
        match cached {
            true => args.extend([os("--cache-dir"), cache.as_os_str()]),
            false => args.push(os("--no-cache")),
        }
        build_report(&args)
    };
    dump(&both, "linux", true);
    let report = dump(&windows, "windows", true);
    assert_eq!(
        count(&report, "hits"),
        0,
        "nothing of the Linux build fits: {report}"
    );
    dump(&windows, "windows-uncached", false);
    assert_eq!(bytes(&out("windows")), bytes(&out("windows-uncached")));
}

/// Two method tables of the method-table fixtures' system image, the second with called
/// method g's hash changed (g was recompiled elsewhere), and the package IR that calls g, in
/// `dir`: (first, second, package IR).
pub(crate) fn tables_differing_in_a_called_hash(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (sys, _) = crate::methods::system_and_package();
    let table = aotlink_ok([
        "inspect".as_ref(),
        "--method-table".as_ref(),
        sys.as_os_str(),
    ]);
    let mut json: Value = serde_json::from_slice(&table.stdout).unwrap();
    let first = dir.join("first.json");
    std::fs::write(&first, serde_json::to_vec(&json).unwrap()).unwrap();
    let g = (json["methods"].as_array_mut().unwrap().iter_mut())
        .find(|m| m["name"] == "g")
        .unwrap();
    let hash = u64::from_str_radix(g["hash"].as_str().unwrap(), 16).unwrap();
    g["hash"] = Value::String(format!("{:016x}", hash ^ 1));
    let second = dir.join("second.json");
    std::fs::write(&second, serde_json::to_vec(&json).unwrap()).unwrap();
    let pkg_ll = dir.join("pkg.ll");
    clang_ir(
        &repo().join("tests/it/methods/pkg.c"),
        &pkg_ll,
        &["-O2", "-S", "-emit-llvm"],
    );
    (first, second, pkg_ll)
}

#[test]
fn the_key_covers_the_hash_of_a_called_method() {
    let (first, second, pkg_ll) = tables_differing_in_a_called_hash(&scratch("cache-key-methods"));
    key_covers(
        "cache-key-methods-build",
        &pkg_ll,
        &["--export-all", "--method-table", first.to_str().unwrap()],
        &["--export-all", "--method-table", second.to_str().unwrap()],
        "build",
    );
}

/// A function the inputs declare becomes a hidden thunk through a slot when a method table
/// provides it, after the module was printed for the shards' keys: the calling shards'
/// declarations change, and so must their keys.
#[test]
fn the_key_covers_which_methods_are_bound() {
    let (first, _, pkg_ll) = tables_differing_in_a_called_hash(&scratch("cache-key-bound"));
    key_covers(
        "cache-key-bound-build",
        &pkg_ll,
        &["--export-all", "--shards", "4"],
        &[
            "--export-all",
            "--shards",
            "4",
            "--method-table",
            first.to_str().unwrap(),
        ],
        "build",
    );
}

#[test]
fn two_builds_at_once_share_one_cache() {
    let dir = scratch("cache-concurrent");
    let cache = dir.join("cache");
    let outs: Vec<PathBuf> = (0..2)
        .map(|i| {
            let d = dir.join(format!("b{i}"));
            std::fs::create_dir_all(&d).unwrap();
            d.join("kernels.so")
        })
        .collect();
    let children: Vec<_> = outs
        .iter()
        .map(|out| {
            Command::new(aotlink())
                .arg("build")
                .arg(kernels_bc())
                .args(["--export-all", "--shards", "6", "--cache-dir"])
                .arg(&cache)
                .arg("-o")
                .arg(out)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(bytes(&outs[0]), bytes(&outs[1]));
    std::fs::create_dir_all(dir.join("u")).unwrap();
    let uncached_same_name = dir.join("u").join("kernels.so");
    build_report(&[
        os("build"),
        kernels_bc().as_os_str(),
        os("--export-all"),
        os("--shards"),
        os("6"),
        os("--no-cache"),
        os("-o"),
        uncached_same_name.as_os_str(),
    ]);
    assert_eq!(bytes(&outs[0]), bytes(&uncached_same_name));
}

/// Every cache entry file (the shards' and the input-check records').
fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in std::fs::read_dir(cache.join("shards")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            if std::fs::metadata(&path).unwrap().len() > 100 {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_damaged_entry_is_emitted_again_and_reported() {
    let dir = scratch("cache-damage");
    let cache = dir.join("cache");
    let image = dir.join("kernels.so");
    let args = |extra: &[&str]| {
        let mut a = vec!["build".to_string(), kernels_bc().display().to_string()];
        a.extend(["--export-all", "--shards", "4", "--cache-dir"].map(String::from));
        a.push(cache.display().to_string());
        a.extend(["-o".to_string(), image.display().to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let first = build_report(&args(&[]).iter().map(|s| os(s)).collect::<Vec<_>>());
    let good = bytes(&image);
    let files = entries(&cache);
    assert_eq!(
        files.len(),
        5,
        "one entry per shard and one for the shard tables: {files:?}"
    );
    // Each shard's entry is named by its key.
    let shard_entries: Vec<&PathBuf> = (first["shards"].as_array().unwrap().iter())
        .map(|s| s["key"].as_str().unwrap())
        .map(|key| files.iter().find(|f| f.ends_with(&key[2..])).unwrap())
        .collect();
    let tables_entry = (files.iter())
        .find(|f| !shard_entries.contains(f))
        .unwrap()
        .clone();
    // One flipped byte in the middle of an object, one entry cut short, and the tables'
    // entry cut short.
    let mut flipped = bytes(shard_entries[0]);
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    std::fs::write(shard_entries[0], flipped).unwrap();
    for entry in [shard_entries[1], &tables_entry] {
        let cut = bytes(entry);
        std::fs::write(entry, &cut[..cut.len() / 3]).unwrap();
    }

    let out = aotlink_ok(args(&["--timings=json"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(&stderr[stderr.find('{').unwrap()..]).unwrap();
    assert_eq!(count(&report, "damaged"), 2, "{report}");
    assert_eq!(count(&report, "hits"), 2);
    assert_eq!(report["shard_tables"], "damaged", "{report}");
    assert_eq!(
        stderr.matches("aotlink: warning: shard").count(),
        2,
        "each damaged entry is one warning line: {stderr}"
    );
    assert_eq!(
        stderr
            .matches("aotlink: warning: the shard tables: the cached copy was damaged")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("does not match its hash"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    assert_eq!(bytes(&image), good, "the damaged entries were not used");
    // Emitted again and stored again: the next build hits on everything.
    let report = build_report(&args(&[]).iter().map(|s| os(s)).collect::<Vec<_>>());
    assert_eq!(count(&report, "hits"), 4);
    assert_eq!(report["shard_tables"], "cached");
}

#[test]
fn the_cache_stays_under_its_bound_and_can_be_cleared() {
    let dir = scratch("cache-bound");
    let cache = dir.join("cache");
    let image = dir.join("kernels.so");
    let build_with = |targets: &str| {
        aotlink_ok([
            "build".as_ref(),
            kernels_bc().as_os_str(),
            "--export-all".as_ref(),
            "--shards".as_ref(),
            "4".as_ref(),
            "--cpu-target".as_ref(),
            targets.as_ref(),
            "--cache-dir".as_ref(),
            cache.as_os_str(),
            "--cache-max-size".as_ref(),
            "120K".as_ref(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
    };
    // Each target set makes new entries; together they would pass the bound many times over.
    for targets in [
        "generic",
        "generic;haswell",
        "generic;sandybridge",
        "x86-64-v2",
        "x86-64-v3",
    ] {
        build_with(targets);
        let total: u64 = entries(&cache)
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(total <= 120 << 10, "{total} bytes after {targets}");
    }
    let stats = aotlink_ok([
        "cache".as_ref(),
        "stats".as_ref(),
        "--cache-dir".as_ref(),
        cache.as_os_str(),
    ]);
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.contains("shards"), "{stats}");
    let cleared = aotlink_ok([
        "cache".as_ref(),
        "clear".as_ref(),
        "--cache-dir".as_ref(),
        cache.as_os_str(),
    ]);
    assert!(String::from_utf8_lossy(&cleared.stdout).contains("removed"));
    assert!(entries(&cache).is_empty());
}

#[test]
fn the_cache_lives_where_the_environment_says() {
    let dir = scratch("cache-where");
    let image = dir.join("kernels.so");
    let run = |envs: &[(&str, &Path)], extra: &[&str]| {
        let mut cmd = Command::new(aotlink());
        cmd.env_remove("AOTLINK_CACHE_DIR")
            .env_remove("XDG_CACHE_HOME");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        check(
            cmd.arg("build")
                .arg(kernels_bc())
                .args(["--export-all", "-o"])
                .arg(&image)
                .args(extra),
        );
    };
    let xdg = dir.join("xdg");
    run(
        &[("XDG_CACHE_HOME", &xdg), ("HOME", &dir.join("home"))],
        &[],
    );
    assert!(
        !entries(&xdg.join("aotlink")).is_empty(),
        "$XDG_CACHE_HOME/aotlink"
    );
    run(&[("HOME", &dir.join("home"))], &[]);
    assert!(
        !entries(&dir.join("home/.cache/aotlink")).is_empty(),
        "~/.cache/aotlink"
    );
    let own = dir.join("own");
    run(
        &[("AOTLINK_CACHE_DIR", &own), ("XDG_CACHE_HOME", &xdg)],
        &[],
    );
    assert!(!entries(&own).is_empty(), "$AOTLINK_CACHE_DIR first");
    let unused = dir.join("unused");
    run(&[("AOTLINK_CACHE_DIR", &unused)], &["--no-cache"]);
    assert!(!unused.exists(), "--no-cache writes nothing");
}

/// examples/embed.rs, which `cargo test` builds beside this test binary: the library API
/// from bitcode in memory to a loaded image, twice, the second time from the cache.
#[test]
fn the_embedding_example_runs() {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let example = profile_dir.join("examples").join("embed");
    assert!(
        example.exists(),
        "{} is missing (cargo test builds examples)",
        example.display()
    );
    let cache = scratch("cache-embed").join("cache");
    let out = check(Command::new(&example).arg(&cache));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("first build: 1 shard(s), 1 emitted, 0 from the cache"),
        "{stdout}"
    );
    assert!(
        stdout.contains("second build: 1 shard(s), 0 emitted, 1 from the cache"),
        "{stdout}"
    );
    // fib(20) and 1*4 + 2*5 + 3*6, as anyone computes them.
    assert!(stdout.contains("fib(20) = 6765"), "{stdout}");
    assert!(stdout.contains("dot = 32"), "{stdout}");
}

/// The dump memo (src/build/memo.rs): a rebuild with every input as before reuses the whole
/// dump, and a change to any input the archives depend on, even in a file whose name stays,
/// runs the dump and gives the image a `--no-cache` build gives. Each case would fail if its
/// input were left out of the memo's key.
#[test]
fn the_whole_dump_is_reused_only_when_no_input_changed() {
    let dir = scratch("cache-memo");
    let cache = dir.join("cache");
    let (ir, trace, data) = (
        dir.join("in.ll"),
        dir.join("trace.txt"),
        dir.join("data.bin"),
    );
    let kernels = std::fs::read_to_string(kernels_ll()).unwrap();
    std::fs::write(&ir, &kernels).unwrap();
    std::fs::copy(trace_file(), &trace).unwrap();
    std::fs::write(&data, b"first").unwrap();
    let (ir_s, trace_s, data_s) = (
        ir.display().to_string(),
        trace.display().to_string(),
        data.display().to_string(),
    );
    let base: Vec<&str> = vec![
        "--cpu-target",
        "generic;haswell",
        "--shards",
        "3",
        "--trace",
        &trace_s,
        "--image-data",
        &data_s,
        "--export",
        "dot_product",
    ];
    let n = std::cell::Cell::new(0);
    let run = |args: &[&str], cached: bool| {
        n.set(n.get() + 1);
        // One file name throughout: the image records it (its soname).
        let out_dir = dir.join(format!("run{}", n.get()));
        std::fs::create_dir_all(&out_dir).unwrap();
        let out = out_dir.join("image.so");
        let mut all: Vec<&std::ffi::OsStr> = vec![os("build"), os(&ir_s)];
        all.extend(args.iter().map(|s| os(s)));
        all.extend([os("-o"), out.as_os_str()]);
        match cached {
            true => all.extend([os("--cache-dir"), cache.as_os_str()]),
            false => all.push(os("--no-cache")),
        }
        (build_report(&all), bytes(&out))
    };
    let reused = |report: &Value| report["cache"]["dump_reused"].as_bool().unwrap();
    let (first, image) = run(&base, true);
    assert!(!reused(&first));
    let (again, same) = run(&base, true);
    assert!(reused(&again), "nothing changed: {again}");
    assert_eq!(emitted(&again), Vec::<u64>::new());
    assert!(same == image, "the reused dump gives the same image");

    // (what changes, arguments, a file rewritten in place before the build)
    fn with<'a>(base: &[&'a str], from: &str, to: &'a str) -> Vec<&'a str> {
        (base.iter())
            .map(|a| if *a == from { to } else { a })
            .collect()
    }
    /// A file rewritten in place before the build, and its new content.
    type Rewrite<'a> = Option<(&'a Path, Vec<u8>)>;
    let cases: Vec<(&str, Vec<&str>, Rewrite)> = vec![
        (
            "cpu targets",
            with(&base, "generic;haswell", "generic;x86-64-v3"),
            None,
        ),
        ("shard count", with(&base, "3", "2"), None),
        ("exports", with(&base, "dot_product", "sum_squares"), None),
        (
            "emit kinds",
            [&base[..], &["--emit", "obj,bc"]].concat(),
            None,
        ),
        (
            "image data file",
            base.clone(),
            Some((&data, b"second".to_vec())),
        ),
        (
            "trace file",
            base.clone(),
            Some((&trace, b"dot_product\nsum_squares\n".to_vec())),
        ),
        (
            "input file",
            base.clone(),
            Some((
                &ir,
                kernels
                    .replacen(
                        "define ",
                        "define i32 @memo_extra() {\n  ret i32 7\n}\n\ndefine ",
                        1,
                    )
                    .into_bytes(),
            )),
        ),
    ];
    for (what, args, rewrite) in cases {
        if let Some((path, content)) = rewrite {
            std::fs::write(path, content).unwrap();
        }
        let (report, cached) = run(&args, true);
        assert!(
            !reused(&report),
            "{what} changed, the dump was reused: {report}"
        );
        let (_, uncached) = run(&args, false);
        assert_eq!(
            cached, uncached,
            "{what}: the cached build differs from a clean one"
        );
        let (again, _) = run(&args, true);
        assert!(reused(&again), "{what}: the second build reuses the first");
    }
}

/// Text IR as a runtime might write it: no `source_filename` (LLVM then names the module
/// after its file) and named local values; `scale` is the constant of function `f7`.
fn module_without_source_filename(scale: u64) -> String {
    let mut ir = String::from("target triple = \"x86_64-unknown-linux-gnu\"\n");
    for i in 0..40u64 {
        let k = if i == 7 { scale } else { i * 3 + 1 };
        let callee = match i {
            0 => String::new(),
            _ => format!("  %next = call i64 @f{}(i64 %x)\n", i - 1),
        };
        let result = if i == 0 { "%x" } else { "%sum" };
        let sum = match i {
            0 => String::new(),
            _ => "  %sum = add i64 %x, %next\n".to_string(),
        };
        ir += &format!(
            "define i64 @f{i}(i64 %a) {{\nentry:\n  %x = mul i64 %a, {k}\n{callee}{sum}  ret i64 {result}\n}}\n"
        );
    }
    ir
}

/// An edit of a text input without `source_filename`, in place (the same file), re-emits
/// only its shard: the module is named after the input's own path, not after the copy the
/// input check reads (a new temp path each build, which every shard's key covered).
#[test]
fn an_edit_of_text_without_a_source_filename_reemits_its_shard_only() {
    let dir = scratch("cache-no-source-filename");
    let cache = dir.join("cache");
    let input = dir.join("module.ll");
    // One file name: an image records its own (soname).
    let image = |name: &str| {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        dir.join(name).join("image.so")
    };
    let args = ["--shards", "4", "--cache-dir", cache.to_str().unwrap()];
    std::fs::write(&input, module_without_source_filename(5)).unwrap();
    let cold = build(std::slice::from_ref(&input), &image("cold"), &args);
    assert_eq!(emitted(&cold).len(), 4);
    std::fs::write(&input, module_without_source_filename(6)).unwrap();
    let edit = build(std::slice::from_ref(&input), &image("edit"), &args);
    assert_eq!(emitted(&edit).len(), 1, "only f7's shard: {edit}");
    let clean = build(
        std::slice::from_ref(&input),
        &image("clean"),
        &["--shards", "4", "--no-cache"],
    );
    assert!(!clean["cache"]["enabled"].as_bool().unwrap());
    assert!(
        bytes(&image("edit")) == bytes(&image("clean")),
        "the rebuilt image is the clean build's"
    );
}
