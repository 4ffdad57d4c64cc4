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

    // IR from clang-19, one bitcode file per source (aotlink merges them).
    let ir_dir = dir.join("ir");
    std::fs::create_dir_all(&ir_dir).unwrap();
    run(Command::new(crate::common::CLANG)
        .current_dir(&ir_dir)
        .args([
            "-O2",
            "-fno-vectorize",
            "-fno-slp-vectorize",
            "-DLUA_USE_POSIX",
            "-c",
            "-emit-llvm",
        ])
        .args(&sources));
    let mut bitcode: Vec<PathBuf> = std::fs::read_dir(&ir_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    bitcode.sort();
    let image = dir.join("liblua-aot.so");
    let mut args = vec![
        "build".into(),
        "--export-all".into(),
        "-o".into(),
        image.display().to_string(),
    ];
    args.extend(bitcode.iter().map(|p| p.display().to_string()));
    aotlink_ok(&args);

    // The reference: gcc's own build of the same sources.
    let reference = dir.join("liblua-ref.so");
    run(Command::new("gcc")
        .args(["-O2", "-fPIC", "-shared", "-DLUA_USE_POSIX", "-o"])
        .arg(&reference)
        .args(&sources)
        .arg("-lm"));

    let harness = repo().join("tests/it/lua/harness.c");
    let include = format!("-I{}", src.display());
    let link_against = |lib: &Path, exe: &Path| {
        run(Command::new("cc")
            .args(["-DDIRECT", &include, "-o"])
            .arg(exe)
            .arg(&harness)
            .arg(lib)
            .arg(format!("-Wl,-rpath,{}", dir.display())));
    };
    let direct_ref = dir.join("harness-ref");
    let direct_aot = dir.join("harness-aot");
    link_against(&reference, &direct_ref);
    link_against(&image, &direct_aot);
    let loader_harness = dir.join("harness-loader");
    cc_with_aotload(&harness, &loader_harness, &[&include]);

    let script = repo().join("tests/it/lua/script.lua");
    let output = |exe: &Path, target: Option<&str>| {
        let out = run(Command::new(exe)
            .arg(&image)
            .arg(&script)
            .env("AOTLOAD_TARGET", target.unwrap_or("")));
        String::from_utf8(out.stdout).unwrap()
    };
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
}
