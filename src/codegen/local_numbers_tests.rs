//! local_numbers.rs's tests: renumbered text parses into the module the named text gives after
//! dropping its local names, and text that cannot be renumbered safely is left alone.

use super::*;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;

/// The bitcode of `text`'s module, its local names dropped when `drop_names` (no use-list
/// orders: they follow the parse, not the module).
fn bitcode(text: &str, drop_names: bool) -> Vec<u8> {
    let context = Context::create();
    let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "m");
    let module = context.create_module_from_ir(buffer).unwrap();
    module.verify().unwrap();
    if drop_names {
        crate::llvm::drop_local_names(&module);
    }
    module.write_bitcode_to_memory().as_slice().to_vec()
}

/// `text` renumbered: the module of the original without its local names, every line
/// where it was.
fn renumbered(text: &str) -> String {
    let out = without_local_names(text).unwrap_or_else(|| panic!("left alone:\n{text}"));
    assert_eq!(out.lines().count(), text.lines().count());
    assert!(
        bitcode(&out, false) == bitcode(text, true),
        "another module:\n{out}"
    );
    out
}

const EXCEPTIONS: &str = r#"target triple = "x86_64-unknown-linux-gnu"

%struct.S = type { i32, ptr }
%"class.quoted name" = type { i64 }

@.str = private constant [8 x i8] c"a%b;%c\22\00"

declare i32 @__gxx_personality_v0(...)
declare i32 @__CxxFrameHandler3(...)
declare void @may_throw(i32)
declare i32 @value(ptr)
declare void @sink(ptr byval(%struct.S) align 8)

; a function with all sorts of names
define { i32, i64 } @pairs(i32, i32 %b, ptr byval(%struct.S) align 8 %"s p", <4 x float> noundef %v, { i32, ptr } %agg) personality ptr @__gxx_personality_v0 {
entry:
  %"local\22q" = alloca %struct.S, align 8
  %c = alloca %"class.quoted name"
  %sum = add i32 %0, %b ; uses %0, the unnamed first argument
  %asm = call i32 asm "movl %eax, $0 # %sum", "=r"()
  invoke void @may_throw(i32 %sum)
          to label %"next block" unwind label %lpad

"next block":                                     ; preds = %entry
  %e = extractelement <4 x float> %v, i32 0
  %x = invoke i32 @value(ptr %"local\22q")
          to label %done unwind label %lpad

lpad:                                             ; preds = %"next block", %entry
  %lp = landingpad { ptr, i32 }
          cleanup
          catch ptr null
  %sel = extractvalue { ptr, i32 } %lp, 1
  resume { ptr, i32 } %lp

done:
  %p = phi i32 [ %x, %"next block" ]
  switch i32 %p, label %out [
    i32 0, label %zero
    i32 1, label %out
  ]

zero:
  br label %out

out:
  %r = phi i32 [ 0, %zero ], [ %p, %done ], [ %p, %done ]
  call void @sink(ptr byval(%struct.S) align 8 %"s p")
  %w = insertvalue { i32, i64 } undef, i32 %r, 0
  ret { i32, i64 } %w
}

define void @windows(ptr %fp) personality ptr @__CxxFrameHandler3 {
entry:
  invoke void @may_throw(i32 1)
          to label %cont unwind label %dispatch

dispatch:
  %cs = catchswitch within none [label %handler] unwind to caller

handler:
  %cp = catchpad within %cs [ptr null, i32 64, ptr null]
  catchret from %cp to label %cont

cont:
  invoke void @may_throw(i32 2)
          to label %exit unwind label %cleanup

cleanup:
  %cl = cleanuppad within none []
  call void @may_throw(i32 3) [ "funclet"(token %cl) ]
  cleanupret from %cl unwind to caller

exit:
  indirectbr ptr %fp, [label %cont, label %exit2]

exit2:
  ret void
}
"#;

