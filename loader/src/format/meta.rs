//! The image metadata: what the root carries besides offsets (targets, names, manifest).
//! Fixed-size little-endian records and one string table, read in place by [`MetaView`];
//! [`Meta`] is the owned form the writer encodes and tools decode.

use crate::format::arch::Arch;
use crate::format::{FormatError, MAX_TARGETS};

/// Everything an image says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The LLVM target triple the code was compiled for.
    pub triple: String,
    /// Version of the feature-name list the target bitmasks index (see `host/features.rs`).
    pub feature_list_version: u32,
    /// CPU targets; the first is the base every function exists for.
    pub targets: Vec<TargetRecord>,
    /// One method per fvar index, sorted by name (fvar indices are name order).
    pub methods: Vec<Method>,
    /// Methods of other images this one calls, as they were when it was compiled; the loader
    /// resolves them through the method table (slot `i` of the root for external `i`).
    pub externals: Vec<ExternalEdge>,
    /// The global variables, by gvar index.
    pub gvars: Vec<Gvar>,
    /// C-ABI entry points the image exports as real symbols: methods under their own names.
    pub exports: Vec<Export>,
    /// The other symbols the image exports: variables, and aliases and ifuncs (sorted by name;
    /// no name is also an export's).
    pub symbol_exports: Vec<SymbolExport>,
}

/// One CPU target an image was compiled for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetRecord {
    /// LLVM CPU name (`generic`, `haswell`, ...).
    pub name: String,
    /// `TARGET_*` flags.
    pub flags: u32,
    /// With [`TARGET_BASE`]: the earlier target whose code this one reuses when not cloned.
    pub base: u32,
    /// The resolved feature set: bit `i` set when feature `i` of the versioned list is required.
    pub features: Vec<u64>,
    /// How many functions have their own version for this target.
    pub nclones: u32,
    /// Widest vector register in bits, from the features (used to rank targets).
    pub vector_bits: u32,
}

/// Every function is cloned for this target.
pub const TARGET_CLONE_ALL: u32 = 1;
/// `base` names the target to reuse for functions not cloned here.
pub const TARGET_BASE: u32 = 2;
pub const TARGET_OPT_SIZE: u32 = 4;
pub const TARGET_MIN_SIZE: u32 = 8;

/// A compiled function with what it was compiled against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Method {
    pub name: String,
    /// The LLVM function type (`i64 (i64, double)`) unless the input gave one.
    pub signature: String,
    /// Content hash of the function's IR after selection.
    pub hash: u64,
    /// fvar indices of functions of this image it calls or references.
    pub callees: Vec<u32>,
    /// Indices into [`Meta::externals`] of the methods of other images it calls.
    pub external: Vec<u32>,
    /// gvar indices of the data it uses that holds function addresses (its own or through
    /// other data): what the method may call through them is in those gvars' edges, kept
    /// once, not copied into every method that uses the data. A table of N function pointers
    /// used by M methods costs N edges, not N × M.
    pub data: Vec<u32>,
}

/// A global variable, with the addresses its initializer holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gvar {
    pub name: String,
    /// fvar indices of the image functions whose addresses it holds.
    pub callees: Vec<u32>,
    /// Indices into [`Meta::externals`] of other images' methods whose addresses it holds.
    pub external: Vec<u32>,
    /// gvar indices of other data it holds the addresses of, which hold function addresses.
    pub data: Vec<u32>,
}

impl From<&str> for Gvar {
    /// A gvar that holds no function address.
    fn from(name: &str) -> Gvar {
        Gvar {
            name: name.into(),
            ..Default::default()
        }
    }
}

/// A method of another image, as seen when this one was compiled.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExternalEdge {
    pub name: String,
    pub signature: String,
    pub hash: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub fvar: u32,
}

/// An exported symbol that is not a method under its own name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolExport {
    pub name: String,
    pub kind: SymbolKind,
}

/// What an exported symbol that is not a method is, which says how a loader finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// Another name of method `fvar` (an alias of a function): its address is the method's,
    /// with the same dispatch to the chosen CPU target's version.
    Function { fvar: u32 },
    /// A variable or an alias of one (thread-local ones too): data, whose address only the
    /// dynamic loader knows for a thread-local. A DLL exports it as `DATA`.
    Data,
    /// A GNU ifunc (or an alias of one): code whose address its resolver picks at load time.
    IFunc,
}

/// The `kind` word of a symbol export's record, and its index word when it has no fvar.
const SYMBOL_FUNCTION: u32 = 1;
const SYMBOL_DATA: u32 = 2;
const SYMBOL_IFUNC: u32 = 3;
const NO_INDEX: u32 = u32::MAX;

impl SymbolKind {
    /// The record's (kind, index) words.
    fn words(self) -> [u32; 2] {
        match self {
            SymbolKind::Function { fvar } => [SYMBOL_FUNCTION, fvar],
            SymbolKind::Data => [SYMBOL_DATA, NO_INDEX],
            SymbolKind::IFunc => [SYMBOL_IFUNC, NO_INDEX],
        }
    }

    /// The kind a record's (kind, index) words give, if they are one.
    fn from_words(kind: u32, index: u32) -> Option<SymbolKind> {
        match (kind, index) {
            (SYMBOL_FUNCTION, fvar) => Some(SymbolKind::Function { fvar }),
            (SYMBOL_DATA, NO_INDEX) => Some(SymbolKind::Data),
            (SYMBOL_IFUNC, NO_INDEX) => Some(SymbolKind::IFunc),
            _ => None,
        }
    }
}

