//! Small safe helpers over the LLVM C API for what inkwell does not cover: walking the global
//! values of a module and what each one references, and changing linkage and visibility.
//!
//! Every function takes values that belong to a live module; that is the one invariant the
//! `unsafe` blocks rely on.

use std::collections::HashSet;
use std::ffi::CStr;

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMLinkage, LLVMVisibility};

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

    /// The globals this one refers to directly: from a function's instructions (and personality),
    /// a variable's initializer or an alias's aliasee, looking through constant expressions.
    pub fn references(self) -> Vec<Global> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        unsafe {
            match self.kind() {
                GlobalKind::Function => {
                    if LLVMHasPersonalityFn(self.0) != 0 {
                        collect_globals(LLVMGetPersonalityFn(self.0), &mut out, &mut seen);
                    }
                    let mut bb = LLVMGetFirstBasicBlock(self.0);
                    while !bb.is_null() {
                        let mut inst = LLVMGetFirstInstruction(bb);
                        while !inst.is_null() {
                            for i in 0..LLVMGetNumOperands(inst) {
                                collect_globals(
                                    LLVMGetOperand(inst, i as u32),
                                    &mut out,
                                    &mut seen,
                                );
                            }
                            inst = LLVMGetNextInstruction(inst);
                        }
                        bb = LLVMGetNextBasicBlock(bb);
                    }
                }
                GlobalKind::Variable => {
                    let init = LLVMGetInitializer(self.0);
                    if !init.is_null() {
                        collect_globals(init, &mut out, &mut seen);
                    }
                }
                GlobalKind::Alias => {
                    collect_globals(LLVMAliasGetAliasee(self.0), &mut out, &mut seen)
                }
            }
        }
        out
    }

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
}

