//! `aotload`: opens images built by aotlink. No LLVM inside.
//!
//! [`Image::open`] verifies the file (root, tables, checksum) before the dynamic loader runs any
//! of it, picks the CPU target for this host, merges the per-shard tables into flat `fvars` /
//! `gvars` and fills the dispatch slots. [`ImageFile`] reads an image of any format without
//! loading it. With [`LoadOptions::require_signature`] or [`LoadOptions::trusted_keys`] the
//! image's signature trailer ([`signing`]) is checked first, before any structure of the
//! file is parsed. The C ABI is in `capi` and `include/aotload.h`.

// The source is grouped by phase of an open, each folder with a module doc saying what it owns
// and what it may not touch: `format` (the bytes' meaning), `file` (reading a file and what its
// checksum covers), `signing` (the ed25519 trailer), `host` (host detection), `select.rs`
// (target choice), `verdict` (remembered checksum verdicts), `load` (dlopen and the tables),
// `methods` (method table and invalidation), `capi` (the C ABI).
pub mod cache_dir;
#[cfg(feature = "capi")]
mod capi;
mod error;
mod file;
pub mod format;
mod host;
mod load;
mod methods;
mod select;
pub mod signing;
pub mod verdict;

// The modules users name by path: the format's metadata, the feature list and host tables the
// writer shares, the root-symbol lookup, the protected-relocation check and dynamic calls.
pub use file::{coverage, relocations, root_symbol};
pub use format::meta;
pub use host::{cpu_names, feature_bits, features};
pub use load::call;

pub use error::{Conflict, LoadCause, LoadError};
pub use file::shard_tables::ShardTables;
pub use file::{
    exported_symbols, map_image_file, open_image_file, read_image_file, FileBytes, ImageFile,
    ImageFileInPlace, Segment, Segments,
};
pub use format::arch::Arch;
pub use format::ImageKind;
pub use host::HostCpu;
pub use load::image::{Image, LoadOptions};
pub use meta::{Meta, MetaView};
pub use methods::invalidation::{validate, InvalidReason, Invalidation, Resolution};
pub use methods::method_table::{MethodEntry, MethodTable};
pub use select::choose_target;
pub use signing::PublicKey;
pub use verdict::{DiskVerdicts, VerdictOptions, Verification};
