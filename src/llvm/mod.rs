//! The one place aotlink talks to LLVM and LLD below inkwell: every raw LLVM C API call, the
//! declarations of the two C++ shims (`src/llvm_shim.cpp`, `src/lld_shim.cpp`) and the
//! conversions between their pointers and safe types. Nothing outside this module imports
//! `llvm_sys` or calls `as_mut_ptr` on an inkwell object.
//!
//! # The contract every `unsafe` block here relies on
//! - A [`Global<'m>`] points into a module borrowed for `'m`. Globals, bodies and instructions
//!   are deleted only through `&mut Module` ([`run_passes`]) or by dropping the module, so no
//!   handle outlives what it points at. Handles to instructions never leave this module:
//!   calls are changed in place ([`Global::rewrite_direct_calls`]).
//! - A module, its context and every handle into them are used on one thread (the raw
//!   pointers make the handles neither `Send` nor `Sync`); shards are emitted in contexts of
//!   their own.
//! - Strings LLVM or the shims allocate are copied and freed once, at the call that got them.
//! - LLD runs one link at a time ([`lld::link`] says so in its `# Safety`).

mod analysis;
mod construct;
mod constructors;
pub mod cpu;
mod diagnostics;
mod disposal;
mod edit;
mod fatal;
mod global;
pub mod lld;
mod passes;
mod shim;

pub use analysis::BodyTraits;
pub use construct::{
    add_bytes_and_size, add_dispatch_thunk, add_packed_constant, add_trap_slots, bind_through_slot,
    declare_byte, function_like, pointer_slot, set_data_layout, Piece,
};
pub use constructors::call_constructors_in_order;
pub use diagnostics::{Diagnostic, Diagnostics};
pub use disposal::{Disposal, ProgramContext};
pub use edit::{clone_shard, CallRewrite};
pub use fatal::install_fatal_error_handler;
pub use global::{
    context_names, drop_local_names, drop_module_flag, globals, named_global,
    reading_without_local_names, triple, Global, GlobalKind, Linkage, Visibility,
};
pub use passes::{run_passes, use_init_array, version, O2Pipeline};
