//! The module as LLVM printed it (once, for the methods' content hashes), cut into the pieces
//! a shard's cache key is made of: each global's text and the part of it that a declaration
//! in another shard copies, each metadata node, attribute group and named type, and what each
//! refers to. dump/text_key.rs walks from a shard's members through these references, so
//! that a shard is looked up in the cache before it is cloned from the module, and only the
//! shards that miss are cloned and written (at 50,000 functions, cloning all 128 shards to
//! hash their bitcode took 3.4 s of a 14.6 s one-function rebuild).
//!
//! Why the text is a sound key: LLVM's printer shows everything a module's bitcode holds but
//! use-list orders (which aotlink does not write) and the context's tables of names
//! ([`crate::llvm::context_names`], added to [`PrintedModule::common`]). What is not
//! understood here goes into `common`, which every shard's key covers.
//!
//! Attribute groups and metadata are numbered across the whole module, so a new node in one
//! function renumbers those printed after it; pieces are hashed with those numbers taken out
//! and keep the references in order, and a key numbers them again by its own walk.

use std::collections::HashMap;

use xxhash_rust::xxh3::Xxh3;

/// A reference in a piece's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// A global: index into [`PrintedModule::globals`].
    Global(u32),
    /// A metadata node, by its number in the print.
    Metadata(u32),
    /// An attribute group, by its number in the print.
    Attributes(u32),
    /// A named type: index into the types.
    Type(u32),
    /// A name the print does not define: no key can be made through it.
    Unknown,
}

/// A [`Ref`] in four bytes, the kind in the top three bits (a print holds far fewer than
/// 2^29 of anything; a number past that reads as [`Ref::Unknown`], so the shard is cloned).
#[derive(Clone, Copy, Debug)]
struct Packed(u32);

impl Packed {
    const INDEX: u32 = (1 << 29) - 1;

    fn new(r: Ref) -> Packed {
        let (kind, index) = match r {
            Ref::Global(i) => (1, i),
            Ref::Metadata(n) => (2, n),
            Ref::Attributes(n) => (3, n),
            Ref::Type(t) => (4, t),
            Ref::Unknown => return Packed(0),
        };
        match index <= Packed::INDEX {
            true => Packed(kind << 29 | index),
            false => Packed(0),
        }
    }

    fn get(self) -> Ref {
        let index = self.0 & Packed::INDEX;
        match self.0 >> 29 {
            1 => Ref::Global(index),
            2 => Ref::Metadata(index),
            3 => Ref::Attributes(index),
            4 => Ref::Type(index),
            _ => Ref::Unknown,
        }
    }
}

/// A piece of the print: the hash of its text without the numbers of attribute groups and
/// metadata, and its references in order of appearance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Piece {
    pub hash: u128,
    refs: (u32, u32),
}

/// A global as printed.
#[derive(Clone, Debug)]
pub struct PrintedGlobal {
    /// The name as printed after `@` (quoted where LLVM quotes it).
    pub name: Box<str>,
    /// A function, or an alias or ifunc (which another shard declares as a function when
    /// it stands for one): the names whose clone sets a shard's job carries.
    pub callable: bool,
    /// One of LLVM's own definitions (`@llvm.used`, `@llvm.global_ctors`): shard 0 holds them.
    pub llvm_special: bool,
    /// The whole definition or declaration.
    pub full: Piece,
    /// What a declaration of it in another shard copies: a function's header, a variable
    /// without its initializer (the whole line where that cannot be told apart).
    pub declared: Piece,
}

/// The module's print, in pieces.
#[derive(Debug, Default)]
pub struct PrintedModule {
    /// What every shard depends on: the module's source file, data layout, triple,
    /// module assembly, comdats, lines not understood, the context's names, and every type
    /// when types are numbered.
    pub common: u128,
    pub globals: Vec<PrintedGlobal>,
    by_name: HashMap<Box<str>, u32>,
    /// By number (LLVM numbers them from 0 without gaps).
    metadata: Vec<Option<Piece>>,
    /// Named metadata (`!llvm.module.flags = ...`): every shard carries all of it.
    pub named_metadata: Vec<Piece>,
    /// By number, as the metadata.
    attributes: Vec<Option<Piece>>,
    types: Vec<Piece>,
    refs: Vec<Packed>,
}

