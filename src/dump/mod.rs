//! dump (Julia's `jl_dump_native`): partition the program into shards, emit them on threads,
//! add the header object, and pack the results into archives.

mod archive;
mod emit;
mod header;
mod partition;
mod tables;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aotload::features::FEATURE_LIST_VERSION;
use aotload::format::ImageKind;
use aotload::meta::{Export, Meta, TargetRecord};
use inkwell::context::Context;

pub use archive::write_atomically;
pub use emit::{init_llvm_targets, target_machine, EmitKinds, Emitted, OutputKind};
pub use partition::{plan_shards, ShardPlan};

use crate::codegen::Program;
use crate::target::CpuTarget;

#[derive(Clone, Debug)]
pub struct DumpOptions {
    pub kind: ImageKind,
    /// Shard count; `None`: from the module's size.
    pub shards: Option<u32>,
    /// Emission threads; `None`: half the cores. Never more than the shards.
    pub threads: Option<usize>,
    pub emit: EmitKinds,
    /// Opaque bytes stored in the image and handed back by the loader.
    pub image_data: Vec<u8>,
    /// CPU targets, the base first.
    pub targets: Vec<CpuTarget>,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            kind: ImageKind::Pkg,
            shards: None,
            threads: None,
            emit: EmitKinds::default(),
            image_data: Vec::new(),
            targets: vec![CpuTarget::generic()],
        }
    }
}

/// The emitted shards and header, before they are written out.
pub struct Dumped {
    pub plans: Vec<ShardPlan>,
    pub shards: Vec<Emitted>,
    pub header: Emitted,
    pub threads: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("emitting shard {shard}: {cause}")]
    Shard { shard: u32, cause: String },
    #[error("emitting the header: {0}")]
    Header(String),
    #[error("{}: cannot write: {cause}", path.display())]
    Write { path: PathBuf, cause: String },
}

/// Threads to use: the request, or half the cores (at least one), never more than the shards.
pub fn thread_count(requested: Option<usize>, shards: usize) -> usize {
    let default = || {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1)
    };
    requested.unwrap_or_else(default).clamp(1, shards.max(1))
}

/// Runs dump over `program`. `on_shard_done(done, total)` is called once per emitted shard.
pub fn dump(
    program: &Program,
    options: &DumpOptions,
    on_shard_done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Dumped, DumpError> {
    init_llvm_targets();
    let plans = plan_shards(
        &program.module,
        options.shards,
        options.targets.len() as u64,
    );
    let threads = thread_count(options.threads, plans.len());
    let bitcode = program.module.write_bitcode_to_memory().as_slice().to_vec();
    let index = |names: &[String]| -> HashMap<String, u32> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect()
    };
    let (fvar_index, gvar_index) = (index(&program.fvars), index(&program.gvars));
    let config = emit::EmitConfig {
        triple: &program.triple,
        targets: &options.targets,
        kinds: options.emit,
        fvar_index: &fvar_index,
        gvar_index: &gvar_index,
    };
    let shards = emit::emit_shards(&bitcode, &plans, &config, threads, on_shard_done)
        .map_err(|(shard, cause)| DumpError::Shard { shard, cause })?;
    let meta = image_meta(program, options, &fvar_index);
    let header = emit_header(program, options, plans.len() as u32, &meta.encode())
        .map_err(DumpError::Header)?;
    Ok(Dumped {
        plans,
        shards,
        header,
        threads,
    })
}

fn image_meta(program: &Program, options: &DumpOptions, fvar_index: &HashMap<String, u32>) -> Meta {
    Meta {
        triple: program.triple.clone(),
        feature_list_version: FEATURE_LIST_VERSION,
        targets: options
            .targets
            .iter()
            .map(|t| TargetRecord {
                name: t.cpu.clone(),
                flags: t.flags,
                base: t.base,
                ..Default::default()
            })
            .collect(),
        methods: program.methods.clone(),
        gvars: program.gvars.clone(),
        exports: program
            .exports
            .iter()
            .map(|n| Export {
                name: n.clone(),
                fvar: fvar_index[n],
            })
            .collect(),
    }
}

fn emit_header(
    program: &Program,
    options: &DumpOptions,
    nshards: u32,
    meta: &[u8],
) -> Result<Emitted, String> {
    let context = Context::create();
    let data_layout = program
        .module
        .get_data_layout()
        .as_str()
        .to_string_lossy()
        .into_owned();
    let module = header::header_module(
        &context,
        &program.triple,
        &data_layout,
        options.kind,
        nshards,
        meta,
        &options.image_data,
    )?;
    let machine = target_machine(&program.triple, &options.targets[0])?;
    emit::emit_module(&module, &machine, options.emit)
}

/// Where `kind`'s archive goes for `-o PATH`: objects at PATH itself, bitcode and assembly
/// beside it (`x.a` -> `x.bc.a`, `x.s.a`).
pub fn archive_path(output: &Path, kind: OutputKind) -> PathBuf {
    let text = output.display().to_string();
    let stem = text.strip_suffix(".a").unwrap_or(&text);
    match kind {
        OutputKind::Object => output.to_path_buf(),
        other => PathBuf::from(format!("{stem}.{}.a", other.extension())),
    }
}

/// Writes one archive per emitted kind; returns their paths (objects first).
pub fn write_archives(dumped: &Dumped, output: &Path) -> Result<Vec<PathBuf>, DumpError> {
    let mut written = Vec::new();
    for kind in OutputKind::ALL {
        let Some(header) = dumped.header.get(kind) else {
            continue;
        };
        let ext = kind.extension();
        let mut members: Vec<(String, &[u8])> = dumped
            .plans
            .iter()
            .zip(&dumped.shards)
            .filter_map(|(plan, e)| {
                e.get(kind)
                    .map(|b| (format!("shard_{}.{ext}", plan.index), b))
            })
            .collect();
        members.push((format!("header.{ext}"), header));
        let path = archive_path(output, kind);
        archive::write_archive(&path, &members).map_err(|e| DumpError::Write {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        written.push(path);
    }
    Ok(written)
}
