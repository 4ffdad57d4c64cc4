//! Text IR reordered for LLVM's parser: global variables, aliases and ifuncs defined after the
//! functions. clang and rustc print globals first, so a table of function addresses (an
//! interpreter's dispatch table, a runtime's method table) names every function before its
//! definition. Each definition then replaces a placeholder inside the table's constant, and
//! LLVM rebuilds and rehashes the whole constant for each one: quadratic in the table (1.5 s
//! of `llvm-as`'s 3.5 s for 20,000 entries; the input check at 50,000 took 14.3 s before and
//! 6.6 s after, both measured on a shared machine). Defined after the
//! functions, the table names functions that exist, and the placeholders it replaces are
//! only the functions' references to the table (one each).
//!
//! Top-level order means nothing in LLVM IR except the order of each kind of global value
//! (functions, variables, aliases, ifuncs each keep their own list, in the order of their
//! definitions): moving every global value other than functions, in order, keeps every list
//! as it was, and so the module (the bitcode of both parses is the same, which the tests
//! check on real IR). The text is left as it is wherever that would not hold or cannot be told
//! from lines alone: unnamed global values (their numbers follow the text's order),
//! `uselistorder` directives (they name uses by position), summary entries, a string or a
//! bracket left open at the end.

/// What a top-level entity is, from its first line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entity {
    /// `@name = ...`: a global variable, alias or ifunc.
    GlobalValue,
    /// `define` or `declare`.
    Function,
    /// Everything else: metadata, attribute groups, comdats, the target, comments before the
    /// first entity.
    Other,
}

/// Reordering could change the module (see the module documentation): the text is left as it
/// is.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unsafe;

/// `text` with its global variables, aliases and ifuncs moved, in their order, after
/// everything else; `None` when the text must stay as it is, or when no such global comes
/// before a function (nothing to gain).
pub fn globals_after_functions(text: &str) -> Option<String> {
    let entities = entities(text).ok()?;
    let first_function = entities.iter().position(|(e, _)| *e == Entity::Function)?;
    if !(entities[..first_function].iter()).any(|(e, _)| *e == Entity::GlobalValue) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 1);
    let mut push = |lines: &str| {
        out.push_str(lines);
        if !lines.ends_with('\n') {
            out.push('\n');
        }
    };
    for (_, lines) in entities.iter().filter(|(e, _)| *e != Entity::GlobalValue) {
        push(lines);
    }
    for (_, lines) in entities.iter().filter(|(e, _)| *e == Entity::GlobalValue) {
        push(lines);
    }
    Some(out)
}

/// The text cut into top-level entities: each starts at a line that begins, outside any
/// string or bracket, with what starts an entity, and runs to the next such line.
pub(super) fn entities(text: &str) -> Result<Vec<(Entity, &str)>, Unsafe> {
    let mut out: Vec<(Entity, &str)> = Vec::new();
    let (mut start, mut kind) = (0, Entity::Other);
    let mut scan = Scan::default();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if scan.at_top_level() {
            if let Some(next) = starts_entity(line)? {
                if at > start {
                    out.push((kind, &text[start..at]));
                }
                (start, kind) = (at, next);
            }
        }
        scan.line(line);
        at += line.len();
    }
    if !scan.at_top_level() {
        return Err(Unsafe);
    }
    if at > start {
        out.push((kind, &text[start..at]));
    }
    Ok(out)
}

/// What entity `line` starts, if it starts one at all; an error for what must not move.
fn starts_entity(line: &str) -> Result<Option<Entity>, Unsafe> {
    let line = line.trim_start();
    let word = |w: &str| {
        line.strip_prefix(w)
            .is_some_and(|rest| rest.starts_with([' ', '\t', '\n', '\r']) || rest.is_empty())
    };
    if word("uselistorder") || word("uselistorder_bb") || line.starts_with('^') {
        return Err(Unsafe);
    }
    if word("define") || word("declare") {
        // An unnamed function (`@0`) is numbered in text order with the unnamed variables
        // (and a header naming any `@0`, a personality say, is not worth telling apart).
        let numbered = line
            .split('@')
            .skip(1)
            .any(|after| after.starts_with(|c: char| c.is_ascii_digit()));
        return match numbered {
            true => Err(Unsafe),
            false => Ok(Some(Entity::Function)),
        };
    }
    if let Some(rest) = line.strip_prefix('@') {
        let Some(name_end) = name_length(rest) else {
            return Ok(None);
        };
        if !rest[name_end..].trim_start().starts_with('=') {
            return Ok(None);
        }
        return match rest.starts_with(|c: char| c.is_ascii_digit()) {
            true => Err(Unsafe),
            false => Ok(Some(Entity::GlobalValue)),
        };
    }
    let assigns =
        |rest: &str| name_length(rest).is_some_and(|n| rest[n..].trim_start().starts_with('='));
    let other = ["attributes", "target", "source_filename", "module"]
        .iter()
        .any(|w| word(w))
        || line.strip_prefix('!').is_some_and(assigns)
        || line.strip_prefix('$').is_some_and(assigns);
    Ok(other.then_some(Entity::Other))
}

/// The length of the name at the start of `rest` (after its sigil): a quoted name, or
/// letters, digits and `-$._`; `None` when there is none.
fn name_length(rest: &str) -> Option<usize> {
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.find('"').map(|end| end + 2);
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-$._".contains(c);
    let n = rest.find(|c: char| !plain(c)).unwrap_or(rest.len());
    (n > 0).then_some(n)
}

/// Where a scan of the text is: inside a string, how deep in brackets. Comments run to the
/// end of their line; strings may span lines (LLVM's lexer reads to the closing quote).
#[derive(Default)]
struct Scan {
    in_string: bool,
    depth: i64,
}

