//! Text IR with its local values numbered instead of named, for LLVM's parser. Codegen drops
//! every local name after parsing (`llvm::drop_local_names`), but by then the parser has made
//! each one, and the module's later walks are slower for it too: a generated 50,000-function
//! module (20 MB, every local named) built a one-function edit in 3.2-3.3 s as given and in
//! 2.5-2.7 s renumbered, on a shared machine (docs/PERFORMANCE.md; renumbering takes 0.11 s).
//! LLVM refuses to parse text into a context that discards names, so the names go from the
//! text.
//!
//! Within a function, arguments, then each block's label and its instructions' results are
//! numbered in definition order (`%0`, `%1`, ... and `N:`), as LLVM numbers unnamed values:
//! the module parsed is the one the named text gives after dropping its local names (the
//! tests compare bitcode, on real IR too). Only tokens inside lines change, so the lines of a
//! parse error stay the user's. The text is left as it is whenever that cannot be told for
//! sure: `blockaddress` and `uselistorder` (they name locals from elsewhere, or uses by
//! position), numbered types, a local named like a type or types defined after a function
//! (types and locals share the `%` sigil), prefix or prologue data (braces before the body),
//! a body line that starts with nothing known (a label, `%x =`, an instruction, an invoke's
//! or landingpad's continuation, `}`), an instruction without `%x =` that may define a value
//! (it would take a number), a `%` token that is neither a local nor a type, a quoted name
//! over two lines; and so is text that defines no named result (nothing to gain).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The text cannot be renumbered safely (see the module documentation): it is parsed as given.
#[derive(Debug, PartialEq, Eq)]
struct Unsafe;

