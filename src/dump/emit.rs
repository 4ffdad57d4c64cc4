//! Emitting shards on T threads. Each thread owns an LLVM context and target machine; a shard
//! reaches it as its job (split.rs: its own bitcode and the facts it needs), to which the
//! thread adds versions, then optimizes and emits. The shard's table is not part of it: the
//! header holds the tables (header.rs), so that what a shard emits does not depend on the
//! image-wide fvar and gvar numbering, which an added function shifts (except on x86_64
//! Mach-O, whose objects cannot point into another object that way). A job that one of the
//! build's shard stores holds (store.rs: the local cache, the remote one) is not emitted at
//! all; which stores there are, and where they keep shards, is not this file's business.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aotload::format::{encode_shard_table, shard_table_symbol};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::targets::{CodeModel, FileType, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;

use serde::Serialize;

use super::multiversion::{multiversion, set_base_attributes};
use super::output::{EmitKinds, Emitted};
use super::split::ShardJob;
use super::split::TableIndices;
use super::store::{look_up, put_all, Lookup, ShardSource, ShardStore, StoredShard};
use super::tables::{add_blob_global, shard_spec};
use crate::cache::key::{Key, KeyHasher};
use crate::llvm;
use crate::target::{CpuTarget, ResolvedTarget};

/// What every shard's emission reads besides its own job: alike for all shards.
#[derive(Serialize)]
pub struct EmitConfig<'a> {
    pub triple: &'a str,
    pub targets: &'a [ResolvedTarget],
    pub kinds: EmitKinds,
}

/// Registers the LLVM targets aotlink emits for; safe to call from anywhere, any number of times.
pub fn init_llvm_targets() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let config = inkwell::targets::InitializationConfig::default();
        Target::initialize_x86(&config);
        Target::initialize_aarch64(&config);
    });
}

/// A target machine for `triple` and `cpu`, for position-independent code.
pub fn target_machine(triple: &str, cpu: &CpuTarget) -> Result<TargetMachine, String> {
    let triple = TargetTriple::create(triple);
    let target = Target::from_triple(&triple).map_err(|e| e.to_string())?;
    let machine = target
        .create_target_machine(
            &triple,
            &cpu.cpu,
            &cpu.llvm_features(),
            OptimizationLevel::Default,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| {
            format!(
                "LLVM cannot make a target machine for {} / {}",
                triple, cpu.cpu
            )
        })?;
    llvm::use_init_array(&machine);
    Ok(machine)
}

/// Writes the requested outputs of `module`. Bitcode first (it is the optimized IR); the
/// assembly comes from a copy, because emitting code changes the module it runs on.
pub fn emit_module(
    module: &Module,
    machine: &TargetMachine,
    kinds: EmitKinds,
) -> Result<Emitted, String> {
    let bitcode = kinds
        .bc
        .then(|| module.write_bitcode_to_memory().as_slice().to_vec());
    let for_asm = kinds.asm.then(|| module.clone());
    let object = match kinds.obj {
        true => Some(
            machine
                .write_to_memory_buffer(module, FileType::Object)
                .map_err(|e| e.to_string())?
                .as_slice()
                .to_vec(),
        ),
        false => None,
    };
    let assembly = match for_asm {
        Some(m) => Some(
            machine
                .write_to_memory_buffer(&m, FileType::Assembly)
                .map_err(|e| e.to_string())?
                .as_slice()
                .to_vec(),
        ),
        None => None,
    };
    Ok(Emitted {
        object,
        bitcode,
        assembly,
    })
}

/// Why a shard was not emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardFailure {
    /// LLVM reported an error while optimizing or emitting the shard's code (inline assembly
    /// that does not assemble for the target, ...).
    Llvm(ShardDiagnostic),
    Other(String),
}

