//! Reading LLVM's printed IR token by token: strings, names, bracket groups, and the
//! references in a piece's text.

use std::collections::HashMap;

use xxhash_rust::xxh3::Xxh3;

use super::refs::{Packed, Ref};

/// Past the bracket group opening at `at` (any of `([{<`, nested, strings skipped).
pub(super) fn bracket_end(text: &[u8], at: usize) -> Option<usize> {
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
pub(super) fn string_end(text: &[u8], at: usize) -> usize {
    (text[at + 1..].iter().position(|&c| c == b'"')).map_or(text.len(), |p| at + p + 2)
}

/// The length of the name at the start of `text`: quoted, or letters, digits and `-$._`.
pub(super) fn name_end(text: &[u8]) -> usize {
    match text.first() {
        Some(b'"') => string_end(text, 0),
        _ => text
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || b"-$._".contains(c)))
            .unwrap_or(text.len()),
    }
}

/// The first global name of a `define` or `declare` line (the function's).
pub(super) fn name_after_at(line: &[u8]) -> Option<&[u8]> {
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
pub(super) fn number_then<'a>(text: &'a [u8], sep: &[u8]) -> Option<(u32, &'a [u8])> {
    let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = std::str::from_utf8(&text[..digits]).ok()?.parse().ok()?;
    text[digits..].strip_prefix(sep).map(|rest| (n, rest))
}

/// What the scanner resolves names with.
pub(super) struct Names<'a> {
    pub globals: &'a HashMap<Box<str>, u32>,
    pub types: &'a HashMap<&'a [u8], u32>,
    pub numbered_types: bool,
}

/// Hashes `text` with the digits of its `#N` and `!N` references taken out, and appends its
/// references in order. Strings and comments are text, not references.
pub(super) fn scan(text: &[u8], names: &Names, refs: &mut Vec<Packed>) -> u128 {
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