#[test]
fn arguments_blocks_and_results_of_every_kind_are_numbered_in_definition_order() {
    let out = renumbered(EXCEPTIONS);
    // Definitions and uses numbered; types, strings and comments as they were.
    assert!(out.contains("define { i32, i64 } @pairs(i32, i32 %1, ptr byval(%struct.S) align 8 %2, <4 x float> noundef %3, { i32, ptr } %4)"), "{out}");
    assert!(out.contains("%6 = alloca %struct.S, align 8"), "{out}");
    assert!(out.contains("%7 = alloca %\"class.quoted name\""), "{out}");
    assert!(out.contains("%8 = add i32 %0, %1 ; uses %0"), "{out}");
    assert!(out.contains(r#"asm "movl %eax, $0 # %sum""#), "{out}");
    assert!(out.contains("c\"a%b;%c\\22\\00\""), "{out}");
    assert!(out.contains("\n10:                                     ; preds = %entry"));
    assert!(out.contains("catchswitch within none [label %"), "{out}");
}

#[test]
fn blocks_without_labels_and_values_without_names_take_their_numbers() {
    // The entry block (`%1`) and the block after a terminator (`%5`, after the `4:`)
    // have no label; `%0` is the unnamed argument; numbers may skip (LLVM 22 accepts
    // gaps, never going back).
    renumbered(
            "define i32 @f(i32, i32 %n) {\n  %c = icmp eq i32 %n, 0\n  br i1 %c, label %4, label %5\n\
             4:\n  tail call void @g(i32 %n)\n  br label %5\n  %9 = add i32 %n, %0\n  ret i32 %9\n}\n\
             declare void @g(i32)\n",
        );
    renumbered(
            "define i32 @f(i32 %5, i32 %b) {\n  %7 = add i32 %5, %b\n  %s = add i32 %7, %b\n  ret i32 %s\n}\n\
             define void @one_line(i32 %x) { ret void }\n\
             define i32 @labelled(i32 %x) {\nbb: %y = add i32 %x, 1\n  ret i32 %y\n}\n",
        );
}

#[test]
fn debug_records_and_metadata_operands_name_the_renumbered_values() {
    let records = r#"target triple = "x86_64-unknown-linux-gnu"

define i32 @dbg(i32 noundef %a, i32 noundef %b) !dbg !5 {
  #dbg_value(i32 %a, !10, !DIExpression(), !12)
  %a.addr = alloca i32, align 4, !DIAssignID !13
  #dbg_declare(ptr %a.addr, !10, !DIExpression(), !12)
  #dbg_assign(i32 %a, !10, !DIExpression(), !13, ptr %a.addr, !DIExpression(), !12)
  %s = add i32 %a, %b, !dbg !12
  #dbg_value(!DIArgList(i32 %a, i32 %s), !10, !DIExpression(DW_OP_LLVM_arg, 0, DW_OP_LLVM_arg, 1, DW_OP_plus, DW_OP_stack_value), !12)
  ret i32 %s, !dbg !DILocation(line: 3, column: 1, scope: !5)
}

define i32 @asm_goto(i32 %x) {
entry:
  %r = callbr i32 asm "jmp ${1:l}", "=r,!i"()
          to label %fall [label %indirect]
fall:
  ret i32 %r
indirect:
  %r2 = phi i32 [ %r, %entry ]
  ret i32 %x
}

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4}
!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !1, emissionKind: FullDebug)
!1 = !DIFile(filename: "d.c", directory: "/")
!3 = !{i32 2, !"Debug Info Version", i32 3}
!4 = !{i32 7, !"debug-info-assignment-tracking", i1 true}
!5 = distinct !DISubprogram(name: "dbg", scope: !1, file: !1, line: 1, type: !6, unit: !0, spFlags: DISPFlagDefinition, retainedNodes: !{})
!6 = !DISubroutineType(types: !7)
!7 = !{!8, !8, !8}
!8 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!10 = !DILocalVariable(name: "a", arg: 1, scope: !5, file: !1, line: 1, type: !8)
!12 = !DILocation(line: 2, column: 3, scope: !5)
!13 = distinct !DIAssignID()
"#;
    renumbered(records);
    let intrinsics = r#"target triple = "x86_64-unknown-linux-gnu"

define i32 @old(i32 %a) !dbg !5 {
entry:
  %s = add i32 %a, 1, !dbg !12
  call void @llvm.dbg.value(metadata i32 %s, metadata !10, metadata !DIExpression()), !dbg !12
  call void @llvm.dbg.value(metadata !DIArgList(i32 %a, i32 %s), metadata !10, metadata !DIExpression(DW_OP_LLVM_arg, 0, DW_OP_LLVM_arg, 1, DW_OP_plus, DW_OP_stack_value)), !dbg !12
  ret i32 %s
}

declare void @llvm.dbg.value(metadata, metadata, metadata)

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3}
!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !1, emissionKind: FullDebug)
!1 = !DIFile(filename: "d.c", directory: "/")
!3 = !{i32 2, !"Debug Info Version", i32 3}
!5 = distinct !DISubprogram(name: "old", scope: !1, file: !1, line: 1, type: !6, unit: !0, spFlags: DISPFlagDefinition)
!6 = !DISubroutineType(types: !7)
!7 = !{!8, !8}
!8 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!10 = !DILocalVariable(name: "a", arg: 1, scope: !5, file: !1, line: 1, type: !8)
!12 = !DILocation(line: 2, column: 3, scope: !5)
"#;
    renumbered(intrinsics);
}

