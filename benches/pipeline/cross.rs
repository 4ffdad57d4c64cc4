//! Section `cross`: link time (embedded LLD) and image size of the example and the module for
//! every target platform.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aotlink::link::{self, LinkJob, Linker, Lld};
use aotload::ImageFile;

use crate::cpu::{print_other_cpu_use, CpuSample};
use crate::ir::generate_ir_for;
use aotlink::target::{SupportedTarget, SUPPORTED_TARGETS};

use crate::platforms::{host_target, image_name, TargetFacts as _};
use crate::report::Table;
use crate::source::{build, compile_example, Source, DUMP_THREADS};
use crate::timing::{human, min_time, ratio};
use crate::Config;

/// Links of the cross section are short: at least this many repeats.
const CROSS_LINK_REPEAT: usize = 5;

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

pub fn bench_cross(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    let repeat = config.repeat.max(CROSS_LINK_REPEAT);
    let host = host_target()?;
    println!(
        "\n[cross] link with the embedded LLD for every target platform (min of {repeat}); \
         example: the default CPU targets; module ({} functions): the default on the host \
         ({}), `generic` only on the others to keep the run short",
        config.functions, host.triple
    );
    let (start, cpu_start) = (Instant::now(), CpuSample::now());
    let mut example = Vec::new();
    let mut module = Vec::new();
    for target in SUPPORTED_TARGETS {
        let dir = dir.join("cross").join(target.clang);
        std::fs::create_dir_all(&dir)?;
        println!("  {}:", target.triple);
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
        host.triple
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
    target: &SupportedTarget,
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
        data_exports: Vec::new(),
        interposable: Vec::new(),
        libraries: Default::default(),
        platform: &platform,
        verbose: false,
    };
    let lld = min_time(repeat, || {
        Lld::new().link(&job)?;
        Ok(())
    })?;
    let image = dir.join(image_name(stem, &platform));
    let sealed = min_time(repeat, || {
        link::link_image(&Lld::new(), &archive, &image, &platform)?;
        Ok(())
    })?;
    // Sealing is idempotent (the checksum field hashes as zeros), so the bare file takes it.
    let check = min_time(repeat, || {
        link::read_archive(&archive)?.check_platform(&platform)?;
        Ok(())
    })?;
    let seal = min_time(repeat, || {
        link::seal(&job.output)?;
        Ok(())
    })?;
    let bytes = std::fs::read(&image)?;
    let file = ImageFile::parse(&bytes)?;
    file.verify_checksum(&bytes)?;
    let triple = target.parsed();
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
    let host = SUPPORTED_TARGETS.iter().position(|t| t.is_host());
    let baseline = host
        .and_then(|h| results[h].as_ref().ok())
        .map(|l| l.link_image);
    for (target, result) in SUPPORTED_TARGETS.iter().zip(results) {
        match result {
            Ok(link) => {
                let r = baseline.map_or("-".to_string(), |b| {
                    format!("{:.2}", ratio(link.link_image, b))
                });
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {r} | {} | {} |",
                    target.triple,
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
                    target.triple,
                    e.to_string().replace('|', "/")
                );
            }
        }
    }
    let _ = writeln!(md);
}