/// A local value's name as LLVM keys it: `%x` and `%"x"` (or `%"\78"`) are one name, `%"1"`
/// is a name and `%1` a number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Local<'a> {
    Named(Cow<'a, [u8]>),
    Numbered(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind<'a> {
    /// `%name`, `%"name"`, `%N`.
    Local(Local<'a>),
    /// `name:`, `"name":`, `N:`.
    Label(Local<'a>),
    /// Letters, digits and `-$._` (keywords, numbers, `#dbg_value`, `#0`, `!12`, `@f`), with
    /// a leading sigil kept.
    Word(&'a str),
    /// A quoted string (`"..."`; `c"..."` is the word `c` and a string).
    Str,
    /// `(`, `[`, `{` or `<`.
    Open(u8),
    Close,
    /// Any other character: `=`, `,`, `*`, ...
    Punct(u8),
}

#[derive(Clone, Debug)]
struct Token<'a> {
    kind: Kind<'a>,
    start: usize,
    end: usize,
    /// The first token on its line.
    line_start: bool,
}

fn name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-$._".contains(&c)
}

/// LLVM's lexer reads a string to the next quote, with `\\` and `\XX` (hex) escapes.
fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1), raw.get(i + 2)) {
            (b'\\', Some(b'\\'), _) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(&a), Some(&b)) if hex(a).is_some() && hex(b).is_some() => {
                out.push((hex(a).unwrap() * 16 + hex(b).unwrap()) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// The tokens of `text` that matter here, without whitespace and comments.
struct Lexer<'a> {
    src: &'a str,
    text: &'a [u8],
    at: usize,
    line_start: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            src: text,
            text: text.as_bytes(),
            at: 0,
            line_start: true,
        }
    }

    fn str_at(&self, start: usize, end: usize) -> &'a str {
        // Tokens start and end at ASCII bytes, so at character boundaries.
        self.src.get(start..end).unwrap_or("")
    }

    /// The end of the quoted string whose opening quote is at `start` (after its closing
    /// quote).
    fn string_end(&self, start: usize) -> Result<usize, Unsafe> {
        let rest = &self.text[start + 1..];
        let close = rest.iter().position(|&c| c == b'"').ok_or(Unsafe)?;
        Ok(start + 1 + close + 1)
    }

    fn name_end(&self, start: usize) -> usize {
        let rest = &self.text[start..];
        start
            + rest
                .iter()
                .position(|&c| !name_char(c))
                .unwrap_or(rest.len())
    }

    // Inlined, the token is made where it is used: returned, its copy through memory took
    // 40% of the time (190 -> 110 ms for 20 MB).
    #[inline(always)]
    fn next(&mut self) -> Result<Option<Token<'a>>, Unsafe> {
        let text = self.text;
        loop {
            match text.get(self.at) {
                None => return Ok(None),
                Some(b'\n') => {
                    self.line_start = true;
                    self.at += 1;
                }
                Some(c) if c.is_ascii_whitespace() => self.at += 1,
                Some(b';') => {
                    let rest = &text[self.at..];
                    self.at += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                }
                Some(_) => break,
            }
        }
        let start = self.at;
        let line_start = std::mem::replace(&mut self.line_start, false);
        let c = text[start];
        let (kind, end) = match c {
            b'"' => {
                let end = self.string_end(start)?;
                match text.get(end) {
                    Some(b':') => (
                        Kind::Label(Local::Named(unescape(&text[start + 1..end - 1]))),
                        end + 1,
                    ),
                    _ => (Kind::Str, end),
                }
            }
            b'%' => match text.get(start + 1) {
                Some(b'"') => {
                    let end = self.string_end(start + 1)?;
                    let name = unescape(&text[start + 2..end - 1]);
                    (Kind::Local(Local::Named(name)), end)
                }
                Some(&d) if d.is_ascii_digit() => {
                    let end = self.name_end(start + 1);
                    let digits = self.str_at(start + 1, end);
                    // `%1a` lexes as `%1` and `a`: not something to rewrite.
                    let n = digits.parse::<u32>().map_err(|_| Unsafe)?;
                    (Kind::Local(Local::Numbered(n)), end)
                }
                Some(&d) if name_char(d) => {
                    let end = self.name_end(start + 1);
                    let name = Cow::Borrowed(&text[start + 1..end]);
                    (Kind::Local(Local::Named(name)), end)
                }
                _ => return Err(Unsafe),
            },
            b'@' | b'!' | b'#' | b'$' | b'^' => {
                let end = match text.get(start + 1) {
                    Some(b'"') => self.string_end(start + 1)?,
                    _ => self.name_end(start + 1),
                };
                (Kind::Word(self.str_at(start, end)), end)
            }
            b'(' | b'[' | b'{' | b'<' => (Kind::Open(c), start + 1),
            b')' | b']' | b'}' | b'>' => (Kind::Close, start + 1),
            c if name_char(c) => {
                let end = self.name_end(start);
                match text.get(end) {
                    Some(b':') => {
                        let word = self.str_at(start, end);
                        let label = match word.bytes().all(|c| c.is_ascii_digit()) {
                            true => Local::Numbered(word.parse().map_err(|_| Unsafe)?),
                            false => Local::Named(Cow::Borrowed(word.as_bytes())),
                        };
                        (Kind::Label(label), end + 1)
                    }
                    _ => (Kind::Word(self.str_at(start, end)), end),
                }
            }
            c => (Kind::Punct(c), start + 1),
        };
        self.at = end;
        Ok(Some(Token {
            kind,
            start,
            end,
            line_start,
        }))
    }
}

/// `text` with the local values of every function body numbered in definition order instead
/// of named; `None` when that could change the module (see the module documentation), or
/// when no function names a local value (nothing to gain).
pub fn without_local_names(text: &str) -> Option<String> {
    // Both name values of functions from anywhere (a string or comment that mentions them
    // costs only the gain).
    if text.contains("blockaddress") || text.contains("uselistorder") {
        return None;
    }
    if !names_an_instruction(text) {
        return None;
    }
    renumbered(text).ok()
}

