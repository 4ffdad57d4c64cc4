//! aotlink: LLVM IR in, loadable multiversioned shared-library images out.
//!
//! The pipeline shows in the modules: [`codegen`] (load, select, index) -> [`dump`] (partition,
//! emit on threads, tables, archive) -> [`link`] (LLD in-process or the system C compiler) ->
//! `aotload` (the loader crate); [`sign`] signs sealed images.

pub mod build;
pub mod cache;
pub mod codegen;
pub mod crash_note;
pub mod dump;
pub mod inspect;
pub mod link;
pub(crate) mod llvm;
pub mod method_table_file;
pub mod phase;
pub mod sign;
pub mod target;

pub use build::{Build, BuildError, BuildReport, CacheLocation};

/// This build of aotlink: its version and a digest of the sources it was built from
/// (build.rs). Cached shards are keyed by it, so a rebuilt aotlink never reuses what another
/// build emitted, even at the same version number.
pub const BUILD_ID: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+",
    env!("AOTLINK_SOURCE_DIGEST")
);
