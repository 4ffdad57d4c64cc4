//! Verdicts this process reached: which file identities had which checksum when hashed, with
//! what the structural checks decoded from those bytes. A runtime that opens the same
//! unchanged image again (another method table, a reload) skips the hash and the decoding;
//! a file changed since has another identity (`identity.rs`) and is hashed and checked again.
//!
//! The decoding is kept because, once the hash is skipped, it is most of a re-open: on
//! SQLite's image (5.4 MB, 128 shards) it took longer than the dlopen itself (by hand, laps
//! inside `Image::open`: 0.32 ms of 0.81 against a dlopen of 0.25 on a loaded machine). The
//! checks are a function of the file's bytes, which the verdict says are the ones checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::identity::FileIdentity;
use crate::file::{ImageFile, ImageFileInPlace};
use crate::format::meta::{MetaView, TargetRecord};
use crate::format::{RootHead, CHECKSUM_OFFSET, ROOT_HEAD_SIZE};

/// More files than a process opens in practice; past it the memory starts over, so it stays
/// small whatever a long-running process opens (what a file's verdict keeps is a copy of its
/// shard tables' bytes: 72 KB, 1.3%, for SQLite's image).
const MAX_REMEMBERED: usize = 64;

/// A file found whole: its checksum, and its decoded structures with the metadata's targets
/// (the metadata itself is read in place again, in the bytes of the new open).
struct Remembered {
    checksum: u64,
    file: ImageFile<Vec<TargetRecord>>,
}

fn remembered() -> &'static Mutex<HashMap<FileIdentity, Arc<Remembered>>> {
    static REMEMBERED: OnceLock<Mutex<HashMap<FileIdentity, Arc<Remembered>>>> = OnceLock::new();
    REMEMBERED.get_or_init(Default::default)
}

/// The decoded file, over `bytes`, if this process found a file with exactly this identity
/// whole, with the checksum `bytes` store.
pub fn recall<'b>(identity: &FileIdentity, bytes: &'b [u8]) -> Option<ImageFileInPlace<'b>> {
    let found = {
        let map = remembered().lock().unwrap_or_else(|e| e.into_inner());
        map.get(identity)?.clone()
    };
    let at = found.file.checksum_file_offset;
    let stored = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
    if stored != found.checksum {
        return None;
    }
    let meta_bytes = bytes.get(meta_range(&found.file, bytes)?)?;
    let meta = MetaView::rebuilt(meta_bytes, found.file.meta.clone()).ok()?;
    Some(found.file.clone().map_meta(|_| meta))
}

/// Remembers that the file with `identity` was found whole as `file` (the caller checked that
/// the identity is settled).
pub fn remember(identity: FileIdentity, file: &ImageFileInPlace) {
    // The shard tables are copied out of the file's bytes, which this open unmaps: one
    // allocation, 72 KB for SQLite's 5.4 MB image.
    let remembered_file = Remembered {
        checksum: file.checksum,
        file: file.with_kept_shards().map_meta(|meta| meta.targets),
    };
    let mut map = remembered().lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_REMEMBERED {
        map.clear();
    }
    map.insert(identity, Arc::new(remembered_file));
}

/// Where the metadata lies in the file's bytes: after the root's head, shard pointers and
/// external slot offsets (`FORMAT.md`, root table).
fn meta_range<M, S>(file: &ImageFile<M, S>, bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let root = file.checksum_file_offset.checked_sub(CHECKSUM_OFFSET)?;
    let head = RootHead::parse(bytes.get(root..)?)?;
    let start = root + ROOT_HEAD_SIZE + 8 * head.nshards as usize + 4 * head.nexternals as usize;
    Some(start..start.checked_add(head.meta_len as usize)?)
}
