//! [`Global`]: a function, global variable, alias or ifunc of a module, borrowed from that module,
//! with the properties aotlink reads and sets on it.

use std::marker::PhantomData;

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMValueRef;
use llvm_sys::{LLVMLinkage, LLVMThreadLocalMode, LLVMVisibility};

use super::shim::c_name;

/// A function, global variable or alias of a module that is borrowed for `'m`. While the
/// borrow lasts the module is alive and nothing deletes its globals (see the module contract
/// in `llvm/mod.rs`), so the handle stays valid. Not `Send`: a module's context belongs to
/// one thread.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Global<'m> {
    raw: LLVMValueRef,
    module: PhantomData<&'m ()>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalKind {
    Function,
    Variable,
    Alias,
    /// A function whose address a resolver function picks at load time (GNU `ifunc`; clang
    /// makes them for `target_clones`). Its one reference is the resolver.
    IFunc,
}

/// The linkages aotlink reads or gives; LLVM's others read as [`Linkage::Other`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Linkage {
    External,
    Internal,
    Private,
    /// A copy of a function defined elsewhere (C99 `inline`, C++ `extern template`).
    AvailableExternally,
    Other(LLVMLinkage),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Default,
    Hidden,
    Protected,
}

impl std::fmt::Debug for Global<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Global({:?})", self.name())
    }
}

