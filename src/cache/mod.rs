//! The shard cache: a content-addressed store of emitted shards on disk, shared by every build
//! of the user (and by builds running at once). This folder also holds the remote cache
//! (`remote/`), the payload both keep (payload.rs), the one key derivation every cache key
//! uses (key.rs), and the two caches as shard stores for emission (shard_store.rs and
//! `remote/`); of `dump/` it may import only `output.rs` and `store.rs`.
//!
//! - An entry's name is its key (32 bytes of BLAKE3, hex): `ROOT/shards/ab/cdef...` for emitted
//!   shards, `ROOT/builds/ab/cdef...` for records of whole builds (which shards and header a
//!   build's inputs gave, src/build/memo.rs; inputs that passed the child-process check). What a key covers is the caller's business (`dump` hashes
//!   everything a shard's emission reads, the memo every input of the build).
//! - An entry is `MAGIC`, the BLAKE3 of the payload, the payload's length, then the payload. A
//!   read checks all four, so a flipped byte or a truncated file is a miss that says so, never
//!   a payload handed out.
//! - Entries are written to a temp file in the same directory and renamed into place: a reader
//!   sees the old entry or the new one, whole. Two builds writing one key write the same bytes.
//! - Least recently used first out: a hit touches the entry's mtime; [`ShardCache::evict`]
//!   deletes the oldest entries until the total is under 90% of the bound.

pub mod key;
pub mod payload;
pub mod remote;
mod shard_store;
mod size;

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use key::{Key, KeyHasher};
pub use size::{parse_size, SizeError, DEFAULT_MAX_SIZE};

const MAGIC: &[u8; 8] = b"AOTSHRD1";
const HEADER_LEN: usize = MAGIC.len() + 32 + 8;
/// Temp files older than this are left over from a build that died; eviction removes them.
const STALE_TEMP: Duration = Duration::from_secs(3600);
const TEMP_PREFIX: &str = ".tmp-";

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Vec<u8>),
    Miss,
    /// An entry was there but failed its check (the reason); it has been removed.
    Damaged(String),
}

/// Which kind of entry: the two live in their own directories and share the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Emitted shards.
    Shards,
    /// Records of whole builds: dump manifests, inputs that passed the check.
    Builds,
}

impl Space {
    const ALL: [Space; 2] = [Space::Shards, Space::Builds];

    fn dir(self) -> &'static str {
        match self {
            Space::Shards => "shards",
            Space::Builds => "builds",
        }
    }
}

/// How full the cache is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Emitted shards.
    pub shards: u64,
    /// Records of whole builds.
    pub builds: u64,
    pub bytes: u64,
}

impl Stats {
    fn add(&mut self, entry: &Entry) {
        match entry.space {
            Space::Shards => self.shards += 1,
            Space::Builds => self.builds += 1,
        }
        self.bytes += entry.bytes;
    }
}

/// A cache directory and its size bound.
#[derive(Clone, Debug)]
pub struct ShardCache {
    root: PathBuf,
    max_size: u64,
}

impl ShardCache {
    /// The cache at `root` (created when missing), bounded to `max_size` bytes.
    pub fn open(root: impl Into<PathBuf>, max_size: u64) -> io::Result<ShardCache> {
        let root = root.into();
        for space in Space::ALL {
            fs::create_dir_all(root.join(space.dir()))?;
        }
        Ok(ShardCache { root, max_size })
    }

