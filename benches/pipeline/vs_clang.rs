//! Section `vs_clang`: the same LLVM IR made into a shared library two ways, each a subprocess:
//! `aotlink build --export-all --threads 2` (the release binary; once with `--cpu-target
//! generic`, once with the default CPU targets) and `clang-22 -O2 -shared -fPIC` (one target).
//! Inputs: Lua 5.4 (the lua-src dev-dependency's C sources, compiled once, untimed, to one
//! bitcode file each, as tests/it/lua.rs does; clang links them with `-Wl,-Bsymbolic`, see
//! [`LUA_CLANG_EXTRA`]), SQLite's amalgamation (sqlite.rs) and the generated module. aotlink
//! runs with `--no-cache`: every repeat is a clean build. Wall time (min of the repeats), aotlink /
//! clang, and each child's peak RSS.
//!
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M -o FILE`): the `ru_maxrss` of its `wait4`
//! of that one child, so the largest of the child's processes (clang's linker included), not a
//! cumulative maximum over all children as `getrusage(RUSAGE_CHILDREN)` would be. The libc crate
//! is no direct dependency, hence GNU time rather than a `wait4` of our own; without it the
//! section still times, and says RSS was not measured. Wall time is taken around the whole
//! spawn, so it includes GNU time's own start (about a millisecond), alike for both compilers.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use aotload::ImageFile;

use crate::cpu::{print_other_cpu_use, CpuSample};
use crate::report::Table;
use crate::source::{CLANG, DUMP_THREADS};
use crate::timing::{human, min_reported, ratio};
use crate::Config;

/// The release binary `cargo bench` builds with the bench (target/release/aotlink).
const AOTLINK: &str = env!("CARGO_BIN_EXE_aotlink");
const GNU_TIME: &str = "/usr/bin/time";
/// How Lua's sources become bitcode (tests/it/lua.rs): vectorizing is left to each CPU target.
const LUA_BITCODE_FLAGS: &[&str] = &[
    "-O2",
    "-fno-vectorize",
    "-fno-slp-vectorize",
    "-DLUA_USE_POSIX",
    "-c",
    "-emit-llvm",
];
/// lua-src's C files that are not the library: the stand-alone interpreter and compiler, and
/// the all-in-one amalgamation.
const LUA_NOT_LIBRARY: &[&str] = &["lua.c", "luac.c", "onelua.c"];
const CLANG_FLAGS: &[&str] = &["-O2", "-shared", "-fPIC"];
/// What clang's link of Lua's bitcode needs on top: the bitcode is built as tests/it/lua.rs
/// builds it, without -fPIC, and this clang defaults to PIE, so its definitions are `dso_local`
/// and referenced PC-relative, which ld refuses in a shared object unless they bind locally.
const LUA_CLANG_EXTRA: &[&str] = &["-Wl,-Bsymbolic"];

pub fn bench_vs_clang(
    config: &Config,
    module_ir: &Path,
    dir: &Path,
    table: &mut Table,
) -> Result<()> {
    println!(
        "\n[vs_clang] the same IR to a shared library: `aotlink build --export-all --threads \
         {DUMP_THREADS}` vs `{CLANG} {}` (min of {})",
        CLANG_FLAGS.join(" "),
        config.repeat
    );
    let mut md = String::new();
    let _ = writeln!(md, "aotlink vs {CLANG}, the same IR to a shared library:\n");
    let Ok(clang) = which::which(CLANG) else {
        println!("  skipped, {CLANG} is not on PATH");
        let _ = writeln!(md, "Skipped: {CLANG} is not on PATH.");
        table.sections.push(md);
        return Ok(());
    };
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let dir = dir.join("vs_clang");
    std::fs::create_dir_all(&dir)?;
    let meter = Meter::new(&dir);
    if !meter.gnu_time {
        println!("  note: peak RSS not measured, no GNU time at {GNU_TIME}");
    }

    let mut inputs = Vec::new();
    match lua_bitcode(&clang, &dir.join("lua-bc")) {
        Ok(files) => inputs.push(Input {
            label: format!("Lua 5.4 ({} bitcode files)", files.len()),
            files,
            clang_extra: LUA_CLANG_EXTRA,
        }),
        Err(e) => {
            println!("  Lua 5.4: skipped, {e:#}");
            let _ = writeln!(md, "Lua 5.4 skipped: {e:#}.\n");
        }
    }
    match crate::sqlite::sqlite_bitcode(&dir.join("sqlite"), None) {
        Ok(file) => inputs.push(Input {
            label: "SQLite 3 amalgamation".into(),
            files: vec![file],
            clang_extra: &[],
        }),
        Err(e) => {
            println!("  SQLite: skipped, {e:#}");
            let _ = writeln!(md, "SQLite skipped: {e:#}.\n");
        }
    }
    inputs.push(Input {
        label: format!("module ({} functions)", config.functions),
        files: vec![module_ir.to_path_buf()],
        clang_extra: &[],
    });

    let _ = writeln!(
        md,
        "| Input | Build | Time (min of {}) | aotlink / clang | Peak RSS | Output size |",
        config.repeat
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for (k, input) in inputs.iter().enumerate() {
        bench_input(
            config,
            &meter,
            &clang,
            input,
            &dir.join(format!("in{k}")),
            &mut md,
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "Each build is one subprocess: aotlink = `aotlink build --export-all --threads \
         {DUMP_THREADS}` (release binary: codegen, dump, embedded LLD); clang = `{CLANG} {}` \
         (its default linker, one job at a time, each file optimized alone). Time: wall, min of \
         {}; ratio = aotlink / clang. Peak RSS: {}. Output size in bytes.",
        CLANG_FLAGS.join(" "),
        config.repeat,
        if meter.gnu_time {
            "GNU time's %M of each child (its largest process), max over the repeats"
        } else {
            "not measured (no GNU time)"
        }
    );
    if inputs.iter().any(|i| !i.clang_extra.is_empty()) {
        let _ = writeln!(
            md,
            "Lua's bitcode is compiled without -fPIC (as tests/it/lua.rs does); this clang \
             defaults to PIE, so its definitions are dso_local and clang's link of them into a \
             shared object needs `{}` (else ld refuses R_X86_64_PC32 against the exported \
             functions); aotlink takes them as they are.",
            LUA_CLANG_EXTRA.join(" ")
        );
    }
    if let Some(share) = print_other_cpu_use(cpu_start, start.elapsed()) {
        let _ = writeln!(
            md,
            "Other processes' CPU use during this section: {share:.0}%."
        );
    }
    table.sections.push(md);
    Ok(())
}

/// An input: IR files, and what clang's link of them needs on top of [`CLANG_FLAGS`].
struct Input {
    label: String,
    files: Vec<PathBuf>,
    clang_extra: &'static [&'static str],
}

/// The three builds of one input (outputs `{stem}-*.so`): prints their figures and ratios and
/// adds their rows to `md`.
fn bench_input(
    config: &Config,
    meter: &Meter,
    clang: &Path,
    input: &Input,
    stem: &Path,
    md: &mut String,
) {
    let output = |what: &str| PathBuf::from(format!("{}-{what}.so", stem.display()));
    let bytes: u64 = input
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    println!("  {}, {bytes} IR bytes:", input.label);
    let jobs = [
        Job::aotlink(
            "aotlink, --cpu-target generic",
            &input.files,
            Some("generic"),
            &output("generic"),
        ),
        Job::aotlink(
            "aotlink, default CPU targets",
            &input.files,
            None,
            &output("default"),
        ),
        Job::clang(clang, &input.files, input.clang_extra, &output("clang")),
    ];
    let outcomes: Vec<Option<Outcome>> =
        jobs.iter().map(|job| measure(config, meter, job)).collect();
    let clang_time = outcomes[2].as_ref().map(|o| o.time);
    let versus = |o: &Option<Outcome>| match (o, clang_time) {
        (Some(o), Some(c)) => Some(ratio(o.time, c)),
        _ => None,
    };
    if let (Some(generic), Some(default)) = (versus(&outcomes[0]), versus(&outcomes[1])) {
        println!("    aotlink / clang: generic {generic:.2}x, default CPU targets {default:.2}x");
    }
    let label = &input.label;
    for (j, (job, outcome)) in jobs.iter().zip(&outcomes).enumerate() {
        let Some(o) = outcome else {
            let _ = writeln!(md, "| {label} | {} | failed | - | - | - |", job.label);
            continue;
        };
        let r = if j == 2 {
            "1.00".to_string()
        } else {
            versus(outcome).map_or("-".into(), |r| format!("{r:.2}"))
        };
        // The default targets by name; "generic" alone is in the label already.
        let what = match &o.targets {
            Some(targets) if targets.contains(';') => format!("{} ({targets})", job.label),
            _ => job.label.clone(),
        };
        let _ = writeln!(
            md,
            "| {label} | {what} | {} | {r} | {} | {} |",
            human(o.time),
            rss_text(o.peak_rss_kib),
            o.size
        );
    }
}

/// One build as a subprocess.
struct Job {
    label: String,
    program: PathBuf,
    args: Vec<OsString>,
    output: PathBuf,
    /// An aotlink image, whose CPU targets and functions can be read back.
    image: bool,
}

impl Job {
    fn aotlink(label: &str, inputs: &[PathBuf], cpu_target: Option<&str>, output: &Path) -> Job {
        let mut args: Vec<OsString> = vec!["build".into()];
        args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
        args.extend(["--export-all".into(), "-o".into(), output.into()]);
        args.extend(["--threads".into(), DUMP_THREADS.to_string().into()]);
        // A clean build each time: the shard cache would make the repeats free.
        args.push("--no-cache".into());
        if let Some(cpu_target) = cpu_target {
            args.extend(["--cpu-target".into(), cpu_target.into()]);
        }
        Job {
            label: label.to_string(),
            program: AOTLINK.into(),
            args,
            output: output.to_path_buf(),
            image: true,
        }
    }

    fn clang(clang: &Path, inputs: &[PathBuf], extra: &[&str], output: &Path) -> Job {
        let mut args: Vec<OsString> = CLANG_FLAGS.iter().chain(extra).map(Into::into).collect();
        args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
        args.extend(["-o".into(), output.into()]);
        Job {
            label: format!("{CLANG} -O2 {}", extra.join(" "))
                .trim_end()
                .to_string(),
            program: clang.to_path_buf(),
            args,
            output: output.to_path_buf(),
            image: false,
        }
    }
}

/// A job's fastest run, its peak RSS and what it wrote.
struct Outcome {
    time: Duration,
    peak_rss_kib: Option<u64>,
    size: u64,
    /// An aotlink image's CPU targets, `;`-separated.
    targets: Option<String>,
}

/// The job `repeat` times; prints its figures, or that it failed (`None`).
fn measure(config: &Config, meter: &Meter, job: &Job) -> Option<Outcome> {
    let label = &job.label;
    let mut peak_rss_kib = None;
    let time = min_reported(config.repeat, || {
        let run = meter.run(job)?;
        peak_rss_kib = peak_rss_kib.max(run.peak_rss_kib);
        Ok(run.wall)
    });
    let outcome = time.and_then(|time| {
        let bytes = std::fs::read(&job.output)
            .with_context(|| format!("{} was not written", job.output.display()))?;
        let image = if job.image {
            let image = ImageFile::parse(&bytes)
                .with_context(|| format!("{} is no readable image", job.output.display()))?;
            Some(image)
        } else {
            None
        };
        Ok((time, bytes.len() as u64, image))
    });
    match outcome {
        Ok((time, size, image)) => {
            let (targets, functions) = match &image {
                Some(image) => {
                    let names: Vec<&str> =
                        image.meta.targets.iter().map(|t| t.name.as_str()).collect();
                    (
                        Some(names.join("; ")),
                        format!(", {} functions", image.meta.methods.len()),
                    )
                }
                None => (None, String::new()),
            };
            println!(
                "    {label:<30}: {}, peak RSS {}, {size} bytes{functions}{}",
                human(time),
                rss_text(peak_rss_kib),
                targets
                    .as_ref()
                    .map_or(String::new(), |t| format!("; targets: {t}"))
            );
            Some(Outcome {
                time,
                peak_rss_kib,
                size,
                targets,
            })
        }
        Err(e) => {
            println!("    {label:<30}: failed: {e:#}");
            None
        }
    }
}

fn rss_text(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

/// Runs children one at a time and measures each: wall time from spawn to exit and, through
/// GNU time if it works here, the child's peak RSS.
struct Meter {
    gnu_time: bool,
    rss_file: PathBuf,
}

/// One run of a child.
struct Run {
    wall: Duration,
    peak_rss_kib: Option<u64>,
}

impl Meter {
    /// Uses GNU time if `/usr/bin/time -f %M -o FILE true` writes a number to FILE.
    fn new(dir: &Path) -> Meter {
        let rss_file = dir.join("peak-rss.txt");
        let _ = std::fs::remove_file(&rss_file);
        let gnu_time = Command::new(GNU_TIME)
            .args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg("true")
            .output()
            .is_ok_and(|out| out.status.success())
            && read_rss(&rss_file).is_ok();
        Meter { gnu_time, rss_file }
    }

    fn run(&self, job: &Job) -> Result<Run> {
        let mut command = if self.gnu_time {
            let _ = std::fs::remove_file(&self.rss_file);
            let mut command = Command::new(GNU_TIME);
            command
                .args(["-f", "%M", "-o"])
                .arg(&self.rss_file)
                .arg(&job.program);
            command
        } else {
            Command::new(&job.program)
        };
        // The defaults are what is measured, not the environment's.
        command
            .args(&job.args)
            .env_remove("AOTLINK_CPU_TARGET")
            .env_remove("AOTLINK_IMAGE_THREADS");
        let start = Instant::now();
        let out = command
            .output()
            .with_context(|| format!("cannot run {}", job.program.display()))?;
        let wall = start.elapsed();
        if !out.status.success() {
            bail!(
                "{} exited with {}: {}",
                job.program.display(),
                out.status,
                excerpt(&String::from_utf8_lossy(&out.stderr))
            );
        }
        let peak_rss_kib = if self.gnu_time {
            Some(read_rss(&self.rss_file)?)
        } else {
            None
        };
        Ok(Run { wall, peak_rss_kib })
    }
}

/// GNU time's `%M` (KiB): the last line of its `-o` file (a failed child's status comes first).
fn read_rss(file: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("GNU time wrote no {}", file.display()))?;
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim()
        .parse()
        .with_context(|| format!("GNU time's %M is not a number: {text:?}"))
}

/// The first lines of a child's error output.
fn excerpt(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim().lines().collect();
    match lines.len() {
        0..=8 => lines.join("\n"),
        n => format!("{}\n[... {} more lines]", lines[..8].join("\n"), n - 8),
    }
}

/// Lua's library sources compiled to bitcode in `dir` (untimed), one file per source, sorted.
pub fn lua_bitcode(clang: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let sources = lua_library_sources(&lua_source_dir()?)?;
    if sources.len() < 25 {
        bail!("found only {} Lua sources", sources.len());
    }
    std::fs::create_dir_all(dir)?;
    let out = Command::new(clang)
        .current_dir(dir)
        .args(LUA_BITCODE_FLAGS)
        .args(&sources)
        .output()
        .with_context(|| format!("cannot run {}", clang.display()))?;
    if !out.status.success() {
        bail!(
            "{CLANG} could not compile Lua to bitcode: {}",
            excerpt(&String::from_utf8_lossy(&out.stderr))
        );
    }
    let mut bitcode: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| Ok(e?.path()))
        .collect::<std::io::Result<Vec<_>>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bc"))
        .collect();
    bitcode.sort();
    if bitcode.len() != sources.len() {
        bail!(
            "{} Lua sources but {} bitcode files in {}",
            sources.len(),
            bitcode.len(),
            dir.display()
        );
    }
    Ok(bitcode)
}

/// lua-src's Lua 5.4 source directory, found through cargo's metadata (a dev-dependency).
fn lua_source_dir() -> Result<PathBuf> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata: {}",
            excerpt(&String::from_utf8_lossy(&out.stderr))
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata wrote no JSON")?;
    let lua_manifest = json["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == "lua-src"))
        .and_then(|p| p["manifest_path"].as_str())
        .context("no lua-src in cargo metadata")?;
    let root = Path::new(lua_manifest)
        .parent()
        .context("lua-src's manifest has no directory")?;
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        if path.is_dir()
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("lua-5.4"))
        {
            return Ok(path);
        }
    }
    bail!("no lua-5.4 sources in {}", root.display())
}

/// The library's C files in `dir`, sorted.
fn lua_library_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if path.extension().is_some_and(|e| e == "c")
            && name.is_some_and(|n| !LUA_NOT_LIBRARY.contains(&n.as_str()))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
