//! Section `size`: 1 CPU target (generic) vs the default ones, for the example and the
//! generated module: dump time, archive and image size.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use aotlink::link::{self, Lld};

use crate::cpu::{print_other_cpu_use, CpuSample};
use crate::platforms::{host_target, image_name, TargetFacts as _};
use crate::report::Table;
use crate::source::{build, compile_example, Build, Source, DUMP_THREADS};
use crate::timing::{human, ratio};
use crate::Config;

/// The fastest of `repeat` builds with one set of CPU targets, and its linked image.
struct SizeRun {
    build: Build,
    archive_size: u64,
    image_size: u64,
}

pub fn bench_size(config: &Config, module_ir: &Path, dir: &Path, table: &mut Table) -> Result<()> {
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
    link::link_image(&Lld::new(), &archive, &image, &platform)?;
    Ok(SizeRun {
        build: best.expect("repeat >= 1"),
        archive_size: std::fs::metadata(&archive)?.len(),
        image_size: std::fs::metadata(&image)?.len(),
    })
}
