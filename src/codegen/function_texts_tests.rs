use super::*;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;

const TEXT: &str = r#"; ModuleID = 'm'
target triple = "x86_64-unknown-linux-gnu"

@table = global [2 x ptr] [ptr @f, ptr @"g h"]

; Function Attrs: nounwind
define i64 @f(i64 %0) #0 {
  %2 = call i64 @"g h"(i64 %0)
  %3 = load i64, ptr @table
  %4 = add i64 %2, %3
  ret i64 %4
}

define internal i64 @"g h"(i64 %a) {
entry:
  %r = mul i64 %a, 3
  ret i64 %r
}

declare void @unused()

attributes #0 = { nounwind }
"#;

fn cut(text: &str) -> FunctionTexts<'_> {
    FunctionTexts::cut(text).expect("cuts")
}

/// The module `text` parses to, printed, or LLVM's error.
fn parsed(text: &str) -> Result<String, String> {
    let context = Context::create();
    let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "m");
    let module = context
        .create_module_from_ir(buffer)
        .map_err(|e| e.to_string())?;
    module.verify().map_err(|e| e.to_string())?;
    Ok(module.print_to_string().to_string())
}

#[test]
fn definitions_are_found_with_their_unquoted_names() {
    let texts = cut(TEXT);
    let names: Vec<&str> = texts.definitions().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["f", "g h"]);
}

#[test]
fn all_kept_gives_the_text_back() {
    assert_eq!(cut(TEXT).with_stubs(|_| true, |_| &[]), TEXT);
}

#[test]
fn a_body_edit_changes_its_hash_and_not_the_skeleton() {
    let edited = TEXT.replace("mul i64 %a, 3", "mul i64 %a, 4");
    let (a, b) = (cut(TEXT), cut(&edited));
    assert_eq!(a.skeleton_hash, b.skeleton_hash);
    let hashes = |t: &FunctionTexts| t.definitions().map(|d| d.body_hash).collect::<Vec<_>>();
    let (ha, hb) = (hashes(&a), hashes(&b));
    assert_eq!(ha[0], hb[0]);
    assert_ne!(ha[1], hb[1]);
}

#[test]
fn a_header_or_global_edit_changes_the_skeleton() {
    let a = cut(TEXT).skeleton_hash;
    for edited in [
        TEXT.replace(
            "define i64 @f(i64 %0) #0",
            "define i64 @f(i64 noundef %0) #0",
        ),
        TEXT.replace("[ptr @f, ptr @\"g h\"]", "[ptr @\"g h\", ptr @f]"),
        TEXT.replace("{ nounwind }", "{ nounwind noinline }"),
        TEXT.replace("; Function Attrs: nounwind\n", ""),
    ] {
        assert_ne!(cut(&edited).skeleton_hash, a, "{edited}");
    }
}

#[test]
fn stubs_parse_and_keep_the_references() {
    let refs = ["@\"g h\"".to_string(), "@table".to_string()];
    let stubbed = cut(TEXT).with_stubs(|name| name != "f", |_| &refs[..]);
    let printed = parsed(&stubbed).expect("the stubbed text parses and verifies");
    assert!(
        printed.contains("ptrtoint ptr @\"g h\" to i64"),
        "{printed}"
    );
    assert!(
        printed.contains("mul i64 %a, 3"),
        "the kept body stays: {printed}"
    );
    assert!(!printed.contains("load i64"), "{printed}");
}

#[test]
fn what_cannot_be_told_apart_by_lines_is_refused() {
    for text in [
        TEXT.replace("define i64 @f(i64 %0) #0 {", "define i64 @f(i64 %0) #0\n{"),
        TEXT.replace("  ret i64 %4\n}\n", "  ret i64 %4\n} @x = global i32 0\n"),
        TEXT.replace("@\"g h\"", "@0"),
        format!("{TEXT}@ba = global ptr blockaddress(@f, %1)\n"),
        format!("{TEXT}uselistorder ptr @f, {{ 1, 0 }}\n"),
    ] {
        assert!(FunctionTexts::cut(&text).is_none(), "{text}");
    }
}

#[test]
fn quoted_names_are_unescaped() {
    assert_eq!(
        function_name("define void @\"a\\22b\\5Cc\"() {\n").as_deref(),
        Some("a\"b\\c")
    );
    assert_eq!(function_name("define void @12() {\n"), None);
}

#[test]
fn the_triple_is_read_from_the_skeleton() {
    assert_eq!(cut(TEXT).triple(), Some("x86_64-unknown-linux-gnu"));
    let without = TEXT.replace("target triple = \"x86_64-unknown-linux-gnu\"\n", "");
    assert_eq!(cut(&without).triple(), None);
}
