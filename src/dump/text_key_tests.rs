//! Keys from the print against the shards themselves: across variants of one module, two
//! shards with the same members, facts and digest must have the same bitcode (else the cache
//! would hand back another shard's code), and the variants that leave a shard alone must
//! leave its digest alone (else every edit would miss).

use inkwell::context::Context;

use crate::codegen::{codegen, CodegenOptions, Input};
use crate::dump::{prepare, DumpOptions};
use crate::target::CpuTarget;

/// Every kind of piece a shard's key covers: attribute groups of definitions and of a
/// declaration, TBAA metadata, a distinct self-referencing loop node, a named type, variables
/// defined in one shard and declared in others, a thread-local, an alias, a personality,
/// a table of function addresses, module flags.
const BASE: &str = r#"target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

%struct.pair = type { i32, double }

@counter = global i32 0, align 4
@pairs = global [2 x %struct.pair] zeroinitializer, align 16
@table = constant [3 x ptr] [ptr @f0, ptr @f1, ptr @f2], align 16
@alias_f3 = alias i32 (i32), ptr @f3
@tls = thread_local global i32 7, align 4
@.str = private unnamed_addr constant [6 x i8] c"hello\00", align 1

declare void @ext(ptr) #2

declare i32 @__gxx_personality_v0(...)

define i32 @f0(i32 %x) #0 {
  %v = load i32, ptr @counter, align 4, !tbaa !5
  %s = add i32 %v, %x
  store i32 %s, ptr @counter, align 4, !tbaa !5
  ret i32 %s
}

define i32 @f1(i32 %x) #0 {
  %p = getelementptr inbounds [2 x %struct.pair], ptr @pairs, i64 0, i64 1, i32 1
  %d = load double, ptr %p, align 8, !tbaa !8
  %i = fptosi double %d to i32
  %r = add i32 %i, %x
  ret i32 %r
}

define i32 @f2(i32 %x) #1 {
entry:
  br label %loop

loop:
  %i = phi i32 [ 0, %entry ], [ %n, %loop ]
  %n = add i32 %i, 1
  %c = icmp slt i32 %n, %x
  br i1 %c, label %loop, label %done, !llvm.loop !10

done:
  ret i32 %n
}

define i32 @f3(i32 %x) #0 {
  %t = load i32, ptr @tls, align 4
  %r = mul i32 %t, %x
  ret i32 %r
}

define i32 @f4(i32 %x) #0 personality ptr @__gxx_personality_v0 {
  call void @ext(ptr @.str)
  %g = getelementptr inbounds [3 x ptr], ptr @table, i64 0, i64 1
  %fp = load ptr, ptr %g, align 8
  %r = call i32 %fp(i32 %x)
  ret i32 %r
}

define i32 @f5(i32 %x) #0 {
  %r = call i32 @alias_f3(i32 %x)
  %s = call i32 @f0(i32 %r)
  ret i32 %s
}

define i32 @f6(i32 %x) #0 {
  %r = call i32 @f1(i32 %x)
  ret i32 %r
}

define i32 @f7(i32 %x) #1 {
  %r = call i32 @f2(i32 %x)
  %s = call i32 @f6(i32 %r)
  ret i32 %s
}

define i32 @f8(i32 %x) #0 {
  %r = call i32 @f4(i32 %x)
  ret i32 %r
}

define i32 @f9(i32 %x) #0 {
  %r = call i32 @f7(i32 %x)
  ret i32 %r
}

attributes #0 = { nounwind "frame-pointer"="none" }
attributes #1 = { nounwind optsize }
attributes #2 = { nounwind }

!llvm.module.flags = !{!0, !1}

!0 = !{i32 1, !"wchar_size", i32 4}
!1 = !{i32 7, !"uwtable", i32 2}
!5 = !{!6, !6, i64 0}
!6 = !{!"int", !7, i64 0}
!7 = !{!"omnipotent char", !9, i64 0}
!9 = !{!"Simple C TBAA"}
!8 = !{!11, !11, i64 0}
!11 = !{!"double", !7, i64 0}
!10 = distinct !{!10, !12}
!12 = !{!"llvm.loop.mustprogress"}
"#;

/// One shard as the tests compare it.
struct Shard {
    members: Vec<String>,
    facts: String,
    digest: Option<crate::cache::key::Key>,
    bitcode: Vec<u8>,
}

fn shards(ir: &str) -> Vec<Shard> {
    let context = Context::create();
    let options = CodegenOptions {
        inputs: vec![Input::Memory {
            name: "m.ll".into(),
            bytes: ir.as_bytes().into(),
        }],
        ..CodegenOptions::default()
    };
    let mut program = codegen(&context, &options).expect("the module is valid");
    let options = DumpOptions {
        shards: Some(4),
        cpu_targets: Some(CpuTarget::parse_list("generic;haswell,clone_all").unwrap()),
        ..DumpOptions::default()
    };
    let prepared = prepare(&mut program, &options, &[], None).expect("dump prepares");
    (prepared.jobs.iter())
        .map(|job| Shard {
            members: job.plan.members.clone(),
            facts: serde_json::to_string(job).unwrap(),
            digest: job.text_digest,
            bitcode: job
                .bitcode
                .clone()
                .expect("no store: every shard is written"),
        })
        .collect()
}

