//! The header object: the root symbol `aotlink_image` (format head, shard table pointers,
//! external method slots, metadata), the image data, and the slots through which the image
//! calls methods of other images.

use std::ffi::CString;

use aotload::format::{
    encode_root, external_slot_symbol, shard_table_symbol, ImageKind, TableRef,
    IMAGE_DATA_SIZE_SYMBOL, IMAGE_DATA_SYMBOL, ROOT_SYMBOL, UNRESOLVED_SYMBOL,
};
use inkwell::context::Context;
use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::LLVMVisibility;

use super::tables::{add_blob_global, declare_hidden};

/// Builds the header module for an image of `nshards` shards calling `nexternals` methods of
/// other images.
#[allow(clippy::too_many_arguments)]
pub fn header_module<'ctx>(
    context: &'ctx Context,
    triple: &str,
    data_layout: &str,
    kind: ImageKind,
    nshards: u32,
    nexternals: u32,
    meta: &[u8],
    image_data: &[u8],
    constructor_entry: Option<&str>,
) -> Result<Module<'ctx>, String> {
    let module = context.create_module("aotlink.header");
    module.set_triple(&inkwell::targets::TargetTriple::create(triple));
    let dl = CString::new(data_layout).expect("no NUL in data layouts");
    unsafe { LLVMSetDataLayout(module.as_mut_ptr(), dl.as_ptr()) };

    let data = add_image_data(&module, image_data);
    let tables: Vec<_> = (0..nshards)
        .map(|i| declare_hidden(&module, &shard_table_symbol(i)))
        .collect();
    let slots = add_external_slots(&module, nexternals);
    let root = encode_root(kind, nshards, nexternals, image_data.len() as u64, meta);
    add_blob_global(
        &module,
        ROOT_SYMBOL,
        &root,
        LLVMVisibility::LLVMDefaultVisibility,
        |r| match r {
            TableRef::ShardTable(i) => tables.get(*i as usize).copied(),
            TableRef::ImageData => Some(data),
            TableRef::ExternalSlot(i) => slots.get(*i as usize).copied(),
            TableRef::Symbol(_) => None,
        },
    )?;
    if let Some(entry) = constructor_entry {
        add_constructor_entry(context, &module, entry, triple, data_layout)?;
    }
    Ok(module)
}

/// Adds the DLL entry point `name` that runs the image's constructors and destructors
/// (`dll_entry.ll`).
fn add_constructor_entry<'ctx>(
    context: &'ctx Context,
    module: &Module<'ctx>,
    name: &str,
    triple: &str,
    data_layout: &str,
) -> Result<(), String> {
    let text = format!(
        "target triple = \"{triple}\"\ntarget datalayout = \"{data_layout}\"\n{}",
        include_str!("dll_entry.ll").replace("@ENTRY", &format!("@{name}"))
    );
    let buffer = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(
        text.as_bytes(),
        "dll_entry",
    );
    let entry = context
        .create_module_from_ir(buffer)
        .map_err(|e| format!("the DLL entry point: {e}"))?;
    module
        .link_in_module(entry)
        .map_err(|e| format!("the DLL entry point: {e}"))
}

/// One writable pointer per external method, hidden, holding a function that traps until the
/// loader writes the method's address: a call to an unresolved method stops the program
/// instead of jumping through null.
fn add_external_slots(module: &Module, n: u32) -> Vec<llvm_sys::prelude::LLVMValueRef> {
    if n == 0 {
        return Vec::new();
    }
    let m = module.as_mut_ptr();
    unsafe {
        let ctx = LLVMGetModuleContext(m);
        let void_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), std::ptr::null_mut(), 0, 0);
        let name = CString::new(UNRESOLVED_SYMBOL).unwrap();
        let trap = LLVMAddFunction(m, name.as_ptr(), void_fn);
        LLVMSetVisibility(trap, LLVMVisibility::LLVMHiddenVisibility);
        let builder = LLVMCreateBuilderInContext(ctx);
        LLVMPositionBuilderAtEnd(
            builder,
            LLVMAppendBasicBlockInContext(ctx, trap, c"entry".as_ptr()),
        );
        let trap_name = c"llvm.trap";
        let intrinsic = LLVMAddFunction(m, trap_name.as_ptr(), void_fn);
        LLVMBuildCall2(
            builder,
            void_fn,
            intrinsic,
            std::ptr::null_mut(),
            0,
            c"".as_ptr(),
        );
        LLVMBuildUnreachable(builder);
        LLVMDisposeBuilder(builder);
        let pointer = LLVMPointerTypeInContext(ctx, 0);
        (0..n)
            .map(|i| {
                let name = CString::new(external_slot_symbol(i)).unwrap();
                let slot = LLVMAddGlobal(m, pointer, name.as_ptr());
                LLVMSetInitializer(slot, trap);
                LLVMSetVisibility(slot, LLVMVisibility::LLVMHiddenVisibility);
                slot
            })
            .collect()
    }
}

/// `aotlink_image_data` (the bytes) and `aotlink_image_data_size` (an u64), both hidden, for
/// C code of the image that declares them.
fn add_image_data(module: &Module, bytes: &[u8]) -> llvm_sys::prelude::LLVMValueRef {
    let m = module.as_mut_ptr();
    unsafe {
        let ctx = LLVMGetModuleContext(m);
        let init = LLVMConstStringInContext2(ctx, bytes.as_ptr() as *const _, bytes.len(), 1);
        let name = CString::new(IMAGE_DATA_SYMBOL).unwrap();
        let data = LLVMAddGlobal(m, LLVMTypeOf(init), name.as_ptr());
        LLVMSetInitializer(data, init);
        LLVMSetGlobalConstant(data, 1);
        LLVMSetVisibility(data, LLVMVisibility::LLVMHiddenVisibility);
        LLVMSetAlignment(data, 16);
        let i64t = LLVMInt64TypeInContext(ctx);
        let name = CString::new(IMAGE_DATA_SIZE_SYMBOL).unwrap();
        let size = LLVMAddGlobal(m, i64t, name.as_ptr());
        LLVMSetInitializer(size, LLVMConstInt(i64t, bytes.len() as u64, 0));
        LLVMSetGlobalConstant(size, 1);
        LLVMSetVisibility(size, LLVMVisibility::LLVMHiddenVisibility);
        data
    }
}
