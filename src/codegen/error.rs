//! What can go wrong in codegen: an input, the trace, an export, a method table, LLVM. Its
//! own file so that every step of codegen can name it without importing the folder's root.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("no input IR files given")]
    NoInputs,
    #[error("{}: {cause}", path.display())]
    Input { path: PathBuf, cause: String },
    #[error("{}: {cause}", path.display())]
    MethodTable {
        path: PathBuf,
        cause: crate::method_table_file::MethodTableError,
    },
    #[error("{}:{line}: {cause}", path.display())]
    Trace {
        path: PathBuf,
        line: usize,
        cause: String,
    },
    #[error("--export {name}: {cause}")]
    Export { name: String, cause: String },
    #[error("LLVM failed while selecting functions: {0}")]
    Llvm(String),
    /// An input refused by the check in a child process, whose message names the file.
    #[error("{0}")]
    Checked(String),
}
