//! A dump of a program whose *stubbed* functions (bodies not parsed, `build/rebuild.rs`) take
//! what the build before measured of them: their sizes for the partition, and, for each shard
//! that holds one, the facts that shard's cache key was made of. Such a shard must be one
//! the build before made, member for member, and a store must still hold it: it cannot be
//! emitted from stubs. Where that does not hold, the dump refuses
//! ([`DumpError::Unreusable`](super::DumpError::Unreusable)) and the build parses everything.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::annotate::CloneSets;
use super::partition::ShardPlan;

/// What a build records of one shard: its members and what its key hashes besides the
/// configuration and its table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardFacts {
    pub members: Vec<String>,
    /// The digest of its pieces of the print; `None` when it was keyed by its bitcode.
    pub text_digest: Option<[u8; 32]>,
    pub clone_sets: CloneSets,
}

/// The stubbed functions' facts from the build before.
#[derive(Debug, Default)]
pub struct Reuse {
    /// Each stubbed function's size (instructions and blocks) as that build measured it.
    pub sizes: HashMap<String, u64>,
    /// That build's shards.
    shards: Vec<ShardFacts>,
    /// Index into `shards` by first member.
    by_first: HashMap<String, usize>,
}

impl Reuse {
    pub fn new(sizes: HashMap<String, u64>, shards: Vec<ShardFacts>) -> Reuse {
        let by_first = (shards.iter().enumerate())
            .filter_map(|(i, s)| Some((s.members.first()?.clone(), i)))
            .collect();
        Reuse {
            sizes,
            shards,
            by_first,
        }
    }

    /// Whether `name` is a stub that the build before kept (and so measured). A stub it did
    /// not keep is not here: selection must drop it again (`build/rebuild.rs` checks).
    pub fn is_stub(&self, name: &str) -> bool {
        self.sizes.contains_key(name)
    }

    /// Whether the shard `plan` holds a stub.
    pub(super) fn holds_stub(&self, plan: &ShardPlan) -> bool {
        plan.members.iter().any(|m| self.is_stub(m))
    }

    /// The build before's shard with exactly `plan`'s members, if it had one.
    pub(super) fn recorded(&self, plan: &ShardPlan) -> Option<&ShardFacts> {
        let i = *self.by_first.get(plan.members.first()?)?;
        Some(&self.shards[i]).filter(|s| s.members == plan.members)
    }
}