impl<'m> Global<'m> {
    /// # Safety
    /// `raw` is a global value (function, variable or alias) of a module that the caller
    /// holds borrowed for `'m`.
    pub(super) unsafe fn from_raw(raw: LLVMValueRef) -> Global<'m> {
        debug_assert!(!raw.is_null());
        Global {
            raw,
            module: PhantomData,
        }
    }

    pub(super) fn raw(self) -> LLVMValueRef {
        self.raw
    }

    pub fn name(self) -> String {
        self.with_name(|name| String::from_utf8_lossy(name).into_owned())
    }

    /// Whether it has a name at all (`@0` has none).
    pub fn has_name(self) -> bool {
        self.with_name(|name| !name.is_empty())
    }

    /// `f` of the name's bytes, not copied (the walks over every global ask often). Private:
    /// `f` must not rename the global, and the closures here only read.
    fn with_name<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut len = 0;
        // SAFETY: a live global (the type's invariant); LLVM returns its name's bytes and
        // length, valid until the name changes, which the callers' closures never do.
        unsafe {
            let ptr = LLVMGetValueName2(self.raw, &mut len);
            f(std::slice::from_raw_parts(ptr as *const u8, len))
        }
    }

    pub fn set_name(self, name: &str) {
        // SAFETY: a live global; LLVM copies the `len` bytes it is given.
        unsafe { LLVMSetValueName2(self.raw, name.as_ptr() as *const _, name.len()) }
    }

    pub fn kind(self) -> GlobalKind {
        // SAFETY: a live global; the LLVMIsA* queries only read its class.
        unsafe {
            if !LLVMIsAFunction(self.raw).is_null() {
                GlobalKind::Function
            } else if !LLVMIsAGlobalVariable(self.raw).is_null() {
                GlobalKind::Variable
            } else if !LLVMIsAGlobalIFunc(self.raw).is_null() {
                GlobalKind::IFunc
            } else {
                GlobalKind::Alias
            }
        }
    }

    pub fn is_declaration(self) -> bool {
        // SAFETY: a live global.
        unsafe { LLVMIsDeclaration(self.raw) != 0 }
    }

    /// The section the IR places this global in (`section "name"`), if it names one.
    pub fn section(self) -> Option<String> {
        // SAFETY: a live global; LLVM returns its own string (or null), copied at once.
        let ptr = unsafe { LLVMGetSection(self.raw) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string of the global's, live for the copy.
        let name = unsafe { std::ffi::CStr::from_ptr(ptr) }.to_string_lossy();
        (!name.is_empty()).then(|| name.into_owned())
    }

    /// An intrinsic (`llvm.memcpy...`) or LLVM's own special globals (`llvm.used`, ctors).
    pub fn is_llvm_special(self) -> bool {
        self.with_name(|name| name.starts_with(b"llvm."))
    }

    pub fn linkage(self) -> Linkage {
        // SAFETY: a live global.
        match unsafe { LLVMGetLinkage(self.raw) } {
            LLVMLinkage::LLVMExternalLinkage => Linkage::External,
            LLVMLinkage::LLVMInternalLinkage => Linkage::Internal,
            LLVMLinkage::LLVMPrivateLinkage => Linkage::Private,
            LLVMLinkage::LLVMAvailableExternallyLinkage => Linkage::AvailableExternally,
            other => Linkage::Other(other),
        }
    }

    pub fn set_linkage(self, linkage: Linkage) {
        let raw = match linkage {
            Linkage::External => LLVMLinkage::LLVMExternalLinkage,
            Linkage::Internal => LLVMLinkage::LLVMInternalLinkage,
            Linkage::Private => LLVMLinkage::LLVMPrivateLinkage,
            Linkage::AvailableExternally => LLVMLinkage::LLVMAvailableExternallyLinkage,
            Linkage::Other(raw) => raw,
        };
        // SAFETY: a live global.
        unsafe { LLVMSetLinkage(self.raw, raw) }
    }

    pub fn visibility(self) -> Visibility {
        // SAFETY: a live global.
        match unsafe { LLVMGetVisibility(self.raw) } {
            LLVMVisibility::LLVMDefaultVisibility => Visibility::Default,
            LLVMVisibility::LLVMHiddenVisibility => Visibility::Hidden,
            LLVMVisibility::LLVMProtectedVisibility => Visibility::Protected,
        }
    }

    pub fn set_visibility(self, visibility: Visibility) {
        let raw = match visibility {
            Visibility::Default => LLVMVisibility::LLVMDefaultVisibility,
            Visibility::Hidden => LLVMVisibility::LLVMHiddenVisibility,
            Visibility::Protected => LLVMVisibility::LLVMProtectedVisibility,
        };
        // SAFETY: a live global.
        unsafe { LLVMSetVisibility(self.raw, raw) }
    }

    /// A thread-local variable: one copy per thread, so no address of its own to table.
    pub fn is_thread_local(self) -> bool {
        // SAFETY: a live global; functions and aliases answer false.
        self.kind() == GlobalKind::Variable && unsafe { LLVMIsThreadLocal(self.raw) != 0 }
    }

    /// Lets LLVM choose a thread-local variable's access model for a shared object where the
    /// IR asked for local-exec, which only an executable can use (it addresses the variable
    /// at a fixed offset from the thread pointer; a library loaded later has none).
    pub fn allow_shared_object_tls(self) {
        // SAFETY: a live global; the mode is only read from and set on variables.
        unsafe {
            if self.kind() == GlobalKind::Variable
                && LLVMGetThreadLocalMode(self.raw) == LLVMThreadLocalMode::LLVMLocalExecTLSModel
            {
                LLVMSetThreadLocalMode(self.raw, LLVMThreadLocalMode::LLVMGeneralDynamicTLSModel);
            }
        }
    }

    /// Local to its module (internal or private linkage).
    /// LLVM may delete it when nothing refers to it (GlobalDCE): a local, linkonce or
    /// available_externally definition.
    pub fn is_discardable_if_unused(self) -> bool {
        use LLVMLinkage::*;
        self.is_local()
            || matches!(
                self.linkage(),
                Linkage::AvailableExternally
                    | Linkage::Other(
                        LLVMLinkOnceAnyLinkage
                            | LLVMLinkOnceODRLinkage
                            | LLVMLinkOnceODRAutoHideLinkage
                    )
            )
    }

    pub fn is_local(self) -> bool {
        matches!(self.linkage(), Linkage::Internal | Linkage::Private)
    }

    /// Lets a program the image is linked into interpose the global (a copy relocation of an
    /// exported variable): its code and data then reach it through the GOT or a symbolic
    /// relocation, not at a fixed offset (`dso_local`, which clang sets compiling for a PIE).
    pub fn allow_interposition(self) {
        // SAFETY: a live global value.
        unsafe { super::shim::aotlink_shim_set_dso_local(self.raw, 0) }
    }

    /// Adds a hidden alias `name` of this global: a name that binds within the image whatever
    /// binds the global's own.
    pub fn add_hidden_alias(self, name: &str) -> Global<'m> {
        let cname = c_name(name);
        // SAFETY: a live global of a module borrowed for 'm; the alias is added to the same
        // module, with the global's own value type and address space.
        let alias = unsafe {
            let ty = LLVMGlobalGetValueType(self.raw);
            let space = LLVMGetPointerAddressSpace(LLVMTypeOf(self.raw));
            Global::from_raw(LLVMAddAlias2(
                LLVMGetGlobalParent(self.raw),
                ty,
                space,
                self.raw,
                cname.as_ptr(),
            ))
        };
        alias.set_linkage(Linkage::External);
        alias.set_visibility(Visibility::Hidden);
        alias
    }

    /// Gives the global an address of its own (not `unnamed_addr`): a table entry points at
    /// it, so it may not be merged with an equal one, and on AArch64 a difference to an
    /// `unnamed_addr` function becomes a PLT32 relocation, which GNU ld 2.40 cannot link.
    pub fn keep_address(self) {
        // SAFETY: a live global.
        unsafe { LLVMSetUnnamedAddress(self.raw, llvm_sys::LLVMUnnamedAddr::LLVMNoUnnamedAddr) }
    }

    /// Leaves no comdat group: every symbol gets exactly one definition in one shard.
    pub fn clear_comdat(self) {
        // An alias is no GlobalObject: it has no comdat of its own, and LLVMSetComdat would
        // treat it as one (it crashed on every module with an alias).
        if self.kind() == GlobalKind::Alias {
            return;
        }
        // SAFETY: a live function or variable (a GlobalObject, which LLVMSetComdat takes);
        // a null comdat removes it from its group.
        unsafe { llvm_sys::comdat::LLVMSetComdat(self.raw, std::ptr::null_mut()) }
    }

    /// The LLVM type of the function (`i64 (i64, double)`) or variable.
    /// The type of what it defines (a function's signature), as an opaque key: types are
    /// unique in their context, so equal keys are equal types.
    pub fn value_type(self) -> usize {
        // SAFETY: a live global; only the type's address is taken.
        unsafe { LLVMGlobalGetValueType(self.raw) as usize }
    }

    pub fn value_type_string(self) -> String {
        // SAFETY: a live global; the printed type is a message LLVM allocated, taken once.
        unsafe { take_message(LLVMPrintTypeToString(LLVMGlobalGetValueType(self.raw))) }
    }
}

