//! What a build process is doing, noted for the process that supervises it.
//!
//! The command line runs a build in a child process of its own (`cli/supervise.rs`): LLVM can
//! crash on damaged input (`codegen/isolated.rs`), and a crash must be one error line naming
//! the file, not a signal, and leave no temp file behind. The child notes each input before it
//! parses and verifies it, and that it is done after, and each temp file or directory it makes
//! beside an output; when the child dies by a signal, the supervisor reads the notes: a read
//! never finished names the culprit, and the temp paths are removed. Notes are records
//! `R<path>\0` (reading the file at path), `D\0` (done), `T<path>\0` (a temp path, noted
//! before it is made) and `U<path>\0` (that path was someone else's after all), appended to
//! one file; a crash loses nothing written before it.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where this process notes its reads, when a supervisor asked for it.
static NOTE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Writes every later note to `file` (the supervisor's, opened for appending).
pub fn write_notes_to(file: std::fs::File) {
    *NOTE.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
}

/// A read in progress: noted when made, noted as done when dropped.
pub struct Reading(());

impl Reading {
    pub fn start(path: &Path) -> Reading {
        write_path(b'R', path);
        Reading(())
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        write(b"D\0");
    }
}

/// Makes a temp file or directory in `dir`, named `.aotlink-<random><suffix>`, noted for
/// removal after a crash *before* it exists: noted after, a crash between the two left it
/// behind (a test killing the build the moment the path appeared did, on a busy machine).
/// `make` must create exactly the path it is given and fail with `AlreadyExists` if there is
/// one; such a path is not this build's, and is un-noted. (A noted path gone by the crash was
/// renamed into place or removed by the build itself.)
pub fn make_temp<T>(
    dir: &Path,
    suffix: &str,
    mut make: impl FnMut(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    for _ in 0..8 {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let path = dir.join(format!(".aotlink-{}{suffix}", &random[..12]));
        write_path(b'T', &path);
        match make(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => write_path(b'U', &path),
            made => return made,
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "no free temp name after 8 tries",
    ))
}

/// Writes the record `<tag><path>\0`.
fn write_path(tag: u8, path: &Path) {
    let mut record = vec![tag];
    record.extend_from_slice(path.as_os_str().as_encoded_bytes());
    record.push(0);
    write(&record);
}

fn write(record: &[u8]) {
    if let Some(file) = NOTE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        // A note not written costs only the name in a crash's message.
        let _ = file.write_all(record);
    }
}

/// What the notes `bytes` say.
#[derive(Debug, Default, PartialEq)]
pub struct Notes {
    /// The file being read when the notes end, if one was.
    pub unfinished_read: Option<PathBuf>,
    /// Every temp path noted.
    pub temp_paths: Vec<PathBuf>,
}

/// Reads the notes in `bytes`; a record cut short by the crash (not written whole) is left out.
pub fn read_notes(bytes: &[u8]) -> Notes {
    let mut notes = Notes::default();
    let whole = match bytes.iter().rposition(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => return notes,
    };
    for record in whole.split(|&b| b == 0) {
        let path = || path_from_bytes(&record[1..]).map(PathBuf::from);
        match record.first() {
            Some(b'R') => notes.unfinished_read = path(),
            Some(b'D') => notes.unfinished_read = None,
            Some(b'T') => notes.temp_paths.extend(path()),
            Some(b'U') => {
                let theirs = path();
                notes.temp_paths.retain(|p| Some(p) != theirs.as_ref());
            }
            _ => {}
        }
    }
    notes
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
        let read = |bytes: &[u8]| read_notes(bytes).unfinished_read;
        assert_eq!(read(b""), None);
        assert_eq!(read(b"Ra.ll\0"), Some("a.ll".into()));
        assert_eq!(read(b"Ra.ll\0D\0"), None);
        assert_eq!(read(b"Ra.ll\0D\0Rb c.bc\0"), Some("b c.bc".into()));
        assert_eq!(read(b"Ra.ll\0T/t/x\0"), Some("a.ll".into()));
        // A record cut short by the crash (not written whole) names nothing.
        assert_eq!(read(b"Ra.ll\0D\0Rb.b"), None);
    }

    #[test]
    fn a_temp_path_found_taken_is_not_listed() {
        let notes = read_notes(b"T/o/.aotlink-a\0U/o/.aotlink-a\0T/o/.aotlink-b\0");
        assert_eq!(notes.temp_paths, vec![PathBuf::from("/o/.aotlink-b")]);
    }

    #[test]
    fn temp_paths_are_noted_before_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = None;
        let made = make_temp(dir.path(), ".tmp", |path| {
            seen = Some(path.to_path_buf());
            assert!(!path.exists());
            std::fs::File::create_new(path)
        });
        assert!(made.is_ok());
        let path = seen.unwrap();
        assert!(path.exists() && path.parent() == Some(dir.path()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".aotlink-") && name.ends_with(".tmp"),
            "{name}"
        );
        // A name taken by someone else is tried no further.
        let mut tries = 0;
        let taken = make_temp(dir.path(), "", |_| {
            tries += 1;
            Err::<(), _>(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
        });
        assert_eq!(taken.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(tries, 8);
    }

    #[test]
    fn every_temp_path_is_listed() {
        let notes = read_notes(b"T/o/.aotlink-1\0Ra.ll\0D\0T/o/.aotlink-2.tmp\0T/o/cut");
        assert_eq!(
            notes.temp_paths,
            [
                PathBuf::from("/o/.aotlink-1"),
                PathBuf::from("/o/.aotlink-2.tmp")
            ]
        );
    }
}
