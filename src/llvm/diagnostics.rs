//! LLVM's diagnostics kept as values. Without a handler of its own, an LLVM context prints a
//! diagnostic on stderr in LLVM's form and ends the process on an error (`exit(1)`): an
//! inline-asm error in one shard (zlib's `crc32b` for a CPU without CRC) ended aotlink with a
//! half-done build, and would end a runtime that builds through libaotlink. A context given to
//! [`Diagnostics::collect`] keeps them instead, and [`Diagnostics::take`] hands them over.

use inkwell::context::Context;
use inkwell::module::Module;

use super::shim::{
    aotlink_shim_collect_diagnostics, aotlink_shim_take_diagnostics, take_shim_string,
};

/// One diagnostic LLVM reported (errors and warnings; remarks and notes are dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub error: bool,
    /// The function it concerns, as named in the module (a version's name included), when
    /// LLVM or the inline assembly's location says.
    pub function: Option<String>,
    /// LLVM's message on one line (inline assembly: `<inline asm>:LINE:COL: message
    /// (`the line`)`).
    pub message: String,
}

/// A context whose diagnostics are kept (the only way to take them: the shim's handler is
/// known to be installed).
pub struct Diagnostics<'ctx> {
    context: &'ctx Context,
}

impl<'ctx> Diagnostics<'ctx> {
    /// Makes `context` keep its diagnostics until [`Diagnostics::take`] instead of printing
    /// them (and exiting on an error).
    pub fn collect(context: &'ctx Context) -> Diagnostics<'ctx> {
        // SAFETY: a live context; the shim gives it a handler the context owns from then on.
        unsafe { aotlink_shim_collect_diagnostics(context.raw()) };
        Diagnostics { context }
    }

    /// The diagnostics kept since the last call; functions named only by their inline
    /// assembly's location are looked up in `module` (of this context).
    pub fn take(&self, module: &Module<'ctx>) -> Vec<Diagnostic> {
        // SAFETY: a live context whose handler is the shim's (installed by `collect`, the only
        // way to make `self`; nothing else here replaces a context's handler) and a live
        // module of that context; the shim returns an allocated string or NULL.
        let text = unsafe {
            take_shim_string(aotlink_shim_take_diagnostics(
                self.context.raw(),
                module.as_mut_ptr(),
            ))
        };
        parse(text)
    }
}

fn parse(text: Option<String>) -> Vec<Diagnostic> {
    let Some(text) = text else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let (severity, function, message) = (parts.next()?, parts.next()?, parts.next()?);
            Some(Diagnostic {
                error: severity == "E",
                function: (!function.is_empty()).then(|| function.to_string()),
                message: message.to_string(),
            })
        })
        .collect()
}
