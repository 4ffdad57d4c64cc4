//! The shard tables' object (header.rs), kept in the shard stores under a key of what it holds.
//! A body edit changes the metadata in the root but no table, so a rebuild after one takes
//! this object from the cache: at 50,000 functions its 50,000 relocations took longer to emit
//! than the one shard that changed. An added or removed function shifts the fvar numbers, so
//! the tables change and are emitted again.
//!
//! The remote cache files entries under the bitcode they were emitted from, which this object
//! has not: it misses there, and is kept only in the local cache.

use std::collections::HashSet;

use aotload::format::{encode_shard_table, Blob, ShardSpec, TableRef};

use super::output::{EmitKinds, Emitted};
use super::store::{look_up, put_all, Lookup, ShardSource, ShardStore, StoredShard};
use crate::cache::key::{Key, KeyHasher};
use crate::codegen::own_name;
use crate::llvm::Visibility;
use crate::target::CpuTarget;

/// Every shard's table, with what decides how a table's symbols are declared. The key is
/// made of these as they are; the tables are encoded, and the names put in sets, only when
/// the object is emitted.
pub struct ShardTables {
    /// In shard order.
    pub specs: Vec<ShardSpec>,
    pub ntargets: u32,
    /// Names the image exports: declared with default visibility (ELF keeps the most
    /// constraining visibility of a symbol's references, and these must stay visible).
    pub exports: Vec<String>,
    /// Exported variables the tables reach by their hidden own names (`Program::interposable`):
    /// the exported name may bind to a program's copy, and a table's offset is fixed at link
    /// time.
    pub interposable: Vec<String>,
}

impl ShardTables {
    /// Each table, encoded, with the declarations its symbols get.
    pub fn encode(&self) -> (Vec<(u32, Blob<TableRef>)>, Declarations<'_>) {
        let blobs = (self.specs.iter())
            .map(|s| (s.index, encode_shard_table(s, self.ntargets)))
            .collect();
        let declarations = Declarations {
            exports: self.exports.iter().map(String::as_str).collect(),
            interposable: self.interposable.iter().map(String::as_str).collect(),
        };
        (blobs, declarations)
    }
}

/// How the tables declare the symbols they point at.
pub struct Declarations<'a> {
    exports: HashSet<&'a str>,
    interposable: HashSet<&'a str>,
}

impl Declarations<'_> {
    /// The symbol a table declares for `name`, and its visibility.
    pub fn of(&self, name: &str) -> (String, Visibility) {
        if self.interposable.contains(name) {
            return (own_name(name), Visibility::Hidden);
        }
        match self.exports.contains(name) {
            true => (name.to_string(), Visibility::Default),
            false => (name.to_string(), Visibility::Hidden),
        }
    }
}

/// How the tables' object is emitted: what its key covers besides the tables.
#[derive(serde::Serialize)]
pub struct TablesConfig<'a> {
    pub triple: &'a str,
    pub data_layout: &'a str,
    /// The target machine's (the first target's), which emits the object.
    pub target: &'a CpuTarget,
    pub kinds: EmitKinds,
}

/// The tables' object, as the header's thread emits it or the stores held it.
pub struct TablesObject {
    pub emitted: Emitted,
    pub source: ShardSource,
}

/// The tables and their key, with what the stores held under it.
pub struct TablesJob {
    pub tables: ShardTables,
    key: Key,
    /// The configuration, serialized: a store's own key may hash it.
    facts: Vec<u8>,
    kinds: EmitKinds,
    found: Found,
}

enum Found {
    Hit(Emitted, ShardSource),
    Miss,
    Damaged(String),
}

impl TablesJob {
    /// Looks `tables` up in `stores` under their key for `config`.
    pub fn look_up(
        tables: ShardTables,
        config: &TablesConfig,
        stores: &[&dyn ShardStore],
        warn: &dyn Fn(&str),
    ) -> TablesJob {
        let facts = serde_json::to_vec(config).expect("plain data serializes");
        let key = tables_key(&tables, &facts);
        let found = match look_up(stores, &stored(&key, &facts, config.kinds), warn) {
            Lookup::Hit(emitted, source) => Found::Hit(emitted, source),
            Lookup::Miss => Found::Miss,
            Lookup::Damaged(why) => Found::Damaged(why),
        };
        TablesJob {
            tables,
            key,
            facts,
            kinds: config.kinds,
            found,
        }
    }

    /// The object the stores held, or the one `emit` makes (and why it was made).
    pub fn finish(
        self,
        emit: impl FnOnce(&ShardTables) -> Result<Emitted, String>,
    ) -> Result<(TablesObject, TablesPut), String> {
        let put = TablesPut {
            key: self.key,
            facts: self.facts,
            kinds: self.kinds,
        };
        let source = match self.found {
            Found::Hit(emitted, source) => return Ok((TablesObject { emitted, source }, put)),
            Found::Miss => ShardSource::Emitted,
            Found::Damaged(why) => ShardSource::Damaged(why),
        };
        let emitted = emit(&self.tables)?;
        Ok((TablesObject { emitted, source }, put))
    }
}

