//! Reading function bodies and initializers: what a global refers to, what a function does
//! (loops, vectors, floating point), how big it is, what it calls.

use std::collections::HashSet;

use llvm_sys::core::*;
use llvm_sys::prelude::*;

use super::global::{Global, GlobalKind};

impl<'m> Global<'m> {
    /// The globals this one refers to directly: from a function's instructions (and personality),
    /// a variable's initializer, an alias's aliasee or an ifunc's resolver, looking through constant expressions.
    pub fn references(self) -> Vec<Global<'m>> {
        let mut raw: Vec<LLVMValueRef> = vec![std::ptr::null_mut(); 16];
        loop {
            // SAFETY: a live global (the type's invariant); the shim only reads its body or
            // initializer, which nothing changes meanwhile, and writes at most `raw.len()`
            // values into `raw`.
            let n = unsafe {
                super::shim::aotlink_shim_references(self.raw(), raw.as_mut_ptr(), raw.len())
            };
            if n <= raw.len() {
                raw.truncate(n);
                break;
            }
            raw.resize(n, std::ptr::null_mut());
        }
        // SAFETY: the globals the walk found belong to the same module, borrowed for 'm.
        raw.into_iter()
            .map(|g| unsafe { Global::from_raw(g) })
            .collect()
    }

    /// What an alias stands for, through aliases of aliases and pointer casts: a function,
    /// variable or ifunc; `None` for an address inside one (an alias to an offset), or for
    /// anything but an alias.
    pub fn aliased_object(self) -> Option<Global<'m>> {
        let mut g = self;
        // Bounded: LLVM's verifier refuses alias cycles, but a bound costs nothing.
        for _ in 0..64 {
            if g.kind() != GlobalKind::Alias {
                return (g != self).then_some(g);
            }
            // SAFETY: a live alias; its aliasee is a constant of the same module.
            let mut value = unsafe { LLVMAliasGetAliasee(g.raw()) };
            // SAFETY: `value` is a live constant; only its class and operands are read.
            unsafe {
                while !value.is_null()
                    && !LLVMIsAConstantExpr(value).is_null()
                    && matches!(
                        LLVMGetConstOpcode(value),
                        llvm_sys::LLVMOpcode::LLVMBitCast | llvm_sys::LLVMOpcode::LLVMAddrSpaceCast
                    )
                {
                    value = LLVMGetOperand(value, 0);
                }
                if value.is_null() || LLVMIsAGlobalValue(value).is_null() {
                    return None;
                }
                g = Global::from_raw(value);
            }
        }
        None
    }

    /// Instructions plus basic blocks: the cost estimate of a function (0 for data).
    pub fn size_estimate(self) -> u64 {
        if self.kind() != GlobalKind::Function {
            return 0;
        }
        let mut size = 0;
        // SAFETY: a live function; the walk only reads its blocks and instructions.
        unsafe {
            let mut bb = LLVMGetFirstBasicBlock(self.raw());
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
        /// # Safety
        /// `c` is null or a live constant.
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
        // SAFETY: a live variable; its initializer (or null) is a live constant.
        unsafe { walk(LLVMGetInitializer(self.raw()), &mut HashSet::new()) }
    }

    /// What the multiversioning pass needs to know about this function's body.
    pub fn body_traits(self) -> BodyTraits {
        use llvm_sys::LLVMOpcode::*;
        use llvm_sys::LLVMTypeKind::*;
        let mut traits = BodyTraits::default();
        // SAFETY: a live function; the walk only reads its type, blocks, instructions and the
        // uses of its blocks, which nothing changes meanwhile.
        unsafe {
            let fnty = LLVMGlobalGetValueType(self.raw());
            traits.unclonable = LLVMIsFunctionVarArg(fnty) != 0 || self.has_memory_params();
            let mut index = std::collections::HashMap::new();
            let mut bb = LLVMGetFirstBasicBlock(self.raw());
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
            let mut bb = LLVMGetFirstBasicBlock(self.raw());
            while !bb.is_null() {
                let mut block_use = LLVMGetFirstUse(LLVMBasicBlockAsValue(bb));
                while !block_use.is_null() {
                    traits.block_address_taken |=
                        !LLVMIsABlockAddress(LLVMGetUser(block_use)).is_null();
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
                                let name = Global::from_raw(callee).name();
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
        traits.unclonable |= traits.block_address_taken;
        traits
    }

    /// The widest vector (in bits) this function takes or returns; 0 for none. Vectors wider
    /// than 128 bits travel in different registers depending on the CPU features (x86: in
    /// memory or xmm pairs without AVX, in ymm with it, in zmm with AVX-512).
    pub fn signature_vector_bits(self) -> u32 {
        // SAFETY: a live function; its value type is a function type.
        unsafe { function_type_vector_bits(LLVMGlobalGetValueType(self.raw())) }
    }

    /// The calls and invokes of this function's body whose function type carries a vector
    /// wider than 128 bits: the function called directly (`None`: through a pointer) and the
    /// widest vector of the call's type.
    pub fn wide_vector_calls(self) -> Vec<(Option<Global<'m>>, u32)> {
        self.calls()
            .into_iter()
            // SAFETY: each is a live call or invoke of this function's body; a direct callee
            // is a function of the same module, borrowed for 'm.
            .filter_map(|inst| unsafe {
                let bits = function_type_vector_bits(LLVMGetCalledFunctionType(inst));
                let callee = LLVMGetCalledValue(inst);
                let direct =
                    (!LLVMIsAFunction(callee).is_null()).then_some(Global::from_raw(callee));
                // Intrinsics are instructions, not calls with an ABI.
                let intrinsic = direct.is_some() && LLVMGetIntrinsicID(callee) != 0;
                (bits > 128 && !intrinsic).then_some((direct, bits))
            })
            .collect()
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
        // SAFETY: a live function; only its attributes are read.
        unsafe {
            let n = LLVMCountParams(self.raw());
            KINDS.iter().any(|kind| {
                let id = LLVMGetEnumAttributeKindForName(kind.as_ptr() as *const _, kind.len());
                (1..=n).any(|i| !LLVMGetEnumAttributeAtIndex(self.raw(), i, id).is_null())
            })
        }
    }

    /// The call and invoke instructions of this function's body, in order. Raw handles: they
    /// stay inside this module, used before anything changes the body.
    pub(super) fn calls(self) -> Vec<LLVMValueRef> {
        let mut out = Vec::new();
        // SAFETY: a live function; the walk only reads its blocks and instructions.
        unsafe {
            let mut bb = LLVMGetFirstBasicBlock(self.raw());
            while !bb.is_null() {
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    if !LLVMIsACallInst(inst).is_null() || !LLVMIsAInvokeInst(inst).is_null() {
                        out.push(inst);
                    }
                    inst = LLVMGetNextInstruction(inst);
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
        }
        out
    }
}

/// The widest fixed-length vector among a function type's result and parameters.
///
/// # Safety
/// `fnty` is a live function type.
unsafe fn function_type_vector_bits(fnty: LLVMTypeRef) -> u32 {
    let n = LLVMCountParamTypes(fnty) as usize;
    let mut params = vec![std::ptr::null_mut(); n];
    LLVMGetParamTypes(fnty, params.as_mut_ptr());
    params
        .into_iter()
        .chain(std::iter::once(LLVMGetReturnType(fnty)))
        .map(|t| type_vector_bits(t))
        .max()
        .unwrap_or(0)
}

/// The widest fixed-length vector in `ty`, looking into structs and arrays (a struct of two
/// vectors is returned in two vector registers).
///
/// # Safety
/// `ty` is a live type.
unsafe fn type_vector_bits(ty: LLVMTypeRef) -> u32 {
    use llvm_sys::LLVMTypeKind::*;
    match LLVMGetTypeKind(ty) {
        LLVMVectorTypeKind => {
            let element = LLVMGetElementType(ty);
            let element_bits = match LLVMGetTypeKind(element) {
                LLVMIntegerTypeKind => LLVMGetIntTypeWidth(element),
                LLVMHalfTypeKind | LLVMBFloatTypeKind => 16,
                LLVMFloatTypeKind => 32,
                LLVMDoubleTypeKind | LLVMPointerTypeKind => 64,
                _ => 128,
            };
            element_bits.saturating_mul(LLVMGetVectorSize(ty))
        }
        LLVMStructTypeKind => {
            let n = LLVMCountStructElementTypes(ty) as usize;
            let mut elements = vec![std::ptr::null_mut(); n];
            LLVMGetStructElementTypes(ty, elements.as_mut_ptr());
            elements
                .into_iter()
                .map(|t| type_vector_bits(t))
                .max()
                .unwrap_or(0)
        }
        LLVMArrayTypeKind => type_vector_bits(LLVMGetElementType(ty)),
        _ => 0,
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
    /// Cannot have dispatched versions: varargs or parameters passed in memory (byval, sret,
    /// ...) cannot be forwarded by a thunk, and blocks whose address is taken (computed goto
    /// tables) belong to one body only.
    pub unclonable: bool,
    /// A block's address is taken: no copy of the body at all (the table points into one).
    pub block_address_taken: bool,
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