/// LLVM's error on a shard, with the function and CPU target it concerns where known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardDiagnostic {
    /// The function as the input names it (a version's suffix taken off).
    pub function: Option<String>,
    /// The CPU target whose version of the function it is.
    pub target: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ShardDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.function, &self.target) {
            (Some(function), Some(target)) => {
                write!(f, "function `{function}` for CPU target `{target}`: ")?
            }
            (Some(function), None) => write!(f, "function `{function}`: ")?,
            _ => {}
        }
        write!(f, "{}", self.message)
    }
}

impl From<String> for ShardFailure {
    fn from(cause: String) -> ShardFailure {
        ShardFailure::Other(cause)
    }
}

impl ShardDiagnostic {
    /// Names the function of LLVM's diagnostic as the input does and the target its version
    /// is for: `f.aotlink.t2` is `f` for target 2, `f.aotlink.base` and plain `f` target 0.
    fn new(diagnostic: llvm::Diagnostic, targets: &[ResolvedTarget]) -> ShardDiagnostic {
        let (function, target) = match diagnostic.function {
            Some(name) => {
                let (function, index) = match name.rsplit_once(".aotlink.") {
                    Some((f, "base")) => (f.to_string(), Some(0)),
                    Some((f, t)) => (
                        f.to_string(),
                        t.strip_prefix('t').and_then(|k| k.parse().ok()),
                    ),
                    None => (name, Some(0)),
                };
                let target = index
                    .and_then(|k: usize| targets.get(k))
                    .map(|t| t.target.cpu.clone());
                (Some(function), target)
            }
            None => (None, None),
        };
        ShardDiagnostic {
            function,
            target,
            message: diagnostic.message,
        }
    }
}

/// One shard's emission, for the build report.
#[derive(Clone, Debug)]
pub struct ShardRecord {
    pub index: u32,
    /// Which emission thread (0-based) handled it.
    pub thread: usize,
    pub time: Duration,
    pub source: ShardSource,
    pub key: Key,
    /// The functions the shard defines.
    pub functions: usize,
}

/// What the stores said of a shard before anything was cloned.
#[derive(Clone, Debug, Default)]
pub enum Prefetched {
    /// Not looked up (no key from the print), or no store holds it.
    #[default]
    NotFound,
    /// What a store holds, and the shard's record.
    Hit(Box<(Emitted, ShardRecord)>),
    /// The local entry failed its check (why): the shard is emitted, and reported so.
    Damaged(String),
}

impl Prefetched {
    /// Whether the shard must still be emitted (and so cloned first).
    pub fn to_emit(&self) -> bool {
        !matches!(self, Prefetched::Hit(_))
    }
}

/// Looks up, on `threads` threads, every job keyed by its print (see split.rs) in `stores`,
/// in order; what one of them holds is given to the stores before it. Nothing is emitted and
/// a miss or a damaged entry is left to [`emit_shards`], after the job's module is written.
pub fn prefetch(
    jobs: &[ShardJob],
    config: &EmitConfig,
    threads: usize,
    stores: &[&dyn ShardStore],
    warn: &(dyn Fn(&str) + Sync),
) -> Vec<Prefetched> {
    let found: Mutex<Vec<Prefetched>> = Mutex::new(vec![Prefetched::NotFound; jobs.len()]);
    let keyed: Vec<usize> = (0..jobs.len())
        .filter(|&i| jobs[i].text_digest.is_some())
        .collect();
    if !stores.is_empty() {
        let warn_cache = FirstWarning::new(warn);
        on_threads(threads, &keyed, |thread, &i| {
            let hit = prefetch_one(&jobs[i], config, thread, stores, &|e| warn_cache.warn(e));
            found.lock().expect("no thread panics while holding it")[i] = hit;
        });
    }
    found.into_inner().expect("threads joined")
}

/// Runs `work(thread, item)` for every one of `items` on `threads` threads (at least one),
/// each taking the next item not taken.
fn on_threads<T: Sync>(threads: usize, items: &[T], work: impl Fn(usize, &T) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..threads.max(1) {
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::SeqCst)) {
                    work(thread, item);
                }
            });
        }
    });
}

