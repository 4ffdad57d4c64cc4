//! Pipeline benchmark (`cargo bench --bench pipeline`): how long a runtime-sized module takes to
//! emit (1 vs 2 threads), link (embedded LLD, standalone `ld.lld-14`, the C compiler driver) and
//! load (`aotload::Image::open` vs a bare dlopen); what multiversioning buys at run time (the
//! example's kernels on each CPU target of one image); what the default 4 CPU targets cost in
//! dump time and image size against 1; and how long the embedded LLD takes for each supported
//! target platform.
//!
//! Knobs: `AOTLINK_BENCH_FUNCTIONS` (default 5000), `AOTLINK_BENCH_REPEAT` (default 3; every
//! figure is the minimum over the repeats), `AOTLINK_BENCH_KEEP_IR=path` (also write the
//! generated IR there) and `AOTLINK_BENCH_SECTIONS` (comma list of `emission`, `link`, `load`,
//! `multiversion`, `size`, `cross`; default all). Prints one line per figure, then Markdown
//! tables.

use std::ffi::c_void;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use aotlink::codegen::{codegen, CodegenOptions};
use aotlink::dump::{self, DumpOptions};
use aotlink::link::{self, Cc, LinkJob, Linker, Lld};
use aotlink::target::{CpuTarget, Platform, Triple};
use aotload::format::ROOT_SYMBOL;
use aotload::{Image, ImageFile, LoadOptions, Meta};

const DEFAULT_FUNCTIONS: usize = 5_000;
const DEFAULT_REPEAT: usize = 3;
/// Fresh copies of the image opened per repeat: dlopen of an open path is only a refcount bump.
const LOAD_COPIES: usize = 20;
const TRIPLE: &str = "x86_64-unknown-linux-gnu";
const DATALAYOUT: &str = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128";
/// Entries of the global function-pointer table.
const TABLE_LEN: usize = 64;
/// Global data arrays, and the length of each.
const DATA_ARRAYS: usize = 4;
const DATA_LEN: usize = 64;
const STANDALONE_LLD: &str = "ld.lld-14";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The sections of the benchmark, in the order they run (`AOTLINK_BENCH_SECTIONS`).
const SECTIONS: &[&str] = &["emission", "link", "load", "multiversion", "size", "cross"];

struct Config {
    functions: usize,
    repeat: usize,
    /// The sections to run, a subset of [`SECTIONS`].
    sections: Vec<&'static str>,
}

impl Config {
    fn from_env() -> Result<Config> {
        Ok(Config {
            functions: env_count("AOTLINK_BENCH_FUNCTIONS", DEFAULT_FUNCTIONS)?.max(2),
            repeat: env_count("AOTLINK_BENCH_REPEAT", DEFAULT_REPEAT)?.max(1),
            sections: env_sections()?,
        })
    }

    fn runs(&self, section: &str) -> bool {
        self.sections.contains(&section)
    }
}

/// `AOTLINK_BENCH_SECTIONS=multiversion,cross`: the sections to run (unset, empty or `all`:
/// every one), kept in [`SECTIONS`] order.
fn env_sections() -> Result<Vec<&'static str>> {
    let name = "AOTLINK_BENCH_SECTIONS";
    let text = std::env::var(name).unwrap_or_default();
    let asked: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if asked.is_empty() || asked == ["all"] {
        return Ok(SECTIONS.to_vec());
    }
    if let Some(bad) = asked.iter().find(|a| !SECTIONS.contains(a)) {
        bail!(
            "{name}={text:?}: no section `{bad}` (sections: {}, or all)",
            SECTIONS.join(", ")
        );
    }
    Ok(SECTIONS
        .iter()
        .copied()
        .filter(|s| asked.contains(s))
        .collect())
}

fn env_count(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{name}={text:?} is not a count")),
        Err(_) => Ok(default),
    }
}

fn run() -> Result<()> {
    let config = Config::from_env()?;
    let scratch = tempfile::tempdir().context("cannot create a temp dir")?;
    let ir = scratch.path().join("bench.ll");
    let text = generate_ir(config.functions);
    std::fs::write(&ir, &text).context("cannot write the IR")?;
    // A copy to reproduce a figure with the CLI (`aotlink build`), if asked for.
    if let Ok(keep) = std::env::var("AOTLINK_BENCH_KEEP_IR") {
        std::fs::write(&keep, &text).with_context(|| format!("cannot write {keep}"))?;
    }
    print_preamble(&config, text.len());

    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let mut table = Table::default();
    let archive = if config.runs("emission") {
        Some(bench_emission(&config, &ir, scratch.path(), &mut table)?)
    } else if config.runs("link") || config.runs("load") {
        Some(untimed_archive(&config, &ir, scratch.path())?)
    } else {
        None
    };
    if let Some(archive) = &archive {
        if config.runs("link") {
            bench_link(&config, archive, scratch.path(), &mut table)?;
        }
        if config.runs("load") {
            bench_load(&config, archive, scratch.path(), &mut table)?;
        }
    }
    if config.runs("multiversion") {
        bench_multiversion(&config, scratch.path(), &mut table)?;
    }
    if config.runs("size") {
        bench_size(&config, &ir, scratch.path(), &mut table)?;
    }
    if config.runs("cross") {
        bench_cross(&config, scratch.path(), &mut table)?;
    }
    println!();
    table.others_cpu_percent = print_other_cpu_use(cpu_start, start.elapsed());

    println!();
    println!("Markdown (for docs/PERFORMANCE.md):");
    println!();
    print!("{}", table.markdown(&config));
    Ok(())
}

