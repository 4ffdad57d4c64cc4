//! dump (Julia's `jl_dump_native`): partition the program into shards, emit them on threads,
//! add the header object, and pack the results into archives.

mod annotate;
mod archive;
mod emit;
mod header;
mod multiversion;
mod partition;
mod split;
mod tables;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aotload::features::FEATURE_LIST_VERSION;
use aotload::format::ImageKind;
use aotload::meta::{Export, Meta, TargetRecord};
use inkwell::context::Context;

pub use archive::write_atomically;
pub use emit::{
    init_llvm_targets, target_machine, EmitKinds, Emitted, OutputKind, ShardRecord, ShardSource,
};
pub use partition::{plan_shards, ShardPlan};
pub use split::ShardJob;

use crate::cache::remote::{RemoteCache, RemoteStats};
use crate::cache::ShardCache;
use crate::codegen::Program;
use crate::target::{CpuTarget, CpuTargetError, ResolvedTarget, Triple, TripleError};

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
    /// CPU targets, the base first; `None`: the default for the IR's architecture.
    pub cpu_targets: Option<Vec<CpuTarget>>,
    /// Where emitted shards are looked up and stored; `None`: emit every shard.
    pub cache: Option<ShardCache>,
    /// A REAPI server behind the local cache (`--remote-cache`).
    pub remote: Option<Arc<RemoteCache>>,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            kind: ImageKind::Pkg,
            shards: None,
            threads: None,
            emit: EmitKinds::default(),
            image_data: Vec::new(),
            cpu_targets: None,
            cache: None,
            remote: None,
        }
    }
}

