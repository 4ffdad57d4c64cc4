//! The image metadata: what the root carries besides offsets (targets, names, manifest).
//! Encoded as length-prefixed little-endian fields; decoding checks every length.

use crate::format::{FormatError, WordReader};

/// Everything an image says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The LLVM target triple the code was compiled for.
    pub triple: String,
    /// Version of the feature-name list the target bitmasks index (see `features.rs`).
    pub feature_list_version: u32,
    /// CPU targets; the first is the base every function exists for.
    pub targets: Vec<TargetRecord>,
    /// One method per fvar index, sorted by name (fvar indices are name order).
    pub methods: Vec<Method>,
    /// Methods of other images this one calls, as they were when it was compiled; the loader
    /// resolves them through the method table (slot `i` of the root for external `i`).
    pub externals: Vec<ExternalEdge>,
    /// gvar names, by gvar index.
    pub gvars: Vec<String>,
    /// C-ABI entry points the image exports as real symbols.
    pub exports: Vec<Export>,
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
/// At most this many targets: clone sets are 64-bit sets over the targets.
pub const MAX_TARGETS: usize = 64;

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

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.str(&self.triple);
        e.u32(self.feature_list_version);
        e.list(&self.targets, |e, t| {
            e.str(&t.name);
            e.u32(t.flags);
            e.u32(t.base);
            e.list(&t.features, |e, w| e.u64(*w));
            e.u32(t.nclones);
            e.u32(t.vector_bits);
        });
        e.list(&self.methods, |e, m| {
            e.str(&m.name);
            e.str(&m.signature);
            e.u64(m.hash);
            e.list(&m.callees, |e, c| e.u32(*c));
            e.list(&m.external, |e, x| e.u32(*x));
        });
        e.list(&self.externals, |e, x| {
            e.str(&x.name);
            e.str(&x.signature);
            e.u64(x.hash);
        });
        e.list(&self.gvars, |e, g| e.str(g));
        e.list(&self.exports, |e, x| {
            e.str(&x.name);
            e.u32(x.fvar);
        });
        e.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Meta, FormatError> {
        let mut d = Decoder(WordReader { bytes, pos: 0 });
        let meta = Meta {
            triple: d.str()?,
            feature_list_version: d.u32()?,
            targets: d.list(|d| {
                Ok(TargetRecord {
                    name: d.str()?,
                    flags: d.u32()?,
                    base: d.u32()?,
                    features: d.list(|d| d.u64())?,
                    nclones: d.u32()?,
                    vector_bits: d.u32()?,
                })
            })?,
            methods: d.list(|d| {
                Ok(Method {
                    name: d.str()?,
                    signature: d.str()?,
                    hash: d.u64()?,
                    callees: d.list(|d| d.u32())?,
                    external: d.list(|d| d.u32())?,
                })
            })?,
            externals: d.list(|d| {
                Ok(ExternalEdge {
                    name: d.str()?,
                    signature: d.str()?,
                    hash: d.u64()?,
                })
            })?,
            gvars: d.list(|d| d.str())?,
            exports: d.list(|d| {
                Ok(Export {
                    name: d.str()?,
                    fvar: d.u32()?,
                })
            })?,
        };
        meta.check()?;
        Ok(meta)
    }

    /// Cross-field rules the decoder cannot see field by field. Everything here is linear in
    /// the number of entries (no sorting, no hashing): what must be unique is also sorted.
    pub(crate) fn check(&self) -> Result<(), FormatError> {
        let nf = self.methods.len() as u32;
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
        // fvar_index is a binary search by name: names strictly increasing (sorted, unique).
        if let Some(w) = self.methods.windows(2).find(|w| w[0].name >= w[1].name) {
            return bad(format!(
                "methods are not sorted by name or not unique (`{}` before `{}`)",
                w[0].name, w[1].name
            ));
        }
        if let Some(m) = self
            .methods
            .iter()
            .find(|m| m.callees.iter().any(|&c| c >= nf))
        {
            return bad(format!("method {} has a callee index out of range", m.name));
        }
        let ne = self.externals.len() as u32;
        if let Some(m) = self
            .methods
            .iter()
            .find(|m| m.external.iter().any(|&x| x >= ne))
        {
            return bad(format!(
                "method {} has an external edge out of range",
                m.name
            ));
        }
        if let Some(x) = self.exports.iter().find(|x| x.fvar >= nf) {
            return bad(format!("export {} names fvar {} of {nf}", x.name, x.fvar));
        }
        // An export is the method of the same name (the writer numbers exports by name), and
        // exports are sorted and unique: so no method enters the method table twice.
        if let Some(x) =
            (self.exports.iter()).find(|x| self.methods[x.fvar as usize].name != x.name)
        {
            return bad(format!(
                "export {} names fvar {}, which is `{}`",
                x.name, x.fvar, self.methods[x.fvar as usize].name
            ));
        }
        if let Some(w) = self.exports.windows(2).find(|w| w[0].name >= w[1].name) {
            return bad(format!(
                "exports are not sorted by name or not unique (`{}` before `{}`)",
                w[0].name, w[1].name
            ));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.u32(items.len() as u32);
        items.iter().for_each(|item| each(self, item));
    }
}

struct Decoder<'a>(WordReader<'a>);

impl Decoder<'_> {
    fn u32(&mut self) -> Result<u32, FormatError> {
        self.0.u32().ok_or(FormatError::Truncated("metadata"))
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        self.0.u64().ok_or(FormatError::Truncated("metadata"))
    }
    fn str(&mut self) -> Result<String, FormatError> {
        let len = self.u32()? as usize;
        let bytes = self.0.take(len).ok_or(FormatError::Truncated("metadata"))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| FormatError::Invalid("metadata string is not UTF-8".into()))
    }
    fn list<T>(
        &mut self,
        mut each: impl FnMut(&mut Self) -> Result<T, FormatError>,
    ) -> Result<Vec<T>, FormatError> {
        let n = self.u32()? as usize;
        // Every element takes at least 4 bytes: a count larger than what is left is corrupt.
        if n > (self.0.bytes.len() - self.0.pos) / 4 + 1 {
            return Err(FormatError::Truncated("metadata"));
        }
        (0..n).map(|_| each(self)).collect()
    }
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
                },
                Method {
                    name: "g".into(),
                    signature: "void ()".into(),
                    hash: 10,
                    callees: vec![],
                    external: vec![0],
                },
            ],
            externals: vec![ExternalEdge {
                name: "h".into(),
                signature: "i32 ()".into(),
                hash: 4,
            }],
            gvars: vec!["x".into()],
            exports: vec![Export {
                name: "f".into(),
                fvar: 0,
            }],
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
        assert!(Meta::decode(&meta.encode()).is_err());
    }
}