impl Meta {
    /// The architecture the image's triple names (`None` for one aotlink does not build for).
    pub fn arch(&self) -> Option<Arch> {
        Arch::from_triple(&self.triple)
    }

    /// The layout of `docs/FORMAT.md`, "Metadata": a fixed head, fixed-size records, two
    /// arrays of edges and one string table (each string once), read in place by the loader.
    pub fn encode(&self) -> Vec<u8> {
        let mut strings = StringTable::default();
        let mut features: Vec<u64> = Vec::new();
        let mut edges = EdgeArrays::default();
        let mut records = Vec::new();
        let mut put = |words: &[u32]| words.iter().for_each(|w| records.extend(w.to_le_bytes()));
        for t in &self.targets {
            let name = strings.add(&t.name);
            let start = features.len() as u32;
            features.extend(&t.features);
            put(&[
                name.0,
                name.1,
                t.flags,
                t.base,
                start,
                t.features.len() as u32,
            ]);
            put(&[t.nclones, t.vector_bits]);
        }
        for m in &self.methods {
            let (name, signature) = (strings.add(&m.name), strings.add(&m.signature));
            put(&[name.0, name.1, signature.0, signature.1]);
            put(&[m.hash as u32, (m.hash >> 32) as u32]);
            put(&edges.add(&m.callees, &m.external, &m.data));
        }
        for x in &self.externals {
            let (name, signature) = (strings.add(&x.name), strings.add(&x.signature));
            put(&[name.0, name.1, signature.0, signature.1]);
            put(&[x.hash as u32, (x.hash >> 32) as u32]);
        }
        for g in &self.gvars {
            let name = strings.add(&g.name);
            put(&[name.0, name.1]);
            put(&edges.add(&g.callees, &g.external, &g.data));
        }
        for x in &self.exports {
            let name = strings.add(&x.name);
            put(&[name.0, name.1, x.fvar]);
        }
        for x in &self.symbol_exports {
            let name = strings.add(&x.name);
            put(&[name.0, name.1]);
            put(&x.kind.words());
        }
        let triple = strings.add(&self.triple);
        let counts = [
            self.targets.len(),
            self.methods.len(),
            self.externals.len(),
            self.gvars.len(),
            self.exports.len(),
            self.symbol_exports.len(),
            features.len(),
            edges.callees.len(),
            edges.external.len(),
            edges.data.len(),
            strings.bytes.len(),
        ];
        let mut out = Vec::new();
        let head = [triple.0, triple.1, self.feature_list_version];
        for w in head.into_iter().chain(counts.map(|n| n as u32)) {
            out.extend(w.to_le_bytes());
        }
        out.extend(records);
        features.iter().for_each(|w| out.extend(w.to_le_bytes()));
        for array in [&edges.callees, &edges.external, &edges.data] {
            array.iter().for_each(|w| out.extend(w.to_le_bytes()));
        }
        out.extend(strings.bytes);
        out
    }

    /// Decodes and checks encoded metadata into owned values (tools, tests; the loader reads
    /// it in place through [`MetaView`]).
    pub fn decode(bytes: &[u8]) -> Result<Meta, FormatError> {
        MetaView::parse(bytes).map(|view| view.to_meta())
    }
}

/// The three edge arrays the encoder builds, which method and gvar records point into.
#[derive(Default)]
struct EdgeArrays {
    callees: Vec<u32>,
    external: Vec<u32>,
    data: Vec<u32>,
}

impl EdgeArrays {
    /// Appends one record's edges; returns the record's (start, length) words for each array.
    fn add(&mut self, callees: &[u32], external: &[u32], data: &[u32]) -> [u32; 6] {
        let range = |array: &mut Vec<u32>, edges: &[u32]| {
            let start = array.len() as u32;
            array.extend(edges);
            [start, edges.len() as u32]
        };
        let [c0, c1] = range(&mut self.callees, callees);
        let [x0, x1] = range(&mut self.external, external);
        let [d0, d1] = range(&mut self.data, data);
        [c0, c1, x0, x1, d0, d1]
    }
}

/// The string table the encoder builds: each distinct string once (signatures repeat).
#[derive(Default)]
struct StringTable<'a> {
    bytes: Vec<u8>,
    seen: std::collections::HashMap<&'a str, (u32, u32)>,
}

impl<'a> StringTable<'a> {
    /// (offset, length) of `s` in the table.
    fn add(&mut self, s: &'a str) -> (u32, u32) {
        *self.seen.entry(s).or_insert_with(|| {
            let at = self.bytes.len() as u32;
            self.bytes.extend_from_slice(s.as_bytes());
            (at, s.len() as u32)
        })
    }
}

/// Words in the metadata's head: triple (offset, length), feature list version, then the
/// counts of targets, methods, externals, gvars, exports, symbol exports, feature words,
/// callee edges, external edges, data edges and string bytes.
const HEAD_WORDS: usize = 14;
/// Words per record of each kind (see [`Meta::encode`]).
const TARGET_WORDS: usize = 8;
const METHOD_WORDS: usize = 12;
const EXTERNAL_WORDS: usize = 6;
const GVAR_WORDS: usize = 8;
const EXPORT_WORDS: usize = 3;
const SYMBOL_EXPORT_WORDS: usize = 4;

