//! Which file an open descriptor is, and whether it is settled enough for a verdict about its
//! bytes to be remembered.
//!
//! A verdict holds for a file while its identity is unchanged: device and inode (the same file,
//! not another renamed over the path), size, and mtime and ctime to the nanosecond. Any write
//! sets ctime, and nobody can set ctime back (`touch -r` and `utimensat` restore mtime, and
//! set ctime to now while doing it), so a written file has a new identity. Except within one
//! tick of the filesystem's clock: a write in the same tick as the identity was read leaves
//! the timestamps as they were. So, as git does for its index ("racily clean" entries), a
//! verdict is remembered only for a file whose last change is older than the filesystem's
//! timestamp granularity when its identity was read: every write after that read falls in a
//! later tick and changes ctime.

use std::fs::File;
use std::time::SystemTime;

/// Nanoseconds in a second.
const SECOND: i128 = 1_000_000_000;
/// How old a file's last change must be for a verdict to be remembered, when its timestamps
/// have sub-second parts: more than a kernel tick (Linux stamps files with the coarse clock,
/// 1–10 ms), exFAT's 10 ms, or anything finer.
const FINE_GRAIN_SETTLE: i128 = 100_000_000;
/// The same when both timestamps are whole seconds, as on filesystems that keep seconds (ext3,
/// HFS+) or two seconds (FAT).
const COARSE_GRAIN_SETTLE: i128 = 2 * SECOND;

/// A file as `fstat` describes it, times in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

/// An identity and when it was read (the clock read before the `fstat`).
#[derive(Clone, Copy, Debug)]
pub struct Observed {
    pub identity: FileIdentity,
    pub at_ns: i128,
}

impl Observed {
    /// The identity of the open `file`, now. `None` where the platform has no inode numbers
    /// and ctime (Windows): nothing is remembered there.
    pub fn of(file: &File) -> Option<Observed> {
        // Read the clock first: any write after the fstat happens after this instant.
        let at_ns = nanos_since_epoch(SystemTime::now())?;
        Some(Observed {
            identity: FileIdentity::of(file)?,
            at_ns,
        })
    }

    /// Whether a verdict may be remembered: the file's last change (mtime or ctime, whichever
    /// is later; a time in the future counts as now) is older than the settle time.
    pub fn is_settled(&self) -> bool {
        let id = &self.identity;
        let whole_seconds = id.mtime_ns % SECOND == 0 && id.ctime_ns % SECOND == 0;
        let settle = match whole_seconds {
            true => COARSE_GRAIN_SETTLE,
            false => FINE_GRAIN_SETTLE,
        };
        id.mtime_ns.max(id.ctime_ns) + settle <= self.at_ns
    }
}

impl FileIdentity {
    #[cfg(unix)]
    pub fn of(file: &File) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().ok()?;
        let ns = |sec: i64, nsec: i64| i128::from(sec) * SECOND + i128::from(nsec);
        Some(FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_file: &File) -> Option<FileIdentity> {
        None
    }
}

fn nanos_since_epoch(time: SystemTime) -> Option<i128> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(since.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(mtime_ns: i128, ctime_ns: i128, at_ns: i128) -> Observed {
        let identity = FileIdentity {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns,
            ctime_ns,
        };
        Observed { identity, at_ns }
    }

    #[test]
    fn a_file_changed_within_the_settle_time_is_not_settled() {
        let t = 1_700_000_000 * SECOND + 123_456_789;
        assert!(!observed(t, t, t).is_settled());
        assert!(!observed(t, t, t + FINE_GRAIN_SETTLE - 1).is_settled());
        assert!(observed(t, t, t + FINE_GRAIN_SETTLE).is_settled());
        // The later of the two times counts: a `touch -r` sets mtime back, not ctime.
        assert!(!observed(t - 10 * SECOND, t, t + FINE_GRAIN_SETTLE - 1).is_settled());
        // A time in the future (another machine's clock) is never settled.
        assert!(!observed(t + SECOND, t + SECOND, t).is_settled());
    }

    #[test]
    fn whole_second_timestamps_settle_after_two_seconds() {
        let t = 1_700_000_000 * SECOND;
        assert!(!observed(t, t, t + SECOND).is_settled());
        assert!(observed(t, t, t + 2 * SECOND).is_settled());
    }

    #[test]
    fn an_open_file_has_its_identity() {
        let file = File::open(std::env::current_exe().unwrap()).unwrap();
        let seen = Observed::of(&file).unwrap();
        assert_eq!(seen.identity, FileIdentity::of(&file).unwrap());
        assert_eq!(seen.identity.size, file.metadata().unwrap().len());
    }
}
