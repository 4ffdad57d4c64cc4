//! Section `remote`: what the remote shard cache saves and costs. SQLite's amalgamation with
//! the default CPU targets on 2 threads, `aotlink build` (the release binary, a subprocess),
//! against BuildGrid 0.4.4 on loopback (tests/support/buildgrid.rs): a clean build
//! (`--no-cache`); a cold remote (a fresh server and a fresh local cache: everything emitted
//! and uploaded); a warm remote (a fresh local cache, the server of the cold build: another
//! machine of the team). Clean and cold alternate, max(2, repeats) times each; warm is the minimum of the
//! repeats. Bytes moved are from the build's report.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::buildgrid::BuildGrid;
use crate::rebuild::timed_build;
use crate::report::Table;
use crate::source::DUMP_THREADS;
use crate::timing::{human, ratio};
use crate::Config;

struct Built {
    time: Duration,
    report: serde_json::Value,
}

pub fn bench_remote(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    println!("\n[remote] the remote shard cache on loopback (BuildGrid), SQLite, default targets");
    let dir = dir.join("remote");
    std::fs::create_dir_all(&dir)?;
    let mut md = String::from("Remote shard cache (BuildGrid 0.4.4 on loopback, SQLite):\n\n");
    let bitcode = match crate::sqlite::sqlite_bitcode(&dir.join("sqlite"), None) {
        Ok(b) => b,
        Err(e) => {
            println!("  skipped: {e:#}");
            let _ = writeln!(md, "Skipped: {e:#}.");
            table.sections.push(md);
            return Ok(());
        }
    };
    let out = dir.join("out").join("sqlite.so");
    std::fs::create_dir_all(out.parent().expect("has one"))?;
    let mut machines = 0;
    let mut fresh_cache = || {
        machines += 1;
        dir.join(format!("machine{machines}"))
    };
    let (mut clean, mut cold): (Option<Built>, Option<Built>) = (None, None);
    let mut server = None;
    for round in 0..config.repeat.max(2) {
        keep_min(&mut clean, build(&bitcode, &out, None)?);
        // A fresh server each round: nothing on it yet.
        drop(server.take());
        let s = BuildGrid::start(&dir.join(format!("server{round}")));
        keep_min(
            &mut cold,
            build(&bitcode, &out, Some((&fresh_cache(), &s.url())))?,
        );
        server = Some(s);
    }
    let server = server.expect("started");
    let mut warm: Option<Built> = None;
    for _ in 0..config.repeat {
        keep_min(
            &mut warm,
            build(&bitcode, &out, Some((&fresh_cache(), &server.url())))?,
        );
    }
    let (clean, cold, warm) = (clean.expect("ran"), cold.expect("ran"), warm.expect("ran"));
    let held = dir_size(&server.storage);
    println!(
        "  the server holds {:.1} MiB",
        held as f64 / (1u64 << 20) as f64
    );
    let _ = writeln!(
        md,
        "| Build | Time | vs clean | Shards emitted | Remote hits | Uploaded | Downloaded |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for (what, b) in [
        ("clean (--no-cache)", &clean),
        ("cold remote cache", &cold),
        ("warm remote cache, fresh local cache", &warm),
    ] {
        let r = ratio(b.time, clean.time);
        let shards = b.report["shards"].as_array().map_or(0, |s| s.len());
        let emitted = (b.report["shards"].as_array().into_iter().flatten())
            .filter(|s| s["source"] == "emitted")
            .count();
        let remote = &b.report["remote"];
        let mib = |v: &serde_json::Value| v.as_u64().unwrap_or(0) as f64 / (1u64 << 20) as f64;
        println!(
            "  {what:<38}: {}, {r:.3}x clean, {emitted} of {shards} emitted, {:.1} MiB up, {:.1} MiB down",
            human(b.time),
            mib(&remote["bytes_uploaded"]),
            mib(&remote["bytes_downloaded"])
        );
        let _ = writeln!(
            md,
            "| {what} | {} | {r:.3} | {emitted} of {shards} | {} | {:.1} MiB | {:.1} MiB |",
            human(b.time),
            remote["hits"].as_u64().unwrap_or(0),
            mib(&remote["bytes_uploaded"]),
            mib(&remote["bytes_downloaded"])
        );
    }
    let _ = writeln!(
        md,
        "\nEach build is `aotlink build --export-all --threads {DUMP_THREADS}` (release binary, a \
         subprocess) of SQLite with the default CPU targets. Clean = `--no-cache`; cold = a \
         fresh BuildGrid and a fresh local cache (every shard emitted and uploaded); warm = a \
         fresh local cache against the server a cold build filled (min of {}). Clean and cold: \
         min of max(2, repeats), alternating. The server then held {:.1} MiB (the shards' objects and \
         their Actions' inputs).",
        config.repeat,
        held as f64 / (1u64 << 20) as f64
    );
    table.sections.push(md);
    Ok(())
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    (std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn keep_min(best: &mut Option<Built>, b: Built) {
    if best.as_ref().is_none_or(|x| b.time < x.time) {
        *best = Some(b);
    }
}

/// One build; `remote`: (local cache dir, server URL), else `--no-cache`.
fn build(ir: &Path, out: &Path, remote: Option<(&Path, &str)>) -> Result<Built> {
    let args: Vec<&OsStr> = match remote {
        Some((cache, url)) => vec![
            "--cache-dir".as_ref(),
            cache.as_os_str(),
            "--remote-cache".as_ref(),
            url.as_ref(),
        ],
        None => vec!["--no-cache".as_ref()],
    };
    let (time, report) = timed_build(ir, out, &args)?;
    Ok(Built { time, report })
}