/// Whether an indented line starts with a named instruction result (`  %x = ...`): a quick
/// look that spares text without names (clang's default) the lexing, 10 ms instead of 150
/// for 20 MB. Type definitions (`%T = type`) start at the first column.
fn names_an_instruction(text: &str) -> bool {
    text.split('\n').any(|line| {
        let rest = line.trim_start_matches([' ', '\t']);
        rest.len() < line.len()
            && rest.starts_with('%')
            && rest[1..].starts_with(|c: char| !c.is_ascii_digit())
    })
}

/// What one function's renumbering needs, kept from function to function (50,000 functions
/// allocating their own spent a third of the time in the allocator).
#[derive(Default)]
struct Scratch<'a> {
    /// The function's tokens after `define`.
    tokens: Vec<Token<'a>>,
    numbering: Numbering<'a>,
    /// Per token, the number of the local it defines, or [`NONE`].
    defined: Vec<u32>,
}

const NONE: u32 = u32::MAX;

/// The text being rewritten: copied up to `at`, replacements in text order.
struct Output<'t> {
    text: &'t str,
    out: String,
    at: usize,
}

impl Output<'_> {
    /// Replaces `text[start..end]` with `%number`, or `number:` for a label.
    fn replace(
        &mut self,
        start: usize,
        end: usize,
        number: u32,
        label: bool,
    ) -> Result<(), Unsafe> {
        let old = &self.text[start..end];
        // A quoted name that spans lines would take its line breaks with it.
        if old.contains('\n') {
            return Err(Unsafe);
        }
        self.out.push_str(&self.text[self.at..start]);
        if !label {
            self.out.push('%');
        }
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = number;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.out.push(d as char);
        }
        if label {
            self.out.push(':');
        }
        self.at = end;
        Ok(())
    }

    fn finish(mut self) -> String {
        self.out.push_str(&self.text[self.at..]);
        self.out
    }
}

/// `text` renumbered, function by function.
fn renumbered(text: &str) -> Result<String, Unsafe> {
    let mut lexer = Lexer::new(text);
    // Named types (`%name = type ...` at the start of a top-level line), all before the
    // first function: a function's `%x` can then be told a type or a local when it is read.
    let mut types = HashSet::new();
    let mut out = Output {
        text,
        out: String::with_capacity(text.len()),
        at: 0,
    };
    let mut scratch = Scratch::default();
    let (mut named_any, mut functions) = (false, 0usize);
    let mut depth = 0usize;
    while let Some(token) = lexer.next()? {
        match token.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => depth = depth.checked_sub(1).ok_or(Unsafe)?,
            Kind::Word("define") if depth == 0 && token.line_start => {
                function_tokens(&mut lexer, &mut scratch.tokens)?;
                named_any |= renumber(&mut scratch, &types, &mut out)?;
                functions += 1;
            }
            Kind::Local(local) if depth == 0 && token.line_start => {
                let equals = lexer.next()?.map(|t| t.kind);
                let type_word = lexer.next()?.map(|t| t.kind);
                // A numbered type would share `%N` with the values.
                match (local, equals, type_word) {
                    (Local::Named(name), Some(Kind::Punct(b'=')), Some(Kind::Word("type")))
                        if functions == 0 =>
                    {
                        types.insert(name);
                    }
                    _ => return Err(Unsafe),
                }
            }
            _ => {}
        }
    }
    if depth != 0 || !named_any {
        return Err(Unsafe);
    }
    Ok(out.finish())
}

/// The tokens of a function definition after `define`, through its body's closing brace: the
/// first brace outside brackets after the parameter list opens the body (a return type may
/// be a structure).
fn function_tokens<'a>(lexer: &mut Lexer<'a>, tokens: &mut Vec<Token<'a>>) -> Result<(), Unsafe> {
    #[derive(PartialEq)]
    enum Part {
        BeforeName,
        BeforeParams,
        Params,
        Header,
        Body,
    }
    tokens.clear();
    let mut depth = 0usize;
    let mut part = Part::BeforeName;
    while let Some(token) = lexer.next()? {
        match (&token.kind, depth) {
            (Kind::Word(w), 0) if part == Part::BeforeName && w.starts_with('@') => {
                part = Part::BeforeParams
            }
            (Kind::Open(b'('), 0) if part == Part::BeforeParams => part = Part::Params,
            (Kind::Open(b'{'), 0) if part == Part::Header => part = Part::Body,
            // Prefix and prologue data are typed constants, braces too, before the body's.
            (Kind::Word("prefix" | "prologue"), 0) if part == Part::Header => return Err(Unsafe),
            _ => {}
        }
        match token.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => depth = depth.checked_sub(1).ok_or(Unsafe)?,
            _ => {}
        }
        tokens.push(token);
        if depth == 0 {
            match part {
                Part::Params => part = Part::Header,
                Part::Body => return Ok(()),
                _ => {}
            }
        }
    }
    Err(Unsafe)
}

