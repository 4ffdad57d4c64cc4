//! A rebuild that parses only the functions whose text changed, and the shards around them.
//!
//! Parsing and printing the whole module took about 1.3 s of a 2.7 s one-function rebuild at
//! 50,000 functions (docs/PERFORMANCE.md), whatever the shard cache held. So a build with a
//! shard cache leaves, beside its shards, what a later build of the same options needs to
//! stand in for functions it does not parse: per function of the input text, the hash of its
//! body, the globals it refers to, its size and its method record; per shard, its members
//! and the facts its key hashes ([`ShardFacts`]).
//!
//! A later build of one text input whose skeleton (everything outside the bodies,
//! `codegen/function_texts.rs`) hashes the same parses the input with every body replaced by
//! a *stub* that refers to the same globals, except the bodies that changed and those of the
//! shards they were in. Its module then has the same globals, linkages and references, so
//! selection, indexing and the partition come out as they would have; what only the bodies
//! tell (sizes, method records) comes from the record, and each shard that holds a stub is
//! taken from the store under its recorded key. Whatever breaks that argument makes the
//! build parse everything, as it would have without the record:
//! - a changed body refers to other globals than before (what selection keeps may change);
//! - the print's common part differs from the record's (the context's names, numbered types);
//! - more than one CPU target (the clone sets follow the bodies);
//! - a shard holding a stub is not one of the record's, or no store holds it;
//! - any error at all (the full build reports it, in the input's own lines).
//!
//! The image is the one a full build makes, byte for byte: the tests build each edit both
//! ways.

use std::collections::{HashMap, HashSet};

use aotload::meta::Method;
use serde::{Deserialize, Serialize};

use crate::cache::{Key, Lookup, ShardCache};
use crate::codegen::function_texts::FunctionTexts;
use crate::codegen::{InputBytes, Program};
use crate::dump::{FunctionSizes, Reuse, ShardFacts};

/// Bumped when [`Record`] changes.
const FORMAT: u32 = 1;

/// What a build leaves for the next.
#[derive(Serialize, Deserialize)]
pub(super) struct Record {
    format: u32,
    skeleton: u128,
    /// The print's part every shard depends on (`PrintedModule::common`).
    common: u128,
    functions: Vec<FunctionRecord>,
    shards: Vec<ShardFacts>,
}

#[derive(Serialize, Deserialize)]
struct FunctionRecord {
    name: String,
    body: u128,
    /// Printed names (`@f`), intrinsics left out.
    refs: Vec<String>,
    /// For the functions the partition measured (the kept ones).
    size: Option<u64>,
    /// For the image's methods.
    method: Option<MethodRecord>,
}

/// [`Method`] as recorded (the loader's crate has no serde).
#[derive(Clone, Serialize, Deserialize)]
struct MethodRecord {
    signature: String,
    hash: u64,
    callees: Vec<u32>,
    external: Vec<u32>,
    data: Vec<u32>,
}

impl MethodRecord {
    fn of(m: &Method) -> MethodRecord {
        MethodRecord {
            signature: m.signature.clone(),
            hash: m.hash,
            callees: m.callees.clone(),
            external: m.external.clone(),
            data: m.data.clone(),
        }
    }

    fn method(&self, name: &str) -> Method {
        Method {
            name: name.to_string(),
            signature: self.signature.clone(),
            hash: self.hash,
            callees: self.callees.clone(),
            external: self.external.clone(),
            data: self.data.clone(),
        }
    }
}

/// A rebuild under way: the text parsed instead of the input, and what stands in for the
/// functions it stubs.
pub(super) struct Attempt {
    pub input: InputBytes,
    pub reuse: Reuse,
    /// The functions whose bodies changed.
    changed: Vec<String>,
    /// Stubbed functions the build before did not keep (so did not measure): selection must
    /// drop them again.
    unmeasured: HashSet<String>,
    /// The record it was made from, by function name.
    before: HashMap<String, FunctionRecord>,
    common: u128,
    /// Functions parsed whole and stubbed.
    pub parsed: usize,
    pub stubbed: usize,
}

