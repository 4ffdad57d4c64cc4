//! Section `scale`: how the build's cost grows with the module, system-image sized. The
//! generated module at 5,000 and 50,000 functions (`AOTLINK_BENCH_SCALE`, a comma list of
//! counts) with `--cpu-target generic` on 2 threads: a clean build and its split phase, a cold
//! build into an empty cache, a rebuild after one function's body changed, after a function
//! was added whose name sorts first, and after one was removed (each from a cache that holds
//! the previous version), with the shards each emitted; and `clang-22 -O2 -shared` of the same
//! IR, once. Then the generated C code base of the issue (tests/support/c_kernels.rs) at the
//! same counts (or `AOTLINK_BENCH_SCALE_C`'s; empty: none), compiled to IR by clang-22: a
//! clean build, a one-kernel edit and clang. Each
//! rebuild's image is compared with a clean build of the same input; every build's peak RSS
//! is its own (wait4, child.rs).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::c_kernels::{generate_c, C_FLAGS};
use crate::child::{mb, run_measured, Measured};
use crate::ir::generate_ir;
use crate::rebuild::{build_command, build_report, edited_module};
use crate::report::Table;
use crate::source::{CLANG, DUMP_THREADS};
use crate::timing::{human, ratio};

const DEFAULT_SIZES: &[usize] = &[5_000, 50_000];

/// A build measured: wall and CPU time, peak RSS, its phases (the split among them) and how
/// many shards it had and emitted.
struct Built {
    time: Duration,
    split: Duration,
    shards: usize,
    emitted: usize,
    cpu: Duration,
    peak_rss: u64,
    /// (phase, milliseconds), as the build's report lists them.
    phases: Vec<(String, f64)>,
}

pub fn bench_scale(dir: &Path, table: &mut Table) -> Result<()> {
    let sizes = counts("AOTLINK_BENCH_SCALE", DEFAULT_SIZES)?;
    // The C code base's own counts: its IR takes clang-22 6 minutes and 23 GB at 50,000.
    let c_sizes = counts("AOTLINK_BENCH_SCALE_C", &sizes)?;
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
         | Functions | Build | Time | vs clean | Split | Shards emitted | Peak RSS |\n\
         |---:|---|---:|---:|---:|---:|---:|"
    );
    for &n in &sizes {
        bench_size(n, &dir.join(n.to_string()), &mut md)?;
    }
    let _ = writeln!(
        md,
        "\nThe generated C code base (tests/support/c_kernels.rs: loops, float math, switch \
         dispatch, struct updates, calls through a function-pointer table), `{CLANG} {}` to \
         text IR, then `--cpu-target generic`, {DUMP_THREADS} threads, against `{CLANG} -O2 \
         -shared` of the same IR:\n\n\
         | Kernels | Build | Time | vs clean | Shards emitted | Peak RSS |\n\
         |---:|---|---:|---:|---:|---:|",
        C_FLAGS.join(" ")
    );
    let mut phases = String::new();
    for &n in &c_sizes {
        bench_c_size(n, &dir.join(format!("c{n}")), &mut md, &mut phases)?;
    }
    let _ = writeln!(
        md,
        "\nclean = `--no-cache` of the edited IR (the rebuilt image equals it, checked); cold \
         = the original into an empty cache; edit = one seed of kernel n/3 changed in the IR, \
         from that cache; clang of the edited IR. CPU time is user + system of the process and its \
         children (wait4), whatever else the machine ran."
    );
    md.push_str(&phases);
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

