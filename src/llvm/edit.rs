//! Changing a module: definitions into declarations, attributes, call targets, function
//! copies, shard modules and thunk bodies.

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::*;

use super::global::{Global, GlobalKind, Linkage};
use super::shim::{
    aotlink_shim_clone_function, aotlink_shim_clone_shard, aotlink_shim_delete_body, c_name,
};

/// What a direct call of a body becomes (see [`Global::rewrite_direct_calls`]).
pub enum CallRewrite<'m> {
    /// Left as it is.
    Keep,
    /// Calls this function instead (same type).
    Direct(Global<'m>),
    /// Calls the function whose address this pointer global holds, loaded right before.
    ThroughSlot(Global<'m>),
}

impl<'m> Global<'m> {
    /// Turns a definition into a declaration (drops the body or initializer).
    pub fn drop_definition(self) {
        match self.kind() {
            // SAFETY: a live function; deleteBody drops its blocks. No handle into a body
            // leaves this module (calls are rewritten in place, see rewrite_direct_calls).
            GlobalKind::Function => unsafe { aotlink_shim_delete_body(self.raw()) },
            // SAFETY: a live variable; a null initializer makes it a declaration.
            GlobalKind::Variable => unsafe { LLVMSetInitializer(self.raw(), std::ptr::null_mut()) },
            GlobalKind::Alias | GlobalKind::IFunc => {}
        }
        self.clear_comdat();
        self.set_linkage(Linkage::External);
    }

    /// Sets a function attribute such as `target-cpu`.
    pub fn set_function_attribute(self, key: &str, value: &str) {
        // SAFETY: a live function; LLVM copies the key and value bytes into the attribute,
        // which belongs to the function's context.
        unsafe {
            let ctx = LLVMGetModuleContext(LLVMGetGlobalParent(self.raw()));
            let attr = LLVMCreateStringAttribute(
                ctx,
                key.as_ptr() as *const _,
                key.len() as u32,
                value.as_ptr() as *const _,
                value.len() as u32,
            );
            LLVMAddAttributeAtIndex(self.raw(), llvm_sys::LLVMAttributeFunctionIndex, attr);
        }
    }

    /// The value of string function attribute `key` (`target-features`), if set.
    pub fn string_attribute(self, key: &str) -> Option<String> {
        // SAFETY: a live function; the attribute's value bytes are copied at once.
        unsafe {
            let attr = LLVMGetStringAttributeAtIndex(
                self.raw(),
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
        // SAFETY: a live function; removing an absent attribute does nothing.
        unsafe {
            LLVMRemoveStringAttributeAtIndex(
                self.raw(),
                llvm_sys::LLVMAttributeFunctionIndex,
                key.as_ptr() as *const _,
                key.len() as u32,
            )
        }
    }

    /// Adds an attribute without a value (`optsize`) to a function.
    pub fn add_enum_function_attribute(self, name: &str) {
        // SAFETY: a live function; the kind is looked up by name (0 for an unknown name,
        // which makes an attribute LLVM ignores).
        unsafe {
            let ctx = LLVMGetModuleContext(LLVMGetGlobalParent(self.raw()));
            let id = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len());
            let attr = LLVMCreateEnumAttribute(ctx, id, 0);
            LLVMAddAttributeAtIndex(self.raw(), llvm_sys::LLVMAttributeFunctionIndex, attr);
        }
    }

    pub fn remove_enum_function_attribute(self, name: &str) {
        // SAFETY: a live function; removing an absent attribute does nothing.
        unsafe {
            let id = LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len());
            LLVMRemoveEnumAttributeAtIndex(self.raw(), llvm_sys::LLVMAttributeFunctionIndex, id);
        }
    }

    /// A copy of this function in the same module, named `name`.
    pub fn clone_as(self, name: &str) -> Global<'m> {
        let cname = c_name(name);
        // SAFETY: a live function; the copy is a new function of the same module, which is
        // borrowed for 'm.
        unsafe { Global::from_raw(aotlink_shim_clone_function(self.raw(), cname.as_ptr())) }
    }

    /// Asks `decide` about each direct call and invoke of this function's body (given the
    /// callee) and changes the call as it answers. The calls keep their function type,
    /// attributes and calling convention.
    pub fn rewrite_direct_calls(self, mut decide: impl FnMut(Global<'m>) -> CallRewrite<'m>) {
        for call in self.calls() {
            // SAFETY: `call` is a live call or invoke of this body (collected just above;
            // nothing here deletes instructions), its callee a function of the same module.
            unsafe {
                let callee = LLVMGetCalledValue(call);
                if LLVMIsAFunction(callee).is_null() {
                    continue;
                }
                match decide(Global::from_raw(callee)) {
                    CallRewrite::Keep => {}
                    CallRewrite::Direct(target) => set_callee(call, target.raw()),
                    CallRewrite::ThroughSlot(slot) => {
                        let target = load_pointer_before(call, slot.raw());
                        set_callee(call, target);
                    }
                }
            }
        }
    }
}

/// Makes call `inst` call `callee` (a call's callee is its last operand).
///
/// # Safety
/// `inst` is a live call or invoke, `callee` a live value of a compatible type.
unsafe fn set_callee(inst: LLVMValueRef, callee: LLVMValueRef) {
    let last = LLVMGetNumOperands(inst) - 1;
    LLVMSetOperand(inst, last as u32, callee);
}

/// Loads the pointer global `slot` holds, right before `inst`.
///
/// # Safety
/// `inst` is a live instruction in a function body, `slot` a live pointer global of the same
/// module.
unsafe fn load_pointer_before(inst: LLVMValueRef, slot: LLVMValueRef) -> LLVMValueRef {
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
    target
}

/// A new module in `module`'s context with the definitions named in `names`, declarations of
/// what they reference and nothing else; LLVM's own globals (`llvm.used`, constructors) and
/// the module's assembly only when `keep_special`. Costs the shard's bodies plus one declaration per global, not a copy
/// of the whole module.
pub fn clone_shard<'ctx>(
    module: &Module<'ctx>,
    names: &[String],
    keep_special: bool,
) -> Module<'ctx> {
    let cnames: Vec<std::ffi::CString> = names.iter().map(|n| c_name(n)).collect();
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

