//! The print's pieces on a small module: references, declared forms, numbering.

use super::lines::without_initializer;
use super::*;

const TEXT: &str = r#"; ModuleID = 'm'
source_filename = "m.c"
target triple = "x86_64-pc-linux-gnu"

%struct.s = type { i32, %struct.t }
%struct.t = type { double }

@table = hidden constant [2 x ptr] [ptr @f, ptr @g], align 16
@s = global %struct.s { i32 1, %struct.t { double 2.0 } }, section "d", align 8, !dbg !3
@str = private constant [4 x i8] c"@x!9", align 1
@ext = external global i32, align 4
@a = alias i32, ptr @f
@llvm.used = appending global [1 x ptr] [ptr @f], section "llvm.metadata"

; Function Attrs: nounwind
define i32 @f(ptr %p) #0 personality ptr @g {
entry:
  %x = load i32, ptr @ext, align 4, !tbaa !5 ; comment @ignored !7
  ret i32 %x
}

declare i32 @g(%struct.s) #1

attributes #0 = { nounwind }
attributes #1 = { "x"="y" }

!llvm.module.flags = !{!0}

!0 = !{i32 1, !"wchar_size", i32 4}
!3 = !{!"s"}
!5 = !{!"int", !0, i64 0}
"#;

fn parsed() -> PrintedModule {
    PrintedModule::parse(TEXT.as_bytes(), b"kinds")
}

fn refs_of(m: &PrintedModule, name: &str) -> Vec<Ref> {
    let g = &m.globals[m.global(name).unwrap() as usize];
    m.refs(&g.full).collect()
}

#[test]
fn references_are_found_in_order_outside_strings_and_comments() {
    let m = parsed();
    let g = |n| Ref::Global(m.global(n).unwrap());
    assert_eq!(
        refs_of(&m, "f"),
        vec![
            g("f"),
            Ref::Attributes(0),
            g("g"),
            g("ext"),
            Ref::Metadata(5)
        ]
    );
    assert_eq!(refs_of(&m, "str"), vec![g("str")]);
    let s_type = Ref::Type(0);
    assert_eq!(
        refs_of(&m, "s"),
        vec![g("s"), s_type, Ref::Type(1), Ref::Metadata(3)]
    );
    let meta: Vec<Ref> = m.refs(m.metadata(5).unwrap()).collect();
    assert_eq!(meta, [Ref::Metadata(0)]);
    assert_eq!(m.named_metadata.len(), 1);
    assert!(m.globals[m.global("llvm.used").unwrap() as usize].llvm_special);
    assert!(m.globals[m.global("a").unwrap() as usize].callable);
    assert!(!m.globals[m.global("table").unwrap() as usize].callable);
}

#[test]
fn a_declaration_copies_no_initializer_and_no_body() {
    let m = parsed();
    let g = |n: &str| &m.globals[m.global(n).unwrap() as usize];
    // The declared form of @s has its type, section, alignment and attachment.
    assert_eq!(
        m.refs(&g("s").declared).collect::<Vec<_>>(),
        [
            Ref::Global(m.global("s").unwrap()),
            Ref::Type(0),
            Ref::Metadata(3)
        ]
    );
    // @f's header (its personality included), not its body.
    let f: Vec<Ref> = m.refs(&g("f").declared).collect();
    assert!(!f.contains(&Ref::Metadata(5)) && f.contains(&Ref::Attributes(0)));
    let cut = |line: &str| {
        without_initializer(line.as_bytes(), line.find(" = ").unwrap() + 3)
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(
        cut("@t = hidden constant [2 x ptr] [ptr @f, ptr @g], align 16").as_deref(),
        Some("@t = hidden constant [2 x ptr], align 16")
    );
    assert_eq!(
        cut("@p = addrspace(1) global ptr addrspace(1) null").as_deref(),
        Some("@p = addrspace(1) global ptr addrspace(1)")
    );
    assert_eq!(
        cut("@v = thread_local(initialexec) global <2 x i32> <i32 1, i32 2>, align 8").as_deref(),
        Some("@v = thread_local(initialexec) global <2 x i32>, align 8")
    );
    assert_eq!(
        cut("@q = global i32 ptrtoint (ptr @f to i32)").as_deref(),
        Some("@q = global i32")
    );
    // Not understood: the whole line.
    assert_eq!(cut("@w = global label 3"), None);
    assert_eq!(cut("@x = partition \"p\" global i32 1"), None);
}

#[test]
fn numbering_is_not_part_of_a_piece() {
    let renumbered = TEXT.replace("#0", "#7").replace("!5", "!9");
    let a = parsed();
    let b = PrintedModule::parse(renumbered.as_bytes(), b"kinds");
    let f = |m: &PrintedModule| m.globals[m.global("f").unwrap() as usize].full;
    assert_eq!(f(&a).hash, f(&b).hash);
    assert_ne!(
        a.refs(&f(&a)).collect::<Vec<_>>(),
        b.refs(&f(&b)).collect::<Vec<_>>()
    );
    let other = PrintedModule::parse(TEXT.replace("ret i32 %x", "ret i32 0").as_bytes(), b"kinds");
    assert_ne!(f(&a).hash, f(&other).hash);
    assert_eq!(a.common, other.common);
    let kinds = PrintedModule::parse(TEXT.as_bytes(), b"kinds2");
    assert_ne!(a.common, kinds.common);
}

#[test]
fn a_methods_content_hash_ignores_attribute_and_metadata_numbering() {
    let hash = |define: &str| {
        let text = format!("{define}\n");
        PrintedModule::parse(text.as_bytes(), b"").content_hash("f")
    };
    let a = hash("define i32 @f() #0 {\n  ret i32 1, !dbg !12\n}");
    let b = hash("define i32 @f() #7 {\n  ret i32 1, !dbg !40\n}");
    let c = hash("define i32 @f() #0 {\n  ret i32 2, !dbg !12\n}");
    assert!(a.is_some());
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Digits in a string are the code's own, not numbering: AArch64 inline assembly's
    // immediates (`#5` -> `#6`), which the hash before the print's pieces scrubbed too.
    let d = hash("define void @f() {\n  call void asm \"mov x0, #5\", \"\"()\n  ret void\n}");
    let e = hash("define void @f() {\n  call void asm \"mov x0, #6\", \"\"()\n  ret void\n}");
    assert_ne!(d, e);
    // A function found by its printed name, quoted where LLVM quotes it.
    let text = "define internal void @\"a b\"(ptr %x) {\n  ret void\n}\n";
    let quoted = crate::codegen::printed_name("a b");
    assert!(PrintedModule::parse(text.as_bytes(), b"")
        .content_hash(&quoted[1..])
        .is_some());
}
