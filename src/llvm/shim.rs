//! The C functions of aotlink's two C++ shims (`src/llvm_shim.cpp`, `src/lld_shim.cpp`): what
//! the LLVM C API lacks, declared once. Only this module's siblings call them.

use std::ffi::{c_char, c_int, CStr};

use llvm_sys::prelude::{LLVMContextRef, LLVMModuleRef, LLVMValueRef};
use llvm_sys::target_machine::LLVMTargetMachineRef;

extern "C" {
    // llvm_shim.cpp
    pub fn aotlink_shim_resolve_cpu(
        triple: *const c_char,
        cpu: *const c_char,
        features: *const c_char,
        names: *const *const c_char,
        count: usize,
        enabled: *mut u8,
        error: *mut *mut c_char,
    ) -> i32;
    #[cfg(test)]
    pub fn aotlink_shim_feature_known(triple: *const c_char, name: *const c_char) -> i32;
    #[cfg(test)]
    pub fn aotlink_shim_cpu_names(triple: *const c_char) -> *mut c_char;
    pub fn aotlink_shim_isa_features(
        triple: *const c_char,
        cpu: *const c_char,
        features: *const c_char,
    ) -> *mut c_char;
    pub fn aotlink_shim_clone_function(f: LLVMValueRef, name: *const c_char) -> LLVMValueRef;
    pub fn aotlink_shim_delete_body(f: LLVMValueRef);
    pub fn aotlink_shim_references(
        g: LLVMValueRef,
        out: *mut LLVMValueRef,
        capacity: usize,
    ) -> usize;
    pub fn aotlink_shim_set_dso_local(global: LLVMValueRef, local: c_int);
    pub fn aotlink_shim_use_init_array(machine: LLVMTargetMachineRef);
    pub fn aotlink_shim_clone_shard(
        m: LLVMModuleRef,
        names: *const *const c_char,
        count: usize,
        keep_special: i32,
    ) -> LLVMModuleRef;
    pub fn aotlink_shim_o2_pipeline(machine: LLVMTargetMachineRef) -> *mut c_char;
    pub fn aotlink_shim_collect_diagnostics(context: LLVMContextRef);
    pub fn aotlink_shim_take_diagnostics(
        context: LLVMContextRef,
        module: LLVMModuleRef,
    ) -> *mut c_char;
    pub fn aotlink_shim_context_names(context: LLVMContextRef) -> *mut c_char;
    pub fn aotlink_shim_drop_module_flag(m: LLVMModuleRef, key: *const c_char);
    pub fn aotlink_shim_drop_local_names(m: LLVMModuleRef);
    pub fn aotlink_shim_free(p: *mut c_char);

    // lld_shim.cpp
    pub fn aotlink_lld_link(
        argv: *const *const c_char,
        argc: usize,
        output: *mut *mut c_char,
        can_run_again: *mut c_int,
    ) -> c_int;
    pub fn aotlink_lld_free(p: *mut c_char);
}

/// Copies and frees a string the LLVM shim allocated (`None` for a null pointer).
///
/// # Safety
/// `p` is null or a NUL-terminated string from the LLVM shim's `strdup`, not yet freed; it is
/// freed here and must not be used again.
pub unsafe fn take_shim_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: by the contract above, `p` is a live NUL-terminated string the shim owns.
    let text = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: the shim allocated `p` with strdup; freed once, after the copy.
    unsafe { aotlink_shim_free(p) };
    Some(text)
}

/// A C string of a name handed to LLVM. LLVM's names never hold NUL; ours come from its
/// own names, the format's symbol names or the command line's checked values.
pub fn c_name(name: &str) -> std::ffi::CString {
    std::ffi::CString::new(name).expect("names handed to LLVM have no NUL")
}