/// Instructions that end a block: the next instruction without a label starts one of its
/// own, which takes a number.
const TERMINATORS: [&str; 11] = [
    "ret",
    "br",
    "switch",
    "indirectbr",
    "invoke",
    "resume",
    "unreachable",
    "cleanupret",
    "catchret",
    "catchswitch",
    "callbr",
];

/// Instructions that never define a value.
const VOID: [&str; 10] = [
    "ret",
    "br",
    "switch",
    "indirectbr",
    "resume",
    "unreachable",
    "cleanupret",
    "catchret",
    "store",
    "fence",
];

/// Words that start the continuation of an instruction LLVM prints over several lines: an
/// invoke's or callbr's destinations, a landingpad's clauses.
const CONTINUATIONS: [&str; 5] = ["to", "unwind", "cleanup", "catch", "filter"];

/// FNV-1a: local names are short, and SipHash took a tenth of the time.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = match self.0 {
            0 => 0xcbf2_9ce4_8422_2325,
            h => h,
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The numbering of one function: old local -> new number, in definition order.
#[derive(Default)]
struct Numbering<'a> {
    new: HashMap<Local<'a>, u32, BuildHasherDefault<Fnv>>,
    /// The next new number.
    next: u32,
    /// The number LLVM gives the original text's next unnamed value.
    old_next: u32,
    named_any: bool,
}

impl<'a> Numbering<'a> {
    fn reset(&mut self) {
        self.new.clear();
        (self.next, self.old_next, self.named_any) = (0, 0, false);
    }

    /// Defines a value: `Some(local)` as written, `None` unnamed (the next number).
    fn define(&mut self, local: Option<&Local<'a>>) -> Result<u32, Unsafe> {
        let key = match local {
            Some(Local::Named(name)) => {
                self.named_any = true;
                Local::Named(name.clone())
            }
            // LLVM accepts gaps in numbering, never a number below the last.
            Some(&Local::Numbered(n)) if n >= self.old_next => {
                self.old_next = n.checked_add(1).ok_or(Unsafe)?;
                Local::Numbered(n)
            }
            Some(Local::Numbered(_)) => return Err(Unsafe),
            None => {
                let n = self.old_next;
                self.old_next += 1;
                Local::Numbered(n)
            }
        };
        let number = self.next;
        if self.new.insert(key, number).is_some() {
            return Err(Unsafe);
        }
        self.next += 1;
        Ok(number)
    }
}

