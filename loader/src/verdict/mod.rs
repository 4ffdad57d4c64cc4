//! Verdicts: remembering that a file was hashed and found whole, so that opening the same
//! unchanged file again skips the hash (DESIGN.md, "Opening large images").
//!
//! A verdict applies only to a file whose identity (`identity.rs`: device, inode, size, mtime
//! and ctime in nanoseconds) is exactly the one that was hashed, with the checksum its root
//! stores now. In-process verdicts (always kept) also keep what the structural checks decoded
//! from those bytes, so a re-open skips both; a verdict from the cache on disk (`on_disk.rs`,
//! only when asked for) skips the hash, and the structures are decoded and checked again.
//! Either way the tables digest is compared, the dynamic loader maps the descriptor whose
//! identity was read, and the root's head in memory is compared with the file's. Neither is
//! used when a signature is to be checked: a signature says who made the bytes, and that is
//! checked on every open.

pub mod identity;
mod in_process;
#[cfg(unix)]
pub mod on_disk;

use std::fs::File;
use std::path::PathBuf;

use identity::Observed;

use crate::file::ImageFileInPlace;

/// How the bytes of an opened image were found whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The checksum was computed over every byte it covers.
    Hashed,
    /// A trusted signature held over the file (BLAKE3 of every byte); the checksum was not
    /// computed again.
    Signature,
    /// This process hashed this unchanged file before.
    RememberedInProcess,
    /// The verdict cache on disk says this unchanged file was hashed before.
    RememberedOnDisk,
}

/// Whether and where verdicts are remembered.
#[derive(Clone, Debug)]
pub struct VerdictOptions {
    /// Remember verdicts in this process (default: yes). Turned off only to measure or test
    /// the other paths.
    pub in_process: bool,
    /// The verdict cache on disk (default: as `AOTLINK_VERDICT_CACHE` says, off when unset).
    pub on_disk: DiskVerdicts,
}

impl Default for VerdictOptions {
    fn default() -> VerdictOptions {
        VerdictOptions {
            in_process: true,
            on_disk: DiskVerdicts::FromEnvironment,
        }
    }
}

/// Where the verdict cache on disk is, if used. Unix only: elsewhere (Windows) no verdict is
/// remembered, in the process or on disk, for want of an inode number and a ctime to key it by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DiskVerdicts {
    /// As the environment variable [`VERDICT_CACHE_ENV`] says: unset, empty, `0` or `off`:
    /// not used; `1` or `on`: [`DiskVerdicts::DefaultDir`]; an absolute path: that directory.
    #[default]
    FromEnvironment,
    Off,
    /// `verdicts/` in the cache directory the shard cache uses (`$AOTLINK_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/aotlink`, else `~/.cache/aotlink`).
    DefaultDir,
    /// This directory (created, mode 0700, when missing).
    Dir(PathBuf),
}

/// The environment variable that turns the verdict cache on disk on.
pub const VERDICT_CACHE_ENV: &str = "AOTLINK_VERDICT_CACHE";

impl DiskVerdicts {
    /// The directory these settings use, if any (read from the environment now for
    /// [`DiskVerdicts::FromEnvironment`]).
    pub fn dir(&self) -> Option<PathBuf> {
        match self {
            DiskVerdicts::Off => None,
            DiskVerdicts::Dir(dir) => Some(dir.clone()),
            DiskVerdicts::DefaultDir => {
                Some(crate::cache_dir::default_cache_dir()?.join("verdicts"))
            }
            DiskVerdicts::FromEnvironment => {
                let value = std::env::var_os(VERDICT_CACHE_ENV)?;
                match value.to_str() {
                    Some("" | "0" | "off") => None,
                    Some("1" | "on") => DiskVerdicts::DefaultDir.dir(),
                    _ => Some(PathBuf::from(value)).filter(|p| p.is_absolute()),
                }
            }
        }
    }
}

/// The verdicts that apply to one open file: its identity read before any of its bytes are
/// hashed, and the options.
pub(crate) struct Verdicts<'a> {
    observed: Option<Observed>,
    options: &'a VerdictOptions,
    /// The directory on disk, opened and checked on first use.
    #[cfg(unix)]
    disk: std::cell::OnceCell<Option<on_disk::DiskVerdicts>>,
    /// The checksum the disk's entry for this file holds, read once (an open asks before and
    /// after decoding).
    #[cfg(unix)]
    disk_checksum: std::cell::OnceCell<Option<u64>>,
}

impl<'a> Verdicts<'a> {
    /// For the open `file`, before its bytes are hashed; `checking_signature`: none apply.
    pub fn for_open(file: &File, options: &'a VerdictOptions, checking_signature: bool) -> Self {
        let observed = match checking_signature {
            true => None,
            false => Observed::of(file),
        };
        Verdicts {
            observed,
            options,
            #[cfg(unix)]
            disk: std::cell::OnceCell::new(),
            #[cfg(unix)]
            disk_checksum: std::cell::OnceCell::new(),
        }
    }

    /// This file decoded as when this process found it whole, if it did and it is unchanged
    /// since (its structures were checked then; the hash and the checks are skipped).
    pub fn recall_in_process<'b>(&self, bytes: &'b [u8]) -> Option<ImageFileInPlace<'b>> {
        match self.options.in_process {
            true => in_process::recall(&self.observed?.identity, bytes),
            false => None,
        }
    }

    /// Whether the verdict cache on disk vouches for this file, decoded as `file` (the
    /// checksum its root stores is the one hashed); then this process remembers it too.
    pub fn recall_on_disk(&self, file: &ImageFileInPlace) -> Option<Verification> {
        #[cfg(unix)]
        if self.disk_checksum().is_some_and(|sum| sum == file.checksum) {
            self.remember_in_process(file);
            return Some(Verification::RememberedOnDisk);
        }
        let _ = file;
        None
    }

    /// Whether the verdict cache on disk has an entry for this file (its checksum is compared
    /// with the one the file stores by [`Verdicts::recall_on_disk`], once the file is decoded).
    pub fn on_disk_has_entry(&self) -> bool {
        #[cfg(unix)]
        return self.disk_checksum().is_some();
        #[cfg(not(unix))]
        false
    }

    /// Remembers that this file, decoded as `file`, was found whole, if it had settled when
    /// its identity was read (a file changed within the filesystem's timestamp granularity is
    /// not remembered).
    pub fn remember(&self, file: &ImageFileInPlace) {
        self.remember_in_process(file);
        #[cfg(unix)]
        if let (Some(observed), Some(disk)) = (self.settled(), self.disk()) {
            // A verdict not written is a hash on the next open, nothing worse.
            let _ = disk.remember(&observed.identity, file.checksum);
        }
    }

    fn remember_in_process(&self, file: &ImageFileInPlace) {
        if let (Some(observed), true) = (self.settled(), self.options.in_process) {
            in_process::remember(observed.identity, file);
        }
    }

    /// The identity, if it had settled when read.
    fn settled(&self) -> Option<Observed> {
        self.observed.filter(Observed::is_settled)
    }

    /// The checksum the disk's entry for this file holds, if there is one.
    #[cfg(unix)]
    fn disk_checksum(&self) -> Option<u64> {
        let read = || self.disk()?.recall(&self.observed?.identity);
        *self.disk_checksum.get_or_init(read)
    }

    #[cfg(unix)]
    fn disk(&self) -> Option<&on_disk::DiskVerdicts> {
        let open = || on_disk::DiskVerdicts::open(&self.options.on_disk.dir()?).ok();
        self.disk.get_or_init(open).as_ref()
    }
}
