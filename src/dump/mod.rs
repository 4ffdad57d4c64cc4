//! dump (Julia's `jl_dump_native`): partition the program into shards, emit them on threads,
//! add the header object, and pack the results into archives.
//!
//! It owns what a shard is and how it is emitted; it does not know where shards are kept
//! between builds: it asks the [`ShardStore`]s it is handed (store.rs) and imports nothing of
//! `cache/` but the key derivation (`cache/key.rs`). The caches implement the stores and import
//! only `output.rs` and `store.rs` from here.

mod annotate;
mod archive;
mod emit;
mod header;
mod header_job;
mod multiversion;
pub mod output;
mod partition;
pub mod reuse;
mod shard_tables;
mod split;
pub mod store;
mod tables;
pub mod text_key;

use crate::phase::{PhaseClock, PhaseName};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aotload::features::FEATURE_LIST_VERSION;
use aotload::format::ImageKind;
use aotload::meta::{Export, Meta, TargetRecord};

pub use archive::write_atomically;
pub use emit::{init_llvm_targets, target_machine, ShardDiagnostic, ShardFailure, ShardRecord};
pub use output::{EmitKinds, Emitted, OutputKind};
pub use partition::{plan_shards, FunctionSizes, ShardPlan};
pub use reuse::{Reuse, ShardFacts};
pub use split::ShardJob;
pub use store::{ShardSource, ShardStore};

use crate::codegen::Program;
use crate::target::{CpuTarget, CpuTargetError, ResolvedTarget, Triple, TripleError};
use header_job::{HeaderFacts, PendingHeader};
pub use shard_tables::TablesObject;
use shard_tables::{ShardTables, TablesConfig, TablesJob};

#[derive(Clone, Debug)]
pub struct DumpOptions {
    pub kind: ImageKind,
    /// Shard count; `None`: from the module's size.
    pub shards: Option<u32>,
    /// Emission threads; `None`: half the cores. Never more than the shards.
    pub threads: Option<usize>,
    pub emit: EmitKinds,
    /// Opaque bytes stored in the image and handed back by the loader (shared with the
    /// header's thread, not copied: a runtime's heap can be 100+ MB).
    pub image_data: Arc<[u8]>,
    /// CPU targets, the base first; `None`: the default for the IR's architecture.
    pub cpu_targets: Option<Vec<CpuTarget>>,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            kind: ImageKind::Pkg,
            shards: None,
            threads: None,
            emit: EmitKinds::default(),
            image_data: Arc::new([]),
            cpu_targets: None,
        }
    }
}

