//! The native reference walk (`references`, llvm_shim.cpp) against a walk through LLVM's C API,
//! operand by operand, as aotlink made it before: the same globals in the same order.

use std::collections::HashSet;

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use llvm_sys::core::*;
use llvm_sys::prelude::*;

use super::super::global::{globals, Global};

/// The globals `g` refers to, found with the C API.
fn references_by_c_api<'m>(g: Global<'m>) -> Vec<Global<'m>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // SAFETY: a live global of a module borrowed for 'm; only read.
    unsafe {
        let raw = g.raw();
        if !LLVMIsAFunction(raw).is_null() {
            if LLVMHasPersonalityFn(raw) != 0 {
                collect(LLVMGetPersonalityFn(raw), &mut out, &mut seen);
            }
            let mut bb = LLVMGetFirstBasicBlock(raw);
            while !bb.is_null() {
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    for i in 0..LLVMGetNumOperands(inst) {
                        collect(LLVMGetOperand(inst, i as u32), &mut out, &mut seen);
                    }
                    inst = LLVMGetNextInstruction(inst);
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
        } else if !LLVMIsAGlobalVariable(raw).is_null() {
            collect(LLVMGetInitializer(raw), &mut out, &mut seen);
        } else if !LLVMIsAGlobalAlias(raw).is_null() {
            collect(LLVMAliasGetAliasee(raw), &mut out, &mut seen);
        } else {
            collect(LLVMGetGlobalIFuncResolver(raw), &mut out, &mut seen);
        }
    }
    out
}

/// # Safety
/// `value` is null or a live value of a module borrowed for `'m`.
unsafe fn collect<'m>(
    value: LLVMValueRef,
    out: &mut Vec<Global<'m>>,
    seen: &mut HashSet<LLVMValueRef>,
) {
    let leads_somewhere = |v| {
        !LLVMIsAConstant(v).is_null()
            && (LLVMGetNumOperands(v) > 0
                || !LLVMIsAGlobalValue(v).is_null()
                || !LLVMIsABlockAddress(v).is_null())
    };
    if value.is_null() || !leads_somewhere(value) || !seen.insert(value) {
        return;
    }
    if !LLVMIsAGlobalValue(value).is_null() {
        out.push(Global::from_raw(value));
    } else if !LLVMIsABlockAddress(value).is_null() {
        collect(LLVMGetBlockAddressFunction(value), out, seen);
    } else {
        for i in 0..LLVMGetNumOperands(value) {
            collect(LLVMGetOperand(value, i as u32), out, seen);
        }
    }
}

/// Every global's references, both ways, in a module of `text`; returns how many globals had
/// any (so that a test knows it walked something).
fn both_walks_agree(text: &str) -> usize {
    let context = Context::create();
    let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "test");
    let module = context.create_module_from_ir(buffer).unwrap();
    let mut with_references = 0;
    for g in globals(&module) {
        let native = g.references();
        assert_eq!(native, references_by_c_api(g), "references of {}", g.name());
        with_references += usize::from(!native.is_empty());
    }
    with_references
}

const CONSTRUCTS: &str = r#"
target triple = "x86_64-unknown-linux-gnu"
%pair = type { ptr, i64 }
@a = global i32 1
@b = global [2 x ptr] [ptr @f, ptr @a]
@rel = constant i32 trunc (i64 sub (i64 ptrtoint (ptr @a to i64), i64 ptrtoint (ptr @rel to i64)) to i32)
@nested = global { %pair, [2 x %pair] } { %pair { ptr @g, i64 1 }, [2 x %pair] [%pair { ptr @b, i64 2 }, %pair { ptr getelementptr (i8, ptr @a, i64 4), i64 3 }] }
@labels = global [2 x ptr] [ptr blockaddress(@goto, %one), ptr blockaddress(@goto, %two)]
@al = alias i32, ptr @a
@al2 = alias i8, getelementptr (i8, ptr @al, i64 2)
@ifn = ifunc void (), ptr @resolve
@str = private constant [3 x i8] c"hi\00"

declare i32 @personality(...)
declare void @g()

define ptr @resolve() {
  ret ptr @g
}

define void @f(ptr %p) personality ptr @personality {
entry:
  store ptr @str, ptr %p
  %x = load i32, ptr getelementptr (i8, ptr @a, i64 0)
  invoke void @g() to label %ok unwind label %bad
ok:
  call void @ifn()
  %v = insertelement <2 x ptr> poison, ptr @al, i32 0
  ret void
bad:
  %lp = landingpad { ptr, i32 } cleanup
  resume { ptr, i32 } %lp
}

define i32 @goto(i32 %i) {
entry:
  %slot = getelementptr [2 x ptr], ptr @labels, i32 0, i32 %i
  %target = load ptr, ptr %slot
  indirectbr ptr %target, [label %one, label %two]
one:
  ret i32 1
two:
  %y = select i1 true, ptr @f, ptr @resolve
  ret i32 2
}
"#;

#[test]
fn the_native_walk_finds_what_the_c_api_walk_finds() {
    assert!(both_walks_agree(CONSTRUCTS) >= 8);
}

/// The example's kernels as clang compiles them (loops, math, tables of functions), when
/// clang-22 is there (the README's set-up installs it).
#[test]
fn the_walks_agree_on_clang_output() {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kernels/kernels.c");
    let out = std::process::Command::new("clang-22")
        .args(["-O1", "-S", "-emit-llvm", "-o", "-", source])
        .output()
        .expect("clang-22 (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(both_walks_agree(&String::from_utf8(out.stdout).unwrap()) >= 3);
}
