//! Verdicts kept on disk, opt-in: a small file per image in a private directory beside the
//! shard cache, so that a runtime started again opens its unchanged system image without
//! hashing it.
//!
//! An entry says "the file with this identity (device, inode, size, mtime and ctime in
//! nanoseconds) had this checksum when hashed by a loader of this format version". It is
//! named by a hash of the device and inode alone, 12 bits of it: a file's new verdict replaces
//! its old one, and the directory never holds more than 4,096 entries (88 bytes each). Two
//! files whose names collide take turns; neither is ever accepted for the other, because the
//! whole identity is compared on reading.
//!
//! Whoever can write the directory decides what is skipped, so it must be this user's alone:
//! a directory (or an entry) owned by someone else, or writable by group or others, is not
//! used. The directory is opened once (not following a symbolic link) and entries are read and
//! written relative to that descriptor, so a directory swapped in after the check is not used.
//! Entries are written to a temp file and renamed, so a reader sees a whole entry or none.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::Path;

use super::identity::FileIdentity;
use crate::format::FORMAT_VERSION;

const MAGIC: [u8; 8] = *b"AOTVRDCT";
/// magic, format version, reserved, dev, ino, size, mtime (s, ns), ctime (s, ns), checksum,
/// then xxh3-64 of all of that.
const ENTRY_LEN: usize = 8 + 4 + 4 + 8 * 3 + 8 * 4 + 8 + 8;
/// Entries are named by this many bits of a hash of (device, inode).
const SLOT_BITS: u32 = 12;

/// Why a verdict directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum DiskVerdictError {
    #[error("cannot open the verdict directory: {0}")]
    Io(#[from] io::Error),
    #[error("the verdict directory belongs to uid {owner}, not to this user (uid {user})")]
    NotOwned { owner: u32, user: u32 },
    #[error("the verdict directory may be written by group or others (mode {0:o})")]
    WritableByOthers(u32),
}

/// An opened, checked verdict directory.
pub struct DiskVerdicts {
    dir: File,
}

