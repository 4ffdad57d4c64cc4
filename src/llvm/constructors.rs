//! Constructors run in the order of the inputs, as a linker runs them.
//!
//! A linker puts each object's `.init_array` after the previous object's, so constructors of
//! one priority run in command-line order; gcc's and clang's shared libraries do. The merged
//! module lists them in that order too, but LLVM's GlobalOpt treats one priority as unordered:
//! it evaluates at compile time every constructor of the list it can, and skips those it
//! cannot (or that are declarations, defined in another shard), so an evaluated constructor
//! took effect before an earlier one that ran at load. Three C files whose constructors append
//! to one array gave `2 3 1` instead of `1 2 3`, and which one depended on the shard count
//! (which shard held which constructor). One function per priority that calls the constructors
//! in the list's order is evaluated whole or not at all, so the order holds for any partition.

use std::collections::BTreeMap;

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::*;

use super::shim::c_name;

/// The prefix of the functions that call a priority's constructors in order; the priority
/// follows it.
const CONSTRUCTORS_PREFIX: &str = "aotlink_constructors_";

/// Replaces the constructors of each priority that has more than one by a function calling
/// them in the list's order (`aotlink_constructors_<priority>`, internal). Returns whether
/// the module changed (its `llvm.global_ctors` is then a new global).
pub fn call_constructors_in_order(module: &Module) -> bool {
    let m = module.as_mut_ptr();
    // SAFETY: the module is borrowed for the call; the values read are its constants, the
    // builder is created and disposed of here, and every new value belongs to the module.
    unsafe {
        let list = LLVMGetNamedGlobal(m, c"llvm.global_ctors".as_ptr());
        if list.is_null() || LLVMIsDeclaration(list) != 0 {
            return false;
        }
        let init = LLVMGetInitializer(list);
        if init.is_null() || LLVMIsAConstantArray(init).is_null() {
            return false;
        }
        let count = LLVMGetNumOperands(init);
        let mut by_priority: BTreeMap<u64, Vec<LLVMValueRef>> = BTreeMap::new();
        for i in 0..count as u32 {
            let entry = LLVMGetOperand(init, i);
            // Anything but `{ i32 priority, ptr f, ptr data }` is left as LLVM has it.
            if LLVMIsAConstantStruct(entry).is_null()
                || LLVMGetNumOperands(entry) < 2
                || LLVMIsAConstantInt(LLVMGetOperand(entry, 0)).is_null()
            {
                return false;
            }
            let priority = LLVMConstIntGetZExtValue(LLVMGetOperand(entry, 0));
            by_priority.entry(priority).or_default().push(entry);
        }
        if by_priority.values().all(|entries| entries.len() < 2) {
            return false;
        }
        let entry_type = LLVMTypeOf(LLVMGetOperand(init, 0));
        // LLVM reads every list as three fields (it adds the data pointer to older IR).
        if LLVMCountStructElementTypes(entry_type) != 3 {
            return false;
        }
        let ctx = LLVMGetModuleContext(m);
        let void_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), std::ptr::null_mut(), 0, 0);
        let builder = LLVMCreateBuilderInContext(ctx);
        let mut entries = Vec::new();
        for (priority, group) in by_priority {
            if group.len() == 1 {
                entries.push(group[0]);
                continue;
            }
            let name = c_name(&format!("{CONSTRUCTORS_PREFIX}{priority}"));
            let caller = LLVMAddFunction(m, name.as_ptr(), void_fn);
            LLVMSetLinkage(caller, llvm_sys::LLVMLinkage::LLVMInternalLinkage);
            let block = LLVMAppendBasicBlockInContext(ctx, caller, c"entry".as_ptr());
            LLVMPositionBuilderAtEnd(builder, block);
            for entry in &group {
                let f = LLVMGetOperand(*entry, 1);
                let call =
                    LLVMBuildCall2(builder, void_fn, f, std::ptr::null_mut(), 0, c"".as_ptr());
                if !LLVMIsAFunction(f).is_null() {
                    LLVMSetInstructionCallConv(call, LLVMGetFunctionCallConv(f));
                }
            }
            LLVMBuildRetVoid(builder);
            let mut fields = [
                LLVMGetOperand(group[0], 0),
                caller,
                LLVMConstNull(LLVMStructGetTypeAtIndex(entry_type, 2)),
            ];
            entries.push(LLVMConstNamedStruct(entry_type, fields.as_mut_ptr(), 3));
        }
        LLVMDisposeBuilder(builder);
        let new_init = LLVMConstArray2(entry_type, entries.as_mut_ptr(), entries.len() as u64);
        LLVMSetValueName2(list, c"".as_ptr(), 0);
        let new_list = LLVMAddGlobal(m, LLVMTypeOf(new_init), c"llvm.global_ctors".as_ptr());
        LLVMSetLinkage(new_list, llvm_sys::LLVMLinkage::LLVMAppendingLinkage);
        LLVMSetInitializer(new_list, new_init);
        LLVMDeleteGlobal(list);
        true
    }
}