/// The counts in the environment variable `name` (a comma list, maybe empty), else `default`.
fn counts(name: &str, default: &[usize]) -> Result<Vec<usize>> {
    match std::env::var(name) {
        Err(_) => Ok(default.to_vec()),
        Ok(text) => (text.split(',').filter(|s| !s.trim().is_empty()))
            .map(|s| {
                s.trim()
                    .parse()
                    .with_context(|| format!("{name}: counts, comma-separated"))
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
    let mut rows = vec![(
        "clean (--no-cache)",
        clean.time,
        clean.split,
        clean.emitted,
        clean.peak_rss,
    )];
    let cold = build(&original, &image("cold"), Some(&cache))?;
    rows.push((
        "cold cache",
        cold.time,
        cold.split,
        cold.emitted,
        cold.peak_rss,
    ));
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
        let listed: Vec<String> = (rebuilt.phases.iter())
            .map(|(name, ms)| format!("{name} {}", human(Duration::from_secs_f64(ms / 1000.0))))
            .collect();
        println!("    phases, {what}: {}", listed.join(", "));
        build(input, &image("reference"), None)?;
        if std::fs::read(image("rebuilt"))? != std::fs::read(image("reference"))? {
            bail!("{n} functions, {what}: the rebuilt image differs from a clean build's");
        }
        rows.push((
            what,
            rebuilt.time,
            rebuilt.split,
            rebuilt.emitted,
            rebuilt.peak_rss,
        ));
    }
    let clang = clang_build(&original, &dir.join("clang.so"))?;
    for (what, time, split, emitted, rss) in rows {
        let r = ratio(time, clean.time);
        println!(
            "    {what:<22}: {}, {r:.3}x clean, split {}, {emitted} of {} shards emitted, peak {}",
            human(time),
            human(split),
            clean.shards,
            mb(rss)
        );
        let _ = writeln!(
            md,
            "| {n} | {what} | {} | {r:.3} | {} | {emitted} of {} | {} |",
            human(time),
            human(split),
            clean.shards,
            mb(rss)
        );
    }
    clang_rows(n, &clean, &clang, md);
    Ok(())
}

/// The clang row of a size's table: its time and peak RSS, and aotlink's clean build's ratios
/// to them.
fn clang_rows(n: usize, clean: &Built, clang: &Measured, md: &mut String) {
    let r = ratio(clean.time, clang.time);
    let cpu = ratio(clean.cpu, clang.cpu);
    let rss = clean.peak_rss as f64 / clang.peak_rss as f64;
    println!(
        "    clang -O2 -shared     : {}, CPU {}, peak {}; aotlink clean / clang: time {r:.3}, \
         CPU {cpu:.3} (aotlink {}), peak RSS {rss:.3}",
        human(clang.time),
        human(clang.cpu),
        mb(clang.peak_rss),
        human(clean.cpu)
    );
    let _ = writeln!(
        md,
        "| {n} | {CLANG} -O2 -shared | {} | aotlink clean / clang: {r:.3} (CPU time {cpu:.3}: {} / {}) | | {} (aotlink / clang: {rss:.3}) |",
        human(clang.time),
        human(clean.cpu),
        human(clang.cpu),
        mb(clang.peak_rss)
    );
}

/// The C code base at `n` kernels: a build of it into an empty cache, a rebuild after one
/// kernel's body changed (in its IR), a clean build of the edited IR (the rebuilt image must
/// equal it) and clang of the same IR; the clean build's phases go to `phases`. Three full
/// builds at 50,000 kernels take minutes, so the clean build is of the edited IR only.
fn bench_c_size(n: usize, dir: &Path, md: &mut String, phases: &mut String) -> Result<()> {
    println!("  {n} C kernels:");
    let ir = |name: &str| -> Result<PathBuf> {
        // One folder per version, one file name: clang records the source's name in the IR.
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("kernels.c"), generate_c(n, None))?;
        let status = Command::new(CLANG)
            .args(C_FLAGS)
            .args(["-S", "-emit-llvm", "kernels.c", "-o", "kernels.ll"])
            .current_dir(&folder)
            .status()
            .context("cannot run clang")?;
        if !status.success() {
            bail!("{CLANG} failed on {}", folder.join("kernels.c").display());
        }
        Ok(folder.join("kernels.ll"))
    };
    let original = ir("original")?;
    // The edit made in the IR: compiling 50,000 kernels again took clang-22 6 minutes and
    // 23 GB here.
    let edited = edited_kernel(&original, n / 3, &dir.join("edited"))?;
    let cache = dir.join("cache");
    let image = |name: &str| {
        let folder = dir.join(name);
        let _ = std::fs::create_dir_all(&folder);
        folder.join("libkernels.so")
    };
    let cold = build(&original, &image("cold"), Some(&cache))?;
    let edit = build(&edited, &image("rebuilt"), Some(&cache))?;
    let clean = build(&edited, &image("clean"), None)?;
    if std::fs::read(image("rebuilt"))? != std::fs::read(image("clean"))? {
        bail!("{n} C kernels, one body edited: the rebuilt image differs from a clean build's");
    }
    let clang = clang_build(&edited, &dir.join("clang.so"))?;
    for (what, built) in [
        ("clean (--no-cache)", &clean),
        ("cold cache", &cold),
        ("one body edited", &edit),
    ] {
        let r = ratio(built.time, clean.time);
        println!(
            "    {what:<22}: {}, {r:.3}x clean, {} of {} shards emitted, peak {}",
            human(built.time),
            built.emitted,
            built.shards,
            mb(built.peak_rss)
        );
        let _ = writeln!(
            md,
            "| {n} | {what} | {} | {r:.3} | {} of {} | {} |",
            human(built.time),
            built.emitted,
            built.shards,
            mb(built.peak_rss)
        );
    }
    clang_rows(n, &clean, &clang, md);
    for (what, built) in [("clean build", &clean), ("edit", &edit)] {
        let listed: Vec<String> = (built.phases.iter())
            .map(|(name, ms)| format!("{name} {}", human(Duration::from_secs_f64(ms / 1000.0))))
            .collect();
        println!("    phases of the {what}: {}", listed.join(", "));
        let _ = writeln!(
            phases,
            "\n{n} C kernels, phases of the {what}: {}.",
            listed.join(", ")
        );
    }
    Ok(())
}

/// `ir` with kernel `k`'s first large constant (one of its seeds) changed by one: a body edit
/// of one function, written to `dir/kernels.ll`.
fn edited_kernel(ir: &Path, k: usize, dir: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(ir)?;
    let start = text
        .find(&format!(" @kernel_{k}("))
        .context("the kernel to edit")?;
    let body = start + text[start..].find('{').context("its body")?;
    let end = body + text[body..].find("\n}\n").context("its end")?;
    let is_digit = |b: u8| b.is_ascii_digit();
    let bytes = text.as_bytes();
    // A literal of at least six digits after ", " (a seed, not an index or an alignment).
    let at = (body..end)
        .find(|&i| {
            text[..i].ends_with(", ")
                && (bytes[i] == b'-' || is_digit(bytes[i]))
                && text[i + 1..].bytes().take_while(|&b| is_digit(b)).count() >= 5
        })
        .context("a large constant in the kernel")?;
    let len = 1 + text[at + 1..].bytes().take_while(|&b| is_digit(b)).count();
    let value: i64 = text[at..at + len].parse()?;
    let edited_value = if value == i64::MAX {
        value - 1
    } else {
        value + 1
    };
    std::fs::create_dir_all(dir)?;
    let path = dir.join("kernels.ll");
    std::fs::write(
        &path,
        format!("{}{edited_value}{}", &text[..at], &text[at + len..]),
    )?;
    Ok(path)
}

/// `aotlink build` with `--cpu-target generic`, into `cache` or with `--no-cache`.
fn build(ir: &Path, out: &Path, cache: Option<&Path>) -> Result<Built> {
    let mut args: Vec<&OsStr> = vec!["--cpu-target".as_ref(), "generic".as_ref()];
    match cache {
        Some(dir) => args.extend(["--cache-dir".as_ref(), dir.as_os_str()]),
        None => args.push("--no-cache".as_ref()),
    }
    let run = run_measured(&mut build_command(ir, out, &args))?;
    let report = build_report(ir, &run.status, &run.stderr)?;
    let shards = report["shards"]
        .as_array()
        .context("no shards in the report")?;
    let phases: Vec<(String, f64)> = (report["timings"]["phases"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["ms"].as_f64()?)))
        .collect();
    let split_ms = (phases.iter())
        .find(|(name, _)| name == "split")
        .map_or(0.0, |(_, ms)| *ms);
    Ok(Built {
        time: run.time,
        split: Duration::from_secs_f64(split_ms / 1000.0),
        shards: shards.len(),
        emitted: (shards.iter())
            .filter(|s| s["source"] == "emitted" || s["source"] == "damaged")
            .count(),
        cpu: run.cpu,
        peak_rss: run.peak_rss,
        phases,
    })
}

/// `clang-22 -O2 -shared -fPIC IR -o out`, one run, measured.
fn clang_build(ir: &Path, out: &PathBuf) -> Result<Measured> {
    let run = run_measured(
        Command::new(CLANG)
            .args(["-O2", "-shared", "-fPIC", "-Wno-override-module"])
            .arg(ir)
            .arg("-o")
            .arg(out),
    )?;
    if !run.status.success() {
        bail!(
            "{CLANG} failed on {}: {}",
            ir.display(),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    Ok(run)
}
