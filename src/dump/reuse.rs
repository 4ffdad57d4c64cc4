//! A dump of a program whose *stubbed* functions (bodies not parsed, `build/rebuild.rs`) take
//! what the build before measured of them: their sizes for the partition, and, for each shard
//! that holds one, the facts that shard's cache key was made of. Such a shard must be one
//! the build before made, member for member, and a store must still hold it: it cannot be
//! emitted from stubs. Where that does not hold, the dump refuses
//! ([`DumpError::Unreusable`](super::DumpError::Unreusable)) and the build parses everything.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::annotate::CloneSets;
use super::split::ShardJob;
use crate::cache::key::Key;

/// What a build records of one shard: its members and what its key hashes besides the
/// configuration and its table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardFacts {
    pub members: Vec<String>,
    /// The digest of its pieces of the print; `None` when it was keyed by its bitcode.
    pub text_digest: Option<[u8; 32]>,
    pub clone_sets: CloneSets,
}

impl ShardFacts {
    pub(super) fn of(job: &ShardJob) -> ShardFacts {
        ShardFacts {
            members: job.plan.members.clone(),
            text_digest: job.text_digest.map(|k| k.0),
            clone_sets: job.clone_sets.clone(),
        }
    }
}

/// The stubbed functions' facts from the build before.
#[derive(Debug, Default)]
pub struct Reuse {
    /// Each stubbed function's size (instructions and blocks) as that build measured it.
    pub sizes: HashMap<String, u64>,
    /// That build's shards.
    pub shards: Vec<ShardFacts>,
}

impl Reuse {
    pub fn is_stub(&self, name: &str) -> bool {
        self.sizes.contains_key(name)
    }

    /// Gives each job holding a stub the key facts of the same shard of the build before;
    /// the shard's index where there is none.
    pub(super) fn key_stubbed_shards(&self, jobs: &mut [ShardJob]) -> Result<(), u32> {
        let by_first: HashMap<&str, &ShardFacts> = (self.shards.iter())
            .filter_map(|s| Some((s.members.first()?.as_str(), s)))
            .collect();
        for job in jobs {
            if !job.plan.members.iter().any(|m| self.is_stub(m)) {
                continue;
            }
            let before = (job.plan.members.first())
                .and_then(|m| by_first.get(m.as_str()))
                .filter(|s| s.members == job.plan.members);
            match before.and_then(|s| Some((s.text_digest?, s))) {
                Some((digest, s)) => {
                    job.text_digest = Some(Key(digest));
                    job.clone_sets = s.clone_sets.clone();
                }
                None => return Err(job.plan.index),
            }
        }
        Ok(())
    }

    /// Whether `job` holds a stub.
    pub(super) fn holds_stub(&self, job: &ShardJob) -> bool {
        job.plan.members.iter().any(|m| self.is_stub(m))
    }
}