/// Encoded metadata read in place: nothing is copied or allocated per method, edge or name
/// (only the few targets are decoded). [`MetaView::parse`] checks every rule once, so the
/// accessors below cannot fail.
#[derive(Clone, Debug)]
pub struct MetaView<'a> {
    /// The LLVM target triple the code was compiled for.
    pub triple: &'a str,
    /// Version of the feature-name list the target bitmasks index (see `host/features.rs`).
    pub feature_list_version: u32,
    /// CPU targets; the first is the base every function exists for.
    pub targets: Vec<TargetRecord>,
    sections: Sections<'a>,
}

/// The sections of encoded metadata after its head, split by the counts in the head.
#[derive(Clone, Copy, Debug)]
struct Sections<'a> {
    targets: &'a [u8],
    methods: &'a [u8],
    externals: &'a [u8],
    gvars: &'a [u8],
    exports: &'a [u8],
    symbol_exports: &'a [u8],
    features: &'a [u8],
    callees: &'a [u8],
    external_edges: &'a [u8],
    data_edges: &'a [u8],
    strings: &'a str,
}

/// The first `N` little-endian words of `record`; words past its end read as 0 (records come
/// from `chunks_exact`, so only damaged bytes read short, and they must not panic).
fn words<const N: usize>(record: &[u8]) -> [u32; N] {
    std::array::from_fn(|k| {
        let word = record.get(4 * k..4 * k + 4).and_then(|w| w.try_into().ok());
        word.map_or(0, u32::from_le_bytes)
    })
}

/// Record `i` of a section of `N`-word records; all zero past the section's end (no caller
/// asks for one there, unless bytes that were not checked say so).
fn record<const N: usize>(section: &[u8], i: usize) -> [u32; N] {
    let start = (4 * N).saturating_mul(i);
    words(
        section
            .get(start..start.saturating_add(4 * N))
            .unwrap_or_default(),
    )
}

