//! Reading `.ll` / `.bc` files and merging them into one module with the LLVM linker.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;

use super::error::CodegenError;
use crate::target::Triple;

/// One IR input: a file, or bytes in memory (a runtime's own codegen) with a name for messages.
#[derive(Clone, Debug)]
pub enum Input {
    File(PathBuf),
    Memory { name: PathBuf, bytes: Arc<[u8]> },
}

impl Input {
    /// The file, or the name an in-memory input goes by in messages.
    pub fn name(&self) -> &Path {
        match self {
            Input::File(path) => path,
            Input::Memory { name, .. } => name,
        }
    }

    fn bytes(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match self {
            Input::File(path) => std::fs::read(path).map(Cow::Owned),
            Input::Memory { bytes, .. } => Ok(Cow::Borrowed(bytes)),
        }
    }
}

/// An input read into memory: the bytes the child-process check reads are the bytes this
/// process parses, and the bytes cache keys hash.
#[derive(Clone, Debug)]
pub struct InputBytes {
    /// The file, or the in-memory input's name.
    pub name: PathBuf,
    pub bytes: Arc<[u8]>,
}

impl Input {
    /// This input's bytes in memory (a file is read now).
    pub fn read(&self) -> std::io::Result<InputBytes> {
        Ok(InputBytes {
            name: self.name().to_path_buf(),
            bytes: match self {
                Input::File(path) => std::fs::read(path)?.into(),
                Input::Memory { bytes, .. } => bytes.clone(),
            },
        })
    }
}

impl From<InputBytes> for Input {
    fn from(input: InputBytes) -> Input {
        Input::Memory {
            name: input.name,
            bytes: input.bytes,
        }
    }
}

impl From<PathBuf> for Input {
    fn from(path: PathBuf) -> Input {
        Input::File(path)
    }
}

/// Parses every input (text IR or bitcode, told apart by content) and links them into one module.
/// `verify: false` only for inputs verified already (by the child-process check, same bytes).
pub fn load_inputs<'ctx>(
    context: &'ctx Context,
    inputs: &[Input],
    verify: bool,
) -> Result<Module<'ctx>, CodegenError> {
    let (first, rest) = inputs.split_first().ok_or(CodegenError::NoInputs)?;
    let module = load_one(context, first, verify)?;
    for input in rest {
        let other = load_one(context, input, verify)?;
        let path = input.name();
        if !same_target(&other, &module) {
            return Err(CodegenError::Input {
                path: path.to_path_buf(),
                cause: format!(
                    "target triple `{}` differs from `{}` of {}",
                    crate::llvm::triple(&other),
                    crate::llvm::triple(&module),
                    first.name().display()
                ),
            });
        }
        module
            .link_in_module(other)
            .map_err(|e| CodegenError::Input {
                path: path.to_path_buf(),
                cause: one_line(&e.to_string()),
            })?;
    }
    Ok(module)
}

/// Whether two modules are compiled for one target: the same triple, or two spellings of one
/// (clang writes `x86_64-pc-linux-gnu`, rustc `x86_64-unknown-linux-gnu`) with the same data
/// layout. C from clang and a Rust crate's IR go into one image as a linker would put their
/// objects into one library; the merged module keeps the first input's spelling.
fn same_target(a: &Module, b: &Module) -> bool {
    let (ta, tb) = (crate::llvm::triple(a), crate::llvm::triple(b));
    ta == tb
        || (Triple::parse(&ta).is_ok_and(|t| Triple::parse(&tb) == Ok(t))
            && a.get_data_layout().as_str() == b.get_data_layout().as_str())
}

/// The input that defines function `name`: the only one, or the first whose module (parsed
/// again, in a context of its own) has its body. For naming the file of an error, not on the
/// way of a build; `None` when none defines it under that name (a static function renamed
/// when the inputs were linked).
pub fn input_defining<'a>(inputs: &'a [Input], name: &str) -> Option<&'a Input> {
    if let [only] = inputs {
        return Some(only);
    }
    inputs.iter().find(|input| {
        let context = Context::create();
        load_one(&context, input, false).is_ok_and(|m| {
            m.get_function(name)
                .is_some_and(|f| f.count_basic_blocks() > 0)
        })
    })
}

/// Whether `bytes` are LLVM bitcode (raw, or in the wrapper Apple's tools write), not text.
pub fn is_bitcode(bytes: &[u8]) -> bool {
    const RAW: [u8; 4] = [b'B', b'C', 0xc0, 0xde];
    const WRAPPER: [u8; 4] = 0x0b17_c0de_u32.to_le_bytes();
    bytes.starts_with(&RAW) || bytes.starts_with(&WRAPPER)
}