/// The emitted shards and header, before they are written out.
pub struct Dumped {
    /// In shard order, as `records`.
    pub shards: Vec<Emitted>,
    pub header: Emitted,
    pub threads: usize,
    /// How each shard was obtained, in shard order.
    pub records: Vec<ShardRecord>,
    /// Where the time went: (phase, time), in order.
    pub phases: Vec<(&'static str, Duration)>,
    /// Problems that did not stop the build (a cache that cannot be written).
    pub warnings: Vec<String>,
    /// Whether shards were looked up in a cache.
    pub cache_used: bool,
    /// Whether the whole dump was taken from the cache (src/build/memo.rs), nothing run.
    pub reused: bool,
    /// What the remote cache did, when there was one.
    pub remote: Option<RemoteStats>,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    CpuTarget(#[from] CpuTargetError),
    #[error(transparent)]
    Triple(#[from] TripleError),
    #[error("emitting shard {shard}: {cause}")]
    Shard { shard: u32, cause: String },
    #[error("emitting the header: {0}")]
    Header(String),
    #[error("{}: cannot write: {cause}", path.display())]
    Write { path: PathBuf, cause: String },
    #[error(
        "--shards {requested}: the module has {max} definitions to split, so at most {max} shards"
    )]
    TooManyShards { requested: u32, max: usize },
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
    prepare(program, options)?.emit(options, on_shard_done)
}

/// Everything emission needs, taken from the program: once this exists, the program (its
/// module and its LLVM context) can go, and should, since the threads parse their shards'
/// bitcode into contexts of their own (SQLite, 4 targets: peak RSS 221 MB with the program
/// kept, 168 MB without).
pub struct Prepared {
    triple: String,
    targets: Vec<ResolvedTarget>,
    jobs: Vec<ShardJob>,
    threads: usize,
    header: Emitted,
    phases: Vec<(&'static str, Duration)>,
}

/// The phases of dump as they end, each timed from the end of the one before.
struct PhaseClock {
    phases: Vec<(&'static str, Duration)>,
    clock: Instant,
}

impl PhaseClock {
    fn new(phases: Vec<(&'static str, Duration)>) -> PhaseClock {
        PhaseClock {
            phases,
            clock: Instant::now(),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        self.phases.push((phase, self.clock.elapsed()));
        self.clock = Instant::now();
    }

    fn done(self) -> Vec<(&'static str, Duration)> {
        self.phases
    }
}

/// The part of dump that reads the program: targets, annotation, partition, the shards'
/// jobs, the metadata and the header.
pub fn prepare(program: &Program, options: &DumpOptions) -> Result<Prepared, DumpError> {
    init_llvm_targets();
    let mut phases = PhaseClock::new(Vec::new());
    let resolved = resolve_targets(program, options)?;
    let targets: Vec<CpuTarget> = resolved.iter().map(|r| r.target.clone()).collect();
    let clone_sets =
        annotate::annotate(&program.module, &program.fvars, &resolved, &program.triple);
    phases.lap("annotate");
    let plans = plan_shards(&program.module, options.shards, &clone_sets).map_err(|max| {
        DumpError::TooManyShards {
            requested: options.shards.unwrap_or(0),
            max,
        }
    })?;
    phases.lap("partition");
    let index = |names: &[String]| -> HashMap<String, u32> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect()
    };
    let (fvar_index, gvar_index) = (index(&program.fvars), index(&program.gvars));
    let tables_in_shards = !Triple::parse(&program.triple)
        .map_err(DumpError::Triple)?
        .has_cross_object_differences();
    let numbering = split::Numbering {
        fvars: &fvar_index,
        gvars: &gvar_index,
    };
    let numbering = tables_in_shards.then_some(&numbering);
    let jobs = split::split(&program.module, &plans, &clone_sets, numbering);
    phases.lap("split");
    let meta = image_meta(program, &resolved, &clone_sets, &fvar_index);
    let specs: Vec<_> = (plans.iter())
        .map(|plan| tables::shard_spec(plan, &clone_sets, &fvar_index, &gvar_index, resolved.len()))
        .collect();
    let header = emit_header(
        program,
        options,
        &targets,
        (&specs, tables_in_shards),
        &meta.encode(),
    )
    .map_err(DumpError::Header)?;
    phases.lap("header");
    Ok(Prepared {
        triple: program.triple.clone(),
        targets: resolved,
        threads: thread_count(options.threads, plans.len()),
        jobs,
        header,
        phases: phases.done(),
    })
}

impl Prepared {
    /// Emits the shards on threads (or takes them from the caches). `on_shard_done(done,
    /// total)` is called once per shard.
    pub fn emit(
        self,
        options: &DumpOptions,
        on_shard_done: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Dumped, DumpError> {
        let Prepared {
            triple,
            targets,
            jobs,
            threads,
            header,
            phases,
        } = self;
        let mut phases = PhaseClock::new(phases);
        let config = emit::EmitConfig {
            triple: &triple,
            targets: &targets,
            kinds: options.emit,
        };
        let warnings = Mutex::new(Vec::new());
        let (shards, records) = emit::emit_shards(
            &jobs,
            &config,
            threads,
            options.cache.as_ref(),
            options.remote.as_deref(),
            on_shard_done,
            &|w| {
                warnings
                    .lock()
                    .expect("no panics holding it")
                    .push(w.to_string())
            },
        )
        .map_err(|(shard, cause)| DumpError::Shard { shard, cause })?;
        phases.lap("emit");
        if let Some(remote) = &options.remote {
            remote.finish();
            phases.lap("remote-upload");
        }
        let mut warnings = warnings.into_inner().expect("threads joined");
        if let Some(why) = options.remote.as_ref().and_then(|r| r.stats().failure) {
            warnings.push(format!(
                "remote cache {}: {why}; the remaining shards were built locally",
                options.remote.as_ref().expect("just read").url()
            ));
        }
        for record in &records {
            if let ShardSource::Damaged(why) = &record.source {
                warnings.push(format!(
                    "shard {}: the cached copy was damaged ({why}); emitted it again",
                    record.index
                ));
            }
        }
        if let Some(cache) = &options.cache {
            if let Err(e) = cache.evict() {
                warnings.push(format!(
                    "cannot trim the shard cache at {}: {e}",
                    cache.root().display()
                ));
            }
            phases.lap("cache-evict");
        }
        Ok(Dumped {
            shards,
            header,
            threads,
            records,
            phases: phases.done(),
            warnings,
            cache_used: options.cache.is_some(),
            reused: false,
            remote: options.remote.as_ref().map(|r| r.stats()),
        })
    }
}

/// The requested CPU targets (or the default for the IR's architecture), resolved by LLVM.
fn resolve_targets(
    program: &Program,
    options: &DumpOptions,
) -> Result<Vec<ResolvedTarget>, DumpError> {
    let targets = match &options.cpu_targets {
        Some(t) => t.clone(),
        None => {
            let triple = Triple::parse(&program.triple).map_err(DumpError::Triple)?;
            CpuTarget::parse_list(CpuTarget::default_string(&triple))?
        }
    };
    Ok(targets
        .iter()
        .map(|t| t.resolve(&program.triple))
        .collect::<Result<_, _>>()?)
}

fn image_meta(
    program: &Program,
    targets: &[ResolvedTarget],
    clone_sets: &annotate::CloneSets,
    fvar_index: &HashMap<String, u32>,
) -> Meta {
    Meta {
        triple: program.triple.clone(),
        feature_list_version: FEATURE_LIST_VERSION,
        targets: targets
            .iter()
            .enumerate()
            .map(|(t, r)| TargetRecord {
                name: r.target.cpu.clone(),
                flags: r.target.flags,
                base: r.target.base,
                features: r.mask.clone(),
                nclones: if t == 0 {
                    0
                } else {
                    clone_sets.dispatched_count(t)
                },
                vector_bits: r.vector_bits,
            })
            .collect(),
        methods: program.methods.clone(),
        externals: program.externals.clone(),
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
    targets: &[CpuTarget],
    (shards, tables_in_shards): (&[aotload::format::ShardSpec], bool),
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
        shards,
        tables_in_shards,
        targets.len() as u32,
        &program.exports,
        program.externals.len() as u32,
        meta,
        &options.image_data,
        platform_of(&program.triple)
            .and_then(|p| p.constructor_entry)
            .as_deref(),
    )?;
    let machine = target_machine(&program.triple, &targets[0])?;
    emit::emit_module(&module, &machine, options.emit)
}

/// The platform facts of `triple` (`None` for a triple aotlink cannot parse, which codegen
/// has refused already).
fn platform_of(triple: &str) -> Option<crate::target::Platform> {
    crate::target::Triple::parse(triple)
        .ok()
        .map(|t| crate::target::Platform::for_triple(&t))
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
        let mut members: Vec<(String, &[u8])> = (dumped.records.iter())
            .zip(&dumped.shards)
            .filter_map(|(record, e)| {
                e.get(kind)
                    .map(|b| (format!("shard_{}.{ext}", record.index), b))
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