fn hash_of(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

impl<'a> Sections<'a> {
    /// Splits `bytes` into its sections: every size within the bytes, nothing after the
    /// string table, the string table UTF-8. Returns the head's words too.
    fn read(bytes: &'a [u8]) -> Result<([u32; HEAD_WORDS], Sections<'a>), FormatError> {
        let truncated = || FormatError::Truncated("metadata");
        let head: [u32; HEAD_WORDS] = words(bytes.get(..4 * HEAD_WORDS).ok_or_else(truncated)?);
        let count = |k: usize| head[k] as usize;
        // Each section's size from its count, checked: counts come from the file.
        let sizes = [
            count(3).checked_mul(4 * TARGET_WORDS),
            count(4).checked_mul(4 * METHOD_WORDS),
            count(5).checked_mul(4 * EXTERNAL_WORDS),
            count(6).checked_mul(4 * GVAR_WORDS),
            count(7).checked_mul(4 * EXPORT_WORDS),
            count(8).checked_mul(4 * SYMBOL_EXPORT_WORDS),
            count(9).checked_mul(8),
            count(10).checked_mul(4),
            count(11).checked_mul(4),
            count(12).checked_mul(4),
            Some(count(13)),
        ];
        let mut rest = &bytes[4 * HEAD_WORDS..];
        let mut split = [&bytes[..0]; 11];
        for (section, size) in split.iter_mut().zip(sizes) {
            let size = size.ok_or_else(truncated)?;
            if size > rest.len() {
                return Err(truncated());
            }
            (*section, rest) = rest.split_at(size);
        }
        if !rest.is_empty() {
            return Err(invalid("metadata has bytes after its string table"));
        }
        let [targets, methods, externals, gvars, exports, symbol_exports, features, callees, external_edges, data_edges, strings] =
            split;
        let strings = std::str::from_utf8(strings)
            .map_err(|_| invalid("metadata string table is not UTF-8"))?;
        let sections = Sections {
            targets,
            methods,
            externals,
            gvars,
            exports,
            symbol_exports,
            features,
            callees,
            external_edges,
            data_edges,
            strings,
        };
        Ok((head, sections))
    }

    /// Whether a record's (start, length) pairs for the callee, external and data edges each
    /// lie inside their array.
    fn ranges_fit(&self, [c0, c1, x0, x1, d0, d1]: [u32; 6]) -> bool {
        let fits = |start: u32, len: u32, array: &[u8]| {
            (start as usize)
                .checked_add(len as usize)
                .is_some_and(|end| end <= array.len() / 4)
        };
        fits(c0, c1, self.callees)
            && fits(x0, x1, self.external_edges)
            && fits(d0, d1, self.data_edges)
    }

    /// Edges `len` from `start` of `array` (checked by `parse`; out of range, from bytes not
    /// checked, they read as empty).
    fn edges(array: &'a [u8], start: u32, len: u32) -> Words<'a> {
        let start = 4 * start as usize;
        let end = start.saturating_add(4 * len as usize);
        Words(array.get(start..end).unwrap_or(&array[..0]))
    }

    /// A string of the table, if (offset, length) lies inside it on character boundaries.
    fn text(&self, off: u32, len: u32) -> Option<&'a str> {
        let off = off as usize;
        self.strings.get(off..off.checked_add(len as usize)?)
    }
}

impl<'a> MetaView<'a> {
    /// The architecture the image's triple names (`None` for one aotlink does not build for).
    pub fn arch(&self) -> Option<Arch> {
        Arch::from_triple(self.triple)
    }

    /// Reads encoded metadata in place, checking every length, string and index
    /// (`docs/FORMAT.md`, "Metadata"). Linear in the bytes; allocates only the targets.
    pub fn parse(bytes: &'a [u8]) -> Result<MetaView<'a>, FormatError> {
        let (head, s) = Sections::read(bytes)?;
        let text = |off, len| {
            s.text(off, len)
                .ok_or_else(|| invalid("a metadata string lies outside the string table"))
        };
        let nfeat = s.features.len() / 8;
        let targets = (s.targets.chunks_exact(4 * TARGET_WORDS))
            .map(|r| {
                let [n0, n1, flags, base, f0, f1, nclones, vector_bits] = words(r);
                let end = (f0 as usize).checked_add(f1 as usize);
                let Some(end) = end.filter(|&end| end <= nfeat) else {
                    return Err(invalid("a target's features lie outside the list"));
                };
                let features = s.features[8 * f0 as usize..8 * end]
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                Ok(TargetRecord {
                    name: text(n0, n1)?.to_string(),
                    flags,
                    base,
                    features,
                    nclones,
                    vector_bits,
                })
            })
            .collect::<Result<Vec<_>, FormatError>>()?;
        let view = MetaView {
            triple: text(head[0], head[1])?,
            feature_list_version: head[2],
            targets,
            sections: s,
        };
        view.check_targets()?;
        view.check_methods()?;
        view.check_externals()?;
        view.check_exports()?;
        view.check_symbol_exports()?;
        Ok(view)
    }

    /// The same metadata read from another mapping of the same bytes (the loader maps the
    /// verified file's metadata again to keep it), without checking the records again. Were
    /// the bytes different, an accessor would read wrong values, but never panic or read
    /// outside `bytes`.
    pub fn rebased<'b>(&self, bytes: &'b [u8]) -> Result<MetaView<'b>, FormatError> {
        MetaView::rebuilt(bytes, self.targets.clone())
    }

    /// [`MetaView::rebased`] for a caller that kept only the targets of the view it parsed
    /// (a remembered file, `verdict/in_process.rs`), on the same bytes.
    pub fn rebuilt(
        bytes: &'a [u8],
        targets: Vec<TargetRecord>,
    ) -> Result<MetaView<'a>, FormatError> {
        let (head, sections) = Sections::read(bytes)?;
        Ok(MetaView {
            triple: sections.text(head[0], head[1]).unwrap_or_default(),
            feature_list_version: head[2],
            targets,
            sections,
        })
    }

    fn check_targets(&self) -> Result<(), FormatError> {
        let bad = |what: String| Err(FormatError::Invalid(what));
        if self.targets.is_empty() {
            return bad("image lists no CPU target".into());
        }
        // Clone sets are 64-bit sets over the targets (the writer's limit too).
        if self.targets.len() > MAX_TARGETS {
            return bad(format!(
                "image lists {} CPU targets, at most {MAX_TARGETS} are possible",
                self.targets.len()
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            // `base` strictly earlier: version chains go down and end (no cycle, no self).
            if t.flags & TARGET_BASE != 0 && t.base as usize >= i {
                return bad(format!(
                    "target {i} has base {} that is not an earlier target",
                    t.base
                ));
            }
        }
        if self.targets[0].nclones != 0 {
            return bad("the base target claims clones".into());
        }
        Ok(())
    }

    /// One pass over the method records (strings, edge ranges, names strictly increasing:
    /// `fvar_index` is a binary search) and one over the gvar records (strings, edge ranges),
    /// then one over each edge array: every callee below the number of methods, every
    /// external edge below the number of externals, every data edge below the number of gvars.
    fn check_methods(&self) -> Result<(), FormatError> {
        let s = &self.sections;
        let mut previous: Option<&str> = None;
        for r in s.methods.chunks_exact(4 * METHOD_WORDS) {
            let [n0, n1, s0, s1, _, _, c0, c1, x0, x1, d0, d1] = words(r);
            let (Some(name), Some(_)) = (s.text(n0, n1), s.text(s0, s1)) else {
                return Err(invalid("a metadata string lies outside the string table"));
            };
            if !s.ranges_fit([c0, c1, x0, x1, d0, d1]) {
                return Err(invalid("a method's edges lie outside the edge lists"));
            }
            if let Some(before) = previous.filter(|&before| before >= name) {
                return Err(FormatError::Invalid(format!(
                    "methods are not sorted by name or not unique (`{before}` before `{name}`)"
                )));
            }
            previous = Some(name);
        }
        for r in s.gvars.chunks_exact(4 * GVAR_WORDS) {
            let [n0, n1, c0, c1, x0, x1, d0, d1] = words(r);
            if s.text(n0, n1).is_none() {
                return Err(invalid("a metadata string lies outside the string table"));
            }
            if !s.ranges_fit([c0, c1, x0, x1, d0, d1]) {
                return Err(invalid("a gvar's edges lie outside the edge lists"));
            }
        }
        let arrays = [
            (s.callees, self.method_count(), "a callee index"),
            (s.external_edges, self.external_count(), "an external edge"),
            (s.data_edges, self.gvar_count(), "a data edge"),
        ];
        for (k, (array, n, what)) in arrays.into_iter().enumerate() {
            let Some(at) = Words(array).iter().position(|e| e as usize >= n) else {
                continue;
            };
            // Name who holds it (only now: a good image pays nothing for the message).
            let pick = |e: &[Words<'a>; 3]| e[k].covers(at, array);
            let owner = (self
                .methods()
                .find(|m| pick(&[m.callees, m.external, m.data])))
            .map(|m| format!("method {}", m.name))
            .or_else(|| {
                (0..self.gvar_count())
                    .map(|i| self.gvar(i))
                    .find(|g| pick(&[g.callees, g.external, g.data]))
                    .map(|g| format!("gvar {}", g.name))
            });
            return Err(FormatError::Invalid(match owner {
                Some(owner) => format!("{owner} has {what} out of range"),
                None => format!("{what} is out of range"),
            }));
        }
        Ok(())
    }

    /// Strings in range, and externals sorted by name (the loader merges them with the
    /// method table's sorted exports).
    fn check_externals(&self) -> Result<(), FormatError> {
        let s = &self.sections;
        let strings_ok = (s.externals.chunks_exact(4 * EXTERNAL_WORDS)).all(|r| {
            let [n0, n1, s0, s1, _, _] = words(r);
            s.text(n0, n1).is_some() && s.text(s0, s1).is_some()
        });
        if !strings_ok {
            return Err(invalid("a metadata string lies outside the string table"));
        }
        for x in 1..self.external_count() {
            let (a, b) = (self.external_name(x - 1), self.external_name(x));
            if a >= b {
                return Err(FormatError::Invalid(format!(
                    "externals are not sorted by name or not unique (`{a}` before `{b}`)"
                )));
            }
        }
        Ok(())
    }

    /// An export is the method of the same name (the writer numbers exports by name), and
    /// exports are sorted and unique: so no method enters the method table twice.
    fn check_exports(&self) -> Result<(), FormatError> {
        let s = &self.sections;
        let nf = self.method_count() as u32;
        let mut previous: Option<&str> = None;
        for r in s.exports.chunks_exact(4 * EXPORT_WORDS) {
            let [n0, n1, fvar] = words(r);
            let name = (s.text(n0, n1))
                .ok_or_else(|| invalid("a metadata string lies outside the string table"))?;
            if fvar >= nf {
                return Err(FormatError::Invalid(format!(
                    "export {name} names fvar {fvar} of {nf}"
                )));
            }
            let method = self.method_name(fvar as usize);
            if method != name {
                return Err(FormatError::Invalid(format!(
                    "export {name} names fvar {fvar}, which is `{method}`"
                )));
            }
            if let Some(before) = previous.filter(|&before| before >= name) {
                return Err(FormatError::Invalid(format!(
                    "exports are not sorted by name or not unique (`{before}` before `{name}`)"
                )));
            }
            previous = Some(name);
        }
        Ok(())
    }

    /// Symbol exports: strings in range, a known kind, a function's fvar below the number of
    /// methods, names strictly increasing and none an export's name (so a name finds one
    /// thing, and no method enters the method table under a second name).
    fn check_symbol_exports(&self) -> Result<(), FormatError> {
        let s = &self.sections;
        let nf = self.method_count() as u32;
        let mut previous: Option<&str> = None;
        let mut exports = self.exports().map(|(name, _)| name).peekable();
        for r in s.symbol_exports.chunks_exact(4 * SYMBOL_EXPORT_WORDS) {
            let [n0, n1, kind, index] = words(r);
            let name = (s.text(n0, n1))
                .ok_or_else(|| invalid("a metadata string lies outside the string table"))?;
            match SymbolKind::from_words(kind, index) {
                None => {
                    return Err(FormatError::Invalid(format!(
                        "symbol export {name} has kind {kind} and index {index}"
                    )))
                }
                Some(SymbolKind::Function { fvar }) if fvar >= nf => {
                    return Err(FormatError::Invalid(format!(
                        "symbol export {name} names fvar {fvar} of {nf}"
                    )))
                }
                Some(_) => {}
            }
            if let Some(before) = previous.filter(|&before| before >= name) {
                return Err(FormatError::Invalid(format!(
                    "symbol exports are not sorted by name or not unique (`{before}` before `{name}`)"
                )));
            }
            previous = Some(name);
            // Both lists are sorted: one merge finds a name in both.
            while exports.next_if(|&export| export < name).is_some() {}
            if exports.peek() == Some(&name) {
                return Err(FormatError::Invalid(format!(
                    "{name} is both an export and a symbol export"
                )));
            }
        }
        Ok(())
    }

    /// A string the records point at, checked by [`MetaView::parse`].
    fn text(&self, off: u32, len: u32) -> &'a str {
        self.sections.text(off, len).unwrap_or_default()
    }

    pub fn method_count(&self) -> usize {
        self.sections.methods.len() / (4 * METHOD_WORDS)
    }

    /// Method `i` (by fvar index, below [`MetaView::method_count`]).
    pub fn method(&self, i: usize) -> MethodView<'a> {
        let [n0, n1, s0, s1, h0, h1, c0, c1, x0, x1, d0, d1] = record(self.sections.methods, i);
        let s = &self.sections;
        MethodView {
            name: self.text(n0, n1),
            signature: self.text(s0, s1),
            hash: hash_of(h0, h1),
            callees: Sections::edges(s.callees, c0, c1),
            external: Sections::edges(s.external_edges, x0, x1),
            data: Sections::edges(s.data_edges, d0, d1),
        }
    }

    /// Method `i`'s name alone (what the binary search reads).
    pub fn method_name(&self, i: usize) -> &'a str {
        self.first_string::<METHOD_WORDS>(self.sections.methods, i)
    }

    /// The string record `i` of a section of `N`-word records starts with (its name).
    fn first_string<const N: usize>(&self, section: &[u8], i: usize) -> &'a str {
        let [off, len] = words::<2>(section.get((4 * N).saturating_mul(i)..).unwrap_or_default());
        self.text(off, len)
    }

    pub fn methods(&self) -> impl Iterator<Item = MethodView<'a>> + '_ {
        (0..self.method_count()).map(|i| self.method(i))
    }

    /// fvar index of the method named `name` (names are sorted: a binary search in place).
    pub fn fvar_index(&self, name: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.method_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.method_name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    pub fn external_count(&self) -> usize {
        self.sections.externals.len() / (4 * EXTERNAL_WORDS)
    }

    pub fn external_name(&self, i: usize) -> &'a str {
        self.first_string::<EXTERNAL_WORDS>(self.sections.externals, i)
    }

    pub fn external(&self, i: usize) -> ExternalView<'a> {
        let [n0, n1, s0, s1, h0, h1] = record(self.sections.externals, i);
        ExternalView {
            name: self.text(n0, n1),
            signature: self.text(s0, s1),
            hash: hash_of(h0, h1),
        }
    }

    pub fn gvar_count(&self) -> usize {
        self.sections.gvars.len() / (4 * GVAR_WORDS)
    }

    pub fn gvar_name(&self, i: usize) -> &'a str {
        self.first_string::<GVAR_WORDS>(self.sections.gvars, i)
    }

    /// gvar `i` (below [`MetaView::gvar_count`]) with the addresses it holds.
    pub fn gvar(&self, i: usize) -> GvarView<'a> {
        let [n0, n1, c0, c1, x0, x1, d0, d1] = record(self.sections.gvars, i);
        let s = &self.sections;
        GvarView {
            name: self.text(n0, n1),
            callees: Sections::edges(s.callees, c0, c1),
            external: Sections::edges(s.external_edges, x0, x1),
            data: Sections::edges(s.data_edges, d0, d1),
        }
    }

    /// The exported methods' fvar indices, in the exports' (name) order.
    pub fn export_fvars(&self) -> impl Iterator<Item = u32> + '_ {
        (self.sections.exports.chunks_exact(4 * EXPORT_WORDS)).map(|r| words::<EXPORT_WORDS>(r)[2])
    }

    /// The exports as (name, fvar index), sorted by name.
    pub fn exports(&self) -> impl Iterator<Item = (&'a str, u32)> + '_ {
        (self.sections.exports.chunks_exact(4 * EXPORT_WORDS)).map(|r| {
            let [n0, n1, fvar] = words(r);
            (self.text(n0, n1), fvar)
        })
    }

    /// The exported symbols that are not methods, as (name, kind), sorted by name.
    pub fn symbol_exports(&self) -> impl Iterator<Item = (&'a str, SymbolKind)> + '_ {
        (self
            .sections
            .symbol_exports
            .chunks_exact(4 * SYMBOL_EXPORT_WORDS))
        .map(|r| {
            let [n0, n1, kind, index] = words(r);
            // Parsing checked the kind; damaged bytes read as data.
            let kind = SymbolKind::from_words(kind, index).unwrap_or(SymbolKind::Data);
            (self.text(n0, n1), kind)
        })
    }

    /// The symbol export named `name` (a binary search in place).
    pub fn symbol_export(&self, name: &str) -> Option<SymbolKind> {
        let section = self.sections.symbol_exports;
        let count = section.len() / (4 * SYMBOL_EXPORT_WORDS);
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self
                .first_string::<SYMBOL_EXPORT_WORDS>(section, mid)
                .cmp(name)
            {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let [_, _, kind, index] = record::<SYMBOL_EXPORT_WORDS>(section, mid);
                    return Some(SymbolKind::from_words(kind, index).unwrap_or(SymbolKind::Data));
                }
            }
        }
        None
    }

    /// Owned copies of everything (for tools; the loader reads in place).
    pub fn to_meta(&self) -> Meta {
        Meta {
            triple: self.triple.to_string(),
            feature_list_version: self.feature_list_version,
            targets: self.targets.clone(),
            methods: (self.methods())
                .map(|m| Method {
                    name: m.name.to_string(),
                    signature: m.signature.to_string(),
                    hash: m.hash,
                    callees: m.callees.to_vec(),
                    external: m.external.to_vec(),
                    data: m.data.to_vec(),
                })
                .collect(),
            externals: (0..self.external_count())
                .map(|i| {
                    let x = self.external(i);
                    ExternalEdge {
                        name: x.name.to_string(),
                        signature: x.signature.to_string(),
                        hash: x.hash,
                    }
                })
                .collect(),
            gvars: (0..self.gvar_count())
                .map(|i| {
                    let g = self.gvar(i);
                    Gvar {
                        name: g.name.to_string(),
                        callees: g.callees.to_vec(),
                        external: g.external.to_vec(),
                        data: g.data.to_vec(),
                    }
                })
                .collect(),
            exports: (self.exports())
                .map(|(name, fvar)| Export {
                    name: name.to_string(),
                    fvar,
                })
                .collect(),
            symbol_exports: (self.symbol_exports())
                .map(|(name, kind)| SymbolExport {
                    name: name.to_string(),
                    kind,
                })
                .collect(),
        }
    }
}

