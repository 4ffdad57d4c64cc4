//! libaotlink and libaotload as a C or C++ runtime uses them: installed by
//! scripts/install.sh into a temporary prefix, found only through pkg-config, programs
//! compiled by gcc and g++ (sources in tests/it/c_api/) build images from bitcode in memory,
//! load them and call them; and the C ABI is held to its record (c_api/abi.rs).

mod abi;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;

/// The prefix scripts/install.sh installed into, once per test run. The executable and
/// libaotload are those cargo already built for this profile (`--no-build`): other tests run
/// them meanwhile, and rebuilding them under their feet could swap the files.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let built = Path::new(aotlink()).parent().unwrap();
        aotload_c_library_dir();
        let profile = match built.file_name().unwrap().to_str().unwrap() {
            "debug" => "dev".to_string(),
            other => other.to_string(),
        };
        let prefix = scratch("c-api-prefix");
        check(
            Command::new(repo().join("scripts/install.sh"))
                .arg("--prefix")
                .arg(&prefix)
                .args(["--profile", &profile, "--no-build"])
                .env("CARGO_TARGET_DIR", built.parent().unwrap())
                .current_dir(repo()),
        );
        prefix
    })
}

/// `pkg-config --cflags --libs aotlink aotload` against the prefix: all a C build may use.
fn pkg_config_flags() -> Vec<String> {
    let out = check(
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "aotlink", "aotload"])
            .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig")),
    );
    (String::from_utf8(out.stdout).unwrap().split_whitespace())
        .map(str::to_string)
        .collect()
}

/// Compiles tests/it/c_api/`source` with `compiler` and `extra` flags plus pkg-config's.
fn compile(compiler: &str, source: &str, exe: &Path, extra: &[&str]) {
    check(
        Command::new(compiler)
            .args(extra)
            .arg(repo().join("tests/it/c_api").join(source))
            .arg("-o")
            .arg(exe)
            .args(pkg_config_flags()),
    );
}

/// Runs `exe` with `args`, expects success, returns stdout.
fn run(exe: &Path, args: &[&Path]) -> String {
    let out = Command::new(exe).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({}): {stdout}{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs c_api/build_and_load.c, compiled by `compiler`, and checks its images: the program's
/// own calls agreed with gcc's build, and every export of both images agrees with it on many
/// awkward arguments.
fn builds_and_loads_with(compiler: &str, extra: &[&str], name: &str) {
    let dir = scratch(name);
    let exe = dir.join("build_and_load");
    compile(compiler, "build_and_load.c", &exe, extra);
    let stdout = run(
        &exe,
        &[kernels_bc(), &data_file(), &dir, reference_library()],
    );
    for kind in ["pkg", "sysimg"] {
        let line = (stdout.lines())
            .find(|l| l.starts_with(&format!("{kind}: ")))
            .unwrap_or_else(|| panic!("no {kind} line: {stdout}"));
        let agreed: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(agreed > 300, "{line}");
    }
    assert!(stdout.contains("progress ok"), "{stdout}");
    for image in ["pkg.so", "sys.so"] {
        let image = open(&dir.join(image));
        assert_matches_reference(&image, 20);
    }
}

#[test]
fn a_c_program_builds_both_image_kinds_from_memory_and_loads_them() {
    builds_and_loads_with("gcc", &["-std=c11", "-Wall", "-Werror"], "c-api-gcc");
}

#[test]
fn a_cpp_program_with_exceptions_does_the_same() {
    builds_and_loads_with(
        "g++",
        &[
            "-x",
            "c++",
            "-std=c++17",
            "-fexceptions",
            "-Wall",
            "-Werror",
        ],
        "c-api-g++",
    );
}

#[test]
fn bad_arguments_give_a_status_and_a_message_never_a_crash() {
    let dir = scratch("c-api-bad-arguments");
    let exe = dir.join("bad_arguments");
    compile("gcc", "bad_arguments.c", &exe, &["-Wall"]);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let stdout = run(&exe, &[kernels_bc(), &work]);
    assert_eq!(stdout, "ok 21\n");
}

#[test]
fn two_builds_on_two_threads_both_succeed() {
    let dir = scratch("c-api-threads");
    let exe = dir.join("two_threads");
    compile("gcc", "two_threads.c", &exe, &["-Wall", "-pthread"]);
    assert_eq!(run(&exe, &[kernels_bc(), &dir]), "ok\n");
}

/// The layout C libraries have: the file, its soname link and the link-time name; a static
/// archive; a pkg-config file whose static link flags name what the archive needs.
#[test]
fn the_install_has_soname_links_static_archives_and_pkg_config_files() {
    let lib = prefix().join("lib");
    for name in ["aotlink", "aotload"] {
        let dev_link = lib.join(format!("lib{name}.so"));
        let soname = std::fs::read_link(&dev_link).unwrap();
        assert_eq!(soname, Path::new(&format!("lib{name}.so.0")));
        let file = std::fs::read_link(lib.join(&soname)).unwrap();
        assert_eq!(file, Path::new(&format!("lib{name}.so.0.1.0")));
        let archive = std::fs::read(lib.join(format!("lib{name}.a"))).unwrap();
        assert!(archive.starts_with(b"!<arch>\n"), "lib{name}.a");
    }
    assert!(prefix().join("bin/aotlink").is_file());
    let out = check(
        Command::new("pkg-config")
            .args(["--static", "--libs", "aotlink"])
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig")),
    );
    let flags = String::from_utf8(out.stdout).unwrap();
    // LLVM is C++: a static link of libaotlink needs the C++ runtime.
    assert!(
        flags.contains("-lstdc++") && flags.contains("-laotlink"),
        "{flags}"
    );
}