/// The emitted shards and header, before they are written out.
pub struct Dumped {
    /// In shard order, as `records`.
    pub shards: Vec<Emitted>,
    /// The header's root (header.rs).
    pub header: Emitted,
    /// The shard tables' object, unless the tables are in the shards (header.rs).
    pub tables: Option<TablesObject>,
    pub threads: usize,
    /// How each shard was obtained, in shard order.
    pub records: Vec<ShardRecord>,
    /// Where the time went: (phase, time), in order.
    pub phases: Vec<(PhaseName, Duration)>,
    /// Problems that did not stop the build (a cache that cannot be written).
    pub warnings: Vec<String>,
    /// Whether shards were looked up in a store.
    pub cache_used: bool,
    /// Whether the whole dump was taken from the cache (src/build/memo.rs), nothing run.
    pub reused: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    CpuTarget(#[from] CpuTargetError),
    #[error(transparent)]
    Triple(#[from] TripleError),
    #[error("emitting shard {shard}: {cause}")]
    Shard { shard: u32, cause: String },
    /// LLVM's error on a shard's code, which the build names the input of.
    #[error("emitting shard {shard}: {diagnostic}")]
    Llvm {
        shard: u32,
        diagnostic: ShardDiagnostic,
    },
    #[error("emitting the header: {0}")]
    Header(String),
    #[error("{}: cannot write: {cause}", path.display())]
    Write { path: PathBuf, cause: String },
    #[error(
        "--shards {requested}: the module has {max} definitions to split, so at most {max} shards"
    )]
    TooManyShards { requested: u32, max: usize },
    /// A program with stubbed functions cannot be dumped from the facts of the build before
    /// (reuse.rs): not a failure of the build, which then parses everything.
    #[error("the build before cannot stand in for the functions not parsed: {0}")]
    Unreusable(String),
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

/// Everything emission needs, taken from the program: once this exists, the program (its
/// module and its LLVM context) can go, and should, since the threads parse their shards'
/// bitcode into contexts of their own (SQLite, 4 targets: peak RSS 221 MB with the program
/// kept, 168 MB without).
pub struct Prepared {
    triple: String,
    targets: Vec<ResolvedTarget>,
    jobs: Vec<ShardJob>,
    /// Shards a store held under their keys from the print: not cloned, not emitted.
    prefetched: Vec<emit::Prefetched>,
    threads: usize,
    /// Emitted beside the split and then beside the shards; waited for after them.
    header: PendingHeader,
    phases: Vec<(PhaseName, Duration)>,
    warnings: Vec<String>,
    /// Each function's size, as the partition took it.
    sizes: FunctionSizes,
}

/// The part of dump that reads the program: targets, annotation, partition, the shards'
/// jobs, the metadata and the header. The shards that `stores` hold (looked up by their keys
/// from the program's print) are taken from them here; only the others are cloned from the
/// program. The print's pieces are taken out of the program once the keys are made (the
/// clones that follow are the build's peak of memory).
///
/// With `reuse`, the program's functions that it names are stubs: what the build before
/// measured stands in for them, and every shard holding one must be taken from a store.
pub fn prepare(
    program: &mut Program,
    options: &DumpOptions,
    stores: &[&dyn ShardStore],
    reuse: Option<&Reuse>,
) -> Result<Prepared, DumpError> {
    let mut printed = program.printed.take();
    let program = &*program;
    init_llvm_targets();
    let mut phases = PhaseClock::default();
    let resolved = resolve_targets(program, options)?;
    let targets: Vec<CpuTarget> = resolved.iter().map(|r| r.target.clone()).collect();
    if reuse.is_some() && resolved.len() > 1 {
        // Which functions get versions follows their bodies and their callers' (annotate.rs).
        return Err(DumpError::Unreusable(
            "more than one CPU target: the clone sets need every body".into(),
        ));
    }
    let clone_sets =
        annotate::annotate(&program.module, &program.fvars, &resolved, &program.triple);
    phases.lap(PhaseName::Annotate);
    let no_sizes = HashMap::new();
    let known_sizes = reuse.map_or(&no_sizes, |r| &r.sizes);
    let (plans, sizes) = plan_shards(&program.module, options.shards, &clone_sets, known_sizes)
        .map_err(|max| DumpError::TooManyShards {
            requested: options.shards.unwrap_or(0),
            max,
        })?;
    phases.lap(PhaseName::Partition);
    fn index<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<String, u32> {
        names
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect()
    }
    let fvar_index = index(program.fvars.iter());
    let gvar_index = index(program.gvars.iter().map(|g| &g.name));
    let tables_in_shards = !Triple::parse(&program.triple)
        .map_err(DumpError::Triple)?
        .has_cross_object_differences();
    let numbering = split::Numbering {
        fvars: &fvar_index,
        gvars: &gvar_index,
    };
    let numbering = tables_in_shards.then_some(&numbering);
    // The header (metadata, shard tables, its object) reads none of the split's results and
    // is emitted in an LLVM context of its own (header_job.rs): its metadata and tables are
    // made beside the split, which works in the program's context, and its object beside the
    // split and the shards' emission. The `header` phase is the wait for it after emission.
    let header_facts = HeaderFacts {
        triple: program.triple.clone(),
        data_layout: (program.module.get_data_layout().as_str())
            .to_string_lossy()
            .into_owned(),
        kind: options.kind,
        emit: options.emit,
        nexternals: program.externals.len() as u32,
        targets: targets.clone(),
        finalize_on_unload: program.static_destructors
            && Triple::parse(&program.triple).is_ok_and(|t| t.os == crate::target::Os::Linux),
        image_data: options.image_data.clone(),
    };
    let facts = program_facts(program);
    let interposable = &program.interposable;
    let threads = thread_count(options.threads, plans.len());
    let warnings = Mutex::new(Vec::new());
    let warn = |w: &str| {
        warnings
            .lock()
            .expect("no panics holding it")
            .push(w.to_string())
    };
    let (jobs, header) = std::thread::scope(|scope| {
        let header = scope.spawn(|| {
            let meta = image_meta(facts, &resolved, &clone_sets, &fvar_index);
            let tables = (!tables_in_shards).then(|| {
                let specs: Vec<_> = (plans.iter())
                    .map(|plan| {
                        let n = resolved.len();
                        tables::shard_spec(plan, &clone_sets, &fvar_index, &gvar_index, n)
                    })
                    .collect();
                // Every exported name: what the tables point at must stay visible.
                let exports = (facts.exports.iter().cloned())
                    .chain(facts.symbol_exports.iter().map(|x| x.name.clone()))
                    .collect();
                let tables = ShardTables {
                    specs,
                    ntargets: resolved.len() as u32,
                    exports,
                    interposable: interposable.clone(),
                };
                let config = TablesConfig {
                    triple: &header_facts.triple,
                    data_layout: &header_facts.data_layout,
                    target: &header_facts.targets[0],
                    kinds: header_facts.emit,
                };
                TablesJob::look_up(tables, &config, stores, &warn)
            });
            let indices = plans.iter().map(|p| p.index).collect();
            PendingHeader::start(header_facts, indices, meta, tables)
        });
        let jobs = (|| {
            let mut jobs = split::split(
                &program.module,
                printed.as_ref(),
                &plans,
                &clone_sets,
                numbering,
                threads,
                reuse,
            )
            .map_err(|shard| {
                DumpError::Unreusable(format!(
                    "shard {shard} holds functions not parsed and is not a shard of the build before"
                ))
            })?;
            drop(printed.take());
            let config = emit::EmitConfig {
                triple: &program.triple,
                targets: &resolved,
                kinds: options.emit,
            };
            let prefetched = emit::prefetch(&jobs, &config, threads, stores, &warn);
            phases.lap(PhaseName::CacheLookup);
            if let Some(reuse) = reuse {
                if let Some(job) = (jobs.iter().zip(&prefetched))
                    .find(|(job, found)| found.to_emit() && reuse.holds_stub(&job.plan))
                    .map(|(job, _)| job)
                {
                    return Err(DumpError::Unreusable(format!(
                        "shard {} holds functions not parsed and no store has it",
                        job.plan.index
                    )));
                }
            }
            split::write_bitcode(&program.module, &mut jobs, |i| prefetched[i].to_emit());
            phases.lap(PhaseName::Split);
            Ok((jobs, prefetched))
        })();
        let header = header
            .join()
            .expect("making the header's metadata does not panic");
        (jobs, header)
    });
    let (jobs, prefetched) = jobs?;
    Ok(Prepared {
        triple: program.triple.clone(),
        targets: resolved,
        threads,
        jobs,
        prefetched,
        header,
        phases: phases.done(),
        warnings: warnings.into_inner().expect("threads joined"),
        sizes,
    })
}

impl Prepared {
    /// How many shards [`Prepared::emit`] will emit (the stores had the others).
    pub fn shards_to_emit(&self) -> usize {
        self.prefetched.iter().filter(|p| p.to_emit()).count()
    }

