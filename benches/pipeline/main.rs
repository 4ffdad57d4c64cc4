//! Pipeline benchmark (`cargo bench --bench pipeline`): how long a runtime-sized module takes to
//! emit (1 vs 2 threads), link (embedded LLD, standalone `ld.lld-22`, the C compiler driver) and
//! load (`aotload::Image::open` vs a bare dlopen); what multiversioning buys at run time (the
//! example's kernels on each CPU target of one image); what the default 4 CPU targets cost in
//! dump time and image size against 1; how long the embedded LLD takes for each supported
//! target platform; what opening a package image into a method table (validating its
//! edges) costs against a bare dlopen; and how `aotlink build` (the release binary) compares
//! with `clang-22 -O2 -shared -fPIC` making a shared library of the same IR (Lua 5.4 and the
//! module): wall time and each child's peak RSS.
//!
//! Knobs: `AOTLINK_BENCH_FUNCTIONS` (default 5000), `AOTLINK_BENCH_LARGE_FUNCTIONS` (the load
//! section's large module, default 50000, 0 skips it), `AOTLINK_BENCH_REPEAT` (default 3; every
//! figure is the minimum over the repeats), `AOTLINK_BENCH_KEEP_IR=path` (also write the
//! generated IR there) and `AOTLINK_BENCH_SECTIONS` (comma list of `emission`, `link`, `load`,
//! `multiversion`, `size`, `cross`, `validate`, `vs_clang`, `rebuild`, `remote`, `lua_run`, `scale`; default all; `AOTLINK_BENCH_SCALE` sets the
//! scale section's module sizes, `AOTLINK_BENCH_SCALE_C` its C code base's). Prints one line per
//! figure, then Markdown tables.
//!
//! Layout: this file reads the knobs and runs the sections in order. Each section is the module
//! of the same name, with one `bench_*` entry point that prints its figures and adds its
//! Markdown to the [`Table`]. What the sections share:
//! - `ir`: the generated module (its IR text);
//! - `source`, `platforms`, `kernels`: the example (examples/kernels) and timed builds of any
//!   IR for any target platform; the kernels the multiversion section calls;
//! - `packages`: the validate section's system image, method table and package image;
//! - `per_open`: timing opens of an image on fresh copies of the file;
//! - `timing`, `cpu`, `report`: minimum-of-repeats helpers and duration formatting; the CPU's
//!   name and other processes' CPU use; the Markdown summary.

#[path = "../../tests/support/buildgrid.rs"]
mod buildgrid;
#[path = "../../tests/support/c_kernels.rs"]
mod c_kernels;
mod child;
mod cpu;
mod cross;
mod emission;
mod ir;
mod kernels;
mod large_opens;
mod link;
mod load;
mod lua_run;
mod multiversion;
mod packages;
mod per_open;
mod platforms;
mod rebuild;
mod remote;
mod report;
mod scale;
mod size;
mod source;
mod sqlite;
mod timing;
mod validate;
mod vs_clang;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use crate::cpu::{cpu_model, print_other_cpu_use, CpuSample};
use crate::cross::bench_cross;
use crate::emission::{bench_emission, untimed_archive};
use crate::ir::{generate_ir, TRIPLE};
use crate::large_opens::bench_large_opens;
use crate::link::bench_link;
use crate::load::bench_load;
use crate::lua_run::bench_lua_run;
use crate::multiversion::bench_multiversion;
use crate::rebuild::bench_rebuild;
use crate::remote::bench_remote;
use crate::report::Table;
use crate::scale::bench_scale;
use crate::size::bench_size;
use crate::validate::bench_validate;
use crate::vs_clang::bench_vs_clang;

const DEFAULT_FUNCTIONS: usize = 5_000;
const DEFAULT_REPEAT: usize = 3;

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
const SECTIONS: &[&str] = &[
    "emission",
    "link",
    "load",
    "multiversion",
    "size",
    "cross",
    "validate",
    "vs_clang",
    "rebuild",
    "remote",
    "scale",
    "lua_run",
];

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
    if config.runs("load") {
        bench_large_opens(&config, scratch.path(), &mut table)?;
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
    if config.runs("validate") {
        bench_validate(&config, scratch.path(), &mut table)?;
    }
    if config.runs("vs_clang") {
        bench_vs_clang(&config, &ir, scratch.path(), &mut table)?;
    }
    if config.runs("rebuild") {
        bench_rebuild(&config, &ir, scratch.path(), &mut table)?;
    }
    if config.runs("remote") {
        bench_remote(&config, scratch.path(), &mut table)?;
    }
    if config.runs("scale") {
        bench_scale(scratch.path(), &mut table)?;
    }
    if config.runs("lua_run") {
        bench_lua_run(scratch.path(), &mut table)?;
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
