//! `aotlink inspect`: what an image file holds, read without loading it (any format, any host).

use std::sync::OnceLock;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use aotload::meta::{Meta, Method, SymbolKind};

use aotload::features::names_of;
use aotload::{ImageFile, LoadCause};

/// What `inspect` shows. With edges, method names are read from the image's metadata as they
/// are written ([`MethodsReport`]).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub kind: String,
    pub format: String,
    pub arch: String,
    pub triple: String,
    pub checksum: String,
    /// The bytes the checksum covers, of the file's (the rest: ELF sections nothing loads, a
    /// Mach-O code signature, a signature trailer).
    pub checksum_covered_bytes: usize,
    pub file_bytes: usize,
    pub shards: Vec<ShardReport>,
    pub fvars: usize,
    pub gvars: usize,
    pub image_data_bytes: usize,
    pub targets: Vec<TargetReport>,
    pub exports: Vec<String>,
    /// The other exported symbols, each with what it is: `v (data)`, `g (alias of f)`,
    /// `h (ifunc)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbol_exports: Vec<String>,
    /// Symbols the file itself exports (the root plus the exports, if all is well).
    pub exported_symbols: Vec<String>,
    /// Methods of other images this one calls.
    pub externals: Vec<ExternalReport>,
    /// With `--edges`: every method and what it calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<MethodsReport<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ExternalReport {
    pub name: String,
    pub signature: String,
    pub hash: String,
}

/// Every method and the names of what it calls, looked up as they are written: nothing is
/// built per edge. A hostile image can name one long method as the callee of every method
/// (issue 27: a 1 MB name called 250,000 times is 250 GB of text, which the text output built
/// in memory); the output is that large, the memory stays a small multiple of the file's.
/// JSON writes each name escaped once and then copies it: escaping it again per edge would
/// scan those 250 GB.
#[derive(Debug)]
pub struct MethodsReport<'a> {
    meta: &'a Meta,
    escaped: OnceLock<EscapedNames>,
}

/// The JSON string of each method's and each external method's name.
#[derive(Debug)]
struct EscapedNames {
    methods: Vec<Box<RawValue>>,
    externals: Vec<Box<RawValue>>,
    gvars: Vec<Box<RawValue>>,
}

impl EscapedNames {
    fn of(meta: &Meta) -> EscapedNames {
        let escape =
            |name: &str| serde_json::value::to_raw_value(name).expect("a string is valid JSON");
        EscapedNames {
            methods: meta.methods.iter().map(|m| escape(&m.name)).collect(),
            externals: meta.externals.iter().map(|x| escape(&x.name)).collect(),
            gvars: meta.gvars.iter().map(|g| escape(&g.name)).collect(),
        }
    }
}

impl Serialize for MethodsReport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let escaped = self.escaped.get_or_init(|| EscapedNames::of(self.meta));
        serializer.collect_seq(
            self.meta
                .methods
                .iter()
                .map(|method| MethodJson { method, escaped }),
        )
    }
}

/// One method as JSON: name, signature, hash, callees, externals, and the data holding
/// function addresses it uses.
struct MethodJson<'a> {
    method: &'a Method,
    escaped: &'a EscapedNames,
}

impl Serialize for MethodJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let m = self.method;
        let mut out = serializer.serialize_struct("MethodReport", 6)?;
        out.serialize_field("name", &m.name)?;
        out.serialize_field("signature", &m.signature)?;
        out.serialize_field("hash", &format!("{:016x}", m.hash))?;
        out.serialize_field("callees", &EscapedList(&m.callees, &self.escaped.methods))?;
        out.serialize_field(
            "externals",
            &EscapedList(&m.external, &self.escaped.externals),
        )?;
        out.serialize_field("data", &EscapedList(&m.data, &self.escaped.gvars))?;
        out.end()
    }
}

