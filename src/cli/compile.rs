//! `build`, `dump`, `pkg`, `sysimg`: the command line's options made into an
//! [`aotlink::Build`], which runs the pipeline; and `cache stats|clear`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use aotload::ImageKind;

use aotlink::build::{Build, BuildReport, CacheLocation};
use aotlink::cache::{ShardCache, DEFAULT_MAX_SIZE};
use aotlink::dump::EmitKinds;
use aotlink::link::{Libraries, Lld};
use aotlink::sign::SecretKey;

use super::args::{CacheAction, CacheArgs, CompileArgs, Emit, Kind, TimingsFormat};

/// How an image is linked: the command line's `--kind`, `--cc`, `--rtlib`, `--sysroot`,
/// libraries and key.
pub struct LinkChoice<'a> {
    pub kind: Kind,
    pub cc: Option<&'a str>,
    pub lld: Lld,
    pub libraries: Libraries,
    pub key: Option<SecretKey>,
}

/// `build`: IR to image.
pub fn build(compile: &CompileArgs, output: &Path, link: LinkChoice) -> Result<()> {
    let report = with_link(compile_build(compile, link.kind)?, link).build(output)?;
    finish(compile, &report)
}

/// `dump`: IR to archives.
pub fn dump(compile: &CompileArgs, kind: Kind, output: &Path) -> Result<()> {
    let report = compile_build(compile, kind)?.dump(output)?;
    finish(compile, &report)
}

/// `pkg` / `sysimg`: archive to image.
pub fn link_archive(
    archive: &Path,
    output: &Path,
    target: Option<&str>,
    link: LinkChoice,
) -> Result<()> {
    let mut build = with_link(Build::new(), link);
    if let Some(target) = target {
        build = build.target(target);
    }
    build.link(archive, output)?;
    Ok(())
}

fn with_link(mut build: Build, link: LinkChoice) -> Build {
    build = build.kind(image_kind(link.kind)).libraries(link.libraries);
    if let Some(cc) = link.cc {
        build = build.cc(cc);
    }
    if let Some(rtlib) = link.lld.compiler_runtime {
        build = build.rtlib(rtlib);
    }
    if let Some(sysroot) = link.lld.sysroot {
        build = build.sysroot(sysroot);
    }
    if let Some(key) = link.key {
        build = build.sign(key);
    }
    build
}

fn image_kind(kind: Kind) -> ImageKind {
    match kind {
        Kind::Pkg => ImageKind::Pkg,
        Kind::Sysimg => ImageKind::Sysimg,
    }
}

/// The options shared by `build` and `dump`.
fn compile_build(compile: &CompileArgs, kind: Kind) -> Result<Build> {
    let mut build = Build::new()
        .kind(image_kind(kind))
        .export_all(compile.export_all)
        .emit(EmitKinds {
            obj: compile.emit.contains(&Emit::Obj),
            bc: compile.emit.contains(&Emit::Bc),
            asm: compile.emit.contains(&Emit::Asm),
        })
        .cache(cache_location(&compile.cache))
        .cache_max_size(compile.cache.cache_max_size.unwrap_or(DEFAULT_MAX_SIZE));
    // LLVM can crash on damaged bitcode: a child process (this executable) reads the inputs first.
    let executable = std::env::current_exe().context("cannot find the aotlink executable")?;
    build = build.check_inputs_with(executable);
    for input in &compile.inputs {
        build = build.input(input);
    }
    for export in &compile.exports {
        build = build.export(export);
    }
    for table in &compile.method_tables {
        build = build.method_table(table);
    }
    if let Some(trace) = &compile.trace {
        build = build.trace(trace);
    }
    if let Some(path) = &compile.image_data {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read image data", path.display()))?;
        build = build.image_data(bytes);
    }
    if let Some(shards) = compile.shards {
        build = build.shards(shards);
    }
    if let Some(threads) = compile.threads {
        build = build.threads(threads);
    }
    if let Some(target) = &compile.target {
        build = build.target(target);
    }
    if let Some(spec) = &compile.cpu_target {
        build = build.cpu_targets(spec);
    }
    // --no-cache is a build from nothing: no remote cache either.
    if let (Some(url), false) = (&compile.cache.remote_cache, compile.cache.no_cache) {
        build = build.remote_cache(url);
        if let Some(name) = &compile.cache.remote_instance {
            build = build.remote_instance(name);
        }
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

fn cache_location(args: &CacheArgs) -> CacheLocation {
    match (&args.cache_dir, args.no_cache) {
        (_, true) => CacheLocation::Off,
        (Some(dir), false) => CacheLocation::Dir(dir.clone()),
        (None, false) => CacheLocation::Default,
    }
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
        .map(|s| aotlink::cache::parse_size(&s).map_err(anyhow::Error::msg))
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