/// The record under `key`, if it describes a text of the same skeleton as `texts`.
fn recall(cache: &ShardCache, key: &Key, texts: &FunctionTexts) -> Result<Record, String> {
    let payload = record_bytes(cache, key)?;
    // Its first fields first: a record of another text is told apart without reading the
    // rest (4.6 MB at 50,000 functions).
    let (format, skeleton): (u32, u128) = postcard::take_from_bytes(&payload)
        .map(|(head, _)| head)
        .map_err(|e| format!("the record does not read: {e}"))?;
    if format != FORMAT {
        return Err("the record is of another format".into());
    }
    if skeleton != texts.skeleton_hash {
        return Err("more than function bodies changed".into());
    }
    postcard::from_bytes(&payload).map_err(|e| format!("the record does not read: {e}"))
}

/// The rebuild of `input` (cut as `texts`) from the record under the first of `keys` that
/// holds one of the same skeleton; why not, when it cannot be.
pub(super) fn attempt(
    cache: &ShardCache,
    keys: &[Key],
    input: &InputBytes,
    texts: &FunctionTexts,
) -> Result<Attempt, String> {
    let mut record = Err("no record of a build before".to_string());
    for key in keys {
        record = recall(cache, key, texts);
        if record.is_ok() {
            break;
        }
    }
    let record = record?;
    let before: HashMap<String, FunctionRecord> = (record.functions.into_iter())
        .map(|mut f| (std::mem::take(&mut f.name), f))
        .collect();
    let mut changed = Vec::new();
    for d in texts.definitions() {
        match before.get(&d.name) {
            Some(f) if f.body == d.body_hash => {}
            Some(_) => changed.push(d.name.clone()),
            None => return Err(format!("`{}` is not in the record", d.name)),
        }
    }
    // The changed functions' shards are parsed whole: they are emitted again.
    let changed_set: HashSet<&str> = changed.iter().map(String::as_str).collect();
    let mut parsed: HashSet<&str> = changed_set.clone();
    for shard in &record.shards {
        if shard
            .members
            .iter()
            .any(|m| changed_set.contains(m.as_str()))
        {
            parsed.extend(shard.members.iter().map(String::as_str));
        }
    }
    let no_refs: &[String] = &[];
    let text = texts.with_stubs(
        |name| parsed.contains(name),
        |name| before.get(name).map_or(no_refs, |f| &f.refs[..]),
    );
    let mut sizes = HashMap::new();
    let mut unmeasured = HashSet::new();
    let mut stubbed = 0;
    for d in texts.definitions() {
        if parsed.contains(d.name.as_str()) {
            continue;
        }
        stubbed += 1;
        match before[&d.name].size {
            Some(size) => {
                sizes.insert(d.name.clone(), size);
            }
            None => {
                unmeasured.insert(d.name.clone());
            }
        }
    }
    let parsed = texts.definitions().count() - stubbed;
    Ok(Attempt {
        input: InputBytes {
            name: input.name.clone(),
            bytes: text.into_bytes().into(),
        },
        reuse: Reuse::new(sizes, record.shards),
        changed,
        unmeasured,
        before,
        common: record.common,
        parsed,
        stubbed,
    })
}

impl Attempt {
    /// Checks `program` (parsed from [`Attempt::input`]) against the record, and gives its
    /// stubbed methods their records.
    pub fn complete(&self, program: &mut Program) -> Result<(), String> {
        // A changed body must refer to what it did (as a set: the order may change); a stub
        // refers to what was recorded for it, and so records it again (in order).
        let changed: HashSet<&str> = self.changed.iter().map(String::as_str).collect();
        let mut changed_seen = 0;
        for (name, refs) in program.references.iter().flatten() {
            let Some(before) = self.before.get(name) else {
                continue;
            };
            if changed.contains(name.as_str()) {
                changed_seen += 1;
                let (now, was): (HashSet<_>, HashSet<_>) =
                    (refs.iter().collect(), before.refs.iter().collect());
                if now != was {
                    return Err(format!("`{name}` refers to other globals than before"));
                }
            } else if self.reuse.is_stub(name) && before.refs != *refs {
                return Err(format!(
                    "the stub of `{name}` refers to other globals than its record"
                ));
            }
        }
        if changed_seen != changed.len() {
            return Err("a changed function is not in the parsed module".into());
        }
        if let Some(kept) = program.fvars.iter().find(|f| self.unmeasured.contains(*f)) {
            return Err(format!("`{kept}` is kept and was not before"));
        }
        let common = program.printed.as_ref().map(|p| p.common);
        if common != Some(self.common) {
            return Err("the print's common part changed".into());
        }
        for method in &mut program.methods {
            if !self.reuse.is_stub(&method.name) {
                continue;
            }
            match self
                .before
                .get(&method.name)
                .and_then(|f| f.method.as_ref())
            {
                Some(record) => *method = record.method(&method.name),
                None => return Err(format!("`{}` has no method record", method.name)),
            }
        }
        Ok(())
    }
}

