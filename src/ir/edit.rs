//! Changing a module: definitions into declarations, attributes, aliases, call targets,
//! function copies and thunks.

use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::LLVMLinkage;

use inkwell::module::Module;

use super::{Global, GlobalKind};

impl Global {
    /// Turns a definition into a declaration (drops the body or initializer).
    pub fn drop_definition(self) {
        unsafe {
            match self.kind() {
                GlobalKind::Function => aotlink_shim_delete_body(self.0),
                GlobalKind::Variable => LLVMSetInitializer(self.0, std::ptr::null_mut()),
                GlobalKind::Alias => {}
            }
        }
        self.clear_comdat();
        self.set_linkage(LLVMLinkage::LLVMExternalLinkage);
    }

    /// Sets a function attribute such as `target-cpu`.
    pub fn set_function_attribute(self, key: &str, value: &str) {
        unsafe {
            let ctx = LLVMGetModuleContext(LLVMGetGlobalParent(self.0));
            let attr = LLVMCreateStringAttribute(
                ctx,
                key.as_ptr() as *const _,
                key.len() as u32,
                value.as_ptr() as *const _,
                value.len() as u32,
            );
            LLVMAddAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, attr);
        }
    }

    /// The value of string function attribute `key` (`target-features`), if set.
    pub fn string_attribute(self, key: &str) -> Option<String> {
        unsafe {
            let attr = LLVMGetStringAttributeAtIndex(
                self.0,
                llvm_sys::LLVMAttributeFunctionIndex,
                key.as_ptr() as *const _,
                key.len() as u32,
            );
            if attr.is_null() {
                return None;
            }
            let mut len = 0;
            let value = LLVMGetStringAttributeValue(attr, &mut len);
            let bytes = std::slice::from_raw_parts(value as *const u8, len as usize);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    pub fn remove_function_attribute(self, key: &str) {
        unsafe {
            LLVMRemoveStringAttributeAtIndex(
                self.0,
                llvm_sys::LLVMAttributeFunctionIndex,
                key.as_ptr() as *const _,
                key.len() as u32,
            )
        }
    }

    /// Adds an attribute without a value (`optsize`) to a function.
    pub fn add_enum_function_attribute(self, name: &str) {
        unsafe {
            let ctx = LLVMGetModuleContext(LLVMGetGlobalParent(self.0));
            let id = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len());
            let attr = LLVMCreateEnumAttribute(ctx, id, 0);
            LLVMAddAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, attr);
        }
    }

    pub fn remove_enum_function_attribute(self, name: &str) {
        unsafe {
            let id = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len());
            LLVMRemoveEnumAttributeAtIndex(self.0, llvm_sys::LLVMAttributeFunctionIndex, id);
        }
    }
}

/// Makes call `inst` call `callee` instead (the callee is a call's last operand).
pub fn set_callee(inst: LLVMValueRef, callee: Global) {
    unsafe {
        let last = LLVMGetNumOperands(inst) - 1;
        LLVMSetOperand(inst, last as u32, callee.0);
    }
}

/// Makes call `inst` call the function whose address global `slot` holds, loaded right
/// before the call (the call keeps its function type, attributes and calling convention).
pub fn call_through_slot(inst: LLVMValueRef, slot: LLVMValueRef) {
    unsafe {
        let ctx = LLVMGetTypeContext(LLVMTypeOf(inst));
        let builder = LLVMCreateBuilderInContext(ctx);
        LLVMPositionBuilderBefore(builder, inst);
        let target = LLVMBuildLoad2(
            builder,
            LLVMPointerTypeInContext(ctx, 0),
            slot,
            c"target".as_ptr(),
        );
        LLVMDisposeBuilder(builder);
        let last = LLVMGetNumOperands(inst) - 1;
        LLVMSetOperand(inst, last as u32, target);
    }
}

extern "C" {
    fn aotlink_shim_delete_body(f: LLVMValueRef);
    fn aotlink_shim_clone_shard(
        m: LLVMModuleRef,
        names: *const *const std::os::raw::c_char,
        count: usize,
        keep_special: i32,
    ) -> LLVMModuleRef;
    fn aotlink_shim_clone_function(
        f: LLVMValueRef,
        name: *const std::os::raw::c_char,
    ) -> LLVMValueRef;
}

