//! The remote shard cache against a real REAPI server: BuildGrid 0.4.4 (scripts/setup.sh puts
//! it in a venv), started by each test on a free loopback port with disk storage, so a test can
//! damage what the server stores. Real code: Lua 5.4, the kernels example, the method-table
//! fixtures. Every image is compared with a `--no-cache` build of the same input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::buildgrid::BuildGrid;
use crate::cache::{bytes, emitted, lua_bitcode, os, shards};
use crate::common::*;

/// The blob files `server` stores.
fn blobs(server: &BuildGrid) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let objects = server.storage.join("cas/objects");
    for sub in std::fs::read_dir(objects).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(sub.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            files.push(f.path());
        }
    }
    files
}

/// `aotlink build` of `inputs` into `out`, with `extra` arguments; the report and stderr.
fn build(inputs: &[PathBuf], out: &Path, extra: &[&str]) -> (Value, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![os("build")];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend([os("--export-all"), os("--threads"), os("2"), os("-o")]);
    args.push(out.as_os_str());
    args.extend(extra.iter().map(|s| os(s)));
    let mut cmd = Command::new(aotlink());
    cmd.args(&args).arg("--timings=json");
    let out = check(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = build_report_from(&stderr);
    (report, stderr)
}

fn build_report_from(stderr: &str) -> Value {
    let json = &stderr[stderr.find("\n{").map_or(0, |i| i + 1)..];
    let json = &json[json.find('{').expect("a JSON report")..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

/// A fresh local cache and output directory: another machine, as far as the cache knows.
struct Machine {
    cache: PathBuf,
    image: PathBuf,
}

fn machine(dir: &Path, name: &str) -> Machine {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    Machine {
        cache: d.join("cache"),
        // One file name throughout: the image records it.
        image: d.join("out").join("liblua.so"),
    }
}

impl Machine {
    fn build(&self, inputs: &[PathBuf], remote: &str, extra: &[&str]) -> (Value, String) {
        std::fs::create_dir_all(self.image.parent().unwrap()).unwrap();
        let mut args = vec!["--cache-dir", self.cache.to_str().unwrap()];
        args.extend(["--remote-cache", remote]);
        args.extend(extra);
        build(inputs, &self.image, &args)
    }

    /// The same build with no cache at all, for the image to compare with.
    fn clean(&self, inputs: &[PathBuf], extra: &[&str]) -> Vec<u8> {
        std::fs::create_dir_all(self.image.parent().unwrap()).unwrap();
        let mut args = vec!["--no-cache"];
        args.extend(extra);
        build(inputs, &self.image, &args);
        bytes(&self.image)
    }
}

fn remote(report: &Value, what: &str) -> u64 {
    report["remote"][what]
        .as_u64()
        .unwrap_or_else(|| panic!("{report}"))
}

#[test]
fn machines_share_shards_through_the_server_and_an_edit_uploads_one() {
    let dir = scratch("remote-share");
    let server = BuildGrid::start(&dir);
    let url = server.url();
    let original = lua_bitcode(&dir.join("original"), None);
    let edited = lua_bitcode(&dir.join("edited"), Some(crate::cache::ONE_FUNCTION_EDIT));
    let targets = ["--cpu-target", "generic;haswell"];

    let (first, _) = machine(&dir, "a").build(&original, &url, &targets);
    let n = shards(&first);
    assert!(n >= 4, "{first}");
    assert_eq!(remote(&first, "stored"), n, "every shard uploaded: {first}");
    assert!(remote(&first, "bytes_uploaded") > 0);

    let b = machine(&dir, "b");
    let (second, stderr) = b.build(&original, &url, &targets);
    assert_eq!(emitted(&second), Vec::<u64>::new(), "{second}");
    assert_eq!(second["cache"]["remote_hits"].as_u64(), Some(n));
    assert_eq!(remote(&second, "stored"), 0);
    assert!(remote(&second, "bytes_downloaded") > 0);
    assert!(!stderr.contains("aotlink: warning"), "{stderr}");
    let shared = bytes(&b.image);
    assert!(
        shared == bytes(&machine(&dir, "a").image),
        "two machines, one image"
    );
    assert!(
        shared == b.clean(&original, &targets),
        "and it is the clean build's"
    );

    let c = machine(&dir, "c");
    let (edit, _) = c.build(&edited, &url, &targets);
    assert_eq!(emitted(&edit).len(), 1, "only math_abs's shard: {edit}");
    assert_eq!(remote(&edit, "stored"), 1);
    assert_eq!(edit["cache"]["remote_hits"].as_u64(), Some(n - 1));
    let d = machine(&dir, "d");
    let (third, _) = d.build(&edited, &url, &targets);
    assert_eq!(
        emitted(&third),
        Vec::<u64>::new(),
        "a third machine hits on all: {third}"
    );
    let edited_image = bytes(&d.image);
    assert!(edited_image == bytes(&c.image));
    assert!(edited_image == d.clean(&edited, &targets));
    assert!(edited_image != shared);
}

/// One warning line naming the server, and the image a clean build gives.
fn assert_local_fallback(stderr: &str, report: &Value, url: &str, why: &str) {
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("aotlink: warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {stderr}");
    assert!(warnings[0].contains(url), "{stderr}");
    assert!(warnings[0].contains(why), "{stderr}");
    assert!(
        report["warnings"].as_array().unwrap().len() == 1,
        "{report}"
    );
}

#[test]
fn a_server_that_is_down_costs_one_warning() {
    let dir = scratch("remote-down");
    let mut server = BuildGrid::start(&dir);
    let url = server.url();
    server.stop();
    let m = machine(&dir, "a");
    let started = Instant::now();
    let (report, stderr) = m.build(&[kernels_bc().to_path_buf()], &url, &[]);
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");
    assert_local_fallback(&stderr, &report, &url, "cannot connect");
    assert!(bytes(&m.image) == m.clean(&[kernels_bc().to_path_buf()], &[]));
}

#[test]
fn a_server_killed_mid_build_costs_one_warning() {
    let dir = scratch("remote-killed");
    let mut server = BuildGrid::start(&dir);
    let url = server.url();
    let lua = lua_bitcode(&dir.join("lua"), None);
    let m = machine(&dir, "a");
    std::fs::create_dir_all(m.image.parent().unwrap()).unwrap();
    let child = Command::new(aotlink())
        .arg("build")
        .args(&lua)
        .args(["--export-all", "--threads", "1", "--timings=json", "-o"])
        .arg(&m.image)
        .arg("--cache-dir")
        .arg(&m.cache)
        .args(["--remote-cache", &url])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first shard's upload is on the server's disk: the build is under way. Kill it.
    let started = Instant::now();
    while blobs(&server).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing uploaded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report = build_report_from(&stderr);
    assert!(
        remote(&report, "stored") < shards(&report),
        "killed before the end: {report}"
    );
    assert_local_fallback(
        &stderr,
        &report,
        &url,
        "remaining shards were built locally",
    );
    assert!(bytes(&m.image) == m.clean(&lua, &[]));
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_not_used() {
    let dir = scratch("remote-garbage");
    let server = BuildGrid::start(&dir);
    let url = server.url();
    let input = [kernels_bc().to_path_buf()];
    let args = ["--shards", "4"];
    machine(&dir, "a").build(&input, &url, &args);
    // Every stored object (the larger blobs) gets one byte flipped where the server keeps it.
    let mut damaged = 0;
    for blob in blobs(&server) {
        let mut content = bytes(&blob);
        if content.len() > 4096 {
            let at = content.len() / 2;
            content[at] ^= 0x40;
            std::fs::write(&blob, content).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged >= 4, "{damaged} objects damaged");
    let b = machine(&dir, "b");
    let (report, stderr) = b.build(&input, &url, &args);
    assert_local_fallback(&stderr, &report, &url, "does not match its digest");
    assert_eq!(report["cache"]["remote_hits"].as_u64(), Some(0), "{report}");
    assert!(bytes(&b.image) == b.clean(&input, &args));
}

/// Two machines, one server: the second builds with `second` after the first with `first`.
/// Its image is the clean build's and not the first's; with `no_shard_fits`, none of the first
/// machine's shards was reused.
fn remote_key_covers(name: &str, ir: &Path, first: &[&str], second: &[&str], no_shard_fits: bool) {
    let dir = scratch(name);
    let server = BuildGrid::start(&dir);
    let url = server.url();
    let input = [ir.to_path_buf()];
    let a = machine(&dir, "a");
    a.build(&input, &url, first);
    let b = machine(&dir, "b");
    let (report, _) = b.build(&input, &url, second);
    if no_shard_fits {
        assert_eq!(
            report["cache"]["remote_hits"].as_u64(),
            Some(0),
            "{name}: a shard was reused: {report}"
        );
    }
    let image = bytes(&b.image);
    assert!(image != bytes(&a.image), "{name}: the change shows");
    assert!(image == b.clean(&input, second), "{name}");
}

#[test]
fn the_remote_cache_keeps_targets_and_method_hashes_apart() {
    // Another base CPU with the clone sets unchanged: only the targets tell the builds apart.
    remote_key_covers(
        "remote-key-cpu",
        kernels_bc(),
        &["--cpu-target", "generic"],
        &["--cpu-target", "x86-64-v2"],
        true,
    );
    let (first, second, pkg_ll) =
        crate::cache::tables_differing_in_a_called_hash(&scratch("remote-key-methods-input"));
    remote_key_covers(
        "remote-key-methods",
        &pkg_ll,
        &["--method-table", first.to_str().unwrap()],
        &["--method-table", second.to_str().unwrap()],
        // A called method's hash is in no shard (the loader checks it against the header,
        // which is emitted on every build): shards are reused, the header is new.
        false,
    );
}