/// A list of `u32` in place (callees, external edges).
#[derive(Clone, Copy, Debug)]
pub struct Words<'a>(&'a [u8]);

impl<'a> Words<'a> {
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        (self.0.chunks_exact(4)).map(|c| u32::from_le_bytes(c.try_into().unwrap()))
    }

    pub fn to_vec(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// Whether word `k` of `array` is one of these (these being a part of `array`).
    fn covers(&self, k: usize, array: &[u8]) -> bool {
        let start = (self.0.as_ptr() as usize).wrapping_sub(array.as_ptr() as usize) / 4;
        (start..start + self.len()).contains(&k)
    }
}

/// One method read in place.
#[derive(Clone, Copy, Debug)]
pub struct MethodView<'a> {
    pub name: &'a str,
    pub signature: &'a str,
    pub hash: u64,
    pub callees: Words<'a>,
    pub external: Words<'a>,
    /// gvar indices of the data holding function addresses it uses (see [`Method::data`]).
    pub data: Words<'a>,
}

/// One gvar read in place, with the addresses it holds (see [`Gvar`]).
#[derive(Clone, Copy, Debug)]
pub struct GvarView<'a> {
    pub name: &'a str,
    pub callees: Words<'a>,
    pub external: Words<'a>,
    pub data: Words<'a>,
}

