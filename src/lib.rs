//! aotlink: LLVM IR in, loadable multiversioned shared-library images out.
//!
//! The pipeline shows in the modules: [`codegen`] (load, select, index) -> [`dump`] (partition,
//! emit on threads, tables, archive) -> [`link`] (LLD in-process or the system C compiler) ->
//! `aotload` (the loader crate); [`sign`] signs sealed images.

pub mod codegen;
pub mod dump;
pub mod inspect;
pub(crate) mod ir;
pub mod link;
pub mod method_table_file;
pub mod sign;
pub mod target;