/// The escaped names of these indices (checked by parsing: each names an entry).
struct EscapedList<'a>(&'a [u32], &'a [Box<RawValue>]);

impl Serialize for EscapedList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().filter_map(|&i| self.1.get(i as usize)))
    }
}

#[derive(Debug, Serialize)]
pub struct ShardReport {
    pub fvars: usize,
    pub gvars: usize,
    pub dispatch_slots: usize,
}

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub name: String,
    pub flags: Vec<&'static str>,
    pub base: Option<u32>,
    pub features: Vec<&'static str>,
    pub clones: u32,
}

/// Reads and verifies the image in `bytes`.
pub fn read_verified(bytes: &[u8]) -> Result<ImageFile, LoadCause> {
    let file = ImageFile::parse(bytes)?;
    file.verify_checksum(bytes)?;
    Ok(file)
}

/// The report of a verified image `file` read from `bytes`; `edges` adds every method's
/// callees.
pub fn inspect<'a>(
    file: &'a ImageFile,
    bytes: &[u8],
    edges: bool,
) -> Result<Report<'a>, LoadCause> {
    let meta = &file.meta;
    Ok(Report {
        kind: file.kind.name().to_string(),
        format: format!("{:?}", file.format),
        arch: format!("{:?}", file.arch),
        triple: meta.triple.clone(),
        checksum: format!("{:016x}", file.checksum),
        checksum_covered_bytes: file.checksum_coverage.covered_len(),
        file_bytes: bytes.len(),
        shards: file
            .shards
            .iter()
            .map(|(_, t)| ShardReport {
                fvars: t.fvar_idxs().len(),
                gvars: t.gvar_idxs().len(),
                dispatch_slots: t.slot_fvars().len(),
            })
            .collect(),
        fvars: meta.methods.len(),
        gvars: meta.gvars.len(),
        image_data_bytes: file.image_data_file_range.len(),
        targets: meta
            .targets
            .iter()
            .map(|t| TargetReport {
                name: t.name.clone(),
                flags: target_flags(t.flags),
                base: (t.flags & aotload::meta::TARGET_BASE != 0).then_some(t.base),
                features: aotload::Arch::from_triple(&meta.triple)
                    .map_or_else(Vec::new, |arch| names_of(&t.features, arch)),
                clones: t.nclones,
            })
            .collect(),
        exports: meta.exports.iter().map(|e| e.name.clone()).collect(),
        symbol_exports: (meta.symbol_exports.iter())
            .map(|x| match x.kind {
                SymbolKind::Function { fvar } => {
                    let method = meta.methods.get(fvar as usize);
                    format!("{} (alias of {})", x.name, method.map_or("?", |m| &m.name))
                }
                SymbolKind::Data => format!("{} (data)", x.name),
                SymbolKind::IFunc => format!("{} (ifunc)", x.name),
            })
            .collect(),
        exported_symbols: aotload::exported_symbols(bytes)?,
        externals: meta
            .externals
            .iter()
            .map(|x| ExternalReport {
                name: x.name.clone(),
                signature: x.signature.clone(),
                hash: format!("{:016x}", x.hash),
            })
            .collect(),
        methods: edges.then(|| MethodsReport {
            meta,
            escaped: OnceLock::new(),
        }),
    })
}