impl DiskVerdicts {
    /// Opens `dir`, creating it (mode 0700) and its parents when missing; refuses it unless
    /// this user owns it and nobody else may write it.
    pub fn open(dir: &Path) -> Result<DiskVerdicts, DiskVerdictError> {
        // Opened first and created only when missing: an open from the cache pays one system
        // call here, not three more that find the directory there (issue 30).
        let opened = match open_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = dir.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e.into()),
                    _ => {}
                }
                open_dir(dir)
            }
            opened => opened,
        };
        let dir = opened?;
        check_private(&dir.metadata()?)?;
        Ok(DiskVerdicts { dir })
    }

    /// The checksum the entry for `identity` records, if there is a sound entry for exactly
    /// this identity, private to this user, written by a loader of this format version.
    pub fn recall(&self, identity: &FileIdentity) -> Option<u64> {
        let mut entry = self.open_at(&slot_name(identity), libc::O_RDONLY).ok()?;
        let metadata = entry.metadata().ok()?;
        if !metadata.is_file() || check_private(&metadata).is_err() {
            return None;
        }
        let mut bytes = [0u8; ENTRY_LEN + 1];
        let len = entry.read(&mut bytes).ok()?;
        decode(&bytes[..len], identity)
    }

    /// Records that the file with `identity` hashed to `checksum` (the caller checked that the
    /// identity is settled). Written whole or not at all.
    pub fn remember(&self, identity: &FileIdentity, checksum: u64) -> io::Result<()> {
        let temp = temp_name();
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
        let written = self
            .open_at(&temp, flags)
            .and_then(|mut file| file.write_all(&encode(identity, checksum)))
            .and_then(|()| self.rename_at(&temp, &slot_name(identity)));
        if written.is_err() {
            let name = CString::new(temp).expect("no NUL");
            // SAFETY: a NUL-terminated name relative to the directory this struct holds.
            unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0) };
        }
        written
    }

    fn open_at(&self, name: &str, flags: i32) -> io::Result<File> {
        let name = CString::new(name).expect("no NUL");
        let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
        // SAFETY: a NUL-terminated name relative to the directory this struct holds; the
        // descriptor is owned by the File below.
        let fd = unsafe { libc::openat(self.dir.as_raw_fd(), name.as_ptr(), flags, 0o600) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    fn rename_at(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (CString::new(from)?, CString::new(to)?);
        let dir = self.dir.as_raw_fd();
        // SAFETY: NUL-terminated names relative to the directory this struct holds.
        match unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

/// Opens the directory `dir`, not following a symbolic link.
fn open_dir(dir: &Path) -> io::Result<File> {
    let path = CString::new(dir.as_os_str().as_bytes())?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path; the descriptor is owned by the File below.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Refuses what another user could have written: not owned by this user, or writable by group
/// or others.
fn check_private(metadata: &std::fs::Metadata) -> Result<(), DiskVerdictError> {
    // SAFETY: geteuid has no preconditions.
    let user = unsafe { libc::geteuid() };
    if metadata.uid() != user {
        return Err(DiskVerdictError::NotOwned {
            owner: metadata.uid(),
            user,
        });
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(DiskVerdictError::WritableByOthers(metadata.mode() & 0o7777));
    }
    Ok(())
}

/// The entry's name: [`SLOT_BITS`] of a hash of the device and inode, in hex.
pub fn slot_name(identity: &FileIdentity) -> String {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&identity.dev.to_le_bytes());
    key[8..].copy_from_slice(&identity.ino.to_le_bytes());
    let slot = xxhash_rust::xxh3::xxh3_64(&key) >> (64 - SLOT_BITS);
    format!("{slot:03x}")
}

/// A name no other writer uses at the same time: this process and a counter.
fn temp_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".tmp-{}-{n}", std::process::id())
}

fn encode(identity: &FileIdentity, checksum: u64) -> [u8; ENTRY_LEN] {
    let mut out = Vec::with_capacity(ENTRY_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for word in identity_words(identity) {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&checksum.to_le_bytes());
    let digest = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&digest.to_le_bytes());
    out.try_into().expect("ENTRY_LEN bytes")
}

/// The checksum `bytes` records, if they are a sound entry for exactly `identity`.
fn decode(bytes: &[u8], identity: &FileIdentity) -> Option<u64> {
    if bytes.len() != ENTRY_LEN {
        return None;
    }
    let (body, digest) = bytes.split_at(ENTRY_LEN - 8);
    let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let expected = encode(identity, word(ENTRY_LEN - 16));
    let sound = xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() == digest;
    (sound && bytes == expected).then(|| word(ENTRY_LEN - 16))
}

/// dev, ino, size, then mtime and ctime as (seconds, nanoseconds), as stored.
fn identity_words(id: &FileIdentity) -> [u64; 7] {
    const SECOND: i128 = 1_000_000_000;
    let split = |ns: i128| {
        let (s, n) = (ns.div_euclid(SECOND), ns.rem_euclid(SECOND));
        (s as i64 as u64, n as u64)
    };
    let (ms, mn) = split(id.mtime_ns);
    let (cs, cn) = split(id.ctime_ns);
    [id.dev, id.ino, id.size, ms, mn, cs, cn]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A fresh directory under the system's temp directory.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "aotload-verdicts-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn identity_of(path: &Path) -> FileIdentity {
        FileIdentity::of(&File::open(path).unwrap()).unwrap()
    }

    #[test]
    fn a_verdict_is_recalled_for_its_identity_only() {
        let dir = scratch("identity");
        let verdicts = DiskVerdicts::open(&dir.join("verdicts")).unwrap();
        let file = dir.join("image");
        std::fs::write(&file, b"image bytes").unwrap();
        let id = identity_of(&file);
        assert_eq!(verdicts.recall(&id), None);
        verdicts.remember(&id, 42).unwrap();
        assert_eq!(verdicts.recall(&id), Some(42));
        // Any field of the identity changed: the entry is not this file's.
        let changed = [
            FileIdentity {
                dev: id.dev ^ 1,
                ..id
            },
            FileIdentity {
                size: id.size + 1,
                ..id
            },
            FileIdentity {
                mtime_ns: id.mtime_ns + 1,
                ..id
            },
            FileIdentity {
                ctime_ns: id.ctime_ns + 1,
                ..id
            },
        ];
        for other in changed.iter().filter(|o| slot_name(o) == slot_name(&id)) {
            assert_eq!(verdicts.recall(other), None, "{other:?}");
        }
        for other in &changed {
            assert_eq!(decode(&encode(&id, 42), other), None, "{other:?}");
        }
    }

    #[test]
    fn an_entry_planted_for_another_file_is_not_accepted() {
        let dir = scratch("planted");
        let verdicts = DiskVerdicts::open(&dir.join("verdicts")).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, b"same bytes").unwrap();
        std::fs::write(&b, b"same bytes").unwrap();
        let (id_a, id_b) = (identity_of(&a), identity_of(&b));
        verdicts.remember(&id_a, 7).unwrap();
        let entries = dir.join("verdicts");
        std::fs::copy(
            entries.join(slot_name(&id_a)),
            entries.join(slot_name(&id_b)),
        )
        .unwrap();
        assert_eq!(verdicts.recall(&id_b), None);
        assert_eq!(verdicts.recall(&id_a), Some(7));
    }

    #[test]
    fn a_damaged_or_foreign_entry_is_not_accepted() {
        let id = FileIdentity {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
        };
        let good = encode(&id, 9);
        assert_eq!(decode(&good, &id), Some(9));
        for at in 0..ENTRY_LEN {
            let mut bad = good;
            bad[at] ^= 1;
            assert_eq!(decode(&bad, &id), None, "byte {at}");
        }
        assert_eq!(decode(&good[..ENTRY_LEN - 1], &id), None);
        // Another format version's verdict (its checksum is another algorithm's) is not used,
        // even with a correct digest.
        let mut other_version = good;
        other_version[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let digest = xxhash_rust::xxh3::xxh3_64(&other_version[..ENTRY_LEN - 8]);
        other_version[ENTRY_LEN - 8..].copy_from_slice(&digest.to_le_bytes());
        assert_eq!(decode(&other_version, &id), None);
    }

    #[test]
    fn a_directory_or_entry_others_may_write_is_not_used() {
        let dir = scratch("mode");
        let entries = dir.join("verdicts");
        let verdicts = DiskVerdicts::open(&entries).unwrap();
        let file = dir.join("image");
        std::fs::write(&file, b"image").unwrap();
        let id = identity_of(&file);
        verdicts.remember(&id, 1).unwrap();
        let chmod = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for mode in [0o777, 0o720, 0o702] {
            chmod(&entries, mode);
            assert!(
                matches!(
                    DiskVerdicts::open(&entries),
                    Err(DiskVerdictError::WritableByOthers(_))
                ),
                "{mode:o}"
            );
        }
        chmod(&entries, 0o700);
        assert_eq!(DiskVerdicts::open(&entries).unwrap().recall(&id), Some(1));
        // Another user's directory (only root can make one here to test with).
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&entries, Some(65534), None).unwrap();
            assert!(matches!(
                DiskVerdicts::open(&entries),
                Err(DiskVerdictError::NotOwned { owner: 65534, .. })
            ));
            std::os::unix::fs::chown(&entries, Some(0), None).unwrap();
        }
        let entry = entries.join(slot_name(&id));
        chmod(&entry, 0o666);
        assert_eq!(verdicts.recall(&id), None);
    }

    #[test]
    fn a_symbolic_link_is_not_followed_to_a_directory() {
        let dir = scratch("symlink");
        let real = dir.join("real");
        DiskVerdicts::open(&real).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            DiskVerdicts::open(&link),
            Err(DiskVerdictError::Io(_))
        ));
        // Nor one that leads nowhere: it is not taken for a missing directory to create.
        let dangling = dir.join("dangling");
        std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
        assert!(DiskVerdicts::open(&dangling).is_err());
        assert!(!dir.join("nowhere").exists());
    }

    #[test]
    fn a_missing_directory_is_created_private_with_its_parents() {
        let dir = scratch("missing").join("a/b/verdicts");
        let verdicts = DiskVerdicts::open(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        let file = dir.join("../image");
        std::fs::write(&file, b"image bytes").unwrap();
        verdicts.remember(&identity_of(&file), 7).unwrap();
        // Opened again, it is found, not created.
        let again = DiskVerdicts::open(&dir).unwrap();
        assert_eq!(again.recall(&identity_of(&file)), Some(7));
    }
}
