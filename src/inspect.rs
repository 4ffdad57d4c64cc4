//! `aotlink inspect`: what an image file holds, read without loading it (any format, any host).

use serde::Serialize;

use aotload::features::names_of;
use aotload::{ImageFile, LoadCause};

/// What `inspect` shows. Method names are borrowed from the image's metadata: a report with
/// edges costs a pointer per edge, not a copy of a name per edge (a hostile image can list
/// one long name as the callee of every method).
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
    /// Symbols the file itself exports (the root plus the exports, if all is well).
    pub exported_symbols: Vec<String>,
    /// Methods of other images this one calls.
    pub externals: Vec<ExternalReport>,
    /// With `--edges`: every method and what it calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<MethodReport<'a>>>,
}

#[derive(Debug, Serialize)]
pub struct ExternalReport {
    pub name: String,
    pub signature: String,
    pub hash: String,
}

#[derive(Debug, Serialize)]
pub struct MethodReport<'a> {
    pub name: &'a str,
    pub signature: &'a str,
    pub hash: String,
    /// Functions of this image it calls or references.
    pub callees: Vec<&'a str>,
    /// Methods of other images it calls.
    pub externals: Vec<&'a str>,
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
                fvars: t.fvar_idxs.len(),
                gvars: t.gvar_idxs.len(),
                dispatch_slots: t.slot_fvars.len(),
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
                features: names_of(&t.features, &meta.triple),
                clones: t.nclones,
            })
            .collect(),
        exports: meta.exports.iter().map(|e| e.name.clone()).collect(),
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
        methods: edges.then(|| {
            meta.methods
                .iter()
                .map(|m| MethodReport {
                    name: &m.name,
                    signature: &m.signature,
                    hash: format!("{:016x}", m.hash),
                    callees: m
                        .callees
                        .iter()
                        .map(|&c| meta.methods[c as usize].name.as_str())
                        .collect(),
                    externals: m
                        .external
                        .iter()
                        .map(|&x| meta.externals[x as usize].name.as_str())
                        .collect(),
                })
                .collect()
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
        writeln!(f, "externals:  {}", self.externals.len())?;
        for x in &self.externals {
            writeln!(f, "  {} ({}) {}", x.name, x.signature, x.hash)?;
        }
        if let Some(methods) = &self.methods {
            writeln!(f, "methods:    {}", methods.len())?;
            for m in methods {
                writeln!(f, "  {} ({}) {}", m.name, m.signature, m.hash)?;
                if !m.callees.is_empty() {
                    writeln!(f, "    calls: {}", m.callees.join(", "))?;
                }
                if !m.externals.is_empty() {
                    writeln!(f, "    external: {}", m.externals.join(", "))?;
                }
            }
        }
        Ok(())
    }
}
