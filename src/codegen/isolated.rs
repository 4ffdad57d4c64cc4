//! Reading untrusted IR without risking the process. LLVM's bitcode reader is not safe
//! against damaged input: a flipped bit can end in `report_fatal_error` ("Invalid abbrev
//! number", which aborts) or in a segmentation fault inside `LLVMParseIRInContext` (found by
//! flipping bits of clang's bitcode). A fatal error can be caught ([`super::fatal_guard`]), a
//! crash cannot; so a library build given a checker (`Build::check_inputs_with`, the C API's)
//! first parses and verifies every input in a child process (the `aotlink` executable,
//! [`CHECK_COMMAND`]), and reads it in-process only when the child survived. A crash then
//! costs the child, and the error names the file. (The command line runs its whole build in a
//! child process instead, `cli/supervise.rs`, and reads each input once.)
//!
//! The child also hands over what it parsed: each text input as bitcode ([`bitcode_path`]),
//! which this process reads instead of parsing the text again. Reading bitcode is several
//! times faster, and it avoids the text parser's cost for forward references into a large
//! constant table (clang prints a table of function addresses before the functions: each
//! definition then rewrites the whole table, quadratic in its size: 1.5 s of 3.5 s for a
//! 20,000-entry table). The module is the same: bitcode keeps every value, name, attribute
//! and metadata of the module, in the same order.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::CodegenError;
use super::fatal_guard::install_fatal_error_handler;
use super::load::{is_bitcode, Input};

/// The hidden subcommand that parses and verifies its arguments and exits.
pub const CHECK_COMMAND: &str = "__check-ir";

/// The option that names the folder the child writes its bitcode into.
pub const BITCODE_DIR_OPTION: &str = "--bitcode-dir";

/// The option that gives an input the name it goes by (once per input, in order).
pub const INPUT_NAME_OPTION: &str = "--input-name";

/// Where the child writes the bitcode of text input `i` (bitcode inputs are not written).
pub fn bitcode_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("{i}.bc"))
}

/// Parses and verifies `inputs` in a child process (`executable CHECK_COMMAND --bitcode-dir
/// DIR --input-name NAME... inputs...`): an input that makes LLVM crash or fail fatally is an
/// error naming it, and this process never read it. Each text input's module is in
/// `bitcode_dir` afterwards ([`bitcode_path`]), named after its entry in `names` (what this
/// process would name it: the inputs are copies staged for the child).
pub fn check_in_child(
    executable: &Path,
    inputs: &[PathBuf],
    names: &[&Path],
    bitcode_dir: &Path,
) -> Result<(), CodegenError> {
    let mut command = Command::new(executable);
    command
        .arg(CHECK_COMMAND)
        .arg(BITCODE_DIR_OPTION)
        .arg(bitcode_dir);
    for name in names {
        // One argument, so that a name starting with `-` is not read as an option.
        let mut arg = std::ffi::OsString::from(format!("{INPUT_NAME_OPTION}="));
        arg.push(name);
        command.arg(arg);
    }
    let out = command
        .args(inputs)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            CodegenError::Checked(format!(
                "cannot start {} to check the inputs: {e}",
                executable.display()
            ))
        })?;
    if out.status.success() {
        return Ok(());
    }
    // The child names each input on stdout before it reads it: the last one is the culprit.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let culprit = stdout
        .lines()
        .last()
        .and_then(|l| l.parse::<usize>().ok())
        .and_then(|i| inputs.get(i))
        .cloned()
        .unwrap_or_else(|| inputs[0].clone());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr
        .lines()
        .find_map(|l| l.strip_prefix("aotlink: error: "))
        .map(str::to_string);
    Err(match (message, signal_of(&out.status)) {
        // The child's own one-line error already names the file.
        (Some(message), None) => CodegenError::Checked(message),
        (_, Some(signal)) => CodegenError::Input {
            path: culprit,
            cause: format!("LLVM crashed reading it (signal {signal}): the file is damaged"),
        },
        (None, None) => CodegenError::Input {
            path: culprit,
            cause: format!("reading it failed ({})", out.status),
        },
    })
}

/// The child side of [`check_in_child`]: parses and verifies each input, naming it (by index)
/// on stdout first; with `bitcode_dir`, writes each text input's module there as bitcode. An
/// input goes by its entry in `names`, where there is one.
pub fn check_inputs(
    inputs: &[PathBuf],
    names: &[PathBuf],
    bitcode_dir: Option<&Path>,
) -> Result<(), CodegenError> {
    install_fatal_error_handler();
    for (i, path) in inputs.iter().enumerate() {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{i}").and_then(|()| stdout.flush());
        drop(stdout);
        let text = !starts_as_bitcode(path).map_err(|e| CodegenError::Input {
            path: path.clone(),
            cause: format!("cannot read: {e}"),
        })?;
        // A context per input: one module's types and constants are not kept for the next.
        let context = inkwell::context::Context::create();
        let input = match names.get(i) {
            // A text module without `source_filename` is named after its buffer: the name
            // it goes by, not the staged copy's (which would change every build and every
            // shard's cache key with it).
            Some(name) => Input::Memory {
                name: name.clone(),
                bytes: std::fs::read(path)
                    .map_err(|e| CodegenError::Input {
                        path: path.clone(),
                        cause: format!("cannot read: {e}"),
                    })?
                    .into(),
            },
            None => Input::File(path.clone()),
        };
        let module = super::load::load_one(&context, &input, true)?;
        if let Some(dir) = bitcode_dir.filter(|_| text) {
            // Verified with its names (for the verifier's messages); handed over without
            // them, as codegen reads it (a third less to write and read).
            crate::llvm::drop_local_names(&module);
            let out = bitcode_path(dir, i);
            if !module.write_bitcode_to_path(&out) {
                return Err(CodegenError::Input {
                    path: path.clone(),
                    cause: format!("cannot write its bitcode to {}", out.display()),
                });
            }
        }
    }
    Ok(())
}

/// Whether the file at `path` is bitcode, from its first bytes.
fn starts_as_bitcode(path: &Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(4);
    std::fs::File::open(path)?.take(4).read_to_end(&mut head)?;
    Ok(is_bitcode(&head))
}

/// The signal that ended a child process, if one did (never, off Unix).
pub fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::signal(status)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}
