//! Section `emission`: codegen + dump of the generated module on 1 and 2 threads, and whether
//! every run wrote the same archive. Also builds the archive the link and load sections use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use aotlink::link;
use aotlink::CacheLocation;

use crate::cpu::{process_cpu_since, CpuSample};
use crate::ir::export_names;
use crate::report::Table;
use crate::timing::{codegen_and_dump, ratio, secs};
use crate::Config;

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

/// One codegen + dump with `threads` through [`aotlink::Build`] (no cache), timed apart by its
/// report; writes the object archive to `archive` (not counted in either).
fn emit_once(config: &Config, ir: &Path, threads: usize, archive: &Path) -> Result<EmissionRun> {
    let mut build = aotlink::Build::new()
        .input(ir)
        .threads(threads)
        .cache(CacheLocation::Off);
    for name in export_names(config.functions) {
        build = build.export(name);
    }
    let cpu_start = CpuSample::now();
    let report = build.dump(archive)?;
    let (codegen, dump) = codegen_and_dump(&report);
    // CPU of the whole call, codegen's single thread included: a slight undercount of how
    // busy dump alone kept the cores.
    let dump_cpu = process_cpu_since(cpu_start).map(|c| c.saturating_sub(codegen));
    let bytes = std::fs::read(archive)?;
    Ok(EmissionRun {
        codegen,
        dump,
        dump_cpu,
        shards: report.shards.len(),
        threads: report.threads,
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
pub fn bench_emission(
    config: &Config,
    ir: &Path,
    dir: &Path,
    table: &mut Table,
) -> Result<PathBuf> {
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
pub fn untimed_archive(config: &Config, ir: &Path, dir: &Path) -> Result<PathBuf> {
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