impl Scan {
    fn at_top_level(&self) -> bool {
        !self.in_string && self.depth == 0
    }

    fn line(&mut self, line: &str) {
        // Bytes, not chars: every byte it looks for is ASCII, which no byte of a multi-byte
        // UTF-8 character equals, and this loop runs over every byte of every body
        // (`function_texts.rs` cuts each cached build's text with it).
        for &c in line.as_bytes() {
            match (self.in_string, c) {
                (true, b'"') => self.in_string = false,
                (true, _) => {}
                (false, b'"') => self.in_string = true,
                (false, b';') => return,
                (false, b'(' | b'[' | b'{' | b'<') => self.depth += 1,
                (false, b')' | b']' | b'}' | b'>') => self.depth -= 1,
                (false, _) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;

    /// The bitcode of `text`'s module (no use-list orders: they follow the parse, not the
    /// module).
    fn bitcode(text: &str) -> Vec<u8> {
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "m");
        let module = context.create_module_from_ir(buffer).unwrap();
        module.verify().unwrap();
        module.write_bitcode_to_memory().as_slice().to_vec()
    }

    const TABLE_FIRST: &str = r#"; ModuleID = 'kernels.c'
source_filename = "kernels.c"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

$pair = comdat any

%struct.state = type { i64, double }

@table = local_unnamed_addr constant [3 x ptr] [ptr @k0, ptr @k1, ptr @"k 2"], align 16
@.str = private unnamed_addr constant [10 x i8] c"a;b\22(c[d\0A\00", align 1
@multi = global { ptr, i32 }
  { ptr @k1,
    i32 7 }, align 8
@pair = linkonce_odr global i32 1, comdat, align 4
@alias = alias i64 (ptr, i64), ptr @k1
@tls = thread_local global <2 x i32> <i32 1, i32 2>

; a comment with @fake = global and define
define i64 @k0(ptr %s, i64 %x) #0 !dbg !5 {
entry:
  %p = getelementptr inbounds [3 x ptr], ptr @table, i64 0, i64 1
  %f = load ptr, ptr %p, align 8
  %r = call i64 %f(ptr %s, i64 %x), !dbg !7
  ret i64 %r
}

define i64 @k1(ptr %s, i64 %x) #0 {
  %y = add i64 %x, 1
  ret i64 %y
}

define internal i64 @"k 2"(ptr %s, i64 %x) {
  %v = load <2 x i32>, ptr @tls
  %z = load i32, ptr @pair
  ret i64 %x
}

declare void @ext(ptr)

attributes #0 = { nounwind "target-cpu"="x86-64" }

!llvm.module.flags = !{!0}
!llvm.dbg.cu = !{!1}
!0 = !{i32 2, !"Debug Info Version", i32 3}
!1 = distinct !DICompileUnit(language: DW_LANG_C11, file: !2, emissionKind: FullDebug)
!2 = !DIFile(filename: "k.c", directory: "/")
!5 = distinct !DISubprogram(name: "k0", scope: !2, file: !2, line: 1, type: !6, unit: !1)
!6 = !DISubroutineType(types: !{})
!7 = !DILocation(line: 2, scope: !5)
"#;

    #[test]
    fn globals_move_after_the_functions_and_the_module_stays_the_same() {
        let moved = globals_after_functions(TABLE_FIRST).expect("a table before functions");
        let table = moved.find("@table =").unwrap();
        assert!(table > moved.find("declare void @ext").unwrap());
        // Their order among themselves, multi-line definitions whole, a string with brackets,
        // quotes and a semicolon untouched.
        let order: Vec<usize> = [
            "@table =",
            "@.str =",
            "@multi =",
            "    i32 7 }",
            "@pair =",
            "@alias =",
            "@tls =",
        ]
        .iter()
        .map(|s| moved.find(s).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{moved}");
        assert_eq!(bitcode(&moved), bitcode(TABLE_FIRST));
    }

    #[test]
    fn text_that_could_change_or_gains_nothing_is_left_alone() {
        let cases = [
            // Unnamed globals and functions are numbered in text order.
            "@0 = global i32 1\ndefine void @f() {\n  ret void\n}\n",
            "@g = global ptr @0\ndefine void @0() {\n  ret void\n}\n",
            // Use-list orders name uses by position; summaries are not for this.
            "@g = global i32 1\ndefine void @f() {\n  ret void\n}\nuselistorder ptr @g, { 1, 0 }\n",
            "@g = global i32 1\ndefine void @f() {\n  ret void\n}\n^0 = module: (path: \"\", hash: (0, 0, 0, 0, 0))\n",
            // A string left open: the lexer's business, not ours.
            "@g = global [1 x i8] c\"\ndefine void @f() {\n  ret void\n}\n",
            // Functions first already.
            "define void @f() {\n  ret void\n}\n@g = global ptr @f\n",
            // No function at all.
            "@g = global i32 1\n",
        ];
        for text in cases {
            assert_eq!(globals_after_functions(text), None, "{text}");
        }
    }

    #[test]
    fn only_lines_outside_strings_and_brackets_start_entities() {
        // `define` inside a multi-line string and `@x = ` inside a bracket are not entities.
        let text = "@s = global [20 x i8] c\"x\ndefine @y = \\00\"\n@t = global { i32 }\n{\n@u = i32 1 }\ndefine void @f() {\n  ret void\n}\n";
        let kinds: Vec<Entity> = entities(text).unwrap().iter().map(|(e, _)| *e).collect();
        assert_eq!(
            kinds,
            [Entity::GlobalValue, Entity::GlobalValue, Entity::Function]
        );
    }
}
