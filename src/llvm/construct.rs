//! Adding globals to a module: dispatch thunks and their slots, declarations, constant data
//! and packed tables whose entries are addresses or address differences.

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::*;

use super::edit::fill_thunk_body;
use super::global::{Global, Linkage, Visibility};
use super::shim::c_name;

/// One piece of a packed constant (see [`add_packed_constant`]).
pub enum Piece<'a, 'm> {
    /// Bytes as they are.
    Bytes(&'a [u8]),
    /// `trunc(ptrtoint target - ptrtoint constant)` as 32 bits: the assembler emits a
    /// PC-relative relocation the static linker resolves, no dynamic relocation.
    Offset32(Global<'m>),
    /// The target's address as 64 bits (a dynamic relocation in a shared object).
    Pointer64(Global<'m>),
}

/// Sets the module's data layout string.
pub fn set_data_layout(module: &Module, layout: &str) {
    let layout = c_name(layout);
    // SAFETY: the module is live for the call; LLVM parses and copies the string.
    unsafe { LLVMSetDataLayout(module.as_mut_ptr(), layout.as_ptr()) };
}

/// Adds a new function named `name` typed and called like `f`.
///
/// # Safety
/// `module` is `f`'s module.
unsafe fn add_function_like<'m>(module: &'m Module, name: &str, f: Global<'m>) -> Global<'m> {
    let cname = c_name(name);
    let new = LLVMAddFunction(
        module.as_mut_ptr(),
        cname.as_ptr(),
        LLVMGlobalGetValueType(f.raw()),
    );
    LLVMSetFunctionCallConv(new, LLVMGetFunctionCallConv(f.raw()));
    Global::from_raw(new)
}

/// Adds a hidden global `name` of pointer type, initialized to `init` when given (else a
/// declaration another object defines).
fn add_pointer_global<'m>(module: &'m Module, name: &str, init: Option<Global<'m>>) -> Global<'m> {
    let cname = c_name(name);
    let m = module.as_mut_ptr();
    // SAFETY: the module is borrowed for 'm; the new global belongs to it, and so does `init`.
    let slot = unsafe {
        let slot = LLVMAddGlobal(
            m,
            LLVMPointerTypeInContext(LLVMGetModuleContext(m), 0),
            cname.as_ptr(),
        );
        if let Some(init) = init {
            LLVMSetInitializer(slot, init.raw());
        }
        Global::from_raw(slot)
    };
    slot.set_visibility(Visibility::Hidden);
    slot
}

/// Puts a dispatch thunk in place of function `f`: `f` is renamed `base_name` (external,
/// hidden), a new function takes its name, linkage, visibility and every use, a slot
/// `slot_name` is initialized to `f`, and the thunk's body calls through the slot. Returns
/// the thunk.
pub fn add_dispatch_thunk<'m>(
    module: &'m Module,
    f: Global<'m>,
    base_name: &str,
    slot_name: &str,
) -> Global<'m> {
    let (name, linkage, visibility) = (f.name(), f.linkage(), f.visibility());
    f.set_name(base_name);
    // SAFETY: `f` belongs to `module`; the thunk is a new function of the same type, so it
    // may replace every use of `f`.
    let thunk = unsafe {
        let thunk = add_function_like(module, &name, f);
        LLVMReplaceAllUsesWith(f.raw(), thunk.raw());
        thunk
    };
    thunk.set_linkage(linkage);
    thunk.set_visibility(visibility);
    f.set_linkage(Linkage::External);
    f.set_visibility(Visibility::Hidden);
    let slot = add_pointer_global(module, slot_name, Some(f));
    fill_thunk_body(thunk, slot);
    thunk
}

/// Gives the declared function `f` a body that calls through a new hidden pointer global
/// `slot_name` (defined by another object), and makes `f` external and hidden.
pub fn bind_through_slot<'m>(module: &'m Module, f: Global<'m>, slot_name: &str) {
    let slot = add_pointer_global(module, slot_name, None);
    fill_thunk_body(f, slot);
    f.set_linkage(Linkage::External);
    f.set_visibility(Visibility::Hidden);
}

/// The pointer global `name` of the module, or a hidden declaration of it.
pub fn pointer_slot<'m>(module: &'m Module, name: &str) -> Global<'m> {
    let cname = c_name(name);
    // SAFETY: the module is borrowed for 'm; the lookup reads its symbol table.
    let existing = unsafe { LLVMGetNamedGlobal(module.as_mut_ptr(), cname.as_ptr()) };
    if existing.is_null() {
        add_pointer_global(module, name, None)
    } else {
        // SAFETY: a global of the module, borrowed for 'm.
        unsafe { Global::from_raw(existing) }
    }
}

/// The function `name` of the module, or a hidden declaration of it typed like `like`.
pub fn function_like<'m>(module: &'m Module, name: &str, like: Global<'m>) -> Global<'m> {
    let cname = c_name(name);
    // SAFETY: the module is borrowed for 'm; the lookup reads its symbol table.
    let existing = unsafe { LLVMGetNamedFunction(module.as_mut_ptr(), cname.as_ptr()) };
    if !existing.is_null() {
        // SAFETY: a function of the module, borrowed for 'm.
        return unsafe { Global::from_raw(existing) };
    }
    // SAFETY: `like` belongs to `module` (both borrowed for 'm).
    let decl = unsafe { add_function_like(module, name, like) };
    decl.set_visibility(Visibility::Hidden);
    decl
}

