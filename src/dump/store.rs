//! Where emitted shards are kept between builds, as emission sees it: stores asked in order
//! before a shard is emitted, and given every shard that one of them lacked. Emission knows
//! this interface only; the build plugs in the local cache and the remote cache
//! (src/cache/shard_store.rs, src/cache/remote/mod.rs), which hold the payload format and
//! their own ways of failing. A store that fails costs the build a warning, never its result.

use super::output::{EmitKinds, Emitted};
use crate::cache::key::Key;

/// A shard as a store files it: its key (everything emission reads, hashed), and what the
/// key was made from, for a store that keys its entries its own way (the remote's Action).
pub struct StoredShard<'a> {
    pub key: &'a Key,
    /// The emission configuration and the job's facts, serialized.
    pub facts: &'a [u8],
    /// The shard's module, when it was cloned: a shard keyed by its print is looked up
    /// before (a store that files shards under their bitcode misses it then).
    pub bitcode: Option<&'a [u8]>,
    pub kinds: EmitKinds,
}

/// What a store had.
pub enum Found {
    Hit(Emitted),
    Miss,
    /// An entry that failed its check (why): the shard is emitted again, and the report says
    /// so rather than taking it from a store further down.
    Damaged(String),
}

/// How one shard was obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardSource {
    Emitted,
    Cached,
    /// From the remote cache (and now in the local one).
    Remote,
    /// The cache entry failed its check (why); the shard was emitted again.
    Damaged(String),
}

/// One place shards are kept.
pub trait ShardStore: Sync {
    /// How a shard found here is reported.
    fn source(&self) -> ShardSource;

    fn get(&self, shard: &StoredShard) -> Found;

    /// Keeps `emitted` as `shard`'s outputs (perhaps in the background). An error is the
    /// build's warning, once.
    fn put(&self, shard: &StoredShard, emitted: &Emitted) -> Result<(), String>;
}

/// What the build's stores hold for a shard.
pub enum Lookup {
    /// The first sound entry, and how it is reported.
    Hit(Emitted, ShardSource),
    Miss,
    /// An entry that failed its check (why): not looked up further down, so that the report
    /// says it was damaged.
    Damaged(String),
}

/// `shard` from the first of `stores` that holds it, given to the stores before that one.
pub fn look_up(stores: &[&dyn ShardStore], shard: &StoredShard, warn: &dyn Fn(&str)) -> Lookup {
    for (i, store) in stores.iter().enumerate() {
        match store.get(shard) {
            Found::Hit(emitted) => {
                put_all(&stores[..i], shard, &emitted, warn);
                return Lookup::Hit(emitted, store.source());
            }
            Found::Miss => continue,
            Found::Damaged(why) => return Lookup::Damaged(why),
        }
    }
    Lookup::Miss
}

/// Gives `emitted` to each of `stores`; a store that fails is a warning.
pub fn put_all(
    stores: &[&dyn ShardStore],
    shard: &StoredShard,
    emitted: &Emitted,
    warn: &dyn Fn(&str),
) {
    for store in stores {
        if let Err(e) = store.put(shard, emitted) {
            warn(&e);
        }
    }
}
