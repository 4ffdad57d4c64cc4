//! Section `link`: the module's archive linked by the embedded LLD (in-process), by standalone
//! `ld.lld-22` with the same arguments (a subprocess) and by the C compiler driver; same job,
//! unsealed output. Linkers that are missing or fail are skipped with a note.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use aotlink::link::{self, Cc, LinkJob, Linker, Lld};
use aotlink::target::{Platform, Triple};
use aotload::ImageFile;

use crate::report::Table;
use crate::timing::{human, min_time, ratio};
use crate::Config;

const STANDALONE_LLD: &str = "ld.lld-22";

pub fn bench_link(config: &Config, archive: &Path, dir: &Path, table: &mut Table) -> Result<()> {
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
        data_exports: Vec::new(),
        interposable: Vec::new(),
        libraries: Default::default(),
        platform: &platform,
        verbose: false,
    };

    let embedded_job = job("link-embedded.so");
    let embedded = LinkTiming {
        link: min_time(config.repeat, || {
            Lld::new().link(&embedded_job)?;
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
            "ld.lld-22 (subprocess)",
            &standalone_job,
            &t,
            baseline,
        )?,
        None => table.skipped("link", "ld.lld-22 (subprocess)"),
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
        Lld::new().arguments(job, scratch.path())?;
        Ok(())
    })
}

/// `ld.lld-22` with exactly the embedded LLD's arguments; `None` (with a note) if unavailable.
fn time_standalone_lld(config: &Config, job: &LinkJob, dir: &Path) -> Result<Option<LinkTiming>> {
    let label = "ld.lld-22 (subprocess)";
    let Ok(program) = which::which(STANDALONE_LLD) else {
        println!("  {label:<26}: skipped, {STANDALONE_LLD} is not on PATH");
        return Ok(None);
    };
    // Arguments and stub libraries are made once, outside the timing.
    let scratch = dir.join("standalone-lld");
    std::fs::create_dir_all(&scratch)?;
    let args = Lld::new().arguments(job, &scratch)?;
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