/// Top-level items before their references are resolved.
enum Item<'a> {
    Global {
        name: &'a [u8],
        callable: bool,
        special: bool,
        full: &'a [u8],
        declared: Declared<'a>,
    },
    Metadata(u32, &'a [u8]),
    NamedMetadata(&'a [u8]),
    Attributes(u32, &'a [u8]),
    Type(&'a [u8], &'a [u8]),
    Common(&'a [u8]),
}

/// The declared form of a global: a slice of its text, or its line with the initializer cut.
enum Declared<'a> {
    Slice(&'a [u8]),
    Owned(Vec<u8>),
}

impl PrintedModule {
    /// Cuts `text` (LLVM's print of a module: ASCII, names and strings escaped) into pieces;
    /// `context_names` are the context's tables of names, which bitcode carries whole.
    pub fn parse(text: &[u8], context_names: &[u8]) -> PrintedModule {
        let items = items(text);
        let mut module = PrintedModule::default();
        let mut type_index: HashMap<&[u8], u32> = HashMap::new();
        let mut numbered_types = false;
        for item in &items {
            match item {
                Item::Global { name, .. } => {
                    let i = module.by_name.len() as u32;
                    module.by_name.entry(utf8(name)).or_insert(i);
                }
                Item::Type(name, _) => {
                    numbered_types |= name.iter().all(u8::is_ascii_digit);
                    let i = type_index.len() as u32;
                    type_index.entry(name).or_insert(i);
                }
                _ => {}
            }
        }
        let mut common = Xxh3::new();
        common.update(context_names);
        let names = Names {
            globals: &module.by_name,
            types: &type_index,
            numbered_types,
        };
        let mut refs = Vec::new();
        let mut piece = |text: &[u8]| {
            let start = refs.len() as u32;
            let hash = scan(text, &names, &mut refs);
            Piece {
                hash,
                refs: (start, refs.len() as u32),
            }
        };
        let (mut globals, mut metadata, mut named, mut attributes, mut types) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        fn set(slots: &mut Vec<Option<Piece>>, n: u32, piece: Piece) {
            let n = n as usize;
            if slots.len() <= n {
                slots.resize(n + 1, None);
            }
            slots[n] = Some(piece);
        }
        for item in &items {
            match item {
                Item::Global {
                    name,
                    callable,
                    special,
                    full,
                    declared,
                } => {
                    let full = piece(full);
                    let declared = match declared {
                        Declared::Slice(s) => piece(s),
                        Declared::Owned(v) => piece(v),
                    };
                    globals.push(PrintedGlobal {
                        name: utf8(name),
                        callable: *callable,
                        llvm_special: *special,
                        full,
                        declared,
                    });
                }
                Item::Metadata(n, text) => set(&mut metadata, *n, piece(text)),
                Item::NamedMetadata(text) => named.push(piece(text)),
                Item::Attributes(n, text) => set(&mut attributes, *n, piece(text)),
                Item::Type(_, text) => {
                    let p = piece(text);
                    if numbered_types {
                        // A numbered type's number is not kept apart from its text: every
                        // shard depends on all of them.
                        common.update(&p.hash.to_le_bytes());
                    }
                    types.push(p);
                }
                Item::Common(text) => {
                    common.update(&(text.len() as u64).to_le_bytes());
                    common.update(text);
                }
            }
        }
        module.common = common.digest128();
        module.globals = globals;
        module.metadata = metadata;
        module.named_metadata = named;
        module.attributes = attributes;
        module.types = types;
        module.refs = refs;
        module
    }

    /// The references of `piece`, in order of appearance.
    pub fn refs(&self, piece: &Piece) -> impl Iterator<Item = Ref> + '_ {
        (self.refs[piece.refs.0 as usize..piece.refs.1 as usize].iter()).map(|p| p.get())
    }

    /// The global printed as `@name` (`name` as printed, quoted where LLVM quotes it).
    pub fn global(&self, printed_name: &str) -> Option<u32> {
        self.by_name.get(printed_name).copied()
    }

    pub fn metadata(&self, number: u32) -> Option<&Piece> {
        self.metadata.get(number as usize)?.as_ref()
    }

    pub fn attributes(&self, number: u32) -> Option<&Piece> {
        self.attributes.get(number as usize)?.as_ref()
    }

    pub fn named_type(&self, index: u32) -> &Piece {
        &self.types[index as usize]
    }

    /// How many metadata numbers, attribute group numbers and named types there are (each
    /// numbered from 0).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.metadata.len(), self.attributes.len(), self.types.len())
    }
}

fn utf8(bytes: &[u8]) -> Box<str> {
    String::from_utf8_lossy(bytes).into()
}

/// The print's top-level items, in order.
fn items(text: &[u8]) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    let mut lines = Lines { text, at: 0 };
    while let Some((start, line)) = lines.next() {
        let item = if line.starts_with(b"define ") {
            // The body runs to the first line that is `}` alone.
            let mut end = start + line.len();
            for (s, l) in lines.by_ref() {
                end = s + l.len();
                if l == b"}" {
                    break;
                }
            }
            let header = line.strip_suffix(b" {").unwrap_or(line);
            match name_after_at(line) {
                Some(name) => Item::Global {
                    name,
                    callable: true,
                    special: false,
                    full: &text[start..end],
                    declared: Declared::Slice(header),
                },
                None => Item::Common(&text[start..end]),
            }
        } else if line.starts_with(b"declare ") {
            match name_after_at(line) {
                Some(name) => Item::Global {
                    name,
                    callable: true,
                    special: false,
                    full: line,
                    declared: Declared::Slice(line),
                },
                None => Item::Common(line),
            }
        } else if line.starts_with(b"@") {
            global_line(line)
        } else if let Some(rest) = line.strip_prefix(b"attributes #") {
            match number_then(rest, b" = ") {
                Some((n, body)) => Item::Attributes(n, body),
                None => Item::Common(line),
            }
        } else if let Some(rest) = line.strip_prefix(b"!") {
            match number_then(rest, b" = ") {
                Some((n, body)) => Item::Metadata(n, body),
                None if rest.first().is_some_and(|c| !c.is_ascii_digit()) => {
                    Item::NamedMetadata(line)
                }
                None => Item::Common(line),
            }
        } else if let Some(rest) = line.strip_prefix(b"%") {
            let end = name_end(rest);
            match rest[end..].starts_with(b" = type ") {
                true => Item::Type(&rest[..end], line),
                false => Item::Common(line),
            }
        } else if line.is_empty() || line.starts_with(b";") {
            // Comments, `; ModuleID` too: the module's name is not in its bitcode, and a shard
            // gets the program's whatever its input was called.
            continue;
        } else {
            Item::Common(line)
        };
        items.push(item);
    }
    items
}

