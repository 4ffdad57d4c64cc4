//! Section `rebuild`: what the shard cache saves. For SQLite's amalgamation and the generated
//! module, with the default CPU targets on 2 threads, `aotlink build` (the release binary, a
//! subprocess each time) as a clean build (`--no-cache`), a cold build into an empty cache, a
//! rebuild with nothing changed, and a rebuild after one function's body changed; the shards
//! each emitted, from the build's own report (`--timings=json`). Clean and cold builds
//! alternate, max(2, repeats) times each (the minimum counts); the no-change rebuild is the minimum of the
//! repeats; the edit is one build (after it, the edited shard is cached).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::report::Table;
use crate::source::DUMP_THREADS;
use crate::timing::{human, min_reported, ratio};
use crate::Config;

const AOTLINK: &str = env!("CARGO_BIN_EXE_aotlink");

/// One module before and after a one-function edit.
struct Input {
    label: String,
    original: PathBuf,
    edited: PathBuf,
}

/// A build's wall time and how many shards it had and emitted.
struct Built {
    time: Duration,
    shards: usize,
    emitted: usize,
}

pub fn bench_rebuild(
    config: &Config,
    module_ir: &Path,
    dir: &Path,
    table: &mut Table,
) -> Result<()> {
    println!(
        "\n[rebuild] the shard cache: clean, cold, no-change and one-edit builds, default CPU \
         targets, --threads {DUMP_THREADS}"
    );
    let dir = dir.join("rebuild");
    std::fs::create_dir_all(&dir)?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Rebuilds with the shard cache (default CPU targets, {DUMP_THREADS} threads):\n"
    );
    let mut inputs = Vec::new();
    let sqlite =
        crate::sqlite::sqlite_bitcode(&dir.join("sqlite-original"), None).and_then(|original| {
            let edited = crate::sqlite::sqlite_bitcode(
                &dir.join("sqlite-edited"),
                Some(crate::sqlite::EDIT),
            )?;
            Ok(Input {
                label: "SQLite 3 amalgamation".into(),
                original,
                edited,
            })
        });
    match sqlite {
        Ok(input) => inputs.push(input),
        Err(e) => {
            println!("  SQLite: skipped, {e:#}");
            let _ = writeln!(md, "SQLite skipped: {e:#}.\n");
        }
    }
    inputs.push(Input {
        label: format!("module ({} functions)", config.functions),
        original: module_ir.to_path_buf(),
        edited: edited_module(module_ir, config.functions / 3, &dir)?,
    });
    let _ = writeln!(
        md,
        "| Input | Build | Time | vs clean | Shards emitted |\n|---|---|---:|---:|---:|"
    );
    for (k, input) in inputs.iter().enumerate() {
        bench_input(config, input, &dir.join(format!("in{k}")), &mut md)?;
    }
    let _ = writeln!(
        md,
        "\nEach build is `aotlink build --export-all --threads {DUMP_THREADS}` (release binary, \
         a subprocess): clean = `--no-cache`; cold = an empty `--cache-dir`; no change = the \
         same input again (min of {}); one edit = one function's body changed (SQLite: \
         `sqlite3_libversion_number` returns another number; the module: one function's first \
         constant), one build. Clean and cold: min of max(2, repeats), alternating. Shards emitted: from \
         the build's report (`--timings=json`).",
        config.repeat
    );
    table.sections.push(md);
    Ok(())
}

