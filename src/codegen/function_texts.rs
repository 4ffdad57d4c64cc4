//! Text IR cut into its function bodies and the rest (the *skeleton*: every line outside a
//! body, the functions' header lines included), for a rebuild that parses only what changed
//! (`build/rebuild.rs`). Two texts with the same skeleton define the same globals, with the
//! same types, attributes, initializers and metadata, in the same order; they differ only in
//! the bodies whose hashes differ.
//!
//! A body can be replaced by a *stub* that only refers to what the body referred to: the
//! module parsed keeps every global and every reference between globals (so selection and
//! GlobalDCE keep what they kept), and its functions outside the rebuild's set are cheap to
//! parse and never emitted.
//!
//! Cutting reuses `text_order.rs`'s reading of top-level entities, and refuses (`None`)
//! wherever a body cannot be told apart by its lines: a header over several lines, text after
//! a body's closing brace, unnamed globals (their numbers follow the text), `uselistorder`,
//! and `blockaddress` anywhere (it names a block of a body from outside it).

use std::fmt::Write as _;

use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use super::text_order::{entities, Entity};

/// One function definition of the text.
#[derive(Debug)]
pub struct Definition<'t> {
    /// The function's name, unquoted.
    pub name: String,
    /// The `define ... {` line, its newline included.
    header: &'t str,
    /// The body's lines after the header, the closing `}` line included.
    body: &'t str,
    /// Comments and blank lines after the closing brace, up to the next entity.
    tail: &'t str,
    /// Hash of `body`.
    pub body_hash: u128,
}

/// A piece of the text, in order.
#[derive(Debug)]
enum Part<'t> {
    Skeleton(&'t str),
    Definition(Definition<'t>),
}

/// The text cut into its function bodies and its skeleton.
#[derive(Debug)]
pub struct FunctionTexts<'t> {
    parts: Vec<Part<'t>>,
    /// Hash of everything but the bodies (the headers, and where the bodies were).
    pub skeleton_hash: u128,
}

impl<'t> FunctionTexts<'t> {
    /// `text` cut, or `None` where its bodies cannot be told apart for sure.
    pub fn cut(text: &'t str) -> Option<FunctionTexts<'t>> {
        if text.contains("blockaddress") {
            return None;
        }
        let mut parts = Vec::new();
        let mut skeleton = Xxh3::new();
        for (entity, lines) in entities(text).ok()? {
            if entity != Entity::Function || !lines.trim_start().starts_with("define") {
                skeleton.update(&(lines.len() as u64).to_le_bytes());
                skeleton.update(lines.as_bytes());
                parts.push(Part::Skeleton(lines));
                continue;
            }
            let definition = definition(lines)?;
            for piece in [definition.header, "{}", definition.tail] {
                skeleton.update(&(piece.len() as u64).to_le_bytes());
                skeleton.update(piece.as_bytes());
            }
            parts.push(Part::Definition(definition));
        }
        Some(FunctionTexts {
            parts,
            skeleton_hash: skeleton.digest128(),
        })
    }

    /// The target triple the text names (`target triple = "..."`), if it names one.
    pub fn triple(&self) -> Option<&'t str> {
        self.parts.iter().find_map(|p| match p {
            Part::Skeleton(lines) => lines.lines().find_map(|l| {
                let rest = l.trim_start().strip_prefix("target triple")?;
                let quoted = rest.trim_start().strip_prefix('=')?.trim_start();
                quoted.strip_prefix('"')?.split('"').next()
            }),
            Part::Definition(_) => None,
        })
    }

    /// The definitions, in text order.
    pub fn definitions(&self) -> impl Iterator<Item = &Definition<'t>> {
        self.parts.iter().filter_map(|p| match p {
            Part::Definition(d) => Some(d),
            Part::Skeleton(_) => None,
        })
    }

    /// The text again, with the body of every definition `keep` refuses replaced by a stub
    /// that refers to the globals `refers_to` gives for it (printed names, `@f`), and to
    /// nothing else.
    pub fn with_stubs<'a>(
        &self,
        keep: impl Fn(&str) -> bool,
        refers_to: impl Fn(&str) -> &'a [String],
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Skeleton(lines) => out.push_str(lines),
                Part::Definition(d) if keep(&d.name) => {
                    out.extend([d.header, d.body, d.tail]);
                }
                Part::Definition(d) => {
                    out.push_str(d.header);
                    // Named results take no number, whatever the header's arguments are.
                    for (i, global) in refers_to(&d.name).iter().enumerate() {
                        let _ = writeln!(out, "  %aotlink.ref{i} = ptrtoint ptr {global} to i64");
                    }
                    out.push_str("  unreachable\n}\n");
                    out.push_str(d.tail);
                }
            }
        }
        out
    }
}

/// A `define` entity cut into its header line, body and tail; `None` when the header is not
/// one line ending in the body's `{`, or anything but comments follows the closing `}`.
fn definition(lines: &str) -> Option<Definition<'_>> {
    let header_end = lines.find('\n')? + 1;
    let header = &lines[..header_end];
    if !header.trim_end().ends_with('{') || brace_depth(header) != 1 {
        return None;
    }
    let rest = &lines[header_end..];
    // The closing brace: the last line that starts with `}`, alone on it; only comments and
    // blank lines may follow it.
    let close = match rest.starts_with('}') {
        true => rest.rfind("\n}").map_or(0, |at| at + 1),
        false => rest.rfind("\n}")? + 1,
    };
    let body_end = close
        + rest[close..]
            .find('\n')
            .map_or(rest.len() - close, |n| n + 1);
    let (body, tail) = rest.split_at(body_end);
    if body[close..].trim_end() != "}" {
        return None;
    }
    if !(tail.lines()).all(|l| l.trim().is_empty() || l.trim_start().starts_with(';')) {
        return None;
    }
    Some(Definition {
        name: function_name(header)?,
        header,
        body,
        tail,
        body_hash: xxh3_128(body.as_bytes()),
    })
}

/// How many brackets `{` the line leaves open, outside strings and comments.
fn brace_depth(line: &str) -> i64 {
    let (mut depth, mut in_string) = (0, false);
    for c in line.chars() {
        match (in_string, c) {
            (true, '"') => in_string = false,
            (true, _) => {}
            (false, '"') => in_string = true,
            (false, ';') => break,
            (false, '{') => depth += 1,
            (false, '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// The name a `define` line gives its function (the first `@`), unquoted; `None` for a
/// numbered one or a name that is not UTF-8.
fn function_name(header: &str) -> Option<String> {
    let rest = &header[header.find('@')? + 1..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        return unescape(&quoted[..end]);
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-$._".contains(c);
    let end = rest.find(|c: char| !plain(c)).unwrap_or(rest.len());
    let name = &rest[..end];
    let numbered = name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit());
    (!numbered).then(|| name.to_string())
}

/// A quoted LLVM name's bytes: `\XX` is a byte in hex, `\\` a backslash.
fn unescape(quoted: &str) -> Option<String> {
    let bytes = quoted.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[path = "function_texts_tests.rs"]
mod tests;