/// Lines without their `\n`, with their offsets.
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        if self.at >= self.text.len() {
            return None;
        }
        let start = self.at;
        let rest = &self.text[start..];
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        self.at = start + len + 1;
        Some((start, &rest[..len]))
    }
}

/// `@name = ...`: a variable, an alias or an ifunc.
fn global_line(line: &[u8]) -> Item<'_> {
    let end = 1 + name_end(&line[1..]);
    let name = &line[1..end];
    let Some(rest) = line[end..].strip_prefix(b" = ") else {
        return Item::Common(line);
    };
    let words = top_level_words(rest);
    let is = |w: &[u8]| words.contains(&w);
    let callable = is(b"alias") || is(b"ifunc");
    let declaration = rest.starts_with(b"external ") || rest.starts_with(b"extern_weak ");
    let declared = match (callable, declaration) {
        (false, false) => {
            without_initializer(line, end + 3).map_or(Declared::Slice(line), Declared::Owned)
        }
        _ => Declared::Slice(line),
    };
    Item::Global {
        name,
        callable,
        special: name.starts_with(b"llvm.") && !declaration && !callable,
        full: line,
        declared,
    }
}

/// The words of `text` outside strings and brackets, up to its first top-level comma.
fn top_level_words(text: &[u8]) -> Vec<&[u8]> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => i = string_end(text, i),
            b'(' | b'[' | b'{' | b'<' => i = bracket_end(text, i).unwrap_or(text.len()),
            b',' => break,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = i + text[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .unwrap_or(text.len() - i);
                words.push(&text[i..end]);
                i = end;
            }
            _ => i += 1,
        }
    }
    words
}