unsafe fn collect_globals(
    value: LLVMValueRef,
    out: &mut Vec<Global>,
    seen: &mut HashSet<LLVMValueRef>,
) {
    if value.is_null() || !seen.insert(value) {
        return;
    }
    if !LLVMIsAGlobalValue(value).is_null() {
        out.push(Global(value));
    } else if !LLVMIsAConstant(value).is_null() {
        for i in 0..LLVMGetNumOperands(value) {
            collect_globals(LLVMGetOperand(value, i as u32), out, seen);
        }
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

impl Global {
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

    /// Instructions plus basic blocks: the cost estimate of a function (0 for data).
    pub fn size_estimate(self) -> u64 {
        if self.kind() != GlobalKind::Function {
            return 0;
        }
        let mut size = 0;
        unsafe {
            let mut bb = LLVMGetFirstBasicBlock(self.0);
            while !bb.is_null() {
                size += 1;
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    size += 1;
                    inst = LLVMGetNextInstruction(inst);
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
        }
        size
    }

    /// Whether the initializer must land in the same object as what it refers to: it holds a
    /// difference of addresses (`sub (ptrtoint a, ptrtoint b)`, as in relative lookup tables)
    /// or the address of a basic block (computed-goto tables).
    pub fn has_object_local_reference(self) -> bool {
        unsafe fn walk(c: LLVMValueRef, seen: &mut HashSet<LLVMValueRef>) -> bool {
            if c.is_null()
                || !seen.insert(c)
                || !LLVMIsAGlobalValue(c).is_null()
                || LLVMIsAConstant(c).is_null()
            {
                return false;
            }
            if !LLVMIsABlockAddress(c).is_null() {
                return true;
            }
            if !LLVMIsAConstantExpr(c).is_null()
                && LLVMGetConstOpcode(c) == llvm_sys::LLVMOpcode::LLVMSub
            {
                return true;
            }
            (0..LLVMGetNumOperands(c)).any(|i| walk(LLVMGetOperand(c, i as u32), seen))
        }
        if self.kind() != GlobalKind::Variable {
            return false;
        }
        unsafe { walk(LLVMGetInitializer(self.0), &mut HashSet::new()) }
    }

    /// Replaces this alias by a declaration of the same name and type, and leaves the alias
    /// internal and unused for GlobalDCE to delete (the C API cannot delete aliases).
    pub fn replace_alias_with_declaration(self) {
        let name = self.name();
        unsafe {
            let module = LLVMGetGlobalParent(self.0);
            let value_type = LLVMGlobalGetValueType(self.0);
            self.set_name(&format!("{name}.aotlink.dead"));
            let cname = std::ffi::CString::new(name).expect("LLVM names have no NUL");
            let decl =
                if LLVMGetTypeKind(value_type) == llvm_sys::LLVMTypeKind::LLVMFunctionTypeKind {
                    LLVMAddFunction(module, cname.as_ptr(), value_type)
                } else {
                    LLVMAddGlobal(module, value_type, cname.as_ptr())
                };
            LLVMSetVisibility(decl, LLVMGetVisibility(self.0));
            let decl = if LLVMTypeOf(decl) == LLVMTypeOf(self.0) {
                decl
            } else {
                LLVMConstBitCast(decl, LLVMTypeOf(self.0))
            };
            LLVMReplaceAllUsesWith(self.0, decl);
        }
        self.set_linkage(LLVMLinkage::LLVMInternalLinkage);
    }
}

/// What the multiversioning pass needs to know about a function body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BodyTraits {
    /// A branch goes back to an earlier (or the same) block: a loop.
    pub has_loop: bool,
    /// Some value is a vector.
    pub uses_vectors: bool,
    /// Floating-point arithmetic or math intrinsics.
    pub does_float_math: bool,
    /// Cannot have versions: varargs or parameters passed in memory (byval, sret, ...) cannot
    /// be forwarded by a thunk, and blocks whose address is taken (computed goto tables)
    /// belong to one body only.
    pub unclonable: bool,
}

impl Global {
    pub fn body_traits(self) -> BodyTraits {
        use llvm_sys::LLVMOpcode::*;
        use llvm_sys::LLVMTypeKind::*;
        let mut traits = BodyTraits::default();
        unsafe {
            let fnty = LLVMGlobalGetValueType(self.0);
            traits.unclonable = LLVMIsFunctionVarArg(fnty) != 0 || self.has_memory_params();
            let mut index = std::collections::HashMap::new();
            let mut bb = LLVMGetFirstBasicBlock(self.0);
            while !bb.is_null() {
                index.insert(bb, index.len());
                bb = LLVMGetNextBasicBlock(bb);
            }
            let is_vector = |v: LLVMValueRef| {
                matches!(
                    LLVMGetTypeKind(LLVMTypeOf(v)),
                    LLVMVectorTypeKind | LLVMScalableVectorTypeKind
                )
            };
            let mut bb = LLVMGetFirstBasicBlock(self.0);
            while !bb.is_null() {
                let mut block_use = LLVMGetFirstUse(LLVMBasicBlockAsValue(bb));
                while !block_use.is_null() {
                    traits.unclonable |= !LLVMIsABlockAddress(LLVMGetUser(block_use)).is_null();
                    block_use = LLVMGetNextUse(block_use);
                }
                let here = index[&bb];
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    match LLVMGetInstructionOpcode(inst) {
                        LLVMFAdd | LLVMFSub | LLVMFMul | LLVMFDiv | LLVMFRem => {
                            traits.does_float_math = true
                        }
                        LLVMCall => {
                            let callee = LLVMGetCalledValue(inst);
                            if !LLVMIsAFunction(callee).is_null() {
                                let name = Global(callee).name();
                                let math = [
                                    "llvm.fma.",
                                    "llvm.fmuladd.",
                                    "llvm.sqrt.",
                                    "llvm.exp",
                                    "llvm.log",
                                    "llvm.pow.",
                                ];
                                traits.does_float_math |= math.iter().any(|m| name.starts_with(m));
                            }
                        }
                        _ => {}
                    }
                    traits.uses_vectors |= is_vector(inst)
                        || (0..LLVMGetNumOperands(inst))
                            .any(|i| is_vector(LLVMGetOperand(inst, i as u32)));
                    inst = LLVMGetNextInstruction(inst);
                }
                let term = LLVMGetBasicBlockTerminator(bb);
                if !term.is_null() {
                    for s in 0..LLVMGetNumSuccessors(term) {
                        if index
                            .get(&LLVMGetSuccessor(term, s))
                            .is_some_and(|&to| to <= here)
                        {
                            traits.has_loop = true;
                        }
                    }
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
        }
        traits
    }

    /// Whether a parameter or the result is passed in memory or otherwise ABI-special.
    fn has_memory_params(self) -> bool {
        const KINDS: [&str; 7] = [
            "byval",
            "sret",
            "inalloca",
            "preallocated",
            "swiftself",
            "swifterror",
            "nest",
        ];
        unsafe {
            let n = LLVMCountParams(self.0);
            KINDS.iter().any(|kind| {
                let id = LLVMGetEnumAttributeKindForName(kind.as_ptr() as *const _, kind.len());
                (1..=n).any(|i| !LLVMGetEnumAttributeAtIndex(self.0, i, id).is_null())
            })
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

    /// Calls and invokes in this function's body, with the function they call directly.
    pub fn direct_calls(self) -> Vec<(LLVMValueRef, Global)> {
        let mut out = Vec::new();
        unsafe {
            let mut bb = LLVMGetFirstBasicBlock(self.0);
            while !bb.is_null() {
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    if !LLVMIsACallInst(inst).is_null() || !LLVMIsAInvokeInst(inst).is_null() {
                        let callee = LLVMGetCalledValue(inst);
                        if !LLVMIsAFunction(callee).is_null() {
                            out.push((inst, Global(callee)));
                        }
                    }
                    inst = LLVMGetNextInstruction(inst);
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
        }
        out
    }
}

/// Makes call `inst` call `callee` instead (the callee is a call's last operand).
pub fn set_callee(inst: LLVMValueRef, callee: Global) {
    unsafe {
        let last = LLVMGetNumOperands(inst) - 1;
        LLVMSetOperand(inst, last as u32, callee.0);
    }
}

extern "C" {
    fn aotlink_shim_delete_body(f: LLVMValueRef);
    fn aotlink_shim_clone_function(
        f: LLVMValueRef,
        name: *const std::os::raw::c_char,
    ) -> LLVMValueRef;
}

/// A copy of function `f` in the same module, named `name`.
pub fn clone_function(f: Global, name: &str) -> Global {
    let cname = std::ffi::CString::new(name).expect("LLVM names have no NUL");
    Global(unsafe { aotlink_shim_clone_function(f.0, cname.as_ptr()) })
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
        let pointer_type = LLVMPointerType(fnty, 0);
        let target = LLVMBuildLoad2(builder, pointer_type, slot, c"target".as_ptr());
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
        LLVMSetTailCall(call, 1);
        if LLVMGetTypeKind(LLVMGetReturnType(fnty)) == llvm_sys::LLVMTypeKind::LLVMVoidTypeKind {
            LLVMBuildRetVoid(builder);
        } else {
            LLVMBuildRet(builder, call);
        }
        LLVMDisposeBuilder(builder);
    }
}