/// What a record is made of, taken from a build before its program goes: owned, so that the
/// record is made and written on a thread of its own, beside the emission.
pub(super) struct RecordFacts {
    skeleton: u128,
    common: u128,
    /// (name, body hash) per definition of the text, in order.
    definitions: Vec<(String, u128)>,
    /// [`Program::references`]: a stub's are those recorded for it before (its stub refers
    /// to them alone; [`Attempt::complete`] checks).
    references: Vec<(String, Vec<String>)>,
    methods: Vec<Method>,
    sizes: FunctionSizes,
    shards: Vec<ShardFacts>,
}

impl RecordFacts {
    /// Takes the references and the methods out of `program` (dump no longer reads them).
    pub fn take(
        texts: &FunctionTexts,
        common: u128,
        program: &mut Program,
        sizes: FunctionSizes,
        shards: Vec<ShardFacts>,
    ) -> Option<RecordFacts> {
        Some(RecordFacts {
            skeleton: texts.skeleton_hash,
            common,
            definitions: (texts.definitions())
                .map(|d| (d.name.clone(), d.body_hash))
                .collect(),
            references: program.references.take()?,
            methods: std::mem::take(&mut program.methods),
            sizes,
            shards,
        })
    }

    pub fn record(self) -> Option<Record> {
        let mut refs: HashMap<String, Vec<String>> = self.references.into_iter().collect();
        let sizes: HashMap<&str, u64> = (self.sizes.0.iter())
            .map(|(n, s)| (n.as_str(), *s))
            .collect();
        let methods: HashMap<&str, &Method> = (self.methods.iter())
            .map(|m| (m.name.as_str(), m))
            .collect();
        let functions = (self.definitions.into_iter())
            .map(|(name, body)| {
                Some(FunctionRecord {
                    refs: refs.remove(&name)?,
                    size: sizes.get(name.as_str()).copied(),
                    method: methods.get(name.as_str()).map(|m| MethodRecord::of(m)),
                    name,
                    body,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Record {
            format: FORMAT,
            skeleton: self.skeleton,
            common: self.common,
            functions,
            shards: self.shards,
        })
    }
}

/// What a key other than the first one holds: where the record is.
const POINTER: &[u8] = b"aotlink record at ";

/// Keeps `record` under the first of `keys`, and under the others where it is. Failing costs
/// the next build its shortcut, nothing else.
pub(super) fn remember(cache: &ShardCache, keys: &[Key], record: &Record) {
    let Some((first, others)) = keys.split_first() else {
        return;
    };
    let Ok(bytes) = postcard::to_allocvec(record) else {
        return;
    };
    if cache.put_build(first, &bytes).is_ok() {
        for key in others.iter().filter(|k| *k != first) {
            let _ = cache.put_build(key, &[POINTER, &first.0[..]].concat());
        }
    }
}

/// The bytes of the record under `key`, following a pointer once.
fn record_bytes(cache: &ShardCache, key: &Key) -> Result<Vec<u8>, String> {
    let payload = match cache.get_build(key) {
        Lookup::Hit(payload) => payload,
        Lookup::Miss => return Err("no record of a build before".into()),
        Lookup::Damaged(why) => return Err(format!("the record is damaged: {why}")),
    };
    match payload.strip_prefix(POINTER).map(<[u8; 32]>::try_from) {
        Some(Ok(at)) => match cache.get_build(&Key(at)) {
            Lookup::Hit(payload) => Ok(payload),
            Lookup::Miss => Err("no record of a build before".into()),
            Lookup::Damaged(why) => Err(format!("the record is damaged: {why}")),
        },
        Some(Err(_)) => Err("the record does not read: a damaged pointer".into()),
        None => Ok(payload),
    }
}
