//! What the multiversion, size, cross and validate sections build: the example
//! (examples/kernels, compiled to IR by `clang-22`), the generated module, or the validate
//! section's system and package images, as a [`Source`]; [`build`] times its codegen + dump.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use aotlink::link;
use aotlink::target::{CpuTarget, SupportedTarget};
use aotlink::CacheLocation;
use aotload::ImageKind;

use crate::ir::export_names;
use crate::timing::codegen_and_dump;
use crate::Config;

const EXAMPLE_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kernels/kernels.c");
const EXAMPLE_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kernels/data.txt");
pub const CLANG: &str = "clang-22";
/// The example's flags (examples/kernels/README.md): vectorizing is left to each CPU target.
const EXAMPLE_FLAGS: &[&str] = &[
    "-O2",
    "-fno-vectorize",
    "-fno-slp-vectorize",
    "-ffp-contract=off",
    "-emit-llvm",
    "-S",
];
/// Emission threads of the multiversion, size, cross and vs_clang sections.
pub const DUMP_THREADS: usize = 2;

/// Compiles examples/kernels/kernels.c to textual IR for `target` (it needs no SDK).
pub fn compile_example(target: &SupportedTarget, out: &Path) -> Result<()> {
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

/// What to build: an IR file, what to export from it, the image data, the kind of image and
/// the method tables it is compiled against.
pub struct Source {
    ir: PathBuf,
    exports: Vec<String>,
    export_all: bool,
    image_data: Vec<u8>,
    kind: ImageKind,
    method_tables: Vec<PathBuf>,
}

impl Source {
    /// The example as `aotlink build --export-all --image-data data.txt` builds it.
    pub fn example(ir: PathBuf) -> Result<Source> {
        Ok(Source {
            ir,
            exports: Vec::new(),
            export_all: true,
            image_data: std::fs::read(EXAMPLE_DATA)
                .with_context(|| format!("cannot read {EXAMPLE_DATA}"))?,
            kind: ImageKind::Pkg,
            method_tables: Vec::new(),
        })
    }

    /// The generated module, with the exports the emission section uses.
    pub fn module(config: &Config, ir: PathBuf) -> Source {
        Source {
            ir,
            exports: export_names(config.functions),
            export_all: false,
            image_data: Vec::new(),
            kind: ImageKind::Pkg,
            method_tables: Vec::new(),
        }
    }

    /// An image of `kind` exporting every function of `ir`, whose declarations that
    /// `method_tables` list become external methods (`aotlink build --export-all --kind KIND
    /// --method-table ...`).
    pub fn exporting_all(ir: PathBuf, kind: ImageKind, method_tables: Vec<PathBuf>) -> Source {
        Source {
            ir,
            exports: Vec::new(),
            export_all: true,
            image_data: Vec::new(),
            kind,
            method_tables,
        }
    }
}

/// One codegen + dump of a [`Source`].
pub struct Build {
    pub codegen: Duration,
    pub dump: Duration,
    pub shards: usize,
    pub threads: usize,
    /// The archive's CPU targets, each with how many functions have their own version for it.
    pub targets: Vec<(String, u32)>,
}

impl Build {
    /// `generic; sandybridge (43 clones); ...`
    pub fn describe_targets(&self) -> String {
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

    pub fn target_names(&self) -> String {
        let names: Vec<&str> = self.targets.iter().map(|(n, _)| n.as_str()).collect();
        names.join("; ")
    }
}

/// Codegen + dump (timed apart by the build's report, dump on [`DUMP_THREADS`] threads,
/// no cache) of `source` with `cpu_targets` (`None`: the default for its architecture) through
/// [`aotlink::Build`]; writes `archive` (not counted).
pub fn build(source: &Source, cpu_targets: Option<&str>, archive: &Path) -> Result<Build> {
    let mut build = aotlink::Build::new()
        .input(&source.ir)
        .export_all(source.export_all)
        .image_data(source.image_data.clone())
        .kind(source.kind)
        .threads(DUMP_THREADS)
        .cache(CacheLocation::Off);
    for name in &source.exports {
        build = build.export(name);
    }
    for table in &source.method_tables {
        build = build.method_table(table);
    }
    if let Some(spec) = cpu_targets {
        build = build.cpu_targets(CpuTarget::parse_list(spec)?);
    }
    let report = build.dump(archive)?;
    let (codegen_time, dump_time) = codegen_and_dump(&report);
    let targets = link::read_archive(archive)?
        .meta
        .targets
        .into_iter()
        .map(|t| (t.name, t.nclones))
        .collect();
    Ok(Build {
        codegen: codegen_time,
        dump: dump_time,
        shards: report.shards.len(),
        threads: report.threads,
        targets,
    })
}