/// Whether attribute kind `kind` passes a parameter in the caller's memory.
fn is_memory_attribute(kind: u32) -> bool {
    ["byval", "inalloca", "preallocated"].iter().any(|name| {
        // SAFETY: a lookup of a kind by name; LLVM reads `len` bytes.
        unsafe { LLVMGetEnumAttributeKindForName(name.as_ptr() as *const _, name.len()) == kind }
    })
}

/// Gives the (bodiless) function `thunk` a body that calls, with its own arguments, the
/// function whose address global `slot` holds, and returns what that returns.
pub(super) fn fill_thunk_body(thunk: Global, slot: Global) {
    let (thunk, slot) = (thunk.raw(), slot.raw());
    // SAFETY: `thunk` is a live function without a body and `slot` a live pointer global of
    // its module; the builder is created and disposed of here, and attributes read from the
    // thunk are added to the call in the same context.
    unsafe {
        let fnty = LLVMGlobalGetValueType(thunk);
        let ctx = LLVMGetModuleContext(LLVMGetGlobalParent(thunk));
        let builder = LLVMCreateBuilderInContext(ctx);
        let entry = LLVMAppendBasicBlockInContext(ctx, thunk, c"entry".as_ptr());
        LLVMPositionBuilderAtEnd(builder, entry);
        let target = LLVMBuildLoad2(
            builder,
            LLVMPointerTypeInContext(ctx, 0),
            slot,
            c"target".as_ptr(),
        );
        let mut args: Vec<_> = (0..LLVMCountParams(thunk))
            .map(|i| LLVMGetParam(thunk, i))
            .collect();
        let call = LLVMBuildCall2(
            builder,
            fnty,
            target,
            args.as_mut_ptr(),
            args.len() as u32,
            c"".as_ptr(),
        );
        LLVMSetInstructionCallConv(call, LLVMGetFunctionCallConv(thunk));
        // The call passes what the thunk received the way it received it: byval, sret,
        // zeroext/signext and the like are part of the calling convention, so they are
        // copied onto the call (index 0 is the result, 1.. the parameters).
        let mut in_memory = false;
        for index in 0..=LLVMCountParams(thunk) {
            let count = LLVMGetAttributeCountAtIndex(thunk, index);
            let mut attributes = vec![std::ptr::null_mut(); count as usize];
            LLVMGetAttributesAtIndex(thunk, index, attributes.as_mut_ptr());
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
