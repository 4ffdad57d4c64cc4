//! The C ABI, used from C: programs built by cc against aotload.h and libaotload
//! (sources in tests/it/c/).

use std::process::Command;

use crate::common::*;

/// The expected line of c/loader_basic.c for an image of the example.
pub fn loader_basic_output(target: &str) -> String {
    let data = std::fs::read(data_file()).unwrap();
    format!(
        "prime_at(10)=31 apply_op(2,6,7)=42 data={} first={} target={target}\n",
        data.len(),
        data[0] as char
    )
}

/// Checks the output of c/loader_methods.c: g was redefined, so exactly the package methods
/// that reach g are invalid, and uses_f still runs.
pub fn check_loader_methods_output(stdout: &str) {
    let invalid: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("invalid "))
        .collect();
    assert_eq!(invalid.len(), 7, "{stdout}");
    assert!(
        invalid.iter().all(|l| l.ends_with("(culprit g)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("uses_f(5)=32 uses_g=none target="),
        "{stdout}"
    );
}

#[test]
fn c_programs_open_images_through_the_c_abi() {
    let dir = scratch("capi");
    let exe = dir.join("loader_basic");
    cc_with_aotload(&repo().join("tests/it/c/loader_basic.c"), &exe, &[]);
    let image = example_image("capi", &["--export-all"]);
    let out = Command::new(&exe).arg(&image).output().unwrap();
    assert!(
        out.status.success(),
        "harness failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let chosen = aotload::Image::open(&image, &Default::default())
        .unwrap()
        .target_name()
        .to_string();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        loader_basic_output(&chosen)
    );
}

/// A path is bytes, not text: an image in a directory whose name is not UTF-8 opens through
/// the C ABI (a lossy conversion would turn the byte into U+FFFD and name another file).
#[cfg(unix)]
#[test]
fn c_paths_that_are_not_utf8_open_the_file_they_name() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("capi-bytes");
    let exe = dir.join("loader_basic");
    cc_with_aotload(&repo().join("tests/it/c/loader_basic.c"), &exe, &[]);
    let odd = dir.join(std::ffi::OsStr::from_bytes(b"images-\xff\xfe"));
    std::fs::create_dir_all(&odd).unwrap();
    let image = odd.join("example.so");
    std::fs::copy(example_image("capi-bytes", &["--export-all"]), &image).unwrap();
    let out = Command::new(&exe).arg(&image).output().unwrap();
    assert!(
        out.status.success(),
        "harness failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("prime_at(10)=31 "));
}

#[test]
fn c_programs_use_method_tables() {
    let dir = scratch("capi-methods");
    let exe = dir.join("loader_methods");
    cc_with_aotload(&repo().join("tests/it/c/loader_methods.c"), &exe, &[]);
    let (sys, pkg) = crate::methods::system_and_package();
    let out = Command::new(&exe).arg(sys).arg(pkg).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    check_loader_methods_output(&stdout);
}

/// The verdict cache on disk through the C ABI, across processes: the first process hashes
/// and the second relies on the entry it wrote; each then remembers the file in-process. With
/// the cache turned off, a third process hashes again.
#[test]
fn c_programs_keep_verdicts_on_disk_across_processes() {
    let dir = scratch("capi-verdicts");
    let exe = dir.join("open_verdicts");
    cc_with_aotload(&repo().join("tests/it/c/open_verdicts.c"), &exe, &[]);
    let image = dir.join("image.so");
    std::fs::copy(example_image("capi", &["--export-all"]), &image).unwrap();
    // Settled: older than the loader's racy window (100 ms).
    std::thread::sleep(std::time::Duration::from_millis(250));
    let run = |cache: &std::path::Path| {
        let out = Command::new(&exe).arg(cache).arg(&image).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let verdicts = dir.join("verdicts");
    assert_eq!(run(&verdicts), "0 2\n");
    assert_eq!(run(&verdicts), "3 2\n");
    assert_eq!(run("off".as_ref()), "0 2\n");
}
