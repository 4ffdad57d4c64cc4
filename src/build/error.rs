//! What a build can fail with: each step's own error, or options that do not fit together.

use crate::codegen::CodegenError;
use crate::dump::{self, DumpError};
use crate::link::LinkError;
use crate::target::CpuTargetError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    #[error(transparent)]
    Dump(#[from] DumpError),
    /// LLVM's error on the code of a function, in the input that defines it (or the inputs).
    #[error("{input}: {diagnostic}")]
    Llvm {
        input: String,
        diagnostic: dump::ShardDiagnostic,
    },
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    CpuTarget(#[from] CpuTargetError),
    /// Options that do not fit together, or an input that cannot be used (the message says).
    #[error("{0}")]
    Invalid(String),
}
