//! The pipeline as a library: [`Build`] takes what the command line takes (inputs as files or
//! in-memory bitcode) and runs codegen, dump (with the shard cache), link, seal and signing.
//! The command line and the tests go through it; examples/embed.rs is a runnable example (the
//! test suite runs it), of which this is the gist (not compiled as a doctest: rustdoc cannot
//! link the loader crate, which is also built as a C library):
//!
//! ```ignore
//! let report = aotlink::Build::new()
//!     .input("kernels.bc")
//!     .export("dot")
//!     .cpu_targets(aotlink::target::CpuTarget::parse_list("generic;haswell")?)
//!     .build("kernels.so".as_ref())?;
//! println!("{} shards, {} from the cache", report.shards.len(), report.cache.hits);
//! # Ok::<(), aotlink::BuildError>(())
//! ```

//!
//! The folder: `builder.rs` (what a build is, its setters), `options.rs` (the same as clap
//! options, for the command line and the C API), `run.rs` (running it), `memo.rs` (a rebuild
//! with unchanged inputs skips codegen and dump), `report.rs` (what it did), `error.rs`. It
//! sequences the pipeline's steps and owns none of them: codegen, dump, the caches and link
//! are their own folders'.

mod builder;
mod checked_inputs;
mod error;
mod memo;
pub mod options;
mod rebuild;
mod report;
mod run;

pub use builder::{Build, CacheLocation};
pub use error::BuildError;
pub use report::{BuildReport, CacheCounts, Origin, Phase, Rebuild, ShardReport, Timings};