fn target_flags(flags: u32) -> Vec<&'static str> {
    use aotload::meta::*;
    [
        (TARGET_CLONE_ALL, "clone_all"),
        (TARGET_OPT_SIZE, "opt_size"),
        (TARGET_MIN_SIZE, "min_size"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "kind:       {}", self.kind)?;
        writeln!(
            f,
            "file:       {} {} ({})",
            self.format, self.arch, self.triple
        )?;
        writeln!(
            f,
            "checksum:   {} (verified, over {} of the file's {} bytes)",
            self.checksum, self.checksum_covered_bytes, self.file_bytes
        )?;
        writeln!(f, "functions:  {}", self.fvars)?;
        writeln!(f, "globals:    {}", self.gvars)?;
        writeln!(f, "image data: {} bytes", self.image_data_bytes)?;
        writeln!(f, "shards:     {}", self.shards.len())?;
        for (i, s) in self.shards.iter().enumerate() {
            writeln!(
                f,
                "  shard {i}: {} functions, {} globals, {} dispatch slots",
                s.fvars, s.gvars, s.dispatch_slots
            )?;
        }
        writeln!(f, "targets:    {}", self.targets.len())?;
        for (i, t) in self.targets.iter().enumerate() {
            let mut line = format!("  {i}: {}", t.name);
            if !t.flags.is_empty() {
                line += &format!(" [{}]", t.flags.join(","));
            }
            if let Some(b) = t.base {
                line += &format!(" base({b})");
            }
            line += &format!(", {} clones", t.clones);
            writeln!(f, "{line}")?;
            if !t.features.is_empty() {
                writeln!(f, "     features: {}", t.features.join(","))?;
            }
        }
        writeln!(f, "exports:    {}", self.exports.len())?;
        for e in &self.exports {
            writeln!(f, "  {e}")?;
        }
        if !self.symbol_exports.is_empty() {
            writeln!(f, "symbols:    {}", self.symbol_exports.len())?;
            for x in &self.symbol_exports {
                writeln!(f, "  {x}")?;
            }
        }
        writeln!(f, "externals:  {}", self.externals.len())?;
        for x in &self.externals {
            writeln!(f, "  {} ({}) {}", x.name, x.signature, x.hash)?;
        }
        if let Some(methods) = &self.methods {
            let meta = methods.meta;
            writeln!(f, "methods:    {}", meta.methods.len())?;
            for m in &meta.methods {
                writeln!(f, "  {} ({}) {:016x}", m.name, m.signature, m.hash)?;
                let labels = ["    calls: ", "    external: ", "    through data: "];
                write_edges(f, meta, labels, [&m.callees, &m.external, &m.data])?;
            }
            let holders = || {
                (meta.gvars.iter()).filter(|g| {
                    !(g.callees.is_empty() && g.external.is_empty() && g.data.is_empty())
                })
            };
            writeln!(f, "data holding function addresses: {}", holders().count())?;
            for g in holders() {
                writeln!(f, "  {}", g.name)?;
                let labels = ["    holds: ", "    external: ", "    data: "];
                write_edges(f, meta, labels, [&g.callees, &g.external, &g.data])?;
            }
        }
        Ok(())
    }
}

/// A method's or gvar's edges by name: its callees (methods), external methods and data
/// (gvars), each list under its label.
fn write_edges(
    f: &mut std::fmt::Formatter<'_>,
    meta: &Meta,
    [calls, external, data]: [&str; 3],
    [callees, externals, gvars]: [&[u32]; 3],
) -> std::fmt::Result {
    let callee = |i: u32| meta.methods.get(i as usize).map(|c| c.name.as_str());
    write_names(f, calls, callees, callee)?;
    let outside = |i: u32| meta.externals.get(i as usize).map(|x| x.name.as_str());
    write_names(f, external, externals, outside)?;
    let gvar = |i: u32| meta.gvars.get(i as usize).map(|g| g.name.as_str());
    write_names(f, data, gvars, gvar)
}

/// `label`, then the names of `indices` separated by commas, one at a time (a line can be
/// far larger than the file), and a newline; nothing for no indices.
fn write_names<'a>(
    f: &mut std::fmt::Formatter<'_>,
    label: &str,
    indices: &[u32],
    name_of: impl Fn(u32) -> Option<&'a str>,
) -> std::fmt::Result {
    if indices.is_empty() {
        return Ok(());
    }
    f.write_str(label)?;
    for (k, name) in indices.iter().filter_map(|&i| name_of(i)).enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        f.write_str(name)?;
    }
    f.write_str("\n")
}