/// Copies and disposes of a message LLVM allocated.
///
/// # Safety
/// `ptr` is a NUL-terminated string from an LLVM `*ToString` call, not yet disposed of.
pub(super) unsafe fn take_message(ptr: *mut std::os::raw::c_char) -> String {
    // SAFETY: by the contract, a live NUL-terminated string LLVM owns until disposed of.
    let s = unsafe { std::ffi::CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: disposed of once, after the copy.
    unsafe { LLVMDisposeMessage(ptr) };
    s
}

/// All functions, global variables, aliases and ifuncs of `module`, in module order.
pub fn globals<'m>(module: &'m Module<'_>) -> Vec<Global<'m>> {
    let m = module.as_mut_ptr();
    let mut out = Vec::new();
    // SAFETY: the module is borrowed for 'm; the iteration reads its global lists, which
    // nothing changes during the walk.
    unsafe {
        let mut f = LLVMGetFirstFunction(m);
        while !f.is_null() {
            out.push(Global::from_raw(f));
            f = LLVMGetNextFunction(f);
        }
        let mut g = LLVMGetFirstGlobal(m);
        while !g.is_null() {
            out.push(Global::from_raw(g));
            g = LLVMGetNextGlobal(g);
        }
        let mut a = LLVMGetFirstGlobalAlias(m);
        while !a.is_null() {
            out.push(Global::from_raw(a));
            a = LLVMGetNextGlobalAlias(a);
        }
        let mut i = LLVMGetFirstGlobalIFunc(m);
        while !i.is_null() {
            out.push(Global::from_raw(i));
            i = LLVMGetNextGlobalIFunc(i);
        }
    }
    out
}

/// The global value named `name` in `module` (function, variable or alias), if any.
pub fn named_global<'m>(module: &'m Module<'_>, name: &str) -> Option<Global<'m>> {
    let cname = c_name(name);
    let m = module.as_mut_ptr();
    // SAFETY: the module is borrowed for 'm; the lookups only read its symbol table.
    unsafe {
        [
            LLVMGetNamedFunction(m, cname.as_ptr()),
            LLVMGetNamedGlobal(m, cname.as_ptr()),
            LLVMGetNamedGlobalAlias(m, cname.as_ptr(), name.len()),
            LLVMGetNamedGlobalIFunc(m, cname.as_ptr(), name.len()),
        ]
        .into_iter()
        .find(|v| !v.is_null())
        .map(|raw| Global::from_raw(raw))
    }
}

/// The module's own target triple.
pub fn triple(module: &Module) -> String {
    module.get_triple().as_str().to_string_lossy().into_owned()
}

/// The tables of names in `module`'s context that every module's bitcode carries whole
/// (metadata kinds, operand bundle tags, sync scopes), as text.
pub fn context_names(module: &Module) -> String {
    // SAFETY: the module (and so its context) is borrowed for the call; the shim only reads
    // the context's tables and returns a fresh string that `take_shim_string` frees.
    unsafe {
        let context = LLVMGetModuleContext(module.as_mut_ptr());
        super::shim::take_shim_string(super::shim::aotlink_shim_context_names(context))
            .unwrap_or_default()
    }
}

/// Removes the module flag `key` (`PIE Level`, which makes LLVM address thread-locals as an
/// executable does), if the module has it.
pub fn drop_module_flag(module: &Module, key: &str) {
    let key = c_name(key);
    // SAFETY: the module is borrowed for the call; the shim rebuilds its flags list from the
    // flags it keeps, which stay alive in the module's context.
    unsafe { super::shim::aotlink_shim_drop_module_flag(module.as_mut_ptr(), key.as_ptr()) }
}

/// Drops the names of local values (arguments, blocks, instructions) of every function; global
/// names stay. The code is the same; the module takes less memory, its bitcode less to write
/// and read, and a method's content hash no longer changes with the names of its locals.
pub fn drop_local_names(module: &Module) {
    // SAFETY: the module is borrowed for the call; the shim only clears names of values it
    // owns, which no handle of ours refers to by name.
    unsafe { super::shim::aotlink_shim_drop_local_names(module.as_mut_ptr()) }
}

/// Runs `read` with `context` making no names for local values (a module read meanwhile gets
/// none: as if [`drop_local_names`] had run, without making the names first). Only for
/// bitcode: LLVM's text parser refuses such a context.
pub fn reading_without_local_names<T>(
    context: &inkwell::context::Context,
    read: impl FnOnce() -> T,
) -> T {
    let raw = context.raw();
    // SAFETY: the context is borrowed for the call; the flag only decides whether later
    // `setName`s of local values keep the name.
    let before = unsafe { LLVMContextShouldDiscardValueNames(raw) };
    unsafe { LLVMContextSetDiscardValueNames(raw, 1) };
    let out = read();
    // SAFETY: as above.
    unsafe { LLVMContextSetDiscardValueNames(raw, before) };
    out
}
