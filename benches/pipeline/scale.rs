//! Section `scale`: how the build's cost grows with the module, system-image sized. The
//! generated module at 5,000 and 50,000 functions (`AOTLINK_BENCH_SCALE`, a comma list of
//! counts) with `--cpu-target generic` on 2 threads: a clean build and its split phase, a cold
//! build into an empty cache, a rebuild after one function's body changed, after a function
//! was added whose name sorts first, and after one was removed (each from a cache that holds
//! the previous version), with the shards each emitted; and `clang-22 -O2 -shared` of the same
//! IR, once. Each rebuild's image is compared with a clean build of the same input.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::ir::generate_ir;
use crate::rebuild::{edited_module, timed_build};
use crate::report::Table;
use crate::source::{CLANG, DUMP_THREADS};
use crate::timing::{human, ratio};

const DEFAULT_SIZES: &[usize] = &[5_000, 50_000];

/// A build's wall time, its split phase and how many shards it had and emitted.
struct Built {
    time: Duration,
    split: Duration,
    shards: usize,
    emitted: usize,
}

pub fn bench_scale(dir: &Path, table: &mut Table) -> Result<()> {
    let sizes = sizes()?;
    println!(
        "\n[scale] builds of the generated module at {sizes:?} functions, --cpu-target generic, \
         --threads {DUMP_THREADS}"
    );
    let dir = dir.join("scale");
    std::fs::create_dir_all(&dir)?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Build cost by module size (`--cpu-target generic`, {DUMP_THREADS} threads):\n\n\
         | Functions | Build | Time | vs clean | Split | Shards emitted |\n\
         |---:|---|---:|---:|---:|---:|"
    );
    for &n in &sizes {
        bench_size(n, &dir.join(n.to_string()), &mut md)?;
    }
    let _ = writeln!(
        md,
        "\nclean = `--no-cache`; cold = an empty cache; edit = one function's first constant \
         changed; added = a function `aaa_added` appended (its name sorts first); removed = the \
         original again, from a cache that held only the version with the addition. Each \
         rebuild's image equals a clean build of the same input, byte for byte (checked). clang: \
         `{CLANG} -O2 -shared -fPIC` of the same IR, one run."
    );
    table.sections.push(md);
    Ok(())
}

fn sizes() -> Result<Vec<usize>> {
    match std::env::var("AOTLINK_BENCH_SCALE") {
        Err(_) => Ok(DEFAULT_SIZES.to_vec()),
        Ok(text) => text
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .context("AOTLINK_BENCH_SCALE: counts, comma-separated")
            })
            .collect(),
    }
}

fn bench_size(n: usize, dir: &Path, md: &mut String) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let original = dir.join("module.ll");
    let text = generate_ir(n);
    std::fs::write(&original, &text)?;
    let added = dir.join("module-added.ll");
    std::fs::write(
        &added,
        format!(
            "{text}\ndefine i64 @aaa_added(i64 %a) {{\n  %b = mul i64 %a, 7\n  ret i64 %b\n}}\n"
        ),
    )?;
    let edited = edited_module(&original, n / 3, dir)?;
    let cache = dir.join("cache");
    // Each variant in a folder of its own under one file name: the name is the image's soname.
    let image = |name: &str| {
        let folder = dir.join(name);
        let _ = std::fs::create_dir_all(&folder);
        folder.join("module.so")
    };
    println!("  {n} functions:");

    let clean = build(&original, &image("clean"), None)?;
    let mut rows = vec![("clean (--no-cache)", clean.time, clean.split, clean.emitted)];
    let cold = build(&original, &image("cold"), Some(&cache))?;
    rows.push(("cold cache", cold.time, cold.split, cold.emitted));
    for (what, input, warm_with) in [
        ("one body edited", &edited, None),
        ("one function added", &added, None),
        ("one function removed", &original, Some(&added)),
    ] {
        if let Some(warm) = warm_with {
            let _ = std::fs::remove_dir_all(&cache);
            build(warm, &image("warm"), Some(&cache))?;
        }
        let rebuilt = build(input, &image("rebuilt"), Some(&cache))?;
        build(input, &image("reference"), None)?;
        if std::fs::read(image("rebuilt"))? != std::fs::read(image("reference"))? {
            bail!("{n} functions, {what}: the rebuilt image differs from a clean build's");
        }
        rows.push((what, rebuilt.time, rebuilt.split, rebuilt.emitted));
    }
    let clang = clang_build(&original, &dir.join("clang.so"))?;
    for (what, time, split, emitted) in rows {
        let r = ratio(time, clean.time);
        println!(
            "    {what:<22}: {}, {r:.3}x clean, split {}, {emitted} of {} shards emitted",
            human(time),
            human(split),
            clean.shards
        );
        let _ = writeln!(
            md,
            "| {n} | {what} | {} | {r:.3} | {} | {emitted} of {} |",
            human(time),
            human(split),
            clean.shards
        );
    }
    let r = ratio(clean.time, clang);
    println!(
        "    clang -O2 -shared     : {}, aotlink clean / clang {r:.3}",
        human(clang)
    );
    let _ = writeln!(
        md,
        "| {n} | {CLANG} -O2 -shared | {} | aotlink clean / clang: {r:.3} | | |",
        human(clang)
    );
    Ok(())
}

/// `aotlink build` with `--cpu-target generic`, into `cache` or with `--no-cache`.
fn build(ir: &Path, out: &Path, cache: Option<&Path>) -> Result<Built> {
    let mut args: Vec<&OsStr> = vec!["--cpu-target".as_ref(), "generic".as_ref()];
    match cache {
        Some(dir) => args.extend(["--cache-dir".as_ref(), dir.as_os_str()]),
        None => args.push("--no-cache".as_ref()),
    }
    let (time, report) = timed_build(ir, out, &args)?;
    let shards = report["shards"]
        .as_array()
        .context("no shards in the report")?;
    let split_ms = (report["timings"]["phases"].as_array())
        .and_then(|phases| phases.iter().find(|p| p["name"] == "split"))
        .and_then(|p| p["ms"].as_f64())
        .unwrap_or(0.0);
    Ok(Built {
        time,
        split: Duration::from_secs_f64(split_ms / 1000.0),
        shards: shards.len(),
        emitted: (shards.iter())
            .filter(|s| s["source"] == "emitted" || s["source"] == "damaged")
            .count(),
    })
}

/// `clang-22 -O2 -shared -fPIC IR -o out`, one run; its wall time.
fn clang_build(ir: &Path, out: &PathBuf) -> Result<Duration> {
    let start = Instant::now();
    let status = Command::new(CLANG)
        .args(["-O2", "-shared", "-fPIC", "-Wno-override-module"])
        .arg(ir)
        .arg("-o")
        .arg(out)
        .status()
        .context("cannot run clang")?;
    if !status.success() {
        bail!("{CLANG} failed on {}", ir.display());
    }
    Ok(start.elapsed())
}
