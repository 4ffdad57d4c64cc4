//! The header objects. The root: the symbol `aotlink_image` (format head, shard table
//! pointers, external method slots, metadata), the image data, and the slots through which
//! the image calls methods of other images. The tables: every shard's table, in an object of
//! their own. They are not in their shards because they hold the image-wide fvar and gvar
//! numbers: an added function shifts those, and re-emitting one object is cheap where
//! re-emitting every shard is not. They are not in the root because the root holds the
//! metadata, which every body edit changes, and the tables (50,000 relocations at 50,000
//! functions) do not change then: their object is kept in the shard stores (shard_tables.rs).
//! A table points into its shard's object through symbols, which the static linker resolves.

use std::collections::HashMap;

use aotload::format::{
    encode_root, external_slot_symbol, shard_table_symbol, ImageKind, TableRef,
    IMAGE_DATA_SIZE_SYMBOL, IMAGE_DATA_SYMBOL, ROOT_SYMBOL, UNRESOLVED_SYMBOL,
};
use inkwell::context::Context;
use inkwell::module::Module;

use super::shard_tables::ShardTables;
use super::tables::add_blob_global;
use crate::llvm::{self, Global, Visibility};

/// Builds the header's root module for an image of the shards `shards` calling `nexternals`
/// methods of other images. The shard tables it points at are defined elsewhere: in their
/// shards (`tables_in_shards`) or in the tables object ([`tables_module`]).
#[allow(clippy::too_many_arguments)]
pub fn root_module<'ctx>(
    context: &'ctx Context,
    triple: &str,
    data_layout: &str,
    kind: ImageKind,
    shards: &[u32],
    nexternals: u32,
    meta: &[u8],
    image_data: &[u8],
    constructor_entry: Option<&str>,
    finalize_on_unload: bool,
) -> Result<Module<'ctx>, String> {
    let mut module = context.create_module("aotlink.header");
    module.set_triple(&inkwell::targets::TargetTriple::create(triple));
    llvm::set_data_layout(&module, data_layout);

    let data = add_image_data(&module, image_data);
    let tables: Vec<Global> = (shards.iter())
        .map(|&s| llvm::declare_byte(&module, &shard_table_symbol(s), Visibility::Hidden))
        .collect();
    let slots = add_external_slots(&module, nexternals);
    let nshards = shards.len() as u32;
    let root = encode_root(kind, nshards, nexternals, image_data.len() as u64, meta);
    add_blob_global(
        &module,
        ROOT_SYMBOL,
        &root,
        Visibility::Default,
        |r| match r {
            TableRef::ShardTable(i) => tables.get(*i as usize).copied(),
            TableRef::ImageData => Some(data),
            TableRef::ExternalSlot(i) => slots.get(*i as usize).copied(),
            TableRef::Symbol(_) => None,
        },
    )?;
    let mut link =
        |what: &str, ir: &str| link_ir(context, &mut module, what, ir, triple, data_layout);
    if let Some(entry) = constructor_entry {
        // The DLL entry point that runs the image's constructors and destructors.
        let ir = include_str!("dll_entry.ll").replace("@ENTRY", &format!("@{entry}"));
        link("the DLL entry point", &ir)?;
    }
    if finalize_on_unload {
        link("the finalizer", include_str!("elf_finalize.ll"))?;
        link(
            "atexit and pthread_atfork",
            include_str!("elf_nonshared.ll"),
        )?;
    }
    Ok(module)
}

/// Builds the module of every shard's table (`tables`), each a hidden global under its shard's
/// table symbol.
pub fn tables_module<'ctx>(
    context: &'ctx Context,
    triple: &str,
    data_layout: &str,
    tables: &ShardTables,
) -> Result<Module<'ctx>, String> {
    let module = context.create_module("aotlink.tables");
    module.set_triple(&inkwell::targets::TargetTriple::create(triple));
    llvm::set_data_layout(&module, data_layout);
    add_shard_tables(&module, tables)?;
    Ok(module)
}

/// Links the IR text `ir` (`what`, for errors) into `module`. Linking replaces declarations of
/// the module, so it takes the module exclusively: no [`Global`] handle into it may live
/// across the call.
fn link_ir<'ctx>(
    context: &'ctx Context,
    module: &mut Module<'ctx>,
    what: &str,
    ir: &str,
    triple: &str,
    data_layout: &str,
) -> Result<(), String> {
    let text = format!("target triple = \"{triple}\"\ntarget datalayout = \"{data_layout}\"\n{ir}");
    let buffer =
        inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), what);
    let part = context
        .create_module_from_ir(buffer)
        .map_err(|e| format!("{what}: {e}"))?;
    module
        .link_in_module(part)
        .map_err(|e| format!("{what}: {e}"))
}

/// Each shard's table, hidden, in shard order. What a table points at (versions, slots,
/// variables) is defined in the shard's object and declared here as a byte: data, not a
/// function, so that no PLT relocation is involved (names and visibilities: `shard_tables::Declarations`).
fn add_shard_tables(module: &Module, tables: &ShardTables) -> Result<(), String> {
    let (blobs, declarations) = tables.encode();
    let mut declared: HashMap<String, Global> = HashMap::new();
    for (index, blob) in &blobs {
        add_blob_global(
            module,
            &shard_table_symbol(*index),
            blob,
            Visibility::Hidden,
            |r| match r {
                TableRef::Symbol(name) => {
                    Some(*declared.entry(name.clone()).or_insert_with(|| {
                        let (symbol, visibility) = declarations.of(name);
                        llvm::declare_byte(module, &symbol, visibility)
                    }))
                }
                _ => None,
            },
        )?;
    }
    Ok(())
}

/// One writable pointer per external method, hidden, holding a function that traps until the
/// loader writes the method's address: a call to an unresolved method stops the program
/// instead of jumping through null.
fn add_external_slots<'m>(module: &'m Module, n: u32) -> Vec<Global<'m>> {
    if n == 0 {
        return Vec::new();
    }
    let names: Vec<String> = (0..n).map(external_slot_symbol).collect();
    llvm::add_trap_slots(module, UNRESOLVED_SYMBOL, &names)
}

/// `aotlink_image_data` (the bytes) and `aotlink_image_data_size` (an u64), both hidden, for
/// C code of the image that declares them.
fn add_image_data<'m>(module: &'m Module, bytes: &[u8]) -> Global<'m> {
    llvm::add_bytes_and_size(module, IMAGE_DATA_SYMBOL, IMAGE_DATA_SIZE_SYMBOL, bytes)
}
