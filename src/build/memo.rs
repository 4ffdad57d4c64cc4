//! The dump memo: a rebuild whose inputs did not change skips codegen and dump altogether.
//!
//! After a dump, the cache records a manifest under a key of *every input of the build that
//! can change the archives* (the IR's bytes, trace, exports, method tables, image data, CPU
//! targets, kind, shard count, emit kinds, this aotlink build, LLVM's version): the shards'
//! keys in order and the header's objects. A later build with the same key packs the
//! archives from those shard entries without parsing anything. When an entry is missing or
//! damaged, the build runs as it would have without the memo (and that run reports the
//! damage), so the memo can make a build faster and never different.
//!
//! [`memo_key`] destructures [`Build`]: a field added to it does not compile until it is
//! either hashed or named here as one that cannot change the archives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::builder::{Build, Emission, ImageSpec, Selection};
use crate::cache::{payload, Key, KeyHasher, Lookup, ShardCache};
use crate::codegen::InputBytes;
use crate::dump::{Dumped, ShardRecord, ShardSource, TablesObject};

/// A build's memo key, and the digest of the files it read by path (trace, method tables).
pub(super) struct MemoKey {
    pub key: Key,
    files: [u8; 32],
}

impl MemoKey {
    /// Whether the trace and method tables still hold what the key hashed: codegen read them
    /// again by path, and a file edited in between must not be recorded under the old key.
    pub fn files_unchanged(&self, build: &Build) -> bool {
        files_digest(&build.selection.trace, &build.selection.method_tables) == Some(self.files)
    }
}

/// The key of a build's dump, or `None` when an input file cannot be read (the build itself
/// then reports it). `inputs` are the IR inputs, already in memory.
pub(super) fn memo_key(build: &Build, inputs: &[InputBytes]) -> Option<MemoKey> {
    key_of(build, inputs, Hashed::Everything)
}

