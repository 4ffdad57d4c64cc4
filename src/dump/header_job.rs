//! The header object, emitted on a thread of its own from the moment its metadata is known
//! until the shards are emitted. It needs nothing of the program's module (its own LLVM
//! context, owned inputs), so the program can go while it runs; and a rebuild that takes all
//! but one shard from the cache emits that shard beside it, instead of waiting for it first
//! (0.45 s of a 6 s rebuild at 50,000 functions: its 50,000 relocations and 4 MB of metadata).

use std::sync::Arc;
use std::thread::JoinHandle;

use aotload::format::{ImageKind, ShardSpec};
use inkwell::context::Context;

use super::emit;
use super::header;
use super::output::{EmitKinds, Emitted};
use crate::target::{CpuTarget, Platform, Triple};

/// What the header object is made from besides the metadata and the shard tables.
pub struct HeaderFacts {
    pub triple: String,
    pub data_layout: String,
    pub kind: ImageKind,
    pub emit: EmitKinds,
    pub exports: Vec<String>,
    /// Exported variables the tables reach by their hidden own names (`Program::interposable`).
    pub interposable: Vec<String>,
    pub nexternals: u32,
    pub targets: Vec<CpuTarget>,
    pub tables_in_shards: bool,
    /// Static destructors registered with `__cxa_atexit` and C's exit handlers run on unload,
    /// fork handlers are dropped (ELF; see `elf_finalize.ll`, `elf_nonshared.ll`).
    pub finalize_on_unload: bool,
    pub image_data: Arc<[u8]>,
}

/// A header being emitted. Dropping it waits for the thread: LLVM must not be working on a
/// detached thread while the process exits (its static destructors run then).
pub struct PendingHeader(Option<JoinHandle<Result<Emitted, String>>>);

impl PendingHeader {
    /// Starts emitting the header of `facts`, with the shard tables `shards` and the encoded
    /// metadata `meta`.
    pub fn start(facts: HeaderFacts, shards: Vec<ShardSpec>, meta: Vec<u8>) -> PendingHeader {
        PendingHeader(Some(std::thread::spawn(move || {
            emit_header(&facts, &shards, &meta)
        })))
    }

    /// The emitted header, once its thread is done.
    pub fn wait(mut self) -> Result<Emitted, String> {
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

fn emit_header(facts: &HeaderFacts, shards: &[ShardSpec], meta: &[u8]) -> Result<Emitted, String> {
    let context = Context::create();
    let constructor_entry = Triple::parse(&facts.triple)
        .ok()
        .and_then(|t| Platform::for_triple(&t).constructor_entry);
    let module = header::header_module(
        &context,
        &facts.triple,
        &facts.data_layout,
        facts.kind,
        shards,
        facts.tables_in_shards,
        facts.targets.len() as u32,
        &facts.exports,
        &facts.interposable,
        facts.nexternals,
        meta,
        &facts.image_data,
        constructor_entry.as_deref(),
        facts.finalize_on_unload,
    )?;
    let machine = emit::target_machine(&facts.triple, &facts.targets[0])?;
    emit::emit_module(&module, &machine, facts.emit)
}