/// A variable's line with its initializer cut out (what a declaration of it copies), or
/// `None` where the type or the initializer cannot be told apart for sure (the key then
/// holds the whole line: more misses, never a wrong hit). `from` is where the text after
/// `@name = ` starts.
fn without_initializer(line: &[u8], from: usize) -> Option<Vec<u8>> {
    let mut i = from;
    // The keyword before the type: `global` or `constant`, as a word outside brackets.
    loop {
        let rest = &line[i..];
        let word_end = rest.iter().position(|c| *c == b' ').unwrap_or(rest.len());
        let word = &rest[..word_end];
        if word.contains(&b'(') || word.contains(&b'"') {
            // `addrspace(1)`, `thread_local(initialexec)`, `partition "x"`: a word of
            // its own, balanced within it; anything else is not understood.
            if !word.ends_with(b")") || word.contains(&b'"') {
                return None;
            }
        }
        i += word_end + 1;
        if word == b"global" || word == b"constant" {
            break;
        }
        if i >= line.len() {
            return None;
        }
    }
    let type_end = type_end(line, i)?;
    let after = &line[type_end..];
    if after.is_empty() || after.starts_with(b",") {
        return None;
    }
    let init_start = type_end;
    let mut j = init_start + 1;
    while j < line.len() {
        match line[j] {
            b'"' => j = string_end(line, j),
            b'(' | b'[' | b'{' | b'<' => j = bracket_end(line, j)?,
            b',' => break,
            _ => j += 1,
        }
    }
    let mut out = line[..init_start].to_vec();
    out.extend_from_slice(&line[j..]);
    Some(out)
}

/// The end of the type that starts at `at`: one bracketed group, a `%name`, `ptr` with its
/// address space, or one word (`i32`, `double`); `None` for anything else.
fn type_end(line: &[u8], at: usize) -> Option<usize> {
    let rest = &line[at..];
    match rest.first()? {
        b'[' | b'{' | b'<' => bracket_end(line, at),
        b'%' => Some(at + 1 + name_end(&rest[1..])),
        _ if rest.starts_with(b"target(") => bracket_end(line, at + 6),
        _ if rest.starts_with(b"ptr addrspace(") => bracket_end(line, at + 13),
        c if c.is_ascii_alphabetic() => {
            let len = rest
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .unwrap_or(rest.len());
            let word = &rest[..len];
            let known = word == b"ptr"
                || (word[0] == b'i' && word.len() > 1 && word[1..].iter().all(u8::is_ascii_digit))
                || [
                    &b"half"[..],
                    b"bfloat",
                    b"float",
                    b"double",
                    b"x86_fp80",
                    b"fp128",
                    b"ppc_fp128",
                    b"x86_amx",
                ]
                .contains(&word);
            known.then_some(at + len)
        }
        _ => None,
    }
}