/// Writes to `out` the function in `scratch.tokens` (its tokens after `define`) with its
/// locals numbered; whether it named any.
fn renumber<'a>(
    scratch: &mut Scratch<'a>,
    types: &HashSet<Cow<'a, [u8]>>,
    out: &mut Output,
) -> Result<bool, Unsafe> {
    let Scratch {
        tokens: function,
        numbering,
        defined,
    } = scratch;
    numbering.reset();
    defined.clear();
    defined.resize(function.len(), NONE);
    let params_start = 1
        + (function.iter())
            .position(|t| matches!(t.kind, Kind::Word(w) if w.starts_with('@')))
            .ok_or(Unsafe)?;
    if function.get(params_start).map(|t| &t.kind) != Some(&Kind::Open(b'(')) {
        return Err(Unsafe);
    }
    let params_end = params_start + group_length(&function[params_start..])?;
    for (start, end) in split_params(function, params_start + 1, params_end - 1) {
        // `Type Attributes* Name?`: a `%` at the top of a parameter is its type when first,
        // its name when last (a bracket group is one item, the `%`s inside it types).
        let items = top_items(function, start, end)?;
        let name = match items.as_slice() {
            [] => return Err(Unsafe),
            [only] if function[*only].kind == Kind::Word("...") => continue,
            [_] => None,
            [_, .., last] => match &function[*last].kind {
                Kind::Local(local) => Some((*last, local)),
                _ => None,
            },
        };
        let inner_locals = (items.iter().skip(1))
            .filter(|&&i| matches!(function[i].kind, Kind::Local(_)))
            .count();
        if inner_locals > usize::from(name.is_some()) {
            return Err(Unsafe);
        }
        let number = numbering.define(name.map(|(_, l)| l))?;
        if let Some((at, _)) = name {
            defined[at] = number;
        }
    }
    let body_start = (params_end..function.len())
        .find(|&i| function[i].kind == Kind::Open(b'{'))
        .ok_or(Unsafe)?;
    if function[params_end..body_start]
        .iter()
        .any(|t| matches!(t.kind, Kind::Local(_) | Kind::Label(_)))
    {
        return Err(Unsafe);
    }
    let body_end = function.len() - 1;
    let mut block_open = false;
    let mut depth = 0usize;
    let mut statement_start = true;
    for at in body_start + 1..body_end {
        let token = &function[at];
        let starts = depth == 0 && (token.line_start || statement_start);
        statement_start = false;
        match &token.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => depth = depth.checked_sub(1).ok_or(Unsafe)?,
            _ => {}
        }
        if !starts {
            // A label after an instruction on its line; labels inside brackets are fields
            // of metadata written in place (`!DILocation(line: 2, ...)`).
            if depth == 0 && matches!(token.kind, Kind::Label(_)) {
                return Err(Unsafe);
            }
            continue;
        }
        match &token.kind {
            Kind::Label(label) => {
                defined[at] = numbering.define(Some(label))?;
                block_open = true;
                // `bb: ret void` on one line.
                statement_start = true;
            }
            Kind::Local(local) => {
                if function.get(at + 1).map(|t| &t.kind) != Some(&Kind::Punct(b'=')) {
                    return Err(Unsafe);
                }
                if !block_open {
                    numbering.define(None)?;
                }
                defined[at] = numbering.define(Some(local))?;
                block_open = !is_terminator(opcode(&function[at + 2..body_end]));
            }
            Kind::Word(w) if CONTINUATIONS.contains(w) => {}
            Kind::Word(w) => {
                // A block without a label (the entry block, or one after a terminator)
                // takes the next number, before its debug records and instructions.
                if !block_open {
                    numbering.define(None)?;
                    block_open = true;
                }
                if w.starts_with("#dbg_") {
                    continue;
                }
                let op = opcode(&function[at..body_end]);
                if !VOID.contains(&op) && !is_void_call(&function[at..body_end], op) {
                    // A value without `%x =` takes the next number: not worth telling apart.
                    return Err(Unsafe);
                }
                block_open = !is_terminator(op);
            }
            _ => return Err(Unsafe),
        }
    }
    if depth != 0 {
        return Err(Unsafe);
    }
    for (at, token) in function.iter().enumerate() {
        let (local, label) = match &token.kind {
            Kind::Local(local) => (local, false),
            Kind::Label(local) if defined[at] != NONE => (local, true),
            _ => continue,
        };
        let number = match Some(defined[at]).filter(|&n| n != NONE) {
            Some(n) => match local {
                // A local named like a type: which one a `%x` means is the parser's call.
                Local::Named(name) if types.contains(name) => return Err(Unsafe),
                _ => n,
            },
            None => match numbering.new.get(local) {
                Some(&n) => n,
                None => match local {
                    // A type (`alloca %struct.S`).
                    Local::Named(name) if types.contains(name) => continue,
                    _ => return Err(Unsafe),
                },
            },
        };
        out.replace(token.start, token.end, number, label)?;
    }
    Ok(numbering.named_any)
}