pub(super) fn load_one<'ctx>(
    context: &'ctx Context,
    input: &Input,
    verify: bool,
) -> Result<Module<'ctx>, CodegenError> {
    let path = input.name();
    let fail = |cause: String| CodegenError::Input {
        path: path.to_path_buf(),
        cause,
    };
    // Parsing and verifying are where damaged input can crash LLVM: noted for a supervisor.
    let _reading = crate::crash_note::Reading::start(path);
    let read = || input.bytes().map_err(|e| fail(format!("cannot read: {e}")));
    // LLVM parses a copy (its lexer wants a terminating NUL).
    let buffer = |bytes: &[u8]| {
        MemoryBuffer::create_from_memory_range_copy(bytes, &path.display().to_string())
    };
    let parse =
        |buffer| super::fatal_guard::reading(path, || context.create_module_from_ir(buffer));
    // Verified bitcode is read without its local values' names, which codegen drops anyway
    // (the names of unverified input stay for the verifier's messages).
    let parse_bitcode = |buffer| match verify {
        true => parse(buffer),
        false => crate::llvm::reading_without_local_names(context, || parse(buffer)),
    };
    let bytes = read()?;
    let transformed = (!is_bitcode(&bytes))
        .then(|| std::str::from_utf8(&bytes).ok())
        .flatten()
        .and_then(transformed_text);
    let renumbered = transformed.as_ref().is_some_and(|t| t.renumbered);
    let parsed = match transformed {
        Some(Transformed { text, .. }) => {
            // One copy of the text at a time: the input's bytes go while the transformed
            // text is parsed, and the text once LLVM has its copy.
            drop(bytes);
            let copy = buffer(text.as_bytes());
            drop(text);
            match parse(copy) {
                Ok(module) => Ok(module),
                // Text that does not parse transformed is parsed as given, read again: its
                // error names its own lines and values.
                Err(_) => {
                    let bytes = read()?;
                    parse(buffer(&bytes)).map_err(|e| (e, bytes))
                }
            }
        }
        None if is_bitcode(&bytes) => parse_bitcode(buffer(&bytes)).map_err(|e| (e, bytes)),
        None => parse(buffer(&bytes)).map_err(|e| (e, bytes)),
    };
    let module = parsed.map_err(|(e, bytes)| {
        let message = without_buffer_name(&one_line(&e.to_string()), path);
        fail(super::producer::with_producer(message, &bytes))
    })?;
    if verify {
        if let Err(e) = module.verify() {
            // The verifier names values: renumbered, `%12` where the user wrote `%sum`. The
            // text as given, parsed again on its own, fails the same way in the user's names.
            let message = match renumbered {
                true => verifier_message_as_given(input, path).unwrap_or_else(|| e.to_string()),
                false => e.to_string(),
            };
            return Err(fail(format!("invalid IR: {}", verifier_line(&message))));
        }
    }
    if crate::llvm::triple(&module).is_empty() {
        // IR is made for one target (type sizes, calling conventions): aotlink does not guess.
        return Err(fail(
            "names no target triple (`target triple = \"...\"`): compile it for a target".into(),
        ));
    }
    Ok(module)
}

/// Text IR rewritten for LLVM's parser, the same module faster: local values numbered
/// (`local_numbers.rs`), global variables after the functions (`text_order.rs`).
struct Transformed {
    text: String,
    /// The local values are numbered: verifier messages name them by number.
    renumbered: bool,
}

/// `text` transformed, `None` when neither transformation applies.
fn transformed_text(text: &str) -> Option<Transformed> {
    let numbered = super::local_numbers::without_local_names(text);
    let source = numbered.as_deref().unwrap_or(text);
    match super::text_order::globals_after_functions(source) {
        Some(reordered) => Some(Transformed {
            text: reordered,
            renumbered: numbered.is_some(),
        }),
        None => numbered.map(|text| Transformed {
            text,
            renumbered: true,
        }),
    }
}

/// The verifier's message on `input` parsed as given, in a context of its own; `None` if it
/// does not parse or verifies (an error path only).
fn verifier_message_as_given(input: &Input, path: &Path) -> Option<String> {
    let bytes = input.bytes().ok()?;
    let context = Context::create();
    let buffer = MemoryBuffer::create_from_memory_range_copy(&bytes, &path.display().to_string());
    let module =
        super::fatal_guard::reading(path, || context.create_module_from_ir(buffer)).ok()?;
    module.verify().err().map(|e| e.to_string())
}

/// The verifier's message in one line: its first line says what is wrong, the next ones
/// print the values it is about; the first of them goes along, so that the user can find it.
fn verifier_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let what = lines.next().unwrap_or("unknown LLVM error");
    match lines.next() {
        Some(value) if value.chars().count() > 200 => {
            let value: String = value.chars().take(200).collect();
            format!("{what} (`{value}...`)")
        }
        Some(value) => format!("{what} (`{value}`)"),
        None => what.to_string(),
    }
}

/// LLVM names the buffer (our path) in front of a parse error, as `PATH: error: ...` or
/// `PATH:LINE:COL: error: ...`; the caller names the file once, so keep `LINE:COL: ...`.
fn without_buffer_name(message: &str, path: &Path) -> String {
    let name = path.display().to_string();
    let rest = message
        .strip_prefix(name.as_str())
        .and_then(|r| r.strip_prefix(':'))
        .map(str::trim_start)
        .unwrap_or(message);
    match rest.split_once("error: ") {
        Some((location, cause))
            if location
                .trim_end_matches([':', ' '])
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':') =>
        {
            let location = location.trim_end_matches([':', ' ']);
            if location.is_empty() {
                cause.to_string()
            } else {
                format!("line {location}: {cause}")
            }
        }
        _ => rest.to_string(),
    }
}

/// LLVM's messages span lines (source line, caret); keep the first, without the buffer name
/// that LLVM puts in front (the caller names the file).
pub fn one_line(message: &str) -> String {
    let first = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown LLVM error");
    first.to_string()
}
