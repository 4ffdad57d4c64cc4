//! The header objects (header.rs), emitted on a thread of their own from the moment their
//! metadata is known until the shards are emitted. They need nothing of the program's module
//! (their own LLVM context, owned inputs), so the program can go while they are made; and a
//! rebuild that takes all but one shard from the cache emits that shard beside them, instead
//! of waiting for them first (0.45 s of a 6 s rebuild at 50,000 functions: 50,000 relocations
//! and 4 MB of metadata). The tables' object is looked up in the stores before the thread
//! starts (shard_tables.rs) and emitted only when they lack it.

use std::sync::Arc;
use std::thread::JoinHandle;

use aotload::format::ImageKind;
use aotload::meta::Meta;
use inkwell::context::Context;

use super::emit;
use super::header;
use super::output::{EmitKinds, Emitted};
use super::shard_tables::{ShardTables, TablesJob, TablesObject, TablesPut};
use crate::target::{CpuTarget, Platform, Triple};

/// What the header objects are made from besides the metadata and the shard tables.
pub struct HeaderFacts {
    pub triple: String,
    pub data_layout: String,
    pub kind: ImageKind,
    pub emit: EmitKinds,
    pub nexternals: u32,
    pub targets: Vec<CpuTarget>,
    /// Static destructors registered with `__cxa_atexit` and C's exit handlers run on unload,
    /// fork handlers are dropped (ELF; see `elf_finalize.ll`, `elf_nonshared.ll`).
    pub finalize_on_unload: bool,
    pub image_data: Arc<[u8]>,
}

/// The emitted header: its root, and the shard tables' object unless the tables are in the
/// shards (with where it goes in the stores).
pub struct HeaderObjects {
    pub root: Emitted,
    pub tables: Option<(TablesObject, TablesPut)>,
}

/// A header being emitted. Dropping it waits for the thread: LLVM must not be working on a
/// detached thread while the process exits (its static destructors run then).
pub struct PendingHeader(Option<JoinHandle<Result<HeaderObjects, String>>>);

impl PendingHeader {
    /// Starts emitting the header of the shards `shards` (their indices, in order), with the
    /// metadata `meta` (encoded there) and the shard tables `tables` (`None`: they are in the
    /// shards).
    pub fn start(
        facts: HeaderFacts,
        shards: Vec<u32>,
        meta: Meta,
        tables: Option<TablesJob>,
    ) -> PendingHeader {
        PendingHeader(Some(std::thread::spawn(move || {
            let tables = match tables {
                Some(job) => Some(job.finish(|tables| emit_tables(&facts, tables))?),
                None => None,
            };
            Ok(HeaderObjects {
                root: emit_root(&facts, &shards, &meta.encode())?,
                tables,
            })
        })))
    }

    /// The emitted header, once its thread is done.
    pub fn wait(mut self) -> Result<HeaderObjects, String> {
        let handle = self.0.take().expect("waited for once");
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for PendingHeader {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            // An error or a panic there is of no use to a build that failed already.
            let _ = handle.join();
        }
    }
}

fn emit_root(facts: &HeaderFacts, shards: &[u32], meta: &[u8]) -> Result<Emitted, String> {
    let context = Context::create();
    let constructor_entry = Triple::parse(&facts.triple)
        .ok()
        .and_then(|t| Platform::for_triple(&t).constructor_entry);
    let module = header::root_module(
        &context,
        &facts.triple,
        &facts.data_layout,
        facts.kind,
        shards,
        facts.nexternals,
        meta,
        &facts.image_data,
        constructor_entry.as_deref(),
        facts.finalize_on_unload,
    )?;
    let machine = emit::target_machine(&facts.triple, &facts.targets[0])?;
    emit::emit_module(&module, &machine, facts.emit)
}

fn emit_tables(facts: &HeaderFacts, tables: &ShardTables) -> Result<Emitted, String> {
    let context = Context::create();
    let module = header::tables_module(&context, &facts.triple, &facts.data_layout, tables)?;
    let machine = emit::target_machine(&facts.triple, &facts.targets[0])?;
    emit::emit_module(&module, &machine, facts.emit)
}