/// How many tokens the bracket group opening at `tokens[0]` spans, brackets included.
fn group_length(tokens: &[Token]) -> Result<usize, Unsafe> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => {
                depth = depth.checked_sub(1).ok_or(Unsafe)?;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
    }
    Err(Unsafe)
}

/// The parameters of the list `tokens[start..end]` (inside its parentheses), split at its
/// top-level commas, as index ranges.
fn split_params(tokens: &[Token], start: usize, end: usize) -> Vec<(usize, usize)> {
    if start == end {
        return Vec::new();
    }
    let mut out = Vec::new();
    let (mut depth, mut from) = (0usize, start);
    for (i, t) in tokens.iter().enumerate().take(end).skip(start) {
        match t.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::Punct(b',') if depth == 0 => {
                out.push((from, i));
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push((from, end));
    out
}

/// The indices of a parameter's top-level items in `tokens[start..end]`: tokens outside
/// brackets, and each bracket group (at its opening token).
fn top_items(tokens: &[Token], start: usize, end: usize) -> Result<Vec<usize>, Unsafe> {
    let mut items = Vec::new();
    let mut i = start;
    while i < end {
        items.push(i);
        i += match tokens[i].kind {
            Kind::Open(_) => group_length(&tokens[i..end])?,
            _ => 1,
        };
    }
    Ok(items)
}

/// The opcode of the instruction whose tokens start at `tokens` (after any `%x =`): its
/// first word, past the tail-call markers.
fn opcode<'a>(tokens: &[Token<'a>]) -> &'a str {
    let mut words = tokens.iter().map(|t| match t.kind {
        Kind::Word(w) => w,
        _ => "",
    });
    words
        .find(|w| !matches!(*w, "tail" | "musttail" | "notail"))
        .unwrap_or("")
}

fn is_terminator(op: &str) -> bool {
    TERMINATORS.contains(&op)
}

/// Whether the call, invoke or callbr at `tokens` returns `void`: the word `void` outside
/// brackets before its callee (`@f`, `%f`, `asm`).
fn is_void_call(tokens: &[Token], op: &str) -> bool {
    if !matches!(op, "call" | "invoke" | "callbr") {
        return false;
    }
    let mut depth = 0usize;
    for t in tokens {
        match &t.kind {
            Kind::Open(_) => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::Word("void") if depth == 0 => return true,
            Kind::Word(w) if depth == 0 && (w.starts_with('@') || *w == "asm") => return false,
            Kind::Local(_) if depth == 0 => return false,
            _ => {}
        }
    }
    false
}

/// Whether renumbering `text` gives the module `text` gives after dropping its local names
/// (their bitcode, without use-list orders, is the same); `Err` says why not: left as it
/// is, a parse error, another module. A hook for the tests on real IR (tests/it), which
/// compile it at test time.
#[doc(hidden)]
pub fn renumbering_keeps_the_module(text: &str) -> Result<(), String> {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;
    let bitcode = |text: &str, drop_names: bool| {
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "m");
        let module = (context.create_module_from_ir(buffer)).map_err(|e| e.to_string())?;
        if drop_names {
            crate::llvm::drop_local_names(&module);
        }
        Ok::<_, String>(module.write_bitcode_to_memory().as_slice().to_vec())
    };
    let renumbered = without_local_names(text).ok_or("left as it is")?;
    if renumbered.lines().count() != text.lines().count() {
        return Err("lines moved".into());
    }
    let original = bitcode(text, true)?;
    match bitcode(&renumbered, false) {
        Ok(same) if same == original => Ok(()),
        Ok(_) => Err("another module".into()),
        Err(e) => Err(format!("renumbered, it does not parse: {e}")),
    }
}

#[cfg(test)]
#[path = "local_numbers_tests.rs"]
mod tests;
