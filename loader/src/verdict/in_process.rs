//! Verdicts this process reached: which file identities had which checksum when hashed. A
//! runtime that opens the same unchanged image again (another method table, a reload) skips
//! the hash; a file changed since has another identity (`identity.rs`) and is hashed again.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::identity::FileIdentity;

/// More files than a process opens in practice; past it the memory starts over, so it stays
/// small whatever a long-running process opens.
const MAX_REMEMBERED: usize = 4096;

fn remembered() -> &'static Mutex<HashMap<FileIdentity, u64>> {
    static REMEMBERED: OnceLock<Mutex<HashMap<FileIdentity, u64>>> = OnceLock::new();
    REMEMBERED.get_or_init(Default::default)
}

/// The checksum a file with exactly this identity had when this process hashed it.
pub fn recall(identity: &FileIdentity) -> Option<u64> {
    let map = remembered().lock().unwrap_or_else(|e| e.into_inner());
    map.get(identity).copied()
}

/// Remembers that the file with `identity` hashed to `checksum` (the caller checked that the
/// identity is settled).
pub fn remember(identity: FileIdentity, checksum: u64) {
    let mut map = remembered().lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_REMEMBERED {
        map.clear();
    }
    map.insert(identity, checksum);
}