/// Shards of `base` and `variant` with the same members and facts: (digest equal, bitcode
/// equal) for each.
fn compare(base: &[Shard], variant: &[Shard]) -> Vec<(bool, bool)> {
    let mut out = Vec::new();
    for a in base {
        let Some(b) = variant.iter().find(|b| b.members == a.members) else {
            continue;
        };
        if a.facts != b.facts {
            continue;
        }
        assert!(a.digest.is_some() && b.digest.is_some(), "{:?}", a.members);
        out.push((a.digest == b.digest, a.bitcode == b.bitcode));
    }
    out
}

#[test]
fn equal_digests_mean_equal_shards_and_untouched_shards_keep_theirs() {
    let base = shards(BASE);
    assert_eq!(base.len(), 4);
    assert!(base.iter().all(|s| s.digest.is_some()));
    // (what changes, from, to, whether every untouched shard must keep its digest)
    let variants: &[(&str, &str, &str, bool)] = &[
        ("a body", "%n = add i32 %i, 1", "%n = add i32 %i, 2", true),
        (
            "a declaration's attribute group",
            "attributes #2 = { nounwind }",
            "attributes #2 = { nounwind willreturn }",
            false,
        ),
        ("TBAA metadata", "!\"double\"", "!\"long double\"", false),
        (
            "a variable's alignment",
            "zeroinitializer, align 16",
            "zeroinitializer, align 32",
            false,
        ),
        ("a variable's initializer", "@counter = global i32 0", "@counter = global i32 5", true),
        ("a named type", "{ i32, double }", "{ i64, double }", false),
        ("a module flag", "!\"uwtable\", i32 2", "!\"uwtable\", i32 1", false),
        (
            "a declaration's parameters",
            "declare void @ext(ptr)",
            "declare void @ext(ptr noundef)",
            false,
        ),
        (
            "an alias's unnamed_addr",
            "@alias_f3 = alias",
            "@alias_f3 = unnamed_addr alias",
            false,
        ),
        (
            "a metadata kind of the context",
            "%r = mul i32 %t, %x",
            "%r = mul i32 %t, %x, !aotlink.test !12",
            false,
        ),
        (
            "a sync scope of the context",
            "%r = call i32 @f1(i32 %x)",
            "fence syncscope(\"agent\") seq_cst\n  %r = call i32 @f1(i32 %x)",
            false,
        ),
        (
            // f0 is printed first: its new group and nodes renumber every other shard's.
            "the numbering of every later attribute group and node",
            "define i32 @f0(i32 %x) #0 {\n  %v = load i32, ptr @counter, align 4, !tbaa !5",
            "attributes #3 = { nounwind cold }\n!30 = !{!31, !31, i64 0}\n!31 = !{!\"long\", !7, i64 0}\n\ndefine i32 @f0(i32 %x) #3 {\n  %v = load i32, ptr @counter, align 4, !tbaa !30",
            true,
        ),
    ];
    for (what, from, to, untouched_keep) in variants {
        assert!(BASE.contains(from), "{what}");
        let variant = shards(&BASE.replacen(from, to, 1));
        let pairs = compare(&base, &variant);
        assert!(!pairs.is_empty(), "{what}: no shard to compare");
        for &(same_digest, same_bitcode) in &pairs {
            assert!(
                !same_digest || same_bitcode,
                "{what}: a shard kept its digest but not its bitcode"
            );
            if *untouched_keep {
                assert!(
                    !same_bitcode || same_digest,
                    "{what}: an untouched shard got a new digest"
                );
            }
        }
        assert!(
            pairs.iter().any(|&(_, same_bitcode)| !same_bitcode)
                || what.contains("initializer")
                || what.contains("numbering"),
            "{what}: the variant changed no shard"
        );
    }
}

#[test]
fn a_walker_reused_for_many_shards_gives_what_fresh_ones_give() {
    let context = Context::create();
    let options = CodegenOptions {
        inputs: vec![Input::Memory {
            name: "m.ll".into(),
            bytes: BASE.as_bytes().into(),
        }],
        ..CodegenOptions::default()
    };
    let mut program = codegen(&context, &options).unwrap();
    let printed = program.printed.take().unwrap();
    let options = DumpOptions {
        shards: Some(4),
        ..DumpOptions::default()
    };
    let prepared = prepare(&mut program, &options, &[], None).unwrap();
    let plans: Vec<_> = prepared.jobs.iter().map(|j| j.plan.clone()).collect();
    let one_walker = super::shard_texts(&printed, &plans, 1, &|_| false);
    let fresh = super::shard_texts(&printed, &plans, plans.len(), &|_| false);
    assert_eq!(one_walker, fresh);
    assert!(one_walker.iter().all(Option::is_some));
}