    /// `$AOTLINK_CACHE_DIR`, else `$XDG_CACHE_HOME/aotlink`, else `~/.cache/aotlink` (relative
    /// values of either variable are ignored, as the XDG spec says); `None` without a home.
    /// The loader's verdict cache is `verdicts/` in the same directory, so the rule lives in
    /// the loader (`aotload::cache_dir`).
    pub fn default_dir() -> Option<PathBuf> {
        aotload::cache_dir::default_cache_dir()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    fn entry_path(&self, space: Space, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.root.join(space.dir()).join(&hex[..2]).join(&hex[2..])
    }

    /// The shard payload stored under `key`, checked against its hash; a damaged entry is
    /// removed.
    pub fn get(&self, key: &Key) -> Lookup {
        self.lookup(Space::Shards, key, true)
    }

    /// The shard payload under `key` if it is there and sound. Unlike [`ShardCache::get`] it
    /// leaves a damaged entry in place, for the emission that follows to find and report.
    pub fn get_intact(&self, key: &Key) -> Option<Vec<u8>> {
        match self.lookup(Space::Shards, key, false) {
            Lookup::Hit(payload) => Some(payload),
            Lookup::Miss | Lookup::Damaged(_) => None,
        }
    }

    /// The build record under `key` (a damaged one is removed).
    pub fn get_build(&self, key: &Key) -> Lookup {
        self.lookup(Space::Builds, key, true)
    }

    fn lookup(&self, space: Space, key: &Key, remove_damaged: bool) -> Lookup {
        let path = self.entry_path(space, key);
        let mut bytes = Vec::new();
        match fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Damaged(format!("{}: cannot read: {e}", path.display())),
        }
        match check_entry(&bytes) {
            Ok(()) => {
                // Recently used: eviction goes by mtime. Failing to touch costs only LRU order.
                if let Ok(file) = fs::File::options().append(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
                bytes.drain(..HEADER_LEN);
                Lookup::Hit(bytes)
            }
            Err(why) => {
                if remove_damaged {
                    let _ = fs::remove_file(&path);
                }
                Lookup::Damaged(format!("{}: {why}", path.display()))
            }
        }
    }

    /// Stores the shard `payload` under `key`: temp file, then rename.
    pub fn put(&self, key: &Key, payload: &[u8]) -> io::Result<()> {
        self.store(Space::Shards, key, payload)
    }

    /// Stores a build record under `key`.
    pub fn put_build(&self, key: &Key, payload: &[u8]) -> io::Result<()> {
        self.store(Space::Builds, key, payload)
    }

    fn store(&self, space: Space, key: &Key, payload: &[u8]) -> io::Result<()> {
        let path = self.entry_path(space, key);
        let dir = path.parent().expect("entries live in a subdirectory");
        fs::create_dir_all(dir)?;
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)?;
        temp.write_all(MAGIC)?;
        temp.write_all(blake3::hash(payload).as_bytes())?;
        temp.write_all(&(payload.len() as u64).to_le_bytes())?;
        temp.write_all(payload)?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Entries and their total size.
    pub fn stats(&self) -> io::Result<Stats> {
        let mut stats = Stats::default();
        for entry in self.entries()? {
            stats.add(&entry);
        }
        Ok(stats)
    }

    /// Deletes least recently used entries until the total is at most 90% of the bound (when
    /// it is over the bound), and temp files a dead build left. Returns what was removed.
    pub fn evict(&self) -> io::Result<Stats> {
        let mut entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut removed = Stats::default();
        if total > self.max_size {
            let goal = self.max_size / 10 * 9;
            entries.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
            for entry in entries {
                if total <= goal {
                    break;
                }
                // Another build may have evicted it already.
                if fs::remove_file(&entry.path).is_ok() {
                    removed.add(&entry);
                }
                total -= entry.bytes;
            }
        }
        self.remove_stale_temps();
        Ok(removed)
    }

    /// Deletes every entry; returns what was there.
    pub fn clear(&self) -> io::Result<Stats> {
        let mut removed = Stats::default();
        for entry in self.entries()? {
            // Another build may have evicted it already.
            if fs::remove_file(&entry.path).is_ok() {
                removed.add(&entry);
            }
        }
        Ok(removed)
    }

    /// Every `SPACE/ab` directory, with its space.
    fn subdirs(&self) -> io::Result<Vec<(Space, PathBuf)>> {
        let mut dirs = Vec::new();
        // `open` made every space's directory.
        for space in Space::ALL {
            for item in fs::read_dir(self.root.join(space.dir()))? {
                let item = item?;
                if item.file_type()?.is_dir() {
                    dirs.push((space, item.path()));
                }
            }
        }
        Ok(dirs)
    }

    fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for (space, dir) in self.subdirs()? {
            let Ok(items) = fs::read_dir(&dir) else {
                continue;
            };
            for item in items.flatten() {
                let name = item.file_name();
                let is_entry = name.len() == 62
                    && name
                        .to_str()
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
                // Gone since the listing (another build evicted it): skip.
                let Ok(meta) = item.metadata() else { continue };
                if is_entry && meta.is_file() {
                    entries.push(Entry {
                        space,
                        path: item.path(),
                        bytes: meta.len(),
                        used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        Ok(entries)
    }

    fn remove_stale_temps(&self) {
        let Ok(dirs) = self.subdirs() else { return };
        let now = SystemTime::now();
        for (_, dir) in dirs {
            for item in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let stale = item
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .is_some_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP);
                if item.file_name().to_string_lossy().starts_with(TEMP_PREFIX) && stale {
                    let _ = fs::remove_file(item.path());
                }
            }
        }
    }
}

struct Entry {
    space: Space,
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

fn check_entry(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a shard cache entry (truncated or overwritten)".into());
    }
    let stored_hash = &bytes[MAGIC.len()..MAGIC.len() + 32];
    let length = u64::from_le_bytes(
        bytes[MAGIC.len() + 32..HEADER_LEN]
            .try_into()
            .expect("8 bytes"),
    );
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != length {
        return Err(format!(
            "truncated: {} payload bytes of {length}",
            payload.len()
        ));
    }
    if blake3::hash(payload).as_bytes() != stored_hash {
        return Err("its content does not match its hash".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
