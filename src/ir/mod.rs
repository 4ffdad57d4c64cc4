//! Small safe helpers over the LLVM C API for what inkwell does not cover: the global values of
//! a module ([`Global`]), reading their bodies (`analysis`) and changing them (`edit`).
//!
//! Every function takes values that belong to a live module; that is the one invariant the
//! `unsafe` blocks rely on.

mod analysis;
mod edit;

use std::ffi::CStr;

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMLinkage, LLVMVisibility};

pub use analysis::BodyTraits;
pub use edit::{call_through_slot, clone_function, clone_shard, fill_thunk_body, set_callee};

/// A function, global variable or alias of a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global(pub LLVMValueRef);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalKind {
    Function,
    Variable,
    Alias,
}

impl Global {
    pub fn name(self) -> String {
        let mut len = 0;
        unsafe {
            let ptr = LLVMGetValueName2(self.0, &mut len);
            String::from_utf8_lossy(std::slice::from_raw_parts(ptr as *const u8, len)).into_owned()
        }
    }

    pub fn set_name(self, name: &str) {
        unsafe { LLVMSetValueName2(self.0, name.as_ptr() as *const _, name.len()) }
    }

    pub fn kind(self) -> GlobalKind {
        unsafe {
            if !LLVMIsAFunction(self.0).is_null() {
                GlobalKind::Function
            } else if !LLVMIsAGlobalVariable(self.0).is_null() {
                GlobalKind::Variable
            } else {
                GlobalKind::Alias
            }
        }
    }

    pub fn is_declaration(self) -> bool {
        unsafe { LLVMIsDeclaration(self.0) != 0 }
    }

    /// An intrinsic (`llvm.memcpy...`) or LLVM's own special globals (`llvm.used`, ctors).
    pub fn is_llvm_special(self) -> bool {
        self.name().starts_with("llvm.")
    }

    pub fn linkage(self) -> LLVMLinkage {
        unsafe { LLVMGetLinkage(self.0) }
    }

    pub fn set_linkage(self, linkage: LLVMLinkage) {
        unsafe { LLVMSetLinkage(self.0, linkage) }
    }

    pub fn set_visibility(self, visibility: LLVMVisibility) {
        unsafe { LLVMSetVisibility(self.0, visibility) }
    }

    /// Local to its module (internal or private linkage).
    pub fn is_local(self) -> bool {
        matches!(
            self.linkage(),
            LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
        )
    }

    /// Leaves no comdat group: every symbol gets exactly one definition in one shard.
    pub fn clear_comdat(self) {
        unsafe { llvm_sys::comdat::LLVMSetComdat(self.0, std::ptr::null_mut()) }
    }

    /// The LLVM type of the function (`i64 (i64, double)`) or variable.
    pub fn value_type_string(self) -> String {
        unsafe { take_message(LLVMPrintTypeToString(LLVMGlobalGetValueType(self.0))) }
    }
}

unsafe fn take_message(ptr: *mut std::os::raw::c_char) -> String {
    let s = CStr::from_ptr(ptr).to_string_lossy().into_owned();
    LLVMDisposeMessage(ptr);
    s
}

/// All functions, global variables and aliases of `module`, in module order.
pub fn globals(module: &Module) -> Vec<Global> {
    let m = module.as_mut_ptr();
    let mut out = Vec::new();
    unsafe {
        let mut f = LLVMGetFirstFunction(m);
        while !f.is_null() {
            out.push(Global(f));
            f = LLVMGetNextFunction(f);
        }
        let mut g = LLVMGetFirstGlobal(m);
        while !g.is_null() {
            out.push(Global(g));
            g = LLVMGetNextGlobal(g);
        }
        let mut a = LLVMGetFirstGlobalAlias(m);
        while !a.is_null() {
            out.push(Global(a));
            a = LLVMGetNextGlobalAlias(a);
        }
    }
    out
}

/// The module's own target triple.
pub fn triple(module: &Module) -> String {
    module.get_triple().as_str().to_string_lossy().into_owned()
}

/// Runs a new-pass-manager pipeline (`opt -passes=...` syntax) over `module`.
pub fn run_passes(
    module: &Module,
    passes: &str,
    machine: Option<&inkwell::targets::TargetMachine>,
) -> Result<(), String> {
    use llvm_sys::transforms::pass_builder::*;
    let passes = std::ffi::CString::new(passes).expect("pass names have no NUL");
    // SAFETY: the module and the target machine are live LLVM objects the caller owns; the
    // options are created and disposed here, and an error message is read and disposed once.
    unsafe {
        let options = LLVMCreatePassBuilderOptions();
        let tm = machine.map_or(std::ptr::null_mut(), |m| m.as_mut_ptr());
        let error = LLVMRunPasses(module.as_mut_ptr(), passes.as_ptr(), tm, options);
        LLVMDisposePassBuilderOptions(options);
        if error.is_null() {
            Ok(())
        } else {
            let message = llvm_sys::error::LLVMGetErrorMessage(error);
            let text = CStr::from_ptr(message).to_string_lossy().into_owned();
            llvm_sys::error::LLVMDisposeErrorMessage(message);
            Err(text)
        }
    }
}

