//! The print's top-level lines, told apart: globals (with what a declaration of each
//! copies), metadata, attribute groups, named types, and the rest.

use super::tokens::{bracket_end, name_after_at, name_end, number_then, string_end};

/// Top-level items before their references are resolved.
pub(super) enum Item<'a> {
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
pub(super) enum Declared<'a> {
    Slice(&'a [u8]),
    Owned(Vec<u8>),
}

/// The print's top-level items, in order.
pub(super) fn items(text: &[u8]) -> Vec<Item<'_>> {
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
pub(super) fn without_initializer(line: &[u8], from: usize) -> Option<Vec<u8>> {
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
