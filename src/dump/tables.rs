//! Turning a format [`Blob`] into an LLVM global: bytes as byte arrays, and at each fixup
//! either the constant `trunc(ptrtoint sym - ptrtoint blob)`, which the assembler emits as a
//! PC-relative relocation that the static linker resolves (no dynamic relocation per entry), or
//! the symbol's address (`ptrtoint sym`) for references across object files.

use std::collections::HashMap;

use aotload::format::{Blob, Fixup, ShardSpec, TableRef};
use inkwell::module::Module;

use super::annotate::CloneSets;
use super::multiversion::{base_name, clone_name, slot_name};
use super::partition::ShardPlan;
use crate::llvm::{self, Global, Piece, Visibility};

/// What a shard's table lists: its fvars (the base version's symbol where the function has
/// versions) and gvars with their image-wide indices, per target after the first the clones
/// it has, and its dispatch slots. A function's versions are what `clone_sets` dispatches
/// (multiversion.rs makes exactly those).
pub fn shard_spec(
    plan: &ShardPlan,
    clone_sets: &CloneSets,
    fvar_index: &HashMap<String, u32>,
    gvar_index: &HashMap<String, u32>,
    ntargets: usize,
) -> ShardSpec {
    let fvars: Vec<(u32, &String)> = (plan.members.iter())
        .filter_map(|n| fvar_index.get(n).map(|&i| (i, n)))
        .collect();
    let versioned = |n: &str| clone_sets.dispatched(n) != 0;
    let symbol = |n: &String| match versioned(n) {
        true => base_name(n),
        false => n.clone(),
    };
    ShardSpec {
        index: plan.index,
        fvars: fvars.iter().map(|&(i, n)| (i, symbol(n))).collect(),
        gvars: (plan.members.iter())
            .filter_map(|n| gvar_index.get(n).map(|&i| (i, n.clone())))
            .collect(),
        clones: (1..ntargets)
            .map(|t| {
                (fvars.iter().enumerate())
                    .filter(|(_, (_, n))| clone_sets.dispatched(n) >> t & 1 == 1)
                    .map(|(pos, (_, n))| (pos as u32, clone_name(n, t)))
                    .collect()
            })
            .collect(),
        slots: (fvars.iter())
            .filter(|(_, n)| versioned(n))
            .map(|&(i, n)| (i, slot_name(n)))
            .collect(),
    }
}

/// Adds `blob` to `module` as constant global `name`. `resolve` gives the global each fixup
/// points at; an unresolved symbol is the caller's bug and reported as an error.
pub fn add_blob_global<'m>(
    module: &'m Module,
    name: &str,
    blob: &Blob<TableRef>,
    visibility: Visibility,
    mut resolve: impl FnMut(&TableRef) -> Option<Global<'m>>,
) -> Result<Global<'m>, String> {
    // Pieces: byte runs between fixups, and the fixups themselves.
    let mut pieces = Vec::new();
    let mut at = 0;
    for (offset, kind, symbol) in &blob.fixups {
        if *offset > at {
            pieces.push(Piece::Bytes(&blob.bytes[at..*offset]));
        }
        let target =
            resolve(symbol).ok_or_else(|| format!("table {name} refers to missing {symbol:?}"))?;
        pieces.push(match kind {
            Fixup::Offset32 => Piece::Offset32(target),
            Fixup::Pointer64 => Piece::Pointer64(target),
        });
        at = offset
            + match kind {
                Fixup::Offset32 => 4,
                Fixup::Pointer64 => 8,
            };
    }
    if at < blob.bytes.len() {
        pieces.push(Piece::Bytes(&blob.bytes[at..]));
    }
    Ok(llvm::add_packed_constant(module, name, &pieces, visibility))
}
