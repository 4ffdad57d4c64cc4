//! What a build process is reading, noted for the process that supervises it.
//!
//! The command line runs a build in a child process of its own (`cli/supervise.rs`): LLVM can
//! crash on damaged input (`isolated.rs`), and a crash must be one error line naming the file,
//! not a signal. The child notes each input here before it parses and verifies it, and that
//! it is done after; when the child dies by a signal, the supervisor reads the last note: a
//! read never finished names the culprit. Notes are records `R<path>\0` (reading the file at
//! path) and `D\0` (done) appended to one file; a crash loses nothing written before it.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where this process notes its reads, when a supervisor asked for it.
static NOTE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Notes every later read in `file` (the supervisor's note, opened for appending).
pub fn note_reads_in(file: std::fs::File) {
    *NOTE.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
}

/// A read in progress: noted when made, noted as done when dropped.
pub struct Reading(());

impl Reading {
    pub fn start(path: &Path) -> Reading {
        let mut record = vec![b'R'];
        record.extend_from_slice(path.as_os_str().as_encoded_bytes());
        record.push(0);
        write(&record);
        Reading(())
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        write(b"D\0");
    }
}

fn write(record: &[u8]) {
    if let Some(file) = NOTE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        // A note not written costs only the name in a crash's message.
        let _ = file.write_all(record);
    }
}

/// The file being read when the notes `bytes` end, if one was.
pub fn unfinished_read(bytes: &[u8]) -> Option<PathBuf> {
    let last = bytes.strip_suffix(b"\0")?.split(|&b| b == 0).next_back()?;
    let path = last.strip_prefix(b"R")?;
    Some(Path::new(path_from_bytes(path)?).to_path_buf())
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> Option<&OsStr> {
    Some(std::os::unix::ffi::OsStrExt::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> Option<&OsStr> {
    std::str::from_utf8(bytes).ok().map(OsStr::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_unfinished_read_is_the_culprit() {
        assert_eq!(unfinished_read(b""), None);
        assert_eq!(unfinished_read(b"Ra.ll\0"), Some("a.ll".into()));
        assert_eq!(unfinished_read(b"Ra.ll\0D\0"), None);
        assert_eq!(
            unfinished_read(b"Ra.ll\0D\0Rb c.bc\0"),
            Some("b c.bc".into())
        );
        // A record cut short by the crash (not written whole) names nothing.
        assert_eq!(unfinished_read(b"Ra.ll\0D\0Rb.b"), None);
    }
}