fn print_preamble(config: &Config, ir_bytes: usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("aotlink pipeline benchmark");
    println!("  cpu: {}", cpu_model());
    println!("  sections: {}", config.sections.join(", "));
    println!(
        "  module: {} functions + dispatcher, {ir_bytes} IR bytes, {TRIPLE}",
        config.functions
    );
    println!(
        "  repeats: {} (minimum taken), cores: {cores}, build: {}",
        config.repeat,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}

// ---------------------------------------------------------------------------------------------
// The module: deterministic IR shaped like a runtime's compiled code.
// ---------------------------------------------------------------------------------------------

/// A deterministic scramble of `i`, for constants and call targets (no RNG: same IR every run).
fn mix(i: usize) -> usize {
    let x = (i as u64 ^ 0x9e37_79b9).wrapping_mul(0x2545_f491_4f6c_dd1d);
    (x >> 33) as usize
}

fn function_name(i: usize) -> String {
    format!("julia_kernel_{i}")
}

/// Every function has this signature, so calls and the pointer table need no casts.
const SIGNATURE: &str = "i64 (i64, double)";

/// The functions exported as C entry points: the dispatcher and a few spread over the module.
fn export_names(functions: usize) -> Vec<String> {
    let mut names = vec!["julia_dispatch".to_string()];
    let picks = [
        0,
        functions / 4,
        functions / 2,
        3 * functions / 4,
        functions - 1,
    ];
    names.extend(picks.iter().map(|&i| function_name(i)));
    names.dedup();
    names
}

fn generate_ir(functions: usize) -> String {
    generate_ir_for(functions, TRIPLE, DATALAYOUT)
}

/// The module for another target: only the `target triple` and `target datalayout` differ.
fn generate_ir_for(functions: usize, triple: &str, datalayout: &str) -> String {
    let mut ir = String::with_capacity(functions * 700);
    let _ = writeln!(ir, "; aotlink pipeline benchmark: {functions} functions");
    let _ = writeln!(ir, "source_filename = \"aotlink_bench\"");
    let _ = writeln!(ir, "target datalayout = \"{datalayout}\"");
    let _ = writeln!(ir, "target triple = \"{triple}\"\n");
    write_data_globals(&mut ir);
    write_function_table(&mut ir, functions);
    for i in 0..functions {
        write_function(&mut ir, i);
    }
    write_dispatcher(&mut ir);
    ir
}

/// Constant-ish arrays the functions read, plus a counter some of them bump.
fn write_data_globals(ir: &mut String) {
    for a in 0..DATA_ARRAYS {
        let values: Vec<String> = (0..DATA_LEN)
            .map(|k| format!("i64 {}", mix(a * DATA_LEN + k) % 100_000))
            .collect();
        let _ = writeln!(
            ir,
            "@julia_data_{a} = global [{DATA_LEN} x i64] [{}], align 16",
            values.join(", ")
        );
    }
    let _ = writeln!(ir, "@julia_counter = global i64 0, align 8\n");
}

/// A method table of sorts: pointers to functions spread over the module.
fn write_function_table(ir: &mut String, functions: usize) {
    let entries: Vec<String> = (0..TABLE_LEN)
        .map(|k| format!("{SIGNATURE}* @{}", function_name(k * functions / TABLE_LEN)))
        .collect();
    let _ = writeln!(
        ir,
        "@julia_fn_table = global [{TABLE_LEN} x {SIGNATURE}*] [{}], align 16\n",
        entries.join(", ")
    );
}

/// One small function: integer and float arithmetic, then by `i`: a loop, an array read, a
/// counter update, and calls to one or two earlier functions (about a third of them).
fn write_function(ir: &mut String, i: usize) {
    let (c1, c2, c3) = (mix(i) % 97 + 3, mix(i + 1) % 1013 + 1, mix(i + 2) % 64);
    let _ = writeln!(ir, "define i64 @{}(i64 %a, double %b) {{", function_name(i));
    let _ = writeln!(ir, "entry:");
    let _ = writeln!(ir, "  %x0 = mul i64 %a, {c1}");
    let _ = writeln!(ir, "  %x1 = add i64 %x0, {c2}");
    let _ = writeln!(ir, "  %x2 = xor i64 %x1, {}", mix(i + 3) % 65_536);
    let _ = writeln!(ir, "  %f0 = sitofp i64 %x2 to double");
    let _ = writeln!(ir, "  %f1 = fmul double %f0, %b");
    let _ = writeln!(ir, "  %f2 = fadd double %f1, {c3}.5");
    let _ = writeln!(ir, "  %y0 = fptosi double %f2 to i64");
    let mut value = "%y0".to_string();
    if i.is_multiple_of(4) {
        value = write_loop(ir, &value, c1);
    }
    if i % 5 == 2 {
        value = write_array_read(ir, &value, i % DATA_ARRAYS);
    }
    if i % 16 == 3 {
        let _ = writeln!(
            ir,
            "  %cnt = atomicrmw add i64* @julia_counter, i64 1 monotonic"
        );
    }
    if i % 3 == 1 && i >= 2 {
        value = write_calls(ir, &value, i);
    }
    let _ = writeln!(ir, "  ret i64 {value}\n}}\n");
}

/// A counted loop of 8..24 trips folding a multiply-add; returns the result's name.
fn write_loop(ir: &mut String, start: &str, factor: usize) -> String {
    let trips = 8 + factor % 17;
    let _ = writeln!(ir, "  br label %loop");
    let _ = writeln!(ir, "loop:");
    let _ = writeln!(ir, "  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]");
    let _ = writeln!(
        ir,
        "  %acc = phi i64 [ {start}, %entry ], [ %acc.next, %loop ]"
    );
    let _ = writeln!(ir, "  %m = mul i64 %acc, {factor}");
    let _ = writeln!(ir, "  %acc.next = add i64 %m, %i");
    let _ = writeln!(ir, "  %i.next = add i64 %i, 1");
    let _ = writeln!(ir, "  %done = icmp eq i64 %i.next, {trips}");
    let _ = writeln!(ir, "  br i1 %done, label %exit, label %loop");
    let _ = writeln!(ir, "exit:");
    "%acc.next".to_string()
}

/// Reads `@julia_data_{array}[value & 63]` and adds it; returns the result's name.
fn write_array_read(ir: &mut String, value: &str, array: usize) -> String {
    let ty = format!("[{DATA_LEN} x i64]");
    let _ = writeln!(ir, "  %idx = and i64 {value}, {}", DATA_LEN - 1);
    let _ = writeln!(
        ir,
        "  %slot = getelementptr inbounds {ty}, {ty}* @julia_data_{array}, i64 0, i64 %idx"
    );
    let _ = writeln!(ir, "  %elt = load i64, i64* %slot, align 8");
    let _ = writeln!(ir, "  %read = add i64 {value}, %elt");
    "%read".to_string()
}

/// Calls one earlier function (two for every other caller); returns the result's name.
fn write_calls(ir: &mut String, value: &str, i: usize) -> String {
    let first = function_name(mix(i + 5) % i);
    let _ = writeln!(ir, "  %c0 = call i64 @{first}(i64 {value}, double %f2)");
    if i % 6 != 1 {
        return "%c0".to_string();
    }
    let second = function_name(mix(i + 7) % i);
    let _ = writeln!(ir, "  %c1 = call i64 @{second}(i64 %c0, double %b)");
    "%c1".to_string()
}

/// Calls through the pointer table, like a runtime's dynamic dispatch.
fn write_dispatcher(ir: &mut String) {
    let table = format!("[{TABLE_LEN} x {SIGNATURE}*]");
    let _ = writeln!(
        ir,
        "define i64 @julia_dispatch(i64 %k, i64 %a, double %b) {{"
    );
    let _ = writeln!(ir, "entry:");
    let _ = writeln!(ir, "  %idx = and i64 %k, {}", TABLE_LEN - 1);
    let _ = writeln!(
        ir,
        "  %slot = getelementptr inbounds {table}, {table}* @julia_fn_table, i64 0, i64 %idx"
    );
    let _ = writeln!(
        ir,
        "  %fn = load {SIGNATURE}*, {SIGNATURE}** %slot, align 8"
    );
    let _ = writeln!(ir, "  %r = call i64 %fn(i64 %a, double %b)");
    let _ = writeln!(ir, "  ret i64 %r\n}}");
}

// ---------------------------------------------------------------------------------------------
// Emission: codegen + dump on 1 and 2 threads.
// ---------------------------------------------------------------------------------------------

struct EmissionRun {
    codegen: Duration,
    dump: Duration,
    /// CPU time the process used during dump, if the OS tells.
    dump_cpu: Option<Duration>,
    shards: usize,
    threads: usize,
    archive_digest: u64,
}

impl EmissionRun {
    fn total(&self) -> Duration {
        self.codegen + self.dump
    }
}

/// One timed codegen + dump with `threads`; writes the object archive to `archive` (untimed).
fn emit_once(config: &Config, ir: &Path, threads: usize, archive: &Path) -> Result<EmissionRun> {
    let context = inkwell::context::Context::create();
    let options = CodegenOptions {
        inputs: vec![ir.to_path_buf()],
        exports: export_names(config.functions),
        ..Default::default()
    };
    let start = Instant::now();
    let program = codegen(&context, &options)?;
    let codegen_time = start.elapsed();
    let dump_options = DumpOptions {
        threads: Some(threads),
        ..Default::default()
    };
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let dumped = dump::dump(&program, &dump_options, &|_, _| {})?;
    let dump_time = start.elapsed();
    let dump_cpu = process_cpu_since(cpu_start);
    dump::write_archives(&dumped, archive)?;
    let bytes = std::fs::read(archive)?;
    Ok(EmissionRun {
        codegen: codegen_time,
        dump: dump_time,
        dump_cpu,
        shards: dumped.plans.len(),
        threads: dumped.threads,
        archive_digest: xxhash_rust::xxh3::xxh3_64(&bytes),
    })
}

/// The fastest of `repeat` runs, and whether every run wrote the same archive.
fn fastest_emission(
    config: &Config,
    ir: &Path,
    threads: usize,
    archive: &Path,
) -> Result<(EmissionRun, bool)> {
    let mut best: Option<EmissionRun> = None;
    let mut digests = Vec::new();
    for _ in 0..config.repeat {
        let run = emit_once(config, ir, threads, archive)?;
        digests.push(run.archive_digest);
        if best.as_ref().is_none_or(|b| run.total() < b.total()) {
            best = Some(run);
        }
    }
    let stable = digests.windows(2).all(|w| w[0] == w[1]);
    Ok((best.expect("repeat >= 1"), stable))
}

/// Returns the archive (from the one-thread runs) that the link and load stages use.
fn bench_emission(config: &Config, ir: &Path, dir: &Path, table: &mut Table) -> Result<PathBuf> {
    println!("\n[emission] codegen + dump, default shard count");
    let (archive_1, archive_2) = (dir.join("emit-t1.a"), dir.join("emit-t2.a"));
    let (one, one_stable) = fastest_emission(config, ir, 1, &archive_1)?;
    print_emission_run("1 thread ", &one);
    let (two, two_stable) = fastest_emission(config, ir, 2, &archive_2)?;
    print_emission_run("2 threads", &two);
    if two.threads < 2 {
        println!(
            "  note: the plan has {} shard(s), so dump used 1 thread",
            two.shards
        );
    }
    let speedup = ratio(one.total(), two.total());
    let dump_speedup = ratio(one.dump, two.dump);
    println!("  speedup t1/t2: {speedup:.2} (dump alone: {dump_speedup:.2})");
    let same = one.archive_digest == two.archive_digest
        && std::fs::read(&archive_1)? == std::fs::read(&archive_2)?;
    let archive_size = std::fs::metadata(&archive_1)?.len();
    println!(
        "  archives: 1 vs 2 threads {}; across repeats {}; {} bytes",
        if same { "identical" } else { "DIFFER" },
        if one_stable && two_stable {
            "identical"
        } else {
            "DIFFER"
        },
        archive_size
    );
    let targets = cpu_target_names(&archive_1)?;
    println!("  CPU targets (library default): {targets}");
    table.cpu_targets = Some(targets);
    let what = format!("emission ({} shards)", one.shards);
    table.row(
        &what,
        "codegen + dump, 1 thread",
        one.total(),
        "1.00".into(),
    );
    table.row(
        &what,
        "codegen + dump, 2 threads",
        two.total(),
        format!("{speedup:.2}x faster"),
    );
    table.emission_identical = Some(same);
    Ok(archive_1)
}

/// The archive the link and load sections use when the emission section does not run: one
/// untimed codegen + dump on 2 threads (archives are identical for any thread count).
fn untimed_archive(config: &Config, ir: &Path, dir: &Path) -> Result<PathBuf> {
    println!("\n[emission] not run; building the module's archive once (untimed, 2 threads)");
    let archive = dir.join("emit-t2.a");
    emit_once(config, ir, 2, &archive)?;
    Ok(archive)
}

/// The CPU targets the archive's header records, `;`-separated.
fn cpu_target_names(archive: &Path) -> Result<String> {
    let meta = link::read_archive(archive)?.meta;
    let names: Vec<String> = meta.targets.into_iter().map(|t| t.name).collect();
    Ok(names.join("; "))
}

fn print_emission_run(label: &str, run: &EmissionRun) {
    // CPU time over wall time: how many cores dump really had (less than the threads asked
    // for means other processes took the CPU, or the shards did not balance).
    let cores = run.dump_cpu.map_or(String::new(), |cpu| {
        format!(", dump kept {:.2} cores busy", ratio(cpu, run.dump))
    });
    println!(
        "  {label}: {:.3} s (codegen {:.3} s + dump {:.3} s), {} shards on {} thread(s){cores}",
        secs(run.total()),
        secs(run.codegen),
        secs(run.dump),
        run.shards,
        run.threads
    );
}

// ---------------------------------------------------------------------------------------------
// Link: embedded LLD vs standalone ld.lld vs the C compiler driver, same archive and job.
// ---------------------------------------------------------------------------------------------

fn bench_link(config: &Config, archive: &Path, dir: &Path, table: &mut Table) -> Result<()> {
    println!("\n[link] same archive, same job, unsealed output");
    let platform = Platform::for_triple(&Triple::host());
    let exports: Vec<String> = link::read_archive(archive)?
        .meta
        .exports
        .into_iter()
        .map(|e| e.name)
        .collect();
    let job = |output: &str| LinkJob {
        archive: archive.to_path_buf(),
        output: dir.join(output),
        output_name: output.to_string(),
        import_library: None,
        exports: exports.clone(),
        platform: &platform,
    };

    let embedded_job = job("link-embedded.so");
    let embedded = LinkTiming {
        link: min_time(config.repeat, || {
            Lld.link(&embedded_job)?;
            Ok(())
        })?,
        startup: None,
    };
    let baseline = embedded.link;
    report_link(
        table,
        "embedded LLD (in-process)",
        &embedded_job,
        &embedded,
        baseline,
    )?;
    let preparation = time_lld_arguments(config, &embedded_job)?;
    println!(
        "    of which writing the export list and stub libraries: {}",
        human(preparation)
    );

    let standalone_job = job("link-standalone.so");
    match time_standalone_lld(config, &standalone_job, dir)? {
        Some(t) => report_link(
            table,
            "ld.lld-14 (subprocess)",
            &standalone_job,
            &t,
            baseline,
        )?,
        None => table.skipped("link", "ld.lld-14 (subprocess)"),
    }
    let cc_job = job("link-cc.so");
    match time_cc(config, &cc_job)? {
        Some((name, t)) => report_link(
            table,
            &format!("C compiler ({name})"),
            &cc_job,
            &t,
            baseline,
        )?,
        None => table.skipped("link", "C compiler driver"),
    }
    Ok(())
}

/// A linker's fastest link, and for a program how long it takes just to start (`--version`).
struct LinkTiming {
    link: Duration,
    startup: Option<Duration>,
}

/// Prints one linker's figures; its output must parse as an image with every function.
fn report_link(
    table: &mut Table,
    name: &str,
    job: &LinkJob,
    timing: &LinkTiming,
    baseline: Duration,
) -> Result<()> {
    let bytes = std::fs::read(&job.output)?;
    let functions = ImageFile::parse(&bytes)
        .with_context(|| format!("{name} wrote no readable image"))?
        .meta
        .methods
        .len();
    let r = ratio(timing.link, baseline);
    let startup = timing.startup.map_or(String::new(), |t| {
        format!("; starting the program alone (--version): {}", human(t))
    });
    println!(
        "  {name:<26}: {}, {r:.2}x the embedded LLD ({} bytes, {functions} functions){startup}",
        human(timing.link),
        bytes.len()
    );
    table.row("link", name, timing.link, format!("{r:.2}"));
    Ok(())
}

/// The part of an embedded LLD link spent before LLD sees the archive: `Lld::arguments`
/// writes the export list and links one stub library per system library.
fn time_lld_arguments(config: &Config, job: &LinkJob) -> Result<Duration> {
    min_time(config.repeat, || {
        let scratch = tempfile::tempdir()?;
        Lld::arguments(job, scratch.path())?;
        Ok(())
    })
}

/// `ld.lld-14` with exactly the embedded LLD's arguments; `None` (with a note) if unavailable.
fn time_standalone_lld(config: &Config, job: &LinkJob, dir: &Path) -> Result<Option<LinkTiming>> {
    let label = "ld.lld-14 (subprocess)";
    let Ok(program) = which::which(STANDALONE_LLD) else {
        println!("  {label:<26}: skipped, {STANDALONE_LLD} is not on PATH");
        return Ok(None);
    };
    // Arguments and stub libraries are made once, outside the timing.
    let scratch = dir.join("standalone-lld");
    std::fs::create_dir_all(&scratch)?;
    let args = Lld::arguments(job, &scratch)?;
    let link = min_time(config.repeat, || run_program(&program, &args));
    match link {
        Ok(link) => Ok(Some(LinkTiming {
            link,
            startup: time_startup(config, &program),
        })),
        Err(e) => {
            println!("  {label:<26}: skipped, it failed: {e:#}");
            Ok(None)
        }
    }
}

/// The C compiler driver (`$CC`, then `cc`); `None` (with a note) if missing or failing.
fn time_cc(config: &Config, job: &LinkJob) -> Result<Option<(String, LinkTiming)>> {
    let label = "C compiler";
    let cc = match Cc::find(None) {
        Ok(cc) => cc,
        Err(e) => {
            println!("  {label:<26}: skipped, {e}");
            return Ok(None);
        }
    };
    let name = cc
        .program
        .file_name()
        .map_or_else(|| "cc".into(), |n| n.to_string_lossy().into_owned());
    let link = min_time(config.repeat, || {
        cc.link(job)?;
        Ok(())
    });
    match link {
        Ok(link) => Ok(Some((
            name,
            LinkTiming {
                link,
                startup: time_startup(config, &cc.program),
            },
        ))),
        Err(e) => {
            println!("  {label:<26}: skipped, linking failed: {e:#}");
            Ok(None)
        }
    }
}

/// How long `program --version` takes: the process start a subprocess link pays on top.
fn time_startup(config: &Config, program: &Path) -> Option<Duration> {
    min_time(config.repeat, || {
        run_program(program, &["--version".to_string()])
    })
    .ok()
}

fn run_program(program: &Path, args: &[String]) -> Result<()> {
    let out = Command::new(program).args(args).output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Load: Image::open vs bare dlopen, each on fresh copies of the sealed image.
// ---------------------------------------------------------------------------------------------

fn bench_load(config: &Config, archive: &Path, dir: &Path, table: &mut Table) -> Result<()> {
    println!("\n[load] sealed image (embedded LLD), {LOAD_COPIES} fresh copies per repeat");
    let platform = Platform::for_triple(&Triple::host());
    let image = dir.join("image.so");
    link::link_image(&Lld, archive, &image, &platform)?;
    let size = std::fs::metadata(&image)?.len();
    println!("  image size            : {size} bytes");
    let target = check_image_loads(&image, config.functions)?;
    println!("  target chosen on load : {target}");

    let copies = dir.join("copies");
    let open = time_image_open(config, &image, &copies)?;
    let dlopen = time_dlopen(config, &image, &copies)?;
    let steps = time_open_steps(config, &image)?;

    let r = ratio(open, dlopen);
    let verify = steps.parse + steps.checksum;
    let share = 100.0 * ratio(verify, open);
    println!("  Image::open           : {:.3} ms per open", millis(open));
    println!(
        "  dlopen + dlsym        : {:.3} ms per open",
        millis(dlopen)
    );
    println!("  ratio Image::open / dlopen: {r:.2}");
    println!(
        "  in memory: parse {:.3} ms (of which Meta::decode {:.3} ms) + checksum {:.3} ms \
         = {:.3} ms ({share:.0}% of Image::open)",
        millis(steps.parse),
        millis(steps.meta_decode),
        millis(steps.checksum),
        millis(verify)
    );
    println!(
        "  reading the file (page cache): {:.3} ms per read",
        millis(steps.read)
    );
    table.row("load (per open)", "Image::open", open, format!("{r:.2}"));
    table.row("load (per open)", "dlopen + dlsym", dlopen, "1.00".into());
    table.row(
        "load (per open)",
        &format!("of which parse + checksum ({share:.0}% of Image::open)"),
        verify,
        format!("{:.2}", ratio(verify, dlopen)),
    );
    table.image_size = Some(size);
    Ok(())
}

/// Mean `aotload::Image::open` time (verify, dlopen, merge tables); the close is not timed.
fn time_image_open(config: &Config, image: &Path, copies: &Path) -> Result<Duration> {
    min_reported(config.repeat, || {
        per_open_on_copies(image, copies, |path| {
            let start = Instant::now();
            let loaded = Image::open(path, &Default::default())?;
            let elapsed = start.elapsed();
            drop(loaded);
            Ok(elapsed)
        })
    })
}

/// Mean bare dlopen + lookup of the root symbol; the close is not timed.
fn time_dlopen(config: &Config, image: &Path, copies: &Path) -> Result<Duration> {
    min_reported(config.repeat, || {
        per_open_on_copies(image, copies, |path| {
            let start = Instant::now();
            // SAFETY: our own image; its initializers are its own code.
            let library = unsafe { libloading::Library::new(path)? };
            let root = *unsafe { library.get::<*const u8>(ROOT_SYMBOL.as_bytes())? };
            let elapsed = start.elapsed();
            std::hint::black_box(root);
            drop(library);
            Ok(elapsed)
        })
    })
}

/// The image opens and has every function (the generated ones plus the dispatcher); returns
/// the CPU target the loader chose for this machine.
fn check_image_loads(image: &Path, functions: usize) -> Result<String> {
    let loaded = Image::open(image, &Default::default())?;
    let expected = functions + 1;
    if loaded.fvars().len() != expected {
        bail!(
            "the image has {} functions, expected {expected}",
            loaded.fvars().len()
        );
    }
    Ok(loaded.target_name().to_string())
}

/// Copies `image` to `LOAD_COPIES` new paths, runs `open` once on each, and returns the mean
/// of the durations it reports. The copies are deleted afterwards so each repeat gets new ones.
fn per_open_on_copies(
    image: &Path,
    dir: &Path,
    mut open: impl FnMut(&Path) -> Result<Duration>,
) -> Result<Duration> {
    std::fs::create_dir_all(dir)?;
    let paths = (0..LOAD_COPIES)
        .map(|k| {
            let path = dir.join(format!("image-{}-{k}.so", fresh_id()));
            std::fs::copy(image, &path)?;
            Ok(path)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut total = Duration::ZERO;
    for path in &paths {
        total += open(path)?;
    }
    for path in &paths {
        std::fs::remove_file(path)?;
    }
    Ok(total / LOAD_COPIES as u32)
}

/// A number never handed out before in this process, so no copy path is ever reused.
fn fresh_id() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Mean times of the steps `Image::open` runs before dlopen, each on its own.
struct OpenSteps {
    /// `std::fs::read` of the file (from the page cache, as for the fresh copies).
    read: Duration,
    /// `ImageFile::parse` on the bytes in memory...
    parse: Duration,
    /// ...of which decoding the metadata (every method's name, signature, edges).
    meta_decode: Duration,
    /// `verify_checksum` on the bytes in memory.
    checksum: Duration,
}

fn time_open_steps(config: &Config, image: &Path) -> Result<OpenSteps> {
    let read = min_mean(config.repeat, || {
        std::hint::black_box(std::fs::read(image)?);
        Ok(())
    })?;
    let bytes = std::fs::read(image)?;
    let parse = min_mean(config.repeat, || {
        std::hint::black_box(ImageFile::parse(&bytes)?);
        Ok(())
    })?;
    let file = ImageFile::parse(&bytes)?;
    let encoded_meta = file.meta.encode();
    let meta_decode = min_mean(config.repeat, || {
        std::hint::black_box(Meta::decode(&encoded_meta)?);
        Ok(())
    })?;
    let checksum = min_mean(config.repeat, || Ok(file.verify_checksum(&bytes)?))?;
    Ok(OpenSteps {
        read,
        parse,
        meta_decode,
        checksum,
    })
}

// ---------------------------------------------------------------------------------------------
// The example (examples/kernels) and timed builds of any IR, for any target.
// ---------------------------------------------------------------------------------------------

const EXAMPLE_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kernels/kernels.c");
const EXAMPLE_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kernels/data.txt");
const CLANG: &str = "clang-14";
/// The example's flags (examples/kernels/README.md): vectorizing is left to each CPU target.
const EXAMPLE_FLAGS: &[&str] = &[
    "-O2",
    "-fno-vectorize",
    "-fno-slp-vectorize",
    "-ffp-contract=off",
    "-emit-llvm",
    "-S",
];
/// Emission threads of the multiversion, size and cross sections.
const DUMP_THREADS: usize = 2;
/// Links of the cross section are short: at least this many repeats.
const CROSS_LINK_REPEAT: usize = 5;

/// A target platform, as aotlink, clang and the generated IR spell it.
struct PlatformTarget {
    aotlink: &'static str,
    clang: &'static str,
    llvm: &'static str,
    datalayout: &'static str,
}

/// Every platform aotlink builds images for; the host (x86_64 Linux) first.
const PLATFORM_TARGETS: &[PlatformTarget] = &[
    PlatformTarget {
        aotlink: "x86_64-unknown-linux-gnu",
        clang: "x86_64-linux-gnu",
        llvm: "x86_64-unknown-linux-gnu",
        datalayout: DATALAYOUT,
    },
    PlatformTarget {
        aotlink: "aarch64-unknown-linux-gnu",
        clang: "aarch64-linux-gnu",
        llvm: "aarch64-unknown-linux-gnu",
        datalayout: "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128",
    },
    PlatformTarget {
        aotlink: "x86_64-apple-macosx11.0",
        clang: "x86_64-apple-macos11",
        llvm: "x86_64-apple-macosx11.0.0",
        datalayout: "e-m:o-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128",
    },
    PlatformTarget {
        aotlink: "arm64-apple-macosx11.0",
        clang: "arm64-apple-macos11",
        llvm: "arm64-apple-macosx11.0.0",
        datalayout: "e-m:o-i64:64-i128:128-n32:64-S128",
    },
    PlatformTarget {
        aotlink: "x86_64-pc-windows-gnu",
        clang: "x86_64-w64-mingw32",
        llvm: "x86_64-w64-windows-gnu",
        datalayout: "e-m:w-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128",
    },
];

impl PlatformTarget {
    fn triple(&self) -> Triple {
        Triple::parse(self.aotlink).expect("the benchmark's triples are supported")
    }

    fn is_host(&self) -> bool {
        self.triple() == Triple::host()
    }

    fn platform(&self) -> Platform {
        Platform::for_triple(&self.triple())
    }
}

fn host_target() -> Result<&'static PlatformTarget> {
    PLATFORM_TARGETS
        .iter()
        .find(|t| t.is_host())
        .context("this host is none of the benchmark's target platforms")
}

/// Compiles examples/kernels/kernels.c to textual IR for `target` (it needs no SDK).
fn compile_example(target: &PlatformTarget, out: &Path) -> Result<()> {
    let clang = which::which(CLANG).with_context(|| {
        format!("{CLANG} is not on PATH (it compiles examples/kernels/kernels.c)")
    })?;
    let output = Command::new(clang)
        .arg(format!("--target={}", target.clang))
        .args(EXAMPLE_FLAGS)
        .arg(EXAMPLE_C)
        .arg("-o")
        .arg(out)
        .output()?;
    if !output.status.success() {
        bail!(
            "{CLANG} --target={}: {}",
            target.clang,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// What to build: an IR file, what to export from it and the image data.
struct Source {
    ir: PathBuf,
    exports: Vec<String>,
    export_all: bool,
    image_data: Vec<u8>,
}

impl Source {
    /// The example as `aotlink build --export-all --image-data data.txt` builds it.
    fn example(ir: PathBuf) -> Result<Source> {
        Ok(Source {
            ir,
            exports: Vec::new(),
            export_all: true,
            image_data: std::fs::read(EXAMPLE_DATA)
                .with_context(|| format!("cannot read {EXAMPLE_DATA}"))?,
        })
    }

    /// The generated module, with the exports the emission section uses.
    fn module(config: &Config, ir: PathBuf) -> Source {
        Source {
            ir,
            exports: export_names(config.functions),
            export_all: false,
            image_data: Vec::new(),
        }
    }
}

/// One codegen + dump of a [`Source`].
struct Build {
    codegen: Duration,
    dump: Duration,
    shards: usize,
    threads: usize,
    /// The archive's CPU targets, each with how many functions have their own version for it.
    targets: Vec<(String, u32)>,
}

impl Build {
    /// `generic; sandybridge (43 clones); ...`
    fn describe_targets(&self) -> String {
        let names: Vec<String> = self
            .targets
            .iter()
            .enumerate()
            .map(|(k, (name, clones))| match k {
                0 => name.clone(),
                _ => format!("{name} ({clones} clones)"),
            })
            .collect();
        names.join("; ")
    }

    fn target_names(&self) -> String {
        let names: Vec<&str> = self.targets.iter().map(|(n, _)| n.as_str()).collect();
        names.join("; ")
    }
}

/// Codegen + dump (timed apart, dump on [`DUMP_THREADS`] threads) of `source` with
/// `cpu_targets` (`None`: the default for its architecture); writes `archive` (untimed).
fn build(source: &Source, cpu_targets: Option<&str>, archive: &Path) -> Result<Build> {
    let context = inkwell::context::Context::create();
    let options = CodegenOptions {
        inputs: vec![source.ir.clone()],
        exports: source.exports.clone(),
        export_all: source.export_all,
        ..Default::default()
    };
    let start = Instant::now();
    let program = codegen(&context, &options)?;
    let codegen_time = start.elapsed();
    let dump_options = DumpOptions {
        threads: Some(DUMP_THREADS),
        image_data: source.image_data.clone(),
        cpu_targets: cpu_targets.map(CpuTarget::parse_list).transpose()?,
        ..Default::default()
    };
    let start = Instant::now();
    let dumped = dump::dump(&program, &dump_options, &|_, _| {})?;
    let dump_time = start.elapsed();
    dump::write_archives(&dumped, archive)?;
    let targets = link::read_archive(archive)?
        .meta
        .targets
        .into_iter()
        .map(|t| (t.name, t.nclones))
        .collect();
    Ok(Build {
        codegen: codegen_time,
        dump: dump_time,
        shards: dumped.plans.len(),
        threads: dumped.threads,
        targets,
    })
}

/// The image file name for `stem` on `platform` (`kernels.so`, `kernels.dylib`, ...).
fn image_name(stem: &str, platform: &Platform) -> String {
    format!("{stem}{}", platform.image_suffix)
}

// ---------------------------------------------------------------------------------------------
// Multiversioning: the example's kernels on every CPU target of one image.
// ---------------------------------------------------------------------------------------------

/// About how long one measurement of one kernel on one target runs.
const KERNEL_MEASUREMENT: Duration = Duration::from_millis(50);

/// Calls one kernel through its C signature with fixed arguments; returns the result's bits.
///
/// Safety: the pointer must be that kernel's code, in an image that is still open.
type KernelCall = unsafe fn(*const c_void) -> u64;

struct Kernel {
    name: &'static str,
    /// The work, for the report (`n=1024`).
    work: &'static str,
    /// A control that wider vectors should not speed up (a libm call per iteration, or a
    /// serial chain); reported, but left out of the geometric mean.
    control: bool,
    call: KernelCall,
}

/// A result as bits, to compare results exactly.
trait ResultBits {
    fn bits(self) -> u64;
}

impl ResultBits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl ResultBits for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl ResultBits for u64 {
    fn bits(self) -> u64 {
        self
    }
}

/// A [`Kernel`] that calls the example's `$name` as `extern "C" fn($ty, ...) -> $ret` (its C
/// signature, kernels.c) with the arguments `$arg, ...`.
macro_rules! kernel {
    ($name:literal, $work:literal, $control:expr,
     fn($($ty:ty),*) -> $ret:ty, ($($arg:expr),*)) => {
        Kernel {
            name: $name,
            work: $work,
            control: $control,
            call: |code: *const c_void| -> u64 {
                type Signature = unsafe extern "C" fn($($ty),*) -> $ret;
                // SAFETY: the caller passes the code of `$name`, which has this C signature.
                let f = unsafe { std::mem::transmute::<*const c_void, Signature>(code) };
                // SAFETY: as above; the kernels are total for any arguments.
                unsafe { f($(black_box($arg)),*) }.bits()
            },
        }
    };
}

/// The example's loop kernels, with arguments that make each do its maximum work
/// (n = NMAX = 1024 elements, 4096 bytes for `bytes_memops`, 512 for `crc32_bytes`).
fn kernels() -> Vec<Kernel> {
    vec![
        kernel!(
            "dot_product",
            "n=1024",
            false,
            fn(i64, f64, f64, f64, f64) -> f64,
            (1024, 0.5, 1e-3, 1.0, -2e-3)
        ),
        kernel!(
            "saxpy_checksum",
            "n=1024",
            false,
            fn(i64, f64, i64) -> f64,
            (1024, 1.5, 12345)
        ),
        kernel!(
            "sum_squares",
            "n=1024",
            false,
            fn(i64, f64, f64) -> f64,
            (1024, 0.5, 1e-3)
        ),
        kernel!(
            "scaled_mean",
            "n=1024",
            false,
            fn(i64, f64, f64) -> f64,
            (1024, 0.5, 1e-3)
        ),
        kernel!(
            "horner_poly",
            "n=1024",
            false,
            fn(i64, f64, f64, f64, f64, f64, f64, f64) -> f64,
            (1024, 1.0, -0.5, 0.25, -0.125, 0.0625, -1.0, 2.0 / 1024.0)
        ),
        kernel!(
            "stencil_blur",
            "n=1024, 4 passes",
            false,
            fn(i64, i64, f64, f64) -> f64,
            (1024, 4, 0.5, 1e-3)
        ),
        kernel!(
            "matmul16_checksum",
            "16x16",
            false,
            fn(i64, f64) -> f64,
            (12345, 0.75)
        ),
        kernel!(
            "i32_sum",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "i32_minmax",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "i32_abs_diff_sum",
            "n=1024",
            false,
            fn(i64, i64, i64) -> i64,
            (1024, 12345, 67890)
        ),
        kernel!(
            "popcount_sum",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "prefix_sum_checksum",
            "n=1024",
            false,
            fn(i64, i64) -> i64,
            (1024, 12345)
        ),
        kernel!(
            "histogram_checksum",
            "n=1024, 64 bins",
            false,
            fn(i64, i64, i64) -> i64,
            (1024, 12345, 63)
        ),
        kernel!(
            "bytes_memops",
            "n=4096 bytes",
            false,
            fn(i64, i64, i64) -> i64,
            (4096, 0x5a, 12345)
        ),
        kernel!(
            "crc32_bytes",
            "n=512 bytes",
            false,
            fn(i64, i64) -> u64,
            (512, 12345)
        ),
        kernel!(
            "exp_sum",
            "n=256 exp calls",
            true,
            fn(i64, f64, f64) -> f64,
            (256, -1.0, 1.0 / 256.0)
        ),
        kernel!(
            "collatz_steps",
            "524 steps",
            true,
            fn(i64) -> i64,
            (837_798)
        ),
    ]
}

/// One open image with one CPU target (its own file: opening the same path twice would share
/// one mapping, and with it the dispatch slots).
struct Version {
    target: String,
    chosen: bool,
    image: Image,
}

/// One kernel's figures: per target (in image order) the time per call and the result.
struct KernelRun {
    /// Nanoseconds per call.
    per_call: Vec<f64>,
    results: Vec<u64>,
}

impl KernelRun {
    fn identical(&self) -> bool {
        self.results.windows(2).all(|w| w[0] == w[1])
    }
}

fn bench_multiversion(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    println!(
        "\n[multiversion] examples/kernels: one image with the default CPU targets, each kernel \
         on every target this host can run (min of {} x ~{} ms per kernel and target)",
        config.repeat,
        KERNEL_MEASUREMENT.as_millis()
    );
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let dir = dir.join("multiversion");
    std::fs::create_dir_all(&dir)?;
    let host = host_target()?;
    let platform = host.platform();
    let ir = dir.join("kernels.ll");
    compile_example(host, &ir)?;
    let archive = dir.join("kernels.a");
    let built = build(&Source::example(ir)?, None, &archive)?;
    let image = dir.join(image_name("kernels", &platform));
    link::link_image(&Lld, &archive, &image, &platform)?;
    println!(
        "  image: {} bytes; CPU targets: {}",
        std::fs::metadata(&image)?.len(),
        built.describe_targets()
    );
    let versions = open_versions(&image, &built)?;
    let chosen = versions
        .iter()
        .position(|v| v.chosen)
        .expect("open_versions keeps the chosen one");
    let generic = versions
        .iter()
        .position(|v| v.target == "generic")
        .context("the image has no generic target")?;
    println!("  target chosen on load: {}", versions[chosen].target);

    let kernels = kernels();
    let names: Vec<&str> = versions.iter().map(|v| v.target.as_str()).collect();
    let header: String = names.iter().map(|n| format!("{n:>12}")).collect();
    println!(
        "  {:<20} {:<17}{header}   speedup {}/generic (ns per call)",
        "kernel", "work", versions[chosen].target
    );
    let mut runs = Vec::new();
    for kernel in &kernels {
        let run = time_kernel(config, kernel, &versions)?;
        let times: String = run.per_call.iter().map(|t| format!("{t:>12.1}")).collect();
        let speedup = run.per_call[generic] / run.per_call[chosen];
        println!(
            "  {:<20} {:<17}{times}   {speedup:>5.2}x{}{}",
            kernel.name,
            kernel.work,
            if kernel.control { " (control)" } else { "" },
            if run.identical() {
                ""
            } else {
                "  RESULTS DIFFER"
            }
        );
        runs.push(run);
    }
    let measured: Vec<usize> = (0..kernels.len())
        .filter(|&k| !kernels[k].control)
        .collect();
    let geomeans: Vec<f64> = (0..versions.len())
        .map(|t| {
            geometric_mean(
                measured
                    .iter()
                    .map(|&k| runs[k].per_call[generic] / runs[k].per_call[t]),
            )
        })
        .collect();
    let per_target: Vec<String> = names
        .iter()
        .zip(&geomeans)
        .map(|(n, g)| format!("{n} {g:.2}x"))
        .collect();
    println!(
        "  geometric mean speedup over generic, {} kernels (controls left out): {}",
        measured.len(),
        per_target.join(", ")
    );
    let differing: Vec<&str> = kernels
        .iter()
        .zip(&runs)
        .filter(|(_, r)| !r.identical())
        .map(|(k, _)| k.name)
        .collect();
    let identical = if differing.is_empty() {
        format!(
            "bit-identical on every target for all {} kernels",
            kernels.len()
        )
    } else {
        format!("DIFFER between targets for {}", differing.join(", "))
    };
    println!("  results: {identical}");
    let others = print_other_cpu_use(cpu_start, start.elapsed());
    let report = MultiversionReport {
        built,
        versions,
        chosen,
        generic,
        kernels,
        runs,
        geomeans,
        identical,
        others,
    };
    table.sections.push(report.markdown(config));
    Ok(())
}

/// Everything the multiversion section measured, for its Markdown table.
struct MultiversionReport {
    built: Build,
    versions: Vec<Version>,
    /// Indices into `versions`.
    chosen: usize,
    generic: usize,
    kernels: Vec<Kernel>,
    runs: Vec<KernelRun>,
    /// Per version, the geometric mean speedup over generic of the non-control kernels.
    geomeans: Vec<f64>,
    /// Whether the results were bit-identical on every target, in words.
    identical: String,
    /// Other processes' share of the machine during the section, in percent.
    others: Option<f64>,
}

/// The loader's choice, then every other target of the image the host can run, each forced on
/// its own copy of the file.
fn open_versions(image: &Path, built: &Build) -> Result<Vec<Version>> {
    let chosen = Image::open(image, &LoadOptions::default())?;
    let chosen_name = chosen.target_name().to_string();
    let mut chosen = Some(chosen);
    let mut versions = Vec::new();
    for (k, (name, _)) in built.targets.iter().enumerate() {
        if *name == chosen_name {
            versions.push(Version {
                target: name.clone(),
                chosen: true,
                image: chosen.take().expect("one target has the chosen name"),
            });
            continue;
        }
        let copy = image.with_file_name(format!("kernels-target{k}.so"));
        std::fs::copy(image, &copy)?;
        let options = LoadOptions {
            target: Some(name.clone()),
            ..Default::default()
        };
        match Image::open(&copy, &options) {
            Ok(opened) => {
                if opened.target_name() != name {
                    bail!("forcing {name} gave {}", opened.target_name());
                }
                versions.push(Version {
                    target: name.clone(),
                    chosen: false,
                    image: opened,
                });
            }
            Err(e) if name != "generic" => {
                println!("  {name}: not measured, this host cannot run it ({e})")
            }
            Err(e) => return Err(e).context("forcing the generic target"),
        }
    }
    Ok(versions)
}

/// Times `kernel` on every version, the versions taking turns within each repeat so a change
/// in the machine's load hits them alike.
fn time_kernel(config: &Config, kernel: &Kernel, versions: &[Version]) -> Result<KernelRun> {
    let code: Vec<*const c_void> = versions
        .iter()
        .map(|v| {
            v.image
                .lookup(kernel.name)
                .with_context(|| format!("{} is not in the image", kernel.name))
        })
        .collect::<Result<_>>()?;
    // SAFETY: each pointer is the kernel's code in an image that `versions` keeps open.
    let results = code.iter().map(|&f| unsafe { (kernel.call)(f) }).collect();
    let calls: Vec<u32> = code
        .iter()
        .map(|&f| calls_per_measurement(kernel, f))
        .collect();
    let mut best = vec![f64::INFINITY; code.len()];
    for _ in 0..config.repeat {
        for (t, &f) in code.iter().enumerate() {
            let per_call = nanos(time_calls(kernel, f, calls[t])) / f64::from(calls[t]);
            best[t] = best[t].min(per_call);
        }
    }
    Ok(KernelRun {
        per_call: best,
        results,
    })
}

/// How many calls of `kernel` at `code` take about [`KERNEL_MEASUREMENT`].
fn calls_per_measurement(kernel: &Kernel, code: *const c_void) -> u32 {
    let mut calls = 1u32;
    loop {
        let elapsed = time_calls(kernel, code, calls);
        if elapsed >= KERNEL_MEASUREMENT / 10 || calls >= 1 << 24 {
            let per_call = secs(elapsed) / f64::from(calls);
            let wanted = secs(KERNEL_MEASUREMENT) / per_call.max(1e-9);
            return wanted.clamp(1.0, f64::from(u32::MAX)) as u32;
        }
        calls *= 2;
    }
}

fn time_calls(kernel: &Kernel, code: *const c_void, calls: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..calls {
        // SAFETY: see `time_kernel`.
        black_box(unsafe { (kernel.call)(black_box(code)) });
    }
    start.elapsed()
}

fn geometric_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (sum / count.max(1) as f64).exp()
}

impl MultiversionReport {
    fn markdown(&self, config: &Config) -> String {
        let MultiversionReport {
            built,
            versions,
            chosen,
            generic,
            kernels,
            runs,
            geomeans,
            identical,
            others,
        } = self;
        let (chosen, generic) = (*chosen, *generic);
        let mut md = String::new();
        let _ = writeln!(md, "Multiversioning (examples/kernels, one image):\n");
        let columns: String = versions
            .iter()
            .map(|v| {
                let mark = if v.chosen { " (chosen)" } else { "" };
                format!(" {}{mark} ns |", v.target)
            })
            .collect();
        let chosen_name = &versions[chosen].target;
        let _ = writeln!(
            md,
            "| Kernel | Work |{columns} Speedup {chosen_name} / generic |"
        );
        let aligns = "---:|".repeat(versions.len());
        let _ = writeln!(md, "|---|---|{aligns}---:|");
        for (kernel, run) in kernels.iter().zip(runs) {
            let times: String = run.per_call.iter().map(|t| format!(" {t:.1} |")).collect();
            let control = if kernel.control { " (control)" } else { "" };
            let _ = writeln!(
                md,
                "| {}{control} | {} |{times} {:.2}x |",
                kernel.name,
                kernel.work,
                run.per_call[generic] / run.per_call[chosen]
            );
        }
        let means: String = geomeans.iter().map(|g| format!(" {g:.2}x |")).collect();
        let measured = kernels.iter().filter(|k| !k.control).count();
        let _ = writeln!(
            md,
            "| **geometric mean, speedup over generic** ({measured} kernels) | |{means} \
             **{:.2}x** |",
            geomeans[chosen]
        );
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "Time per call, min of {} measurements of ~{} ms each; CPU targets: {}. \
             Results {identical}.",
            config.repeat,
            KERNEL_MEASUREMENT.as_millis(),
            built.describe_targets()
        );
        if let Some(share) = others {
            let _ = writeln!(
                md,
                "Other processes' CPU use during this section: {share:.0}%."
            );
        }
        md
    }
}

fn nanos(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

// ---------------------------------------------------------------------------------------------
// Size: 1 CPU target vs the default 4, for the example and the generated module.
// ---------------------------------------------------------------------------------------------

/// The fastest of `repeat` builds with one set of CPU targets, and its linked image.
struct SizeRun {
    build: Build,
    archive_size: u64,
    image_size: u64,
}

fn bench_size(config: &Config, module_ir: &Path, dir: &Path, table: &mut Table) -> Result<()> {
    println!(
        "\n[size] 1 CPU target (generic) vs the default ones: dump on {DUMP_THREADS} threads \
         (min of {}), image linked by the embedded LLD",
        config.repeat
    );
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let dir = dir.join("size");
    std::fs::create_dir_all(&dir)?;
    let host = host_target()?;
    let example_ir = dir.join("kernels.ll");
    compile_example(host, &example_ir)?;
    let sources = [
        ("example".to_string(), Source::example(example_ir)?),
        (
            format!("module ({} functions)", config.functions),
            Source::module(config, module_ir.to_path_buf()),
        ),
    ];
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Image size and dump time, 1 CPU target vs the default:\n"
    );
    let _ = writeln!(
        md,
        "| Input | CPU targets | Dump ({DUMP_THREADS} threads) | Ratio | Image size | Ratio |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for (k, (label, source)) in sources.iter().enumerate() {
        let one = size_run(config, source, Some("generic"), &dir, &format!("s{k}-one"))?;
        let all = size_run(config, source, None, &dir, &format!("s{k}-default"))?;
        let dump_ratio = ratio(all.build.dump, one.build.dump);
        let size_ratio = all.image_size as f64 / one.image_size.max(1) as f64;
        println!("  {label}:");
        for (name, run) in [("1 target ", &one), ("default  ", &all)] {
            println!(
                "    {name}: dump {} ({} shards on {} thread(s); codegen {}), archive {} bytes, \
                 image {} bytes; targets: {}",
                human(run.build.dump),
                run.build.shards,
                run.build.threads,
                human(run.build.codegen),
                run.archive_size,
                run.image_size,
                run.build.describe_targets()
            );
        }
        println!(
            "    default / 1 target: dump {dump_ratio:.2}x, image size {size_ratio:.2}x, \
             archive size {:.2}x",
            all.archive_size as f64 / one.archive_size.max(1) as f64
        );
        let _ = writeln!(
            md,
            "| {label} | {} | {} | 1.00 | {} | 1.00 |",
            one.build.target_names(),
            human(one.build.dump),
            one.image_size
        );
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {dump_ratio:.2} | {} | {size_ratio:.2} |",
            all.build.describe_targets(),
            human(all.build.dump),
            all.image_size
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "Dump time: min of {}; ratio = default / 1 target. Image sizes in bytes.",
        config.repeat
    );
    if let Some(share) = print_other_cpu_use(cpu_start, start.elapsed()) {
        let _ = writeln!(
            md,
            "Other processes' CPU use during this section: {share:.0}%."
        );
    }
    table.sections.push(md);
    Ok(())
}

fn size_run(
    config: &Config,
    source: &Source,
    cpu_targets: Option<&str>,
    dir: &Path,
    stem: &str,
) -> Result<SizeRun> {
    let archive = dir.join(format!("{stem}.a"));
    let mut best: Option<Build> = None;
    for _ in 0..config.repeat {
        let run = build(source, cpu_targets, &archive)?;
        if best.as_ref().is_none_or(|b| run.dump < b.dump) {
            best = Some(run);
        }
    }
    let platform = host_target()?.platform();
    let image = dir.join(image_name(stem, &platform));
    link::link_image(&Lld, &archive, &image, &platform)?;
    Ok(SizeRun {
        build: best.expect("repeat >= 1"),
        archive_size: std::fs::metadata(&archive)?.len(),
        image_size: std::fs::metadata(&image)?.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// Cross: link time and image size for every target platform, embedded LLD.
// ---------------------------------------------------------------------------------------------

/// One input linked for one platform.
struct CrossLink {
    /// The archive's CPU targets.
    targets: String,
    /// The one (untimed-for-ranking) dump that made the archive.
    dump: Duration,
    /// `Lld.link` alone: the unsealed shared library.
    lld: Duration,
    /// `link_image`: archive check, LLD, seal, rename.
    link_image: Duration,
    /// The parts of `link_image` besides LLD: reading and checking the archive...
    check: Duration,
    /// ...and sealing the linked file (checksum; a Mach-O signature's page hash).
    seal: Duration,
    image_size: u64,
}

fn bench_cross(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    let repeat = config.repeat.max(CROSS_LINK_REPEAT);
    let host = host_target()?;
    println!(
        "\n[cross] link with the embedded LLD for every target platform (min of {repeat}); \
         example: the default CPU targets; module ({} functions): the default on the host \
         ({}), `generic` only on the others to keep the run short",
        config.functions, host.aotlink
    );
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let mut example = Vec::new();
    let mut module = Vec::new();
    for target in PLATFORM_TARGETS {
        let dir = dir.join("cross").join(target.clang);
        std::fs::create_dir_all(&dir)?;
        println!("  {}:", target.aotlink);
        let result = (|| {
            let ir = dir.join("kernels.ll");
            compile_example(target, &ir)?;
            cross_link(repeat, target, &Source::example(ir)?, None, &dir, "kernels")
        })();
        print_cross("example", &result);
        example.push(result);
        let result = (|| {
            let ir = dir.join("module.ll");
            let text = generate_ir_for(config.functions, target.llvm, target.datalayout);
            std::fs::write(&ir, text)?;
            let cpu_targets = if target.is_host() {
                None
            } else {
                Some("generic")
            };
            let source = Source::module(config, ir);
            cross_link(repeat, target, &source, cpu_targets, &dir, "module")
        })();
        print_cross("module ", &result);
        module.push(result);
    }
    let others = print_other_cpu_use(cpu_start, start.elapsed());
    let mut md = String::new();
    for (title, results) in [
        (
            "Link per target platform, the example (default CPU targets)",
            &example,
        ),
        (
            &*format!(
                "Link per target platform, the {}-function module (default CPU targets on the \
                 host, `generic` only elsewhere)",
                config.functions
            ),
            &module,
        ),
    ] {
        let _ = writeln!(md, "{title}:\n");
        cross_markdown(&mut md, results);
    }
    let _ = writeln!(
        md,
        "Embedded LLD, min of {repeat}; `Lld.link` writes the bare shared library, `link_image` \
         adds the archive check (`read_archive` + `check_platform`), the seal (checksum, and a \
         Mach-O signature's page hash) and the rename, each of these timed alone too; ratio = \
         link_image time / the host's ({}). Dump: one run on {DUMP_THREADS} threads.",
        host.aotlink
    );
    if let Some(share) = others {
        let _ = writeln!(
            md,
            "Other processes' CPU use during this section: {share:.0}%."
        );
    }
    table.sections.push(md);
    Ok(())
}

/// Builds `source` for `target` (one dump) and times linking its archive.
fn cross_link(
    repeat: usize,
    target: &PlatformTarget,
    source: &Source,
    cpu_targets: Option<&str>,
    dir: &Path,
    stem: &str,
) -> Result<CrossLink> {
    let archive = dir.join(format!("{stem}.a"));
    let built = build(source, cpu_targets, &archive)?;
    let platform = target.platform();
    let exports = link::read_archive(&archive)?
        .meta
        .exports
        .into_iter()
        .map(|e| e.name)
        .collect();
    let bare = image_name(&format!("{stem}-lld"), &platform);
    let job = LinkJob {
        archive: archive.clone(),
        output: dir.join(&bare),
        output_name: bare.clone(),
        import_library: platform
            .import_library_suffix
            .as_ref()
            .map(|suffix| dir.join(format!("{stem}-lld{suffix}"))),
        exports,
        platform: &platform,
    };
    let lld = min_time(repeat, || {
        Lld.link(&job)?;
        Ok(())
    })?;
    let image = dir.join(image_name(stem, &platform));
    let sealed = min_time(repeat, || {
        link::link_image(&Lld, &archive, &image, &platform)?;
        Ok(())
    })?;
    // Sealing is idempotent (the checksum field hashes as zeros), so the bare file takes it.
    let check = min_time(repeat, || {
        link::read_archive(&archive)?.check_platform(&platform)?;
        Ok(())
    })?;
    let seal = min_time(repeat, || {
        link::seal(&job.output).map_err(anyhow::Error::msg)?;
        Ok(())
    })?;
    let bytes = std::fs::read(&image)?;
    let file = ImageFile::parse(&bytes)?;
    file.verify_checksum(&bytes)?;
    let triple = target.triple();
    let expected = (triple.object_format(), triple.object_architecture());
    if (file.format, file.arch) != expected {
        bail!(
            "the image is {:?} {:?}, expected {:?} {:?}",
            file.format,
            file.arch,
            expected.0,
            expected.1
        );
    }
    Ok(CrossLink {
        targets: built.target_names(),
        dump: built.dump,
        lld,
        link_image: sealed,
        check,
        seal,
        image_size: bytes.len() as u64,
    })
}

fn print_cross(label: &str, result: &Result<CrossLink>) {
    match result {
        Ok(link) => println!(
            "    {label}: Lld.link {}, link_image {} (archive check {}, seal {}), image {} bytes \
             (dump {}; targets: {})",
            human(link.lld),
            human(link.link_image),
            human(link.check),
            human(link.seal),
            link.image_size,
            human(link.dump),
            link.targets
        ),
        Err(e) => println!("    {label}: FAILED: {e:#}"),
    }
}

fn cross_markdown(md: &mut String, results: &[Result<CrossLink>]) {
    let _ = writeln!(
        md,
        "| Target | CPU targets | Lld.link | link_image | of which archive check | of which seal \
         | Ratio | Image size | Dump |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let host = PLATFORM_TARGETS.iter().position(|t| t.is_host());
    let baseline = host
        .and_then(|h| results[h].as_ref().ok())
        .map(|l| l.link_image);
    for (target, result) in PLATFORM_TARGETS.iter().zip(results) {
        match result {
            Ok(link) => {
                let r = baseline.map_or("-".to_string(), |b| {
                    format!("{:.2}", ratio(link.link_image, b))
                });
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {r} | {} | {} |",
                    target.aotlink,
                    link.targets,
                    human(link.lld),
                    human(link.link_image),
                    human(link.check),
                    human(link.seal),
                    link.image_size,
                    human(link.dump)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    md,
                    "| {} | - | failed: {} | - | - | - | - | - | - |",
                    target.aotlink,
                    e.to_string().replace('|', "/")
                );
            }
        }
    }
    let _ = writeln!(md);
}

/// The CPU's name from `/proc/cpuinfo` (Linux), for the record.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------------------------------------
// Timing and reporting.
// ---------------------------------------------------------------------------------------------

/// The minimum over `repeat` runs of the wall time of `f`.
fn min_time(repeat: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    min_reported(repeat, || {
        let start = Instant::now();
        f()?;
        Ok(start.elapsed())
    })
}

/// The minimum over `repeat` runs of the duration `f` reports.
fn min_reported(repeat: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repeat {
        best = best.min(f()?);
    }
    Ok(best)
}

/// The minimum over `repeat` runs of the mean of `LOAD_COPIES` calls of `f`.
fn min_mean(repeat: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    min_reported(repeat, || mean_of(LOAD_COPIES, &mut f))
}

/// Mean wall time of `count` calls of `f`.
fn mean_of(count: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..count {
        f()?;
    }
    Ok(start.elapsed() / count as u32)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Milliseconds below 0.1 s, seconds above.
fn human(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{:.3} ms", millis(d))
    } else {
        format!("{:.3} s", secs(d))
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    secs(a) / secs(b).max(f64::MIN_POSITIVE)
}

/// Busy CPU time so far of the whole machine and of this process (with its waited-for
/// children), from `/proc` (Linux only). Both count in clock ticks, 100 per second on Linux.
#[derive(Clone, Copy)]
struct CpuSample {
    machine: Duration,
    process: Duration,
}

impl CpuSample {
    fn now() -> Option<CpuSample> {
        let ticks = |t: u64| Duration::from_millis(t * 10);
        Some(CpuSample {
            machine: ticks(machine_busy_ticks()?),
            process: ticks(process_ticks()?),
        })
    }
}

/// user + nice + system + irq + softirq + steal of the `cpu` line of `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some(
        [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| fields.get(i))
            .sum(),
    )
}

/// utime + stime + cutime + cstime (fields 14 to 17) of `/proc/self/stat`.
fn process_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it start with the 3rd (state).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

/// CPU time this process used between two samples.
fn process_cpu_since(start: Option<CpuSample>) -> Option<Duration> {
    Some(CpuSample::now()?.process.saturating_sub(start?.process))
}

/// How much CPU other processes took while the benchmark ran: on a shared machine the
/// figures, the 2-thread speedup above all, are only as good as this is small.
/// Returns their share of the machine, in percent.
fn print_other_cpu_use(start: Option<CpuSample>, wall: Duration) -> Option<f64> {
    let (start, end) = (start?, CpuSample::now()?);
    let machine = end.machine.saturating_sub(start.machine);
    let others = machine.saturating_sub(end.process.saturating_sub(start.process));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = 100.0 * secs(others) / (secs(wall) * cores as f64).max(f64::MIN_POSITIVE);
    let warning = if share > 5.0 {
        " - the machine was shared, figures are noisy"
    } else {
        ""
    };
    println!(
        "  other processes used {:.1} CPU-s of {:.1} available ({share:.0}%){warning}",
        secs(others),
        secs(wall) * cores as f64
    );
    Some(share)
}

/// The rows of the Markdown summary.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 4]>,
    emission_identical: Option<bool>,
    cpu_targets: Option<String>,
    image_size: Option<u64>,
    /// Share of the machine other processes used during the run.
    others_cpu_percent: Option<f64>,
    /// Markdown of the later sections (multiversion, size, cross), each complete.
    sections: Vec<String>,
}

impl Table {
    fn row(&mut self, stage: &str, what: &str, time: Duration, ratio: String) {
        self.rows
            .push([stage.into(), what.into(), human(time), ratio]);
    }

    fn skipped(&mut self, stage: &str, what: &str) {
        self.rows
            .push([stage.into(), what.into(), "skipped".into(), "-".into()]);
    }

    fn markdown(&self, config: &Config) -> String {
        let mut md = String::new();
        if !self.rows.is_empty() {
            self.write_pipeline_markdown(config, &mut md);
            let _ = writeln!(md);
        }
        for section in &self.sections {
            let _ = writeln!(md, "{section}");
        }
        if let Some(share) = self.others_cpu_percent {
            let _ = writeln!(md, "Other processes' CPU use during the run: {share:.0}%.");
        }
        md
    }

    /// The table of the emission, link and load sections, with its notes.
    fn write_pipeline_markdown(&self, config: &Config, md: &mut String) {
        let _ = writeln!(
            md,
            "| Stage | Variant | Time (min of {}) | Ratio |",
            config.repeat
        );
        let _ = writeln!(md, "|---|---|---:|---:|");
        for [stage, what, time, ratio] in &self.rows {
            let _ = writeln!(md, "| {stage} | {what} | {time} | {ratio} |");
        }
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "{} functions (+1 dispatcher); {} cores; emission ratio = t1/t2 (speedup); link ratio \
             = time / embedded LLD; load ratio = time / dlopen, mean of {LOAD_COPIES} fresh \
             copies per repeat.",
            config.functions,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        if let Some(same) = self.emission_identical {
            let _ = writeln!(
                md,
                "1- and 2-thread archives byte-identical: {}.",
                if same { "yes" } else { "NO" }
            );
        }
        if let Some(targets) = &self.cpu_targets {
            let _ = writeln!(md, "CPU targets: {targets}.");
        }
        if let Some(size) = self.image_size {
            let _ = writeln!(md, "Image size: {size} bytes.");
        }
    }
}
