//! The command line builds in a child process of its own (`src/cli/supervise.rs`): what the
//! user sees when that child dies by a signal, and that it never outlives the command. (A
//! crash of LLVM while reading damaged input: `bad_input::bitcode_that_crashes_llvm_is_one_error_line`.)

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// `aotlink build` of the example with the default CPU targets and no cache (about a second
/// of work here), started with its output in `dir`.
fn start_build(dir: &Path) -> Child {
    Command::new(aotlink())
        .args(["build", "--no-cache", "--export-all", "-o"])
        .arg(dir.join("out.so"))
        .arg(kernels_ll())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The build process `aotlink` (`parent`) started, as soon as it runs as one (a child found
/// between fork and exec still shows the parent's command line).
fn build_child(parent: u32) -> u32 {
    let children = format!("/proc/{parent}/task/{parent}/children");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = listed.split_whitespace().next() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.split(|&b| b == 0).nth(1) == Some(b"__supervised") {
                return pid.parse().unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "aotlink started no build process"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: it runs no more).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // pid (comm) state ...: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill has no memory effects; the pid is a process this test started (or its child).
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

/// The note file the build process keeps of its reads (its third argument).
fn note_of(pid: u32) -> std::path::PathBuf {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    assert_eq!(args[1], b"__supervised", "{args:?}");
    std::path::PathBuf::from(String::from_utf8(args[2].to_vec()).unwrap())
}

#[test]
fn a_build_process_stopped_from_outside_is_one_error_line_and_no_output() {
    let dir = scratch("supervise-killed");
    let build = start_build(&dir);
    let child = build_child(build.id());
    signal(child, libc::SIGTERM);
    let out = build.wait_with_output().unwrap();
    assert_clean_failure(&out, "the build process was killed (signal 15)");
    assert_only_files(&dir, &[]);
}

#[test]
fn a_crash_after_the_inputs_were_read_is_not_blamed_on_them() {
    let dir = scratch("supervise-crash-after-reading");
    let build = start_build(&dir);
    let child = build_child(build.id());
    // Crashed once the input was read: the note ends with its `D` record.
    let note = note_of(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read(&note).unwrap_or_default().ends_with(b"D\0") {
        assert!(
            Instant::now() < deadline,
            "the build never finished reading"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // An abort, as LLVM's own checks end: a SIGSEGV sent from outside would not do, Rust's
    // stack-overflow handler lets one that is not a fault pass.
    signal(child, libc::SIGABRT);
    let out = build.wait_with_output().unwrap();
    assert_clean_failure(
        &out,
        "the build crashed (signal 6) after reading its inputs: a defect of aotlink or LLVM",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("kernels"), "blames the input: {stderr}");
    assert_only_files(&dir, &[]);
}

#[test]
fn the_build_process_dies_with_the_command() {
    let dir = scratch("supervise-orphan");
    let mut build = start_build(&dir);
    let child = build_child(build.id());
    build.kill().unwrap();
    build.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_gone(child) {
        assert!(
            Instant::now() < deadline,
            "the build process {child} outlived the aotlink that started it"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_only_files(&dir, &[]);
}

#[test]
fn a_crash_while_writing_leaves_no_temp_file_beside_the_output() {
    let dir = scratch("supervise-crash-linking");
    let build = start_build(&dir);
    let child = build_child(build.id());
    // The link's private directory (or an archive's temp file) beside the output.
    let deadline = Instant::now() + Duration::from_secs(60);
    let temp_made = || {
        std::fs::read_dir(&dir).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".aotlink-")
        })
    };
    while !temp_made() {
        assert!(
            Instant::now() < deadline,
            "the build made no temp path beside its output"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    signal(child, libc::SIGABRT);
    let out = build.wait_with_output().unwrap();
    assert_clean_failure(&out, "the build crashed (signal 6)");
    assert_only_files(&dir, &[]);
}
