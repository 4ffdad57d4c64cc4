//! Turning a format [`Blob`] into an LLVM global: bytes as byte arrays, and at each fixup
//! either the constant `trunc(ptrtoint sym - ptrtoint blob)`, which the assembler emits as a
//! PC-relative relocation that the static linker resolves (no dynamic relocation per entry), or
//! the symbol's address (`ptrtoint sym`) for references across object files.

use std::ffi::CString;

use aotload::format::{Blob, Fixup, TableRef};
use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMLinkage, LLVMVisibility};

/// Adds `blob` to `module` as constant global `name`. `resolve` gives the global each fixup
/// points at; an unresolved symbol is the caller's bug and reported as an error.
pub fn add_blob_global(
    module: &Module,
    name: &str,
    blob: &Blob<TableRef>,
    visibility: LLVMVisibility,
    resolve: impl Fn(&TableRef) -> Option<LLVMValueRef>,
) -> Result<LLVMValueRef, String> {
    let m = module.as_mut_ptr();
    unsafe {
        let ctx = LLVMGetModuleContext(m);
        let (i8t, i32t, i64t) = (
            LLVMInt8TypeInContext(ctx),
            LLVMInt32TypeInContext(ctx),
            LLVMInt64TypeInContext(ctx),
        );
        // Pieces: byte runs between fixups, and the fixups themselves.
        let mut pieces: Vec<Result<&[u8], (Fixup, &TableRef)>> = Vec::new();
        let mut at = 0;
        for (offset, kind, symbol) in &blob.fixups {
            if *offset > at {
                pieces.push(Ok(&blob.bytes[at..*offset]));
            }
            pieces.push(Err((*kind, symbol)));
            at = offset
                + match kind {
                    Fixup::Offset32 => 4,
                    Fixup::Pointer64 => 8,
                };
        }
        if at < blob.bytes.len() {
            pieces.push(Ok(&blob.bytes[at..]));
        }
        let mut types: Vec<LLVMTypeRef> = pieces
            .iter()
            .map(|p| match p {
                Ok(bytes) => LLVMArrayType2(i8t, bytes.len() as u64),
                Err((Fixup::Offset32, _)) => i32t,
                Err((Fixup::Pointer64, _)) => i64t,
            })
            .collect();
        let ty = LLVMStructTypeInContext(ctx, types.as_mut_ptr(), types.len() as u32, 1);
        let cname = CString::new(name).expect("no NUL in table names");
        let global = LLVMAddGlobal(m, ty, cname.as_ptr());
        let base = LLVMConstPtrToInt(global, i64t);
        let mut values = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            values.push(match piece {
                Ok(bytes) => {
                    LLVMConstStringInContext2(ctx, bytes.as_ptr() as *const _, bytes.len(), 1)
                }
                Err((kind, symbol)) => {
                    let target = resolve(symbol)
                        .ok_or_else(|| format!("table {name} refers to missing {symbol:?}"))?;
                    // A table entry is an address: the function must have one of its own (and on
                    // AArch64 a difference to an unnamed_addr function becomes a PLT32
                    // relocation, which GNU ld 2.40 cannot link).
                    if !LLVMIsAGlobalValue(target).is_null() {
                        LLVMSetUnnamedAddress(target, llvm_sys::LLVMUnnamedAddr::LLVMNoUnnamedAddr);
                    }
                    let address = LLVMConstPtrToInt(target, i64t);
                    match kind {
                        Fixup::Offset32 => LLVMConstTrunc(LLVMConstSub(address, base), i32t),
                        Fixup::Pointer64 => address,
                    }
                }
            });
        }
        let init = LLVMConstStructInContext(ctx, values.as_mut_ptr(), values.len() as u32, 1);
        LLVMSetInitializer(global, init);
        LLVMSetGlobalConstant(global, 1);
        LLVMSetLinkage(global, LLVMLinkage::LLVMExternalLinkage);
        LLVMSetVisibility(global, visibility);
        LLVMSetAlignment(global, 16);
        Ok(global)
    }
}

/// The global value named `name` in `module` (function, variable or alias), if any.
pub fn named_global(module: &Module, name: &str) -> Option<LLVMValueRef> {
    let cname = CString::new(name).ok()?;
    let m = module.as_mut_ptr();
    unsafe {
        [
            LLVMGetNamedFunction(m, cname.as_ptr()),
            LLVMGetNamedGlobal(m, cname.as_ptr()),
            LLVMGetNamedGlobalAlias(m, cname.as_ptr(), name.len()),
        ]
        .into_iter()
        .find(|v| !v.is_null())
    }
}

/// Declares an external hidden byte-sized global `name` (another object defines it).
pub fn declare_hidden(module: &Module, name: &str) -> LLVMValueRef {
    let cname = CString::new(name).expect("no NUL in table names");
    unsafe {
        let m = module.as_mut_ptr();
        let g = LLVMAddGlobal(
            m,
            LLVMInt8TypeInContext(LLVMGetModuleContext(m)),
            cname.as_ptr(),
        );
        LLVMSetVisibility(g, LLVMVisibility::LLVMHiddenVisibility);
        g
    }
}