/// LLVM's `-O2` module pipeline cut where vectorization begins: what comes before depends on
/// the target only through cost thresholds (inlining, full unrolling), what comes after
/// (loop and SLP vectorization, runtime unrolling, the clean-up behind them) is the part a
/// version for another CPU must redo.
pub struct O2Pipeline {
    pub before_vectorization: String,
    pub from_vectorization: String,
}

impl O2Pipeline {
    /// The pipeline as LLVM builds it for `machine` (clang's -O2 tuning), split in two.
    pub fn for_machine(machine: &inkwell::targets::TargetMachine) -> Result<O2Pipeline, String> {
        // SAFETY: the machine is live, and the shim hands over a string it allocated.
        let text = unsafe { take_shim_string(aotlink_shim_o2_pipeline(machine.as_mut_ptr())) }
            .ok_or("the shim printed no pipeline")?;
        Self::split(&text)
    }

    /// Splits a pipeline text before its first top-level element that runs `loop-vectorize`.
    fn split(text: &str) -> Result<O2Pipeline, String> {
        let elements = top_level_elements(text);
        let cut = (elements.iter())
            .position(|e| {
                e.split(['(', ',', ')'])
                    .any(|p| p.starts_with("loop-vectorize"))
            })
            .filter(|&cut| cut > 0)
            .ok_or_else(|| {
                format!("LLVM's -O2 pipeline has no loop vectorizer to split at: {text}")
            })?;
        Ok(O2Pipeline {
            before_vectorization: elements[..cut].join(","),
            from_vectorization: elements[cut..].join(","),
        })
    }
}

/// The comma-separated elements of a pipeline text, commas inside `(...)` and `<...>` kept.
fn top_level_elements(text: &str) -> Vec<&str> {
    let (mut elements, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                elements.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    elements.push(&text[start..]);
    elements
}

/// Copies and frees a string the C++ shim allocated (`None` for a null pointer).
///
/// # Safety
/// `p` is null or a NUL-terminated string from the shim's `strdup`, not yet freed; it is
/// freed here and must not be used again.
pub(crate) unsafe fn take_shim_string(p: *mut std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let text = CStr::from_ptr(p).to_string_lossy().into_owned();
    aotlink_shim_free(p);
    Some(text)
}

extern "C" {
    fn aotlink_shim_o2_pipeline(
        machine: llvm_sys::target_machine::LLVMTargetMachineRef,
    ) -> *mut std::ffi::c_char;
    fn aotlink_shim_free(p: *mut std::ffi::c_char);
}

/// The version of the LLVM aotlink is linked with ("19.1.7"): part of every shard cache key,
/// since another LLVM may emit other code from the same IR.
pub fn llvm_version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVM writes three integers through the pointers it is given.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::CpuTarget;

    #[test]
    fn a_pipeline_splits_at_its_first_top_level_element_that_vectorizes_loops() {
        let text = "a,function<x;y>(b,c<p,q>),cgscc(d(e,f)),function(g,loop-vectorize<z>,h),i";
        let split = O2Pipeline::split(text).unwrap();
        assert_eq!(
            split.before_vectorization,
            "a,function<x;y>(b,c<p,q>),cgscc(d(e,f))"
        );
        assert_eq!(
            split.from_vectorization,
            "function(g,loop-vectorize<z>,h),i"
        );
        assert!(O2Pipeline::split("a,b(c)").is_err());
        assert!(O2Pipeline::split("loop-vectorize,b").is_err());
    }

    #[test]
    fn llvm_o2_pipeline_inlines_before_and_vectorizes_after_the_cut() {
        crate::dump::init_llvm_targets();
        let cpu = CpuTarget::parse_list("generic").unwrap().remove(0);
        let machine = crate::dump::target_machine("x86_64-unknown-linux-gnu", &cpu).unwrap();
        let pipeline = O2Pipeline::for_machine(&machine).unwrap();
        let passes = |text: &str| -> Vec<String> {
            (text.split(['(', ',', ')']))
                .map(|p| p.split('<').next().unwrap().to_string())
                .collect()
        };
        let (before, after) = (
            passes(&pipeline.before_vectorization),
            passes(&pipeline.from_vectorization),
        );
        for pass in ["inline", "sroa", "gvn", "loop-unroll-full"] {
            assert!(before.iter().any(|p| p == pass), "{pass} before the cut");
        }
        for pass in ["loop-vectorize", "slp-vectorizer", "loop-unroll"] {
            assert!(after.iter().any(|p| p == pass), "{pass} after the cut");
            assert!(
                !before.iter().any(|p| p == pass),
                "{pass} not before the cut"
            );
        }
        assert!(
            !after.iter().any(|p| p == "inline"),
            "no inlining after the cut"
        );
    }
}