/// Where an emitted tables object goes in the stores.
pub struct TablesPut {
    key: Key,
    facts: Vec<u8>,
    kinds: EmitKinds,
}

impl TablesPut {
    /// Gives `object` to every store, unless one of them had it.
    pub fn put(&self, object: &TablesObject, stores: &[&dyn ShardStore], warn: &dyn Fn(&str)) {
        if matches!(
            object.source,
            ShardSource::Emitted | ShardSource::Damaged(_)
        ) {
            let shard = stored(&self.key, &self.facts, self.kinds);
            put_all(stores, &shard, &object.emitted, warn);
        }
    }
}

fn stored<'a>(key: &'a Key, facts: &'a [u8], kinds: EmitKinds) -> StoredShard<'a> {
    StoredShard {
        key,
        facts,
        bitcode: None,
        kinds,
    }
}

/// The key of everything the tables' object is made from: the configuration, the tables'
/// specifications (this build of aotlink encodes them one way: the key covers the build) and
/// the names that decide the declarations.
fn tables_key(tables: &ShardTables, facts: &[u8]) -> Key {
    let mut h = KeyHasher::new("aotlink shard tables");
    h.field(facts).count(tables.ntargets as usize);
    let names = |h: &mut KeyHasher, list: &[(u32, String)]| {
        h.count(list.len());
        for (n, name) in list {
            h.count(*n as usize).field(name.as_bytes());
        }
    };
    h.count(tables.specs.len());
    for spec in &tables.specs {
        h.count(spec.index as usize);
        names(&mut h, &spec.fvars);
        names(&mut h, &spec.gvars);
        h.count(spec.clones.len());
        for clones in &spec.clones {
            names(&mut h, clones);
        }
        names(&mut h, &spec.slots);
    }
    for list in [&tables.exports, &tables.interposable] {
        h.count(list.len());
        for name in list {
            h.field(name.as_bytes());
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> ShardTables {
        ShardTables {
            specs: vec![
                ShardSpec {
                    index: 0,
                    fvars: vec![(0, "a".into()), (2, "c".into())],
                    gvars: vec![(0, "g".into())],
                    clones: vec![vec![(1, "c.1".into())]],
                    slots: vec![(2, "c.slot".into())],
                },
                ShardSpec {
                    index: 1,
                    fvars: vec![(1, "b".into())],
                    gvars: vec![],
                    clones: vec![vec![]],
                    slots: vec![],
                },
            ],
            ntargets: 2,
            exports: vec!["a".into(), "b".into()],
            interposable: vec![],
        }
    }

    fn key(tables: &ShardTables, target: &str) -> Key {
        let target = CpuTarget {
            cpu: target.into(),
            features: vec![],
            flags: 0,
            base: 0,
        };
        let config = TablesConfig {
            triple: "x86_64-unknown-linux-gnu",
            data_layout: "e",
            target: &target,
            kinds: EmitKinds {
                obj: true,
                bc: false,
                asm: false,
            },
        };
        tables_key(tables, &serde_json::to_vec(&config).unwrap())
    }

    #[test]
    fn the_key_covers_every_number_name_and_declaration() {
        let base = key(&tables(), "generic");
        assert_eq!(base, key(&tables(), "generic"));
        assert_ne!(base, key(&tables(), "haswell"), "the configuration");
        // One change to the tables, named for the failure message.
        type Change = (&'static str, fn(&mut ShardTables));
        let changes: [Change; 8] = [
            ("an fvar number", |t| t.specs[1].fvars[0].0 = 3),
            ("an fvar's symbol", |t| t.specs[0].fvars[1].1 = "d".into()),
            ("a gvar", |t| t.specs[0].gvars.clear()),
            ("a clone", |t| t.specs[0].clones[0][0].0 = 0),
            ("a slot", |t| t.specs[0].slots[0].1 = "d.slot".into()),
            ("a member moved", |t| {
                let moved = t.specs[0].fvars.pop().unwrap();
                t.specs[1].fvars.push(moved);
            }),
            ("an export", |t| t.exports.truncate(1)),
            ("an interposable variable", |t| {
                t.interposable.push("g".into())
            }),
        ];
        for (what, change) in changes {
            let mut changed = tables();
            change(&mut changed);
            assert_ne!(base, key(&changed, "generic"), "{what}");
        }
    }

    #[test]
    fn exported_and_interposable_names_are_declared_apart() {
        let mut t = tables();
        t.interposable.push("g".into());
        let (blobs, declarations) = t.encode();
        assert_eq!(blobs.len(), 2);
        assert_eq!(declarations.of("a"), ("a".into(), Visibility::Default));
        assert_eq!(declarations.of("c"), ("c".into(), Visibility::Hidden));
        assert_eq!(declarations.of("g"), (own_name("g"), Visibility::Hidden));
    }
}
