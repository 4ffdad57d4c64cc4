//! The local cache as one of the build's shard stores (src/dump/store.rs): entries under the
//! shard's own key, holding the payload (payload.rs).

use super::{payload, Lookup, ShardCache};
use crate::dump::output::Emitted;
use crate::dump::store::{Found, ShardSource, ShardStore, StoredShard};

impl ShardStore for ShardCache {
    fn source(&self) -> ShardSource {
        ShardSource::Cached
    }

    fn get(&self, shard: &StoredShard) -> Found {
        match ShardCache::get(self, shard.key) {
            Lookup::Hit(bytes) => match payload::decode(&bytes) {
                Some(emitted) => Found::Hit(emitted),
                None => Found::Damaged("the entry's payload is not a shard".into()),
            },
            Lookup::Miss => Found::Miss,
            Lookup::Damaged(why) => Found::Damaged(why),
        }
    }

    fn put(&self, shard: &StoredShard, emitted: &Emitted) -> Result<(), String> {
        ShardCache::put(self, shard.key, &payload::encode(emitted)).map_err(|e| {
            format!(
                "cannot write to the shard cache at {}: {e} (building without it)",
                self.root().display()
            )
        })
    }
}