/// The keys of what a build leaves for a rebuild of changed inputs (`rebuild.rs`): every
/// input of the build but the IR's bytes and the image data, which the header alone holds;
/// then the same without the inputs' names, for IR written to a new file each time (a
/// runtime's temp file), where the record of the last build with these options is the one to
/// try (the record itself tells whether it fits).
pub(super) fn rebuild_keys(build: &Build, inputs: &[InputBytes]) -> Option<[MemoKey; 2]> {
    Some([
        key_of(build, inputs, Hashed::AllButTheIrAndData)?,
        key_of(build, inputs, Hashed::OptionsOnly)?,
    ])
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hashed {
    Everything,
    AllButTheIrAndData,
    OptionsOnly,
}

fn key_of(build: &Build, inputs: &[InputBytes], hashed: Hashed) -> Option<MemoKey> {
    let Build {
        inputs: _, // read into `inputs` by the caller: hashed below
        selection:
            Selection {
                trace,
                exports,
                export_all,
                method_tables,
            },
        image:
            ImageSpec {
                kind,
                target,
                cpu_targets,
                data: image_data,
            },
        emission:
            Emission {
                shards,
                emit,
                // Output does not depend on the thread count (tested byte for byte).
                threads: _,
            },
        // Link, seal and sign come after the archives; they run on every build.
        link: _,
        // Where entries are and how many: not what they hold; a remote cache holds shards
        // alike to the local ones.
        cache: _,
        // Whether the inputs are parsed in a child first: the same archives either way.
        checker: _,
        progress: _,
    } = build;
    let mut h = KeyHasher::new(match hashed {
        Hashed::Everything => "aotlink dump memo",
        Hashed::AllButTheIrAndData => "aotlink rebuild memo",
        Hashed::OptionsOnly => "aotlink rebuild memo of any input",
    });
    h.count(inputs.len());
    for InputBytes { name, bytes } in inputs {
        // The name too: a text module without `source_filename` is named after its file.
        if hashed != Hashed::OptionsOnly {
            h.field(name.as_os_str().as_encoded_bytes());
        }
        if hashed == Hashed::Everything {
            h.field(bytes);
        }
    }
    let files = files_digest(trace, method_tables)?;
    h.field(&files);
    if hashed == Hashed::Everything {
        h.field(image_data.as_ref());
    }
    let options = serde_json::to_vec(&(
        exports,
        export_all,
        cpu_targets,
        target.as_ref().map(|t| t.to_string()),
        *kind as u32,
        shards,
        emit,
    ))
    .expect("plain data serializes");
    h.field(&options);
    Some(MemoKey {
        key: h.finish(),
        files,
    })
}

/// BLAKE3 over the trace's and the method tables' content; `None` if one cannot be read.
fn files_digest(trace: &Option<PathBuf>, method_tables: &[PathBuf]) -> Option<[u8; 32]> {
    let mut h = KeyHasher::plain();
    match trace {
        Some(path) => h.field(&std::fs::read(path).ok()?),
        None => h.count(0),
    };
    h.count(method_tables.len());
    for path in method_tables {
        h.field(&std::fs::read(path).ok()?);
    }
    Some(h.finish().0)
}

/// What the memo stores of a dump: the shards' keys (their bytes stay in their own entries)
/// and the header, which is not a shard and has no entry of its own.
#[derive(Serialize, Deserialize)]
struct Manifest {
    /// (shard index, functions it defines, its key in hex), in shard order.
    shards: Vec<(u32, usize, String)>,
    /// The length of the header root's payload, which follows the manifest; the shard tables'
    /// payload follows it, when the tables are not in the shards.
    root_len: usize,
    tables: bool,
}

/// Records `dumped` under `key`. Failing costs the next build its shortcut, nothing else.
pub(super) fn remember(cache: &ShardCache, key: &Key, dumped: &Dumped) {
    let root = payload::encode(&dumped.header);
    let manifest = Manifest {
        shards: (dumped.records.iter())
            .map(|r| (r.index, r.functions, r.key.hex()))
            .collect(),
        root_len: root.len(),
        tables: dumped.tables.is_some(),
    };
    let json = serde_json::to_vec(&manifest).expect("plain data serializes");
    let mut payload = (json.len() as u64).to_le_bytes().to_vec();
    payload.extend_from_slice(&json);
    payload.extend_from_slice(&root);
    if let Some(tables) = &dumped.tables {
        payload.extend_from_slice(&payload::encode(&tables.emitted));
    }
    let _ = cache.put_build(key, &payload);
}

/// The dump recorded under `key`, its shards read from their entries; `None` when there is
/// no record or any part of it is missing or unsound.
pub(super) fn recall(cache: &ShardCache, key: &Key) -> Option<Dumped> {
    let Lookup::Hit(payload) = cache.get_build(key) else {
        return None;
    };
    let len = usize::try_from(u64::from_le_bytes(payload.get(..8)?.try_into().ok()?)).ok()?;
    let json = payload.get(8..8usize.checked_add(len)?)?;
    let manifest: Manifest = serde_json::from_slice(json).ok()?;
    let rest = &payload[8 + len..];
    let header = payload::decode(rest.get(..manifest.root_len)?)?;
    let tables = match manifest.tables {
        true => Some(TablesObject {
            emitted: payload::decode(&rest[manifest.root_len..])?,
            source: ShardSource::Cached,
        }),
        false if rest.len() == manifest.root_len => None,
        false => return None,
    };
    let mut shards = Vec::new();
    let mut records = Vec::new();
    for (index, functions, hex) in manifest.shards {
        let key = Key(hex::decode(&hex).ok()?.try_into().ok()?);
        // Left in place when damaged: the full build that follows finds and reports it.
        shards.push(payload::decode(&cache.get_intact(&key)?)?);
        records.push(ShardRecord {
            index,
            thread: 0,
            time: std::time::Duration::ZERO,
            source: ShardSource::Cached,
            key,
            functions,
        });
    }
    Some(Dumped {
        shards,
        header,
        tables,
        threads: 0,
        records,
        phases: Vec::new(),
        warnings: Vec::new(),
        cache_used: true,
        reused: true,
    })
}
