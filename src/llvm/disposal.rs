//! Freeing the program's module and context on a thread of their own. At 50,000 functions
//! destroying them took 0.2 s of a one-function rebuild, on the path to its emission, which
//! needs nothing of them (shards are emitted in contexts of their own).

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::thread::JoinHandle;

use inkwell::context::Context;
use inkwell::module::Module;
use llvm_sys::core::{LLVMContextDispose, LLVMDisposeModule};
use llvm_sys::prelude::{LLVMContextRef, LLVMModuleRef};

/// A context that frees itself when dropped, unless its module was handed to
/// [`ProgramContext::dispose_in_background`], which then frees both.
pub struct ProgramContext {
    context: ManuallyDrop<Context>,
    handed_over: Cell<bool>,
}

impl ProgramContext {
    pub fn create() -> ProgramContext {
        ProgramContext {
            context: ManuallyDrop::new(Context::create()),
            handed_over: Cell::new(false),
        }
    }

    /// Frees `module` (made in this context) and this context on a new thread, then runs
    /// `after` there; with a `gate`, only once it opens (a message, or its sender dropped).
    /// Every handle into the module is gone: it is moved here, and handles borrow it.
    pub fn dispose_in_background(
        &self,
        module: Module<'_>,
        gate: Option<std::sync::mpsc::Receiver<()>>,
        after: impl FnOnce() + Send + 'static,
    ) -> Disposal {
        let owned = Owned {
            module: module.as_mut_ptr(),
            context: self.context.raw(),
        };
        std::mem::forget(module);
        self.handed_over.set(true);
        Disposal(Some(std::thread::spawn(move || {
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
            owned.dispose();
            after();
        })))
    }
}

impl Deref for ProgramContext {
    type Target = Context;

    fn deref(&self) -> &Context {
        // After the hand-over the context is being freed on another thread.
        assert!(
            !self.handed_over.get(),
            "the program's context was disposed of"
        );
        &self.context
    }
}

impl Drop for ProgramContext {
    fn drop(&mut self) {
        if !self.handed_over.get() {
            // SAFETY: dropped once, here; nothing borrows it any more (self is being dropped).
            unsafe { ManuallyDrop::drop(&mut self.context) }
        }
    }
}

/// A module and its context that nothing else points into any more.
struct Owned {
    module: LLVMModuleRef,
    context: LLVMContextRef,
}

// SAFETY: no other thread holds a handle into the module or the context (the module was
// moved into `dispose_in_background`, the context is never used again by its owner); an
// LLVM context and its modules may be used from any one thread at a time.
unsafe impl Send for Owned {}

impl Owned {
    fn dispose(self) {
        // SAFETY: each is disposed once, the module first, as inkwell's drops would.
        unsafe {
            LLVMDisposeModule(self.module);
            LLVMContextDispose(self.context);
        }
    }
}

/// A disposal under way. Dropping it waits for the thread: LLVM must not be working on a
/// detached thread while the process exits.
pub struct Disposal(Option<JoinHandle<()>>);

impl Drop for Disposal {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}