/// One external method read in place.
#[derive(Clone, Copy, Debug)]
pub struct ExternalView<'a> {
    pub name: &'a str,
    pub signature: &'a str,
    pub hash: u64,
}

fn invalid(what: &str) -> FormatError {
    FormatError::Invalid(what.into())
}

/// `meta` encoded and read in place, its bytes leaked (for tests, which live that long).
#[cfg(test)]
pub(crate) fn leaked_view(meta: &Meta) -> MetaView<'static> {
    MetaView::parse(Box::leak(meta.encode().into_boxed_slice())).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            triple: "x86_64-unknown-linux-gnu".into(),
            feature_list_version: 1,
            targets: vec![TargetRecord {
                name: "generic".into(),
                features: vec![3],
                vector_bits: 128,
                ..Default::default()
            }],
            methods: vec![
                Method {
                    name: "f".into(),
                    signature: "i64 (i64)".into(),
                    hash: 9,
                    callees: vec![1],
                    external: vec![],
                    data: vec![],
                },
                Method {
                    name: "g".into(),
                    signature: "void ()".into(),
                    hash: 10,
                    callees: vec![],
                    external: vec![0],
                    data: vec![0],
                },
            ],
            externals: vec![ExternalEdge {
                name: "h".into(),
                signature: "i32 ()".into(),
                hash: 4,
            }],
            gvars: vec![
                Gvar {
                    name: "table".into(),
                    callees: vec![0, 1],
                    external: vec![0],
                    data: vec![1],
                },
                "x".into(),
            ],
            exports: vec![Export {
                name: "f".into(),
                fvar: 0,
            }],
            symbol_exports: vec![
                SymbolExport {
                    name: "f_alias".into(),
                    kind: SymbolKind::Function { fvar: 0 },
                },
                SymbolExport {
                    name: "picked".into(),
                    kind: SymbolKind::IFunc,
                },
                SymbolExport {
                    name: "x".into(),
                    kind: SymbolKind::Data,
                },
            ],
        }
    }

    #[test]
    fn meta_round_trips() {
        let meta = sample();
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Meta::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    fn refused(meta: &Meta, why: &str) {
        match Meta::decode(&meta.encode()) {
            Err(FormatError::Invalid(text)) => assert!(text.contains(why), "{text}"),
            other => panic!("expected `{why}`, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_exports_are_rejected() {
        // The same export twice: the loader would insert its method into the table twice.
        let mut meta = sample();
        meta.exports.push(meta.exports[0].clone());
        refused(&meta, "exports are not sorted");
        // Two export names for one fvar.
        let mut meta = sample();
        meta.exports.push(Export {
            name: "g".into(),
            fvar: 0,
        });
        refused(&meta, "export g names fvar 0");
        let mut meta = sample();
        meta.exports = vec![
            Export {
                name: "g".into(),
                fvar: 1,
            },
            Export {
                name: "f".into(),
                fvar: 0,
            },
        ];
        refused(&meta, "exports are not sorted");
    }

    #[test]
    fn symbol_exports_are_checked() {
        let mut meta = sample();
        meta.symbol_exports.swap(0, 2);
        refused(&meta, "symbol exports are not sorted");
        let mut meta = sample();
        meta.symbol_exports[0].kind = SymbolKind::Function { fvar: 2 };
        refused(&meta, "symbol export f_alias names fvar 2 of 2");
        // A name that is also a method's export: two records for one name.
        let mut meta = sample();
        meta.symbol_exports[0].name = "f".into();
        refused(&meta, "f is both an export and a symbol export");
        // An unknown kind, or data that claims an index.
        let mut bytes = sample().encode();
        let symbols_at = 4 * HEAD_WORDS
            + 4 * TARGET_WORDS
            + 2 * 4 * METHOD_WORDS
            + 4 * EXTERNAL_WORDS
            + 2 * 4 * GVAR_WORDS
            + 4 * EXPORT_WORDS;
        set_word(&mut bytes, symbols_at + 8, 7);
        let err = MetaView::parse(&bytes).unwrap_err().to_string();
        assert!(err.contains("symbol export f_alias has kind 7"), "{err}");
        let mut bytes = sample().encode();
        set_word(&mut bytes, symbols_at + 2 * 16 + 12, 0);
        let err = MetaView::parse(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("symbol export x has kind 2 and index 0"),
            "{err}"
        );
    }

    #[test]
    fn methods_must_be_strictly_sorted_by_name() {
        let mut meta = sample();
        meta.methods[1].name = "f".into();
        refused(&meta, "methods are not sorted");
        let mut meta = sample();
        meta.methods.swap(0, 1);
        meta.exports.clear();
        refused(&meta, "methods are not sorted");
    }

    #[test]
    fn targets_are_bounded_and_bases_go_down() {
        let mut meta = sample();
        meta.targets = vec![meta.targets[0].clone(); MAX_TARGETS + 1];
        refused(&meta, "at most 64");
        let mut meta = sample();
        let mut t = meta.targets[0].clone();
        t.flags = TARGET_BASE;
        t.base = 1;
        meta.targets.push(t);
        refused(&meta, "not an earlier target");
        let mut meta = sample();
        meta.targets[0].nclones = 1;
        refused(&meta, "base target claims clones");
    }

    #[test]
    fn out_of_range_indices_are_rejected() {
        let mut meta = sample();
        meta.exports[0].fvar = 7;
        assert!(Meta::decode(&meta.encode()).is_err());
        let mut meta = sample();
        meta.methods[1].external = vec![1];
        refused(&meta, "method g has an external edge out of range");
        let mut meta = sample();
        meta.methods[0].callees = vec![0, 2];
        refused(&meta, "method f has a callee index out of range");
        let mut meta = sample();
        meta.methods[1].data = vec![2];
        refused(&meta, "method g has a data edge out of range");
        let mut meta = sample();
        meta.gvars[0].callees = vec![2];
        refused(&meta, "gvar table has a callee index out of range");
        let mut meta = sample();
        meta.gvars[0].external = vec![1];
        refused(&meta, "gvar table has an external edge out of range");
        let mut meta = sample();
        meta.gvars[1].data = vec![5];
        refused(&meta, "gvar x has a data edge out of range");
    }

    #[test]
    fn externals_must_be_strictly_sorted_by_name() {
        let mut meta = sample();
        meta.externals.push(meta.externals[0].clone());
        refused(&meta, "externals are not sorted");
    }

    /// Overwrites the little-endian word at byte `at`.
    fn set_word(bytes: &mut [u8], at: usize, value: u32) {
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn damaged_layouts_are_errors_not_panics() {
        let good = sample().encode();
        let methods_at = 4 * HEAD_WORDS + 4 * TARGET_WORDS;
        let gvars_at = methods_at + 2 * 4 * METHOD_WORDS + 4 * EXTERNAL_WORDS;
        type Damage = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: [(&str, Damage); 7] = [
            ("bytes after its string table", Box::new(|b| b.push(0))),
            ("not UTF-8", Box::new(|b| *b.last_mut().unwrap() = 0xff)),
            // The first method's name runs past the string table.
            (
                "outside the string table",
                Box::new(move |b| set_word(b, methods_at + 4, 1 << 20)),
            ),
            // Its callee range starts past the callee array.
            (
                "edges lie outside",
                Box::new(move |b| set_word(b, methods_at + 24, 9)),
            ),
            // The first gvar's data edges start past the data edge array.
            (
                "a gvar's edges lie outside",
                Box::new(move |b| set_word(b, gvars_at + 24, 9)),
            ),
            // A target's features past the feature words.
            (
                "features lie outside",
                Box::new(|b| set_word(b, 4 * HEAD_WORDS + 16, 5)),
            ),
            // A count larger than the bytes.
            ("truncated", Box::new(|b| set_word(b, 16, u32::MAX))),
        ];
        for (why, damage) in cases {
            let mut bytes = good.clone();
            damage(&mut bytes);
            let err = MetaView::parse(&bytes).unwrap_err().to_string();
            assert!(err.contains(why), "expected `{why}`, got `{err}`");
        }
    }

    #[test]
    fn a_view_reads_what_was_encoded() {
        let meta = sample();
        let bytes = meta.encode();
        let view = MetaView::parse(&bytes).unwrap();
        assert_eq!(view.fvar_index("g"), Some(1));
        assert_eq!(view.fvar_index("a"), None);
        assert_eq!(view.method(1).external.to_vec(), [0]);
        assert_eq!(view.method(1).data.to_vec(), [0]);
        assert_eq!(view.gvar(0).callees.to_vec(), [0, 1]);
        assert_eq!(view.gvar(0).data.to_vec(), [1]);
        assert!(view.gvar(1).callees.is_empty());
        assert_eq!(view.external(0).hash, 4);
        assert_eq!(
            view.symbol_export("f_alias"),
            Some(SymbolKind::Function { fvar: 0 })
        );
        assert_eq!(view.symbol_export("x"), Some(SymbolKind::Data));
        assert_eq!(view.symbol_export("picked"), Some(SymbolKind::IFunc));
        assert_eq!(view.symbol_export("f"), None);
        // The same view over another copy of the bytes (as the loader rebases onto the
        // mapped image).
        let copy = bytes.clone();
        assert_eq!(view.rebased(&copy).unwrap().to_meta(), meta);
        // Signatures repeat in real images: each distinct string is stored once.
        let mut twice = meta.clone();
        twice.methods[1].signature = twice.methods[0].signature.clone();
        let saved = meta.encode().len() - twice.encode().len();
        assert_eq!(saved, "void ()".len());
    }
}