/// A new module in `module`'s context with the definitions named in `names`, declarations of
/// what they reference and nothing else; LLVM's own globals (`llvm.used`, constructors) only
/// when `keep_special`. Costs the shard's bodies plus one declaration per global, not a copy
/// of the whole module.
pub fn clone_shard<'ctx>(
    module: &Module<'ctx>,
    names: &[String],
    keep_special: bool,
) -> Module<'ctx> {
    let cnames: Vec<std::ffi::CString> = names
        .iter()
        .map(|n| std::ffi::CString::new(n.as_str()).expect("LLVM names have no NUL"))
        .collect();
    let pointers: Vec<*const std::os::raw::c_char> = cnames.iter().map(|c| c.as_ptr()).collect();
    // SAFETY: the module is alive for the call, the names outlive it, and the shim returns a
    // new module that nothing else owns, which `Module::new` takes over (and disposes of).
    unsafe {
        let shard = aotlink_shim_clone_shard(
            module.as_mut_ptr(),
            pointers.as_ptr(),
            pointers.len(),
            keep_special as i32,
        );
        Module::new(shard)
    }
}

/// A copy of function `f` in the same module, named `name`.
pub fn clone_function(f: Global, name: &str) -> Global {
    let cname = std::ffi::CString::new(name).expect("LLVM names have no NUL");
    Global(unsafe { aotlink_shim_clone_function(f.0, cname.as_ptr()) })
}

/// Whether attribute kind `kind` passes a parameter in the caller's memory.
unsafe fn is_memory_attribute(kind: u32) -> bool {
    ["byval", "inalloca", "preallocated"]
        .iter()
        .any(|name| LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len()) == kind)
}

/// Gives the (bodiless) function `thunk` a body that calls, with its own arguments, the
/// function whose address global `slot` holds, and returns what that returns.
pub fn fill_thunk_body(thunk: Global, slot: LLVMValueRef) {
    unsafe {
        let fnty = LLVMGlobalGetValueType(thunk.0);
        let ctx = LLVMGetModuleContext(LLVMGetGlobalParent(thunk.0));
        let builder = LLVMCreateBuilderInContext(ctx);
        let entry = LLVMAppendBasicBlockInContext(ctx, thunk.0, c"entry".as_ptr());
        LLVMPositionBuilderAtEnd(builder, entry);
        let target = LLVMBuildLoad2(
            builder,
            LLVMPointerTypeInContext(ctx, 0),
            slot,
            c"target".as_ptr(),
        );
        let mut args: Vec<_> = (0..LLVMCountParams(thunk.0))
            .map(|i| LLVMGetParam(thunk.0, i))
            .collect();
        let call = LLVMBuildCall2(
            builder,
            fnty,
            target,
            args.as_mut_ptr(),
            args.len() as u32,
            c"".as_ptr(),
        );
        LLVMSetInstructionCallConv(call, LLVMGetFunctionCallConv(thunk.0));
        // The call passes what the thunk received the way it received it: byval, sret,
        // zeroext/signext and the like are part of the calling convention, so they are
        // copied onto the call (index 0 is the result, 1.. the parameters).
        let mut in_memory = false;
        for index in 0..=LLVMCountParams(thunk.0) {
            let count = LLVMGetAttributeCountAtIndex(thunk.0, index);
            let mut attributes = vec![std::ptr::null_mut(); count as usize];
            LLVMGetAttributesAtIndex(thunk.0, index, attributes.as_mut_ptr());
            for attribute in attributes {
                if LLVMIsEnumAttribute(attribute) != 0 || LLVMIsTypeAttribute(attribute) != 0 {
                    let kind = LLVMGetEnumAttributeKind(attribute);
                    in_memory |= index > 0 && is_memory_attribute(kind);
                }
                LLVMAddCallSiteAttribute(call, index, attribute);
            }
        }
        // A tail call may not reuse the frame that byval / inalloca copies live in.
        LLVMSetTailCall(call, (!in_memory) as i32);
        if LLVMGetTypeKind(LLVMGetReturnType(fnty)) == llvm_sys::LLVMTypeKind::LLVMVoidTypeKind {
            LLVMBuildRetVoid(builder);
        } else {
            LLVMBuildRet(builder, call);
        }
        LLVMDisposeBuilder(builder);
    }
}