/// Declares an external byte-sized global `name` that another object defines, with the
/// definition's `visibility` (ELF keeps the most constraining visibility of all references:
/// a hidden reference would hide an exported definition).
pub fn declare_byte<'m>(module: &'m Module, name: &str, visibility: Visibility) -> Global<'m> {
    let cname = c_name(name);
    let m = module.as_mut_ptr();
    // SAFETY: the module is borrowed for 'm; the new global belongs to it.
    let g = unsafe {
        Global::from_raw(LLVMAddGlobal(
            m,
            LLVMInt8TypeInContext(LLVMGetModuleContext(m)),
            cname.as_ptr(),
        ))
    };
    g.set_visibility(visibility);
    g
}

/// Adds hidden constants `name` (the bytes, 16-byte aligned) and `size_name` (their count as
/// an i64). Returns the bytes' global.
pub fn add_bytes_and_size<'m>(
    module: &'m Module,
    name: &str,
    size_name: &str,
    bytes: &[u8],
) -> Global<'m> {
    let m = module.as_mut_ptr();
    let (name, size_name) = (c_name(name), c_name(size_name));
    // SAFETY: the module is borrowed for 'm; LLVM copies the bytes into the constant, and
    // both globals belong to the module.
    let (data, size) = unsafe {
        let ctx = LLVMGetModuleContext(m);
        let init = LLVMConstStringInContext2(ctx, bytes.as_ptr() as *const _, bytes.len(), 1);
        let data = LLVMAddGlobal(m, LLVMTypeOf(init), name.as_ptr());
        LLVMSetInitializer(data, init);
        LLVMSetGlobalConstant(data, 1);
        LLVMSetAlignment(data, 16);
        let i64t = LLVMInt64TypeInContext(ctx);
        let size = LLVMAddGlobal(m, i64t, size_name.as_ptr());
        LLVMSetInitializer(size, LLVMConstInt(i64t, bytes.len() as u64, 0));
        LLVMSetGlobalConstant(size, 1);
        (Global::from_raw(data), Global::from_raw(size))
    };
    data.set_visibility(Visibility::Hidden);
    size.set_visibility(Visibility::Hidden);
    data
}

/// Adds a hidden function `trap_name` that traps, and one hidden pointer global per name of
/// `slot_names` initialized to it: a call through a slot nobody filled stops the program
/// instead of jumping through null.
pub fn add_trap_slots<'m>(
    module: &'m Module,
    trap_name: &str,
    slot_names: &[String],
) -> Vec<Global<'m>> {
    let m = module.as_mut_ptr();
    let trap_name = c_name(trap_name);
    // SAFETY: the module is borrowed for 'm; the builder is created and disposed of here and
    // every new function and global belongs to the module.
    let trap = unsafe {
        let ctx = LLVMGetModuleContext(m);
        let void_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), std::ptr::null_mut(), 0, 0);
        let trap = LLVMAddFunction(m, trap_name.as_ptr(), void_fn);
        let builder = LLVMCreateBuilderInContext(ctx);
        LLVMPositionBuilderAtEnd(
            builder,
            LLVMAppendBasicBlockInContext(ctx, trap, c"entry".as_ptr()),
        );
        let intrinsic = LLVMAddFunction(m, c"llvm.trap".as_ptr(), void_fn);
        LLVMBuildCall2(
            builder,
            void_fn,
            intrinsic,
            std::ptr::null_mut(),
            0,
            c"".as_ptr(),
        );
        LLVMBuildUnreachable(builder);
        LLVMDisposeBuilder(builder);
        Global::from_raw(trap)
    };
    trap.set_visibility(Visibility::Hidden);
    (slot_names.iter())
        .map(|name| add_pointer_global(module, name, Some(trap)))
        .collect()
}

/// Adds `pieces` to `module` as one packed constant struct `name`, 16-byte aligned, external
/// with `visibility`. Every target of an address gets an address of its own
/// ([`Global::keep_address`]).
pub fn add_packed_constant<'m>(
    module: &'m Module,
    name: &str,
    pieces: &[Piece<'_, 'm>],
    visibility: Visibility,
) -> Global<'m> {
    let m = module.as_mut_ptr();
    let cname = c_name(name);
    // SAFETY: the module is borrowed for 'm, and so are the pieces' targets; LLVM copies the
    // bytes into constants of the module's context.
    let global = unsafe {
        let ctx = LLVMGetModuleContext(m);
        let (i8t, i32t, i64t) = (
            LLVMInt8TypeInContext(ctx),
            LLVMInt32TypeInContext(ctx),
            LLVMInt64TypeInContext(ctx),
        );
        let mut types: Vec<LLVMTypeRef> = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(bytes) => LLVMArrayType2(i8t, bytes.len() as u64),
                Piece::Offset32(_) => i32t,
                Piece::Pointer64(_) => i64t,
            })
            .collect();
        let ty = LLVMStructTypeInContext(ctx, types.as_mut_ptr(), types.len() as u32, 1);
        let global = LLVMAddGlobal(m, ty, cname.as_ptr());
        let base = LLVMConstPtrToInt(global, i64t);
        let address = |target: &Global| {
            target.keep_address();
            LLVMConstPtrToInt(target.raw(), i64t)
        };
        let mut values: Vec<LLVMValueRef> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Bytes(bytes) => {
                    LLVMConstStringInContext2(ctx, bytes.as_ptr() as *const _, bytes.len(), 1)
                }
                Piece::Offset32(target) => {
                    LLVMConstTrunc(LLVMConstSub(address(target), base), i32t)
                }
                Piece::Pointer64(target) => address(target),
            })
            .collect();
        let init = LLVMConstStructInContext(ctx, values.as_mut_ptr(), values.len() as u32, 1);
        LLVMSetInitializer(global, init);
        LLVMSetGlobalConstant(global, 1);
        LLVMSetAlignment(global, 16);
        Global::from_raw(global)
    };
    global.set_linkage(Linkage::External);
    global.set_visibility(visibility);
    global
}