/// The first of a build's store warnings, passed on; the others are the same failure again.
struct FirstWarning<'a> {
    warned: AtomicBool,
    warn: &'a (dyn Fn(&str) + Sync),
}

impl<'a> FirstWarning<'a> {
    fn new(warn: &'a (dyn Fn(&str) + Sync)) -> FirstWarning<'a> {
        FirstWarning {
            warned: AtomicBool::new(false),
            warn,
        }
    }

    fn warn(&self, e: &str) {
        if !self.warned.swap(true, Ordering::SeqCst) {
            (self.warn)(e);
        }
    }
}

/// `job` from the first store that holds it under its key from the print (given to the
/// stores before that one too), looked up on `thread`.
fn prefetch_one(
    job: &ShardJob,
    config: &EmitConfig,
    thread: usize,
    stores: &[&dyn ShardStore],
    warn: &dyn Fn(&str),
) -> Prefetched {
    let started = Instant::now();
    let facts = job_facts(job, config);
    let key = shard_key(&facts, job);
    let shard = StoredShard {
        key: &key,
        facts: &facts,
        bitcode: None,
        kinds: config.kinds,
    };
    match look_up(stores, &shard, warn) {
        Lookup::Hit(emitted, source) => {
            let record = ShardRecord {
                index: job.plan.index,
                thread,
                time: started.elapsed(),
                source,
                key,
                functions: job.plan.members.len(),
            };
            Prefetched::Hit(Box::new((emitted, record)))
        }
        Lookup::Miss => Prefetched::NotFound,
        Lookup::Damaged(why) => Prefetched::Damaged(why),
    }
}

/// Emits every shard on `threads` threads, or takes it from `prefetched` or from the first of
/// `stores` that has it; results come back in shard order. `on_done` gets (shards done,
/// shards in all) after each shard, for progress. A store that cannot be written is a
/// warning (`warn`), never a failed build.
pub fn emit_shards(
    jobs: &[ShardJob],
    mut prefetched: Vec<Prefetched>,
    config: &EmitConfig,
    threads: usize,
    stores: &[&dyn ShardStore],
    on_done: &(dyn Fn(usize, usize) + Sync),
    warn: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<Emitted>, Vec<ShardRecord>), (u32, ShardFailure)> {
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    type Slot = Option<Result<(Emitted, ShardRecord), ShardFailure>>;
    prefetched.resize(jobs.len(), Prefetched::NotFound);
    let mut damaged: Vec<Option<String>> = vec![None; jobs.len()];
    let mut slots: Vec<Slot> = Vec::with_capacity(jobs.len());
    for (i, p) in prefetched.into_iter().enumerate() {
        slots.push(match p {
            Prefetched::Hit(hit) => Some(Ok(*hit)),
            Prefetched::Damaged(why) => {
                damaged[i] = Some(why);
                None
            }
            Prefetched::NotFound => None,
        });
    }
    let ready = slots.iter().filter(|s| s.is_some()).count();
    for n in 1..=ready {
        on_done(n, jobs.len());
    }
    done.store(ready, Ordering::SeqCst);
    let to_emit: Vec<usize> = (0..jobs.len()).filter(|&i| slots[i].is_none()).collect();
    let results: Mutex<&mut Vec<Slot>> = Mutex::new(&mut slots);
    let warn_cache = FirstWarning::new(warn);
    on_threads(threads, &to_emit, |thread, &i| {
        if failed.load(Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        // Serialized once: the key and a store's own key (the remote Action) hash these.
        let facts = job_facts(&jobs[i], config);
        let key = shard_key(&facts, &jobs[i]);
        let shard = StoredShard {
            key: &key,
            facts: &facts,
            bitcode: jobs[i].bitcode.as_deref(),
            kinds: config.kinds,
        };
        let result = stored_or_built(
            &jobs[i],
            config,
            &shard,
            damaged[i].clone(),
            stores,
            Warnings {
                cache: &|e| warn_cache.warn(e),
                llvm: warn,
            },
        )
        .map(|(emitted, source)| {
            let record = ShardRecord {
                index: jobs[i].plan.index,
                thread,
                time: started.elapsed(),
                source,
                key,
                functions: jobs[i].plan.members.len(),
            };
            (emitted, record)
        });
        failed.fetch_or(result.is_err(), Ordering::SeqCst);
        results.lock().expect("no thread panics while holding it")[i] = Some(result);
        on_done(done.fetch_add(1, Ordering::SeqCst) + 1, jobs.len());
    });
    let (mut out, mut records) = (Vec::new(), Vec::new());
    for (job, result) in jobs.iter().zip(slots) {
        match result {
            Some(Ok((emitted, record))) => {
                out.push(emitted);
                records.push(record);
            }
            Some(Err(e)) => return Err((job.plan.index, e)),
            // Skipped because another shard failed first; that error is reported below.
            None => continue,
        }
    }
    if out.len() != jobs.len() {
        return Err((
            u32::MAX,
            ShardFailure::Other("emission stopped after an earlier shard failed".into()),
        ));
    }
    Ok((out, records))
}

/// Where a shard's warnings go: the stores' (the first of all shards only) and LLVM's (each).
#[derive(Clone, Copy)]
struct Warnings<'a> {
    cache: &'a dyn Fn(&str),
    llvm: &'a dyn Fn(&str),
}

/// The shard from the first store that holds a sound entry for it (and then in the stores
/// before that one too), else emitted and given to every store. A damaged entry (found here,
/// or before the clone: `damaged`) is emitted again, not looked up further down: the report
/// says it was damaged.
fn stored_or_built(
    job: &ShardJob,
    config: &EmitConfig,
    shard: &StoredShard,
    damaged: Option<String>,
    stores: &[&dyn ShardStore],
    warn: Warnings,
) -> Result<(Emitted, ShardSource), ShardFailure> {
    if let Some(why) = damaged {
        let emitted = build_shard(job, config, warn.llvm)?;
        put_all(stores, shard, &emitted, warn.cache);
        return Ok((emitted, ShardSource::Damaged(why)));
    }
    let source = match look_up(stores, shard, warn.cache) {
        Lookup::Hit(emitted, source) => return Ok((emitted, source)),
        Lookup::Miss => ShardSource::Emitted,
        Lookup::Damaged(why) => ShardSource::Damaged(why),
    };
    let emitted = build_shard(job, config, warn.llvm)?;
    put_all(stores, shard, &emitted, warn.cache);
    Ok((emitted, source))
}

/// The cache key of a job under a configuration, from its [`job_facts`] and its digest of
/// the module's print, or its bitcode where it has no digest: of everything [`build_shard`]
/// reads (the job, the shared configuration); the key itself adds what decides how it reads
/// them (this aotlink build, LLVM's version).
fn shard_key(facts: &[u8], job: &ShardJob) -> Key {
    match &job.text_digest {
        Some(digest) => KeyHasher::new("aotlink shard key from the print")
            .field(facts)
            .field(&digest.0)
            .finish(),
        None => KeyHasher::new("aotlink shard key")
            .field(facts)
            .field(job.bitcode.as_deref().unwrap_or_default())
            .finish(),
    }
}

/// The configuration and the job's facts (all but its bitcode), as the key and the remote
/// Action's `job.json` hold them.
fn job_facts(job: &ShardJob, config: &EmitConfig) -> Vec<u8> {
    serde_json::to_vec(&(config, job)).expect("plain data serializes")
}

/// One shard, start to finish, in this thread's own context, from its job alone. LLVM's
/// diagnostics are kept, not printed: an error fails the shard with the first of them (LLVM
/// would otherwise end the process), a warning becomes one of the build's (`warn`).
fn build_shard(
    job: &ShardJob,
    config: &EmitConfig,
    warn: &dyn Fn(&str),
) -> Result<Emitted, ShardFailure> {
    let bitcode = (job.bitcode.as_deref())
        .ok_or_else(|| format!("shard {} was not cloned from the program", job.plan.index))?;
    let context = Context::create();
    let diagnostics = llvm::Diagnostics::collect(&context);
    let buffer = MemoryBuffer::create_from_memory_range(bitcode, "aotlink.shard");
    let mut module =
        Module::parse_bitcode_from_buffer(&buffer, &context).map_err(|e| e.to_string())?;
    let emitted = optimize_and_emit(&mut module, job, config);
    let mut first_error = None;
    for diagnostic in diagnostics.take(&module) {
        let error = diagnostic.error;
        let diagnostic = ShardDiagnostic::new(diagnostic, config.targets);
        if !error {
            warn(&diagnostic.to_string());
        } else if first_error.is_none() {
            first_error = Some(diagnostic);
        }
    }
    match first_error {
        // What LLVM emitted after an error is not code to link.
        Some(diagnostic) => Err(ShardFailure::Llvm(diagnostic)),
        None => Ok(emitted?),
    }
}

fn optimize_and_emit(
    module: &mut Module,
    job: &ShardJob,
    config: &EmitConfig,
) -> Result<Emitted, String> {
    let machine = target_machine(config.triple, &config.targets[0].target)?;
    // The target-independent part of -O2 (simplification, inlining) runs once, before the
    // bodies are copied per target; vectorization and what follows it run on every version
    // with its own target's costs. Running all of -O2 on every copy cost a build per target.
    let pipeline = llvm::O2Pipeline::for_machine(&machine)?;
    set_base_attributes(module, &job.plan, &job.clone_sets, config.targets);
    llvm::run_passes(module, &pipeline.before_vectorization, Some(&machine))?;
    multiversion(module, &job.plan, &job.clone_sets, config.targets);
    if let Some(indices) = &job.table {
        add_own_table(module, job, indices, config.targets.len())?;
    }
    llvm::run_passes(module, &pipeline.from_vectorization, Some(&machine))?;
    emit_module(module, &machine, config.kinds)
}

/// The shard's table in its own object, for targets whose objects cannot point into another
/// object by a 32-bit difference (the header holds every other target's tables).
fn add_own_table(
    module: &Module,
    job: &ShardJob,
    indices: &TableIndices,
    ntargets: usize,
) -> Result<(), String> {
    let (fvars, gvars) = indices.maps();
    let spec = shard_spec(&job.plan, &job.clone_sets, &fvars, &gvars, ntargets);
    let blob = encode_shard_table(&spec, ntargets as u32);
    add_blob_global(
        module,
        &shard_table_symbol(job.plan.index),
        &blob,
        llvm::Visibility::Hidden,
        |r| match r {
            aotload::format::TableRef::Symbol(name) => llvm::named_global(module, name),
            _ => None,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LLVM names a version (`f.aotlink.t2`, `f.aotlink.base`); the error names the function as
    /// the input does and the CPU target the version is for.
    #[test]
    fn a_diagnostic_names_the_function_and_the_target_of_its_version() {
        let targets: Vec<ResolvedTarget> = CpuTarget::parse_list("generic;apple-m1;apple-m2")
            .unwrap()
            .iter()
            .map(|t| t.resolve("arm64-apple-macosx11.0.0").unwrap())
            .collect();
        let named = |function: Option<&str>| {
            let d = ShardDiagnostic::new(
                llvm::Diagnostic {
                    error: true,
                    function: function.map(String::from),
                    message: "m".into(),
                },
                &targets,
            );
            d.to_string()
        };
        assert_eq!(
            named(Some("crc.aotlink.t2")),
            "function `crc` for CPU target `apple-m2`: m"
        );
        assert_eq!(
            named(Some("crc.aotlink.base")),
            "function `crc` for CPU target `generic`: m"
        );
        assert_eq!(
            named(Some("plain")),
            "function `plain` for CPU target `generic`: m"
        );
        assert_eq!(named(None), "m");
    }
}