    /// Threads the emission runs on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// What a later rebuild takes from this build for the functions it does not parse: each
    /// function's size and each shard's key facts (the sizes are taken: emission does not
    /// need them).
    pub fn take_reusable_facts(&mut self) -> (FunctionSizes, Vec<ShardFacts>) {
        (
            std::mem::take(&mut self.sizes),
            self.jobs.iter().map(ShardJob::facts).collect(),
        )
    }

    /// Emits the shards on threads, or takes them from the first of `stores` that has them
    /// (and gives every store what it lacked). `on_shard_done(done, total)` is called once
    /// per shard.
    pub fn emit(
        self,
        options: &DumpOptions,
        stores: &[&dyn ShardStore],
        on_shard_done: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Dumped, DumpError> {
        let Prepared {
            triple,
            targets,
            jobs,
            prefetched,
            threads,
            header,
            phases,
            warnings,
            sizes: _,
        } = self;
        let mut phases = PhaseClock::continuing(phases);
        let config = emit::EmitConfig {
            triple: &triple,
            targets: &targets,
            kinds: options.emit,
        };
        let warnings = Mutex::new(warnings);
        let (shards, records) = emit::emit_shards(
            &jobs,
            prefetched,
            &config,
            threads,
            stores,
            on_shard_done,
            &|w| {
                warnings
                    .lock()
                    .expect("no panics holding it")
                    .push(w.to_string())
            },
        )
        .map_err(|(shard, failure)| match failure {
            ShardFailure::Llvm(diagnostic) => DumpError::Llvm { shard, diagnostic },
            ShardFailure::Other(cause) => DumpError::Shard { shard, cause },
        })?;
        phases.lap(PhaseName::Emit);
        let header = header.wait().map_err(DumpError::Header)?;
        phases.lap(PhaseName::Header);
        let mut warnings = warnings.into_inner().expect("threads joined");
        let tables = header.tables.map(|(object, put)| {
            let failed = std::cell::RefCell::new(Vec::new());
            put.put(&object, stores, &|w| {
                failed.borrow_mut().push(w.to_string())
            });
            for w in failed.into_inner() {
                // A store that cannot be written said so for the shards already.
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            if let ShardSource::Damaged(why) = &object.source {
                warnings.push(format!(
                    "the shard tables: the cached copy was damaged ({why}); emitted them again"
                ));
            }
            object
        });
        for record in &records {
            if let ShardSource::Damaged(why) = &record.source {
                warnings.push(format!(
                    "shard {}: the cached copy was damaged ({why}); emitted it again",
                    record.index
                ));
            }
        }
        Ok(Dumped {
            shards,
            header: header.root,
            tables,
            threads,
            records,
            phases: phases.done(),
            warnings,
            cache_used: !stores.is_empty(),
            reused: false,
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
            CpuTarget::parse_list(&CpuTarget::default_string(&triple))?
        }
    };
    Ok(targets
        .iter()
        .map(|t| t.resolve(&program.triple))
        .collect::<Result<_, _>>()?)
}

/// What the image's metadata takes from the program: its plain parts, which (unlike its
/// module) another thread may read.
#[derive(Clone, Copy)]
struct ProgramFacts<'a> {
    triple: &'a str,
    methods: &'a [aotload::meta::Method],
    externals: &'a [aotload::meta::ExternalEdge],
    gvars: &'a [aotload::meta::Gvar],
    exports: &'a [String],
    symbol_exports: &'a [aotload::meta::SymbolExport],
}

fn program_facts<'a>(program: &'a Program) -> ProgramFacts<'a> {
    ProgramFacts {
        triple: &program.triple,
        methods: &program.methods,
        externals: &program.externals,
        gvars: &program.gvars,
        exports: &program.exports,
        symbol_exports: &program.symbol_exports,
    }
}

fn image_meta(
    program: ProgramFacts,
    targets: &[ResolvedTarget],
    clone_sets: &annotate::CloneSets,
    fvar_index: &HashMap<String, u32>,
) -> Meta {
    Meta {
        triple: program.triple.to_string(),
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
        methods: program.methods.to_vec(),
        externals: program.externals.to_vec(),
        gvars: program.gvars.to_vec(),
        exports: program
            .exports
            .iter()
            .map(|n| Export {
                name: n.clone(),
                fvar: fvar_index[n],
            })
            .collect(),
        symbol_exports: program.symbol_exports.to_vec(),
    }
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
        if let Some(tables) = dumped.tables.as_ref().and_then(|t| t.emitted.get(kind)) {
            members.push((format!("tables.{ext}"), tables));
        }
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
