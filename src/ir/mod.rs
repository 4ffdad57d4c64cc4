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

/// The version of the LLVM aotlink is linked with ("19.1.7"): part of every shard cache key,
/// since another LLVM may emit other code from the same IR.
pub fn llvm_version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVM writes three integers through the pointers it is given.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}
