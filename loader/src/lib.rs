//! `aotload`: opens images built by aotlink. No LLVM inside.
//!
//! [`Image::open`] verifies the file (root, tables, checksum) before the dynamic loader runs any
//! of it, picks the CPU target for this host, merges the per-shard tables into flat `fvars` /
//! `gvars` and fills the dispatch slots. [`ImageFile`] reads an image of any format without
//! loading it. With [`LoadOptions::require_signature`] or [`LoadOptions::trusted_keys`] the
//! image's signature trailer ([`signature`]) is checked first, before any structure of the
//! file is parsed. The C ABI is in `capi` and `include/aotload.h`.

pub mod cache_dir;
pub mod call;
#[cfg(feature = "capi")]
mod capi;
mod checks;
pub mod coverage;
mod early_checksum;
mod error;
pub mod features;
mod file;
pub mod format;
pub mod host_darwin;
pub mod host_features;
pub mod host_names;
mod image;
mod library;
pub mod meta;
mod method_table;
mod piece_hash;
pub mod relocations;
pub mod root_symbol;
mod segments;
mod select;
pub mod signature;
mod validate;
pub mod verdict;

pub use error::{LoadCause, LoadError};
pub use file::{
    exported_symbols, map_image_file, open_image_file, read_image_file, FileBytes, ImageFile,
    Segment, Segments,
};
pub use format::ImageKind;
pub use image::{Image, LoadOptions};
pub use meta::{Meta, MetaView};
pub use method_table::{Conflict, MethodEntry, MethodTable};
pub use select::{choose_target, HostCpu};
pub use signature::PublicKey;
pub use validate::{validate, InvalidReason, Invalidation, Resolution};
pub use verdict::{DiskVerdicts, VerdictOptions, Verification};
