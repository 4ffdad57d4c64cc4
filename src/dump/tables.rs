//! Turning a format [`Blob`] into an LLVM global: bytes as byte arrays, and at each fixup
//! either the constant `trunc(ptrtoint sym - ptrtoint blob)`, which the assembler emits as a
//! PC-relative relocation that the static linker resolves (no dynamic relocation per entry), or
//! the symbol's address (`ptrtoint sym`) for references across object files.

use aotload::format::{Blob, Fixup, TableRef};
use inkwell::module::Module;

use crate::llvm::{self, Global, Piece, Visibility};

/// Adds `blob` to `module` as constant global `name`. `resolve` gives the global each fixup
/// points at; an unresolved symbol is the caller's bug and reported as an error.
pub fn add_blob_global<'m>(
    module: &'m Module,
    name: &str,
    blob: &Blob<TableRef>,
    visibility: Visibility,
    resolve: impl Fn(&TableRef) -> Option<Global<'m>>,
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