#[test]
fn quoted_and_escaped_spellings_of_one_name_are_one_value() {
    let out = renumbered(
            "define i32 @f(i32 %x) {\n\"a b\":\n  %y = add i32 %\"x\", 1\n  %\"1\" = add i32 %\"\\79\", %y\n  br label %\"a\\20b2\"\n\"a b2\":\n  ret i32 %\"1\"\n}\n",
        );
    assert!(
        out.contains("%2 = add i32 %0, 1\n  %3 = add i32 %2, %2"),
        "{out}"
    );
}

#[test]
fn headers_over_lines_with_attributes_and_a_structure_returned_keep_their_shape() {
    let out = renumbered(
        "%T = type { i32 }\n\
             define internal noundef { i32, ptr } @multi(\n    i32 noundef %a,\n    \
             ptr dereferenceable(4) \"k\"=\"%a\" %b) #0 section \".text.%b\" align 16 {\n\
             entry:\n  %t = alloca %T\n  %s = add i32 %a, 1\n  \
             %r = insertvalue { i32, ptr } { i32 0, ptr null }, i32 %s, 0\n  \
             ret { i32, ptr } %r\n}\nattributes #0 = { \"x\"=\"%y\" }\n",
    );
    assert!(out.contains("    i32 noundef %0,\n    ptr dereferenceable(4) \"k\"=\"%a\" %1)"));
    assert!(out.contains("section \".text.%b\""), "{out}");
}

#[test]
fn text_that_could_change_or_gains_nothing_is_left_alone() {
    let f = |body: &str| format!("define i32 @f(i32 %x) {{\n{body}\n}}\n");
    let cases = [
            // Values of other functions, or by position.
            "@t = global ptr blockaddress(@f, %bb)\ndefine void @f() {\n  br label %bb\nbb:\n  ret void\n}\n".to_string(),
            f("  %y = add i32 %x, 1\n  ret i32 %y\n}\nuselistorder i32 %x, { 1, 0 }\n{"),
            // A numbered type; a local named like a type; a type defined after a function.
            format!("%0 = type {{ i32 }}\n{}", f("  %y = add i32 %x, 1\n  ret i32 %y")),
            format!("%y = type {{ i32 }}\n{}", f("  %y = add i32 %x, 1\n  ret i32 %y")),
            format!("{}%T = type {{ i32 }}\n", f("  %y = add i32 %x, 1\n  ret i32 %y")),
            // A value without `%x =` takes a number.
            f("  call i32 @f(i32 %x)\n  ret i32 %1"),
            // Prefix data, braces before the body.
            "define void @f(i32 %x) prefix { i32 } { i32 1 } {\n  ret void\n}\n".into(),
            // A line that continues an instruction, a label after an instruction.
            f("  %y = add i32 %x,\n    1\n  ret i32 %y"),
            f("  br label %b b:\n  ret i32 %x"),
            // What the original does not parse: an unknown local, a number going back, a
            // name defined twice (LLVM reports them on the original).
            f("  ret i32 %z"),
            f("  %5 = add i32 %x, 1\n  %3 = add i32 %x, 1\n  ret i32 %3"),
            f("  %x = add i32 %x, 1\n  ret i32 %x"),
            // No name at all, or only what looks like one at a glance.
            "define i32 @f(i32 %0) {\n  %2 = add i32 %0, 1\n  ret i32 %2\n}\n".into(),
            "%S = type { i32 }\n%T = type {\n  %S }\ndefine void @f() {\n  ret void\n}\n".into(),
            // A name over two lines.
            f("  %\"a\nb\" = add i32 %x, 1\n  ret i32 %x"),
        ];
    for text in cases {
        assert_eq!(without_local_names(&text), None, "{text}");
    }
}