fn bench_input(config: &Config, input: &Input, dir: &Path, md: &mut String) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let cache = dir.join("cache");
    let out = dir.join("image.so");
    println!("  {}:", input.label);
    let (mut clean, mut cold): (Option<Built>, Option<Built>) = (None, None);
    let keep_min = |best: &mut Option<Built>, b: Built| {
        if best.as_ref().is_none_or(|x| b.time < x.time) {
            *best = Some(b);
        }
    };
    for _ in 0..config.repeat.max(2) {
        keep_min(&mut clean, build(&input.original, &out, None)?);
        let _ = std::fs::remove_dir_all(&cache);
        keep_min(&mut cold, build(&input.original, &out, Some(&cache))?);
    }
    let (clean, cold) = (clean.expect("ran"), cold.expect("ran"));
    let mut emitted_unchanged = 0;
    let unchanged = min_reported(config.repeat, || {
        let b = build(&input.original, &out, Some(&cache))?;
        emitted_unchanged = emitted_unchanged.max(b.emitted);
        Ok(b.time)
    })?;
    let edit = build(&input.edited, &out, Some(&cache))?;
    let rows = [
        ("clean (--no-cache)", clean.time, clean.emitted),
        ("cold cache", cold.time, cold.emitted),
        ("no change", unchanged, emitted_unchanged),
        ("one function edited", edit.time, edit.emitted),
    ];
    for (what, time, emitted) in rows {
        let r = ratio(time, clean.time);
        println!(
            "    {what:<22}: {}, {r:.3}x clean, {emitted} of {} shards emitted",
            human(time),
            clean.shards
        );
        let _ = writeln!(
            md,
            "| {} | {what} | {} | {r:.3} | {emitted} of {} |",
            input.label,
            human(time),
            clean.shards
        );
    }
    Ok(())
}

/// `aotlink build IR` with the default CPU targets, into `cache` or with `--no-cache`.
fn build(ir: &Path, out: &Path, cache: Option<&Path>) -> Result<Built> {
    let args: Vec<&OsStr> = match cache {
        Some(dir) => vec!["--cache-dir".as_ref(), dir.as_os_str()],
        None => vec!["--no-cache".as_ref()],
    };
    let (time, report) = timed_build(ir, out, &args)?;
    let shards = report["shards"]
        .as_array()
        .context("no shards in the report")?;
    Ok(Built {
        time,
        shards: shards.len(),
        emitted: (shards.iter())
            .filter(|s| s["source"] == "emitted" || s["source"] == "damaged")
            .count(),
    })
}

/// `aotlink build IR --export-all --threads 2` (the release binary, a subprocess) with the
/// default CPU targets and `extra` arguments; its wall time and its report (`--timings=json`).
/// The environment's target, thread and remote-cache settings are left out.
pub fn timed_build(
    ir: &Path,
    out: &Path,
    extra: &[&OsStr],
) -> Result<(Duration, serde_json::Value)> {
    let mut cmd = build_command(ir, out, extra);
    let start = Instant::now();
    let result = cmd.output().context("cannot run aotlink")?;
    let time = start.elapsed();
    Ok((time, build_report(ir, &result.status, &result.stderr)?))
}

/// `aotlink build IR --export-all --timings=json --threads 2 -o OUT EXTRA...`, free of the
/// environment variables that would change it.
pub fn build_command(ir: &Path, out: &Path, extra: &[&OsStr]) -> Command {
    let mut cmd = Command::new(AOTLINK);
    cmd.arg("build")
        .arg(ir)
        .args(["--export-all", "--timings=json", "--threads"])
        .arg(DUMP_THREADS.to_string())
        .arg("-o")
        .arg(out)
        .args(extra)
        .env_remove("AOTLINK_CPU_TARGET")
        .env_remove("AOTLINK_IMAGE_THREADS")
        .env_remove("AOTLINK_REMOTE_CACHE");
    cmd
}

/// The JSON report a [`build_command`] printed on stderr, or why the build failed.
pub fn build_report(
    ir: &Path,
    status: &std::process::ExitStatus,
    stderr: &[u8],
) -> Result<serde_json::Value> {
    let stderr = String::from_utf8_lossy(stderr);
    if !status.success() {
        bail!("aotlink build {} failed: {stderr}", ir.display());
    }
    let json = stderr
        .find('{')
        .map(|at| &stderr[at..])
        .context("no build report")?;
    Ok(serde_json::from_str(json)?)
}

/// The generated module with function `which`'s first constant changed.
pub fn edited_module(ir: &Path, which: usize, dir: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(ir)?;
    let define = format!("define i64 @julia_kernel_{which}(");
    let start = text.find(&define).context("the function to edit")?;
    let marker = "%x0 = mul i64 %a, ";
    let at = start + text[start..].find(marker).context("its first constant")? + marker.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    let constant: u64 = text[at..at + digits].parse()?;
    let edited = format!("{}{}{}", &text[..at], constant + 1, &text[at + digits..]);
    let path = dir.join("module-edited.ll");
    std::fs::write(&path, edited)?;
    Ok(path)
}