/// Past the bracket group opening at `at` (any of `([{<`, nested, strings skipped).
fn bracket_end(text: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i = string_end(text, i);
                continue;
            }
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b')' | b']' | b'}' | b'>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Past the string whose opening quote is at `at` (LLVM escapes quotes inside as `\22`).
fn string_end(text: &[u8], at: usize) -> usize {
    (text[at + 1..].iter().position(|&c| c == b'"')).map_or(text.len(), |p| at + p + 2)
}

/// The length of the name at the start of `text`: quoted, or letters, digits and `-$._`.
fn name_end(text: &[u8]) -> usize {
    match text.first() {
        Some(b'"') => string_end(text, 0),
        _ => text
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || b"-$._".contains(c)))
            .unwrap_or(text.len()),
    }
}

/// The first global name of a `define` or `declare` line (the function's).
fn name_after_at(line: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => i = string_end(line, i),
            b'@' => {
                let len = name_end(&line[i + 1..]);
                return (len > 0).then(|| &line[i + 1..i + 1 + len]);
            }
            _ => i += 1,
        }
    }
    None
}

/// `123<sep>rest` -> (123, rest).
fn number_then<'a>(text: &'a [u8], sep: &[u8]) -> Option<(u32, &'a [u8])> {
    let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = std::str::from_utf8(&text[..digits]).ok()?.parse().ok()?;
    text[digits..].strip_prefix(sep).map(|rest| (n, rest))
}

/// What the scanner resolves names with.
struct Names<'a> {
    globals: &'a HashMap<Box<str>, u32>,
    types: &'a HashMap<&'a [u8], u32>,
    numbered_types: bool,
}

/// Hashes `text` with the digits of its `#N` and `!N` references taken out, and appends its
/// references in order. Strings and comments are text, not references.
fn scan(text: &[u8], names: &Names, refs: &mut Vec<Packed>) -> u128 {
    let mut hash = Xxh3::new();
    let mut hashed = 0;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => i = string_end(text, i),
            b';' => {
                i += text[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(text.len() - i)
            }
            b'@' => {
                let len = name_end(&text[i + 1..]);
                let name = &text[i + 1..i + 1 + len];
                let found = std::str::from_utf8(name)
                    .ok()
                    .and_then(|n| names.globals.get(n));
                refs.push(Packed::new(found.map_or(Ref::Unknown, |&g| Ref::Global(g))));
                i += 1 + len;
            }
            b'%' => {
                let len = name_end(&text[i + 1..]);
                let name = &text[i + 1..i + 1 + len];
                let numeric = name.iter().all(u8::is_ascii_digit);
                // `%5` is a local value unless types are numbered (then all are in `common`).
                if !numeric || names.numbered_types {
                    if let Some(&t) = names.types.get(name) {
                        refs.push(Packed::new(Ref::Type(t)));
                    }
                }
                i += 1 + len;
            }
            c @ (b'!' | b'#') if text.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                hash.update(&text[hashed..=i]);
                let digits = text[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                let n: Option<u32> = std::str::from_utf8(&text[i + 1..i + 1 + digits])
                    .ok()
                    .and_then(|d| d.parse().ok());
                refs.push(Packed::new(match (c, n) {
                    (b'!', Some(n)) => Ref::Metadata(n),
                    (_, Some(n)) => Ref::Attributes(n),
                    _ => Ref::Unknown,
                }));
                i += 1 + digits;
                hashed = i;
            }
            _ => i += 1,
        }
    }
    hash.update(&text[hashed..]);
    hash.digest128()
}

#[cfg(test)]
mod tests {
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
            cut("@v = thread_local(initialexec) global <2 x i32> <i32 1, i32 2>, align 8")
                .as_deref(),
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
        let other =
            PrintedModule::parse(TEXT.replace("ret i32 %x", "ret i32 0").as_bytes(), b"kinds");
        assert_ne!(f(&a).hash, f(&other).hash);
        assert_eq!(a.common, other.common);
        let kinds = PrintedModule::parse(TEXT.as_bytes(), b"kinds2");
        assert_ne!(a.common, kinds.common);
    }
}
