//! `build`, `dump`, `pkg`, `sysimg`: the command line's options made into an
//! [`aotlink::Build`], which runs the pipeline; and `cache stats|clear`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use aotlink::build::{Build, BuildReport};
use aotlink::cache::{ShardCache, DEFAULT_MAX_SIZE};
use aotlink::target::Triple;

use super::args::{BuildArgs, CacheAction, CompileArgs, Kind, TimingsFormat};

/// `build`: IR to image.
pub fn build(inputs: &[PathBuf], output: &Path, options: &BuildArgs) -> Result<()> {
    let build = with_inputs(options.to_build()?, inputs, &options.compile)?;
    let report = build.build(output)?;
    finish(&options.compile, &report)
}

/// `dump`: IR to archives.
pub fn dump(inputs: &[PathBuf], compile: &CompileArgs, kind: Kind, output: &Path) -> Result<()> {
    let build = with_inputs(compile.to_build(kind)?, inputs, compile)?;
    let report = build.dump(output)?;
    finish(compile, &report)
}

/// `pkg` / `sysimg`: archive to image, with `build`'s linker, libraries and key.
pub fn link_archive(
    mut build: Build,
    archive: &Path,
    output: &Path,
    target: Option<&str>,
) -> Result<()> {
    if let Some(target) = target {
        build = build.target(Triple::parse(target).context("--target")?);
    }
    build.link(archive, output)?;
    Ok(())
}

/// What the command line adds to the options' build: the input files and a progress bar on a
/// terminal. The inputs are parsed and verified in this process: the command line builds in a
/// child process of its own (`supervise.rs`), which a crash of LLVM on damaged input ends.
fn with_inputs(mut build: Build, inputs: &[PathBuf], compile: &CompileArgs) -> Result<Build> {
    for input in inputs {
        build = build.input(input);
    }
    if std::io::stderr().is_terminal() && compile.timings.is_none() {
        let bar = progress_bar();
        build = build.progress(move |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done == total {
                bar.finish_and_clear();
            }
        });
    }
    Ok(build)
}

/// Warnings, then the timings when asked for.
fn finish(compile: &CompileArgs, report: &BuildReport) -> Result<()> {
    for warning in &report.warnings {
        eprintln!("aotlink: warning: {warning}");
    }
    match compile.timings {
        Some(TimingsFormat::Text) => eprint!("{}", report.to_text()),
        Some(TimingsFormat::Json) => eprintln!("{}", report.to_json()),
        None => {}
    }
    Ok(())
}

/// A progress bar on a terminal.
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("emitting shards {bar:30} {pos}/{len} {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}

/// `cache stats` / `cache clear`.
pub fn cache(action: CacheAction, dir: Option<PathBuf>) -> Result<()> {
    let dir = match dir.or_else(ShardCache::default_dir) {
        Some(dir) => dir,
        None => anyhow::bail!(
            "no cache directory: set --cache-dir, AOTLINK_CACHE_DIR, XDG_CACHE_HOME or HOME"
        ),
    };
    let max = std::env::var("AOTLINK_CACHE_MAX_SIZE")
        .ok()
        .map(|s| aotlink::cache::parse_size(&s))
        .transpose()
        .context("AOTLINK_CACHE_MAX_SIZE")?
        .unwrap_or(DEFAULT_MAX_SIZE);
    let cache = ShardCache::open(&dir, max)
        .with_context(|| format!("{}: cannot open the shard cache", dir.display()))?;
    let fail = |e: std::io::Error| anyhow::anyhow!("{}: {e}", dir.display());
    match action {
        CacheAction::Stats => {
            let stats = cache.stats().map_err(fail)?;
            println!("cache directory  {}", dir.display());
            println!("shards           {}", stats.shards);
            println!("build records    {}", stats.builds);
            println!("size             {}", human_size(stats.bytes));
            println!("max size         {}", human_size(max));
        }
        CacheAction::Clear => {
            let removed = cache.clear().map_err(fail)?;
            println!(
                "{}: removed {} shard(s) and {} build record(s), {}",
                dir.display(),
                removed.shards,
                removed.builds,
                human_size(removed.bytes)
            );
        }
    }
    Ok(())
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
