//! A real C code base that is not ours: Lua 5.4 (from the lua-src crate's sources), full of
//! function-pointer tables. Built with the default CPU targets, it must print the same as its
//! gcc build, through a plain dynamic link and through the loader on every target this CPU runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// lua-src's Lua 5.4 source directory (lua-src is a dev-dependency).
pub fn lua_sources() -> PathBuf {
    let root = dev_dependency_dir("lua-src");
    std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("lua-5.4")
        })
        .expect("lua-5.4 sources in lua-src")
}

/// The library's C files (without the stand-alone interpreter and compiler).
pub fn library_sources(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .filter(|p| {
            !["lua.c", "luac.c", "onelua.c"].contains(&p.file_name().unwrap().to_str().unwrap())
        })
        .collect();
    files.sort();
    files
}

pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Lua's `sources` as clang-22 bitcode in `ir_dir`, one file per source (aotlink merges
/// them), sorted; `extra` flags added (like `-g`).
pub fn lua_bitcode(sources: &[PathBuf], ir_dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    lua_ir(crate::common::CLANG, "-c", sources, ir_dir, extra)
}

/// Lua's `sources` compiled by `clang` to IR in `ir_dir` (`mode` `-c`: bitcode, `-S`: text),
/// one file per source, sorted.
pub fn lua_ir(
    clang: &str,
    mode: &str,
    sources: &[PathBuf],
    ir_dir: &Path,
    extra: &[&str],
) -> Vec<PathBuf> {
    std::fs::create_dir_all(ir_dir).unwrap();
    run(Command::new(clang)
        .current_dir(ir_dir)
        .args([
            "-O2",
            "-fno-vectorize",
            "-fno-slp-vectorize",
            "-DLUA_USE_POSIX",
            mode,
            "-emit-llvm",
        ])
        .args(extra)
        .args(sources));
    let mut ir: Vec<PathBuf> = std::fs::read_dir(ir_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ir.sort();
    ir
}

/// The reference: gcc's own build of the same sources, as a shared library at `out`.
pub fn gcc_lua(sources: &[PathBuf], out: &Path) {
    run(Command::new("gcc")
        .args(["-O2", "-fPIC", "-shared", "-DLUA_USE_POSIX", "-o"])
        .arg(out)
        .args(sources)
        .arg("-lm"));
}

fn harness() -> PathBuf {
    repo().join("tests/it/lua/harness.c")
}

/// The harness linked against the Lua library `lib` (found by rpath in its directory) at `exe`.
pub fn direct_harness(lib: &Path, exe: &Path) -> PathBuf {
    let include = format!("-I{}", lua_sources().display());
    let dir = lib.parent().unwrap();
    run(Command::new("cc")
        .args(["-DDIRECT", &include, "-o"])
        .arg(exe)
        .arg(harness())
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", dir.display())));
    exe.to_path_buf()
}

/// The harness that opens its image argument with aotload (`dir/harness-loader`).
pub fn loader_harness(dir: &Path) -> PathBuf {
    let exe = dir.join("harness-loader");
    let include = format!("-I{}", lua_sources().display());
    cc_with_aotload(&harness(), &exe, &[&include]);
    exe
}

/// What the harness `exe` prints running the test script with `image` (the loader's target
/// forced to `target` when given).
pub fn run_script(exe: &Path, image: &Path, target: Option<&str>) -> String {
    let out = run(Command::new(exe)
        .arg(image)
        .arg(repo().join("tests/it/lua/script.lua"))
        .env("AOTLOAD_TARGET", target.unwrap_or("")));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn lua_runs_the_same_from_an_image_as_from_gcc() {
    let src = lua_sources();
    let dir = scratch("lua");
    let sources = library_sources(&src);
    assert!(
        sources.len() > 25,
        "found only {} Lua sources in {}",
        sources.len(),
        src.display()
    );

    let bitcode = lua_bitcode(&sources, &dir.join("ir"), &[]);
    let image = dir.join("liblua-aot.so");
    let mut args = vec![
        "build".into(),
        "--export-all".into(),
        "-o".into(),
        image.display().to_string(),
    ];
    args.extend(bitcode.iter().map(|p| p.display().to_string()));
    aotlink_ok(&args);

    let reference = dir.join("liblua-ref.so");
    gcc_lua(&sources, &reference);

    let direct_ref = direct_harness(&reference, &dir.join("harness-ref"));
    let direct_aot = direct_harness(&image, &dir.join("harness-aot"));
    let loader_harness = loader_harness(&dir);

    let output = |exe: &Path, target: Option<&str>| run_script(exe, &image, target);
    let expected = output(&direct_ref, None);
    assert!(
        expected.contains("sort 2002 2001") && expected.trim_end().ends_with("end"),
        "{expected}"
    );
    assert!(!expected.contains("error:"), "{expected}");
    assert_eq!(
        output(&direct_aot, None),
        expected,
        "plain dynamic link of the image"
    );
    let host = aotload::HostCpu::detect();
    let meta = open(&image).meta().clone();
    assert_eq!(meta.targets.len(), 4);
    for target in &meta.targets {
        if aotload::features::missing(&target.features, &host.features)
            .iter()
            .any(|w| *w != 0)
        {
            eprintln!(
                "skipping target {}: this CPU lacks its features",
                target.name
            );
            continue;
        }
        assert_eq!(
            output(&loader_harness, Some(&target.name)),
            expected,
            "through the loader, target {}",
            target.name
        );
    }
    method_table_holds_what_gcc_exports(&image, &reference, &dir);
}

/// Text IR is where each LLVM release adds syntax: Lua as clang 19 and clang 22 print it
/// builds (one target, to keep the test short) and runs the script as gcc's build does.
#[test]
fn lua_text_ir_from_clang_19_and_22_runs_like_gcc() {
    let src = lua_sources();
    let dir = scratch("lua-text");
    let sources = library_sources(&src);
    let reference = dir.join("liblua-ref.so");
    gcc_lua(&sources, &reference);
    let expected = run_script(
        &direct_harness(&reference, &dir.join("harness-ref")),
        &reference,
        None,
    );
    assert!(expected.contains("sort 2002 2001"), "{expected}");
    for clang in ["clang-19", crate::common::CLANG] {
        let ir = lua_ir(clang, "-S", &sources, &dir.join(format!("ir-{clang}")), &[]);
        assert!(ir.iter().all(|p| p.extension().is_some_and(|e| e == "ll")));
        let image = dir.join(format!("liblua-{clang}.so"));
        let mut args = vec!["build".into(), "--export-all".into(), "--cpu-target".into()];
        args.extend(["generic".into(), "-o".into(), image.display().to_string()]);
        args.extend(ir.iter().map(|p| p.display().to_string()));
        aotlink_ok(&args);
        let harness = direct_harness(&image, &dir.join(format!("harness-{clang}")));
        assert_eq!(
            run_script(&harness, &image, None),
            expected,
            "{clang} text IR"
        );
    }
}

/// The method table against a real code base: every function gcc's build of Lua exports is a
/// method of the table once the image is loaded into it, and a second copy of the image is
/// refused before it runs (its 300-odd exports are merged with the first copy's, the path a
/// table of small fixtures never takes).
fn method_table_holds_what_gcc_exports(image: &Path, reference: &Path, dir: &Path) {
    let nm = run(Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(reference));
    let gcc_functions: Vec<String> = String::from_utf8(nm.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "T", name] => Some(name.to_string()),
            _ => None,
        })
        .collect();
    assert!(gcc_functions.len() > 100, "{gcc_functions:?}");
    let mut table = aotload::MethodTable::new();
    let lua = aotload::Image::open_in(image, &Default::default(), &mut table).unwrap();
    let names: std::collections::BTreeSet<&str> = table.entries().iter().map(|(n, _)| *n).collect();
    let missing: Vec<&String> = (gcc_functions.iter())
        .filter(|f| !names.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in the method table: {missing:?}");
    for f in &gcc_functions {
        let i = lua.fvar_index(f).unwrap() as usize;
        let entry = table.get(f, &lua.meta().methods[i].signature).unwrap();
        assert_eq!(entry.address, lua.fvars()[i], "{f}");
    }
    let copy = dir.join("liblua-aot-copy.so");
    std::fs::copy(image, &copy).unwrap();
    let err = aotload::Image::open_in(&copy, &Default::default(), &mut table)
        .err()
        .expect("the same methods twice");
    assert!(
        matches!(err.cause, aotload::LoadCause::Conflict(_)),
        "{err}"
    );
    // With the first export removed from the table, the next one is the conflict.
    let (first, second) = {
        let entries = table.entries();
        let name = |k: usize| (entries[k].0.to_string(), entries[k].1.signature.to_string());
        (name(0), name(1))
    };
    assert!(err.to_string().contains(&format!("`{}`", first.0)), "{err}");
    assert!(table.remove(&first.0, &first.1));
    let err = aotload::Image::open_in(&copy, &Default::default(), &mut table)
        .err()
        .expect("the other methods twice");
    assert!(
        err.to_string().contains(&format!("`{}`", second.0)),
        "{err}"
    );
}

/// Local value names change no byte of a real code base's image: Lua's text IR from clang 22
/// with its values named (`-fno-discard-value-names`, as a debug build of a JIT writes IR)
/// and without (clang's default) gives one image, and it runs as gcc's build does. Before
/// the names were dropped, the two images differed (each method's content hash did).
#[test]
fn lua_with_named_values_gives_the_unnamed_image_and_runs_like_gcc() {
    let src = lua_sources();
    let dir = scratch("lua-value-names");
    let sources = library_sources(&src);
    let reference = dir.join("liblua-ref.so");
    gcc_lua(&sources, &reference);
    let expected = run_script(
        &direct_harness(&reference, &dir.join("harness-ref")),
        &reference,
        None,
    );
    let image = |run: &str, extra: &[&str]| {
        let ir = lua_ir(
            crate::common::CLANG,
            "-S",
            &sources,
            &dir.join(format!("ir-{run}")),
            extra,
        );
        // One file name in two folders: an image records its own name.
        let image = dir.join(run).join("liblua.so");
        std::fs::create_dir_all(image.parent().unwrap()).unwrap();
        let mut args = vec!["build".into(), "--export-all".into(), "--shards".into()];
        args.extend([
            "4".into(),
            "--no-cache".into(),
            "-o".into(),
            image.display().to_string(),
        ]);
        args.extend(ir.iter().map(|p| p.display().to_string()));
        aotlink_ok(&args);
        image
    };
    let unnamed = image("unnamed", &[]);
    let named = image("named", &["-fno-discard-value-names"]);
    let named_ir = std::fs::read_to_string(dir.join("ir-named/lvm.ll")).unwrap();
    assert!(
        named_ir.contains("%call"),
        "clang named no values: the test covers less"
    );
    assert!(
        std::fs::read(&unnamed).unwrap() == std::fs::read(&named).unwrap(),
        "named and unnamed values gave two images"
    );
    let harness = direct_harness(&named, &dir.join("harness-named"));
    assert_eq!(run_script(&harness, &named, None), expected);
}
