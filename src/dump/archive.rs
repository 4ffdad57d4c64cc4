//! Writing the archive: members in a fixed order (shards by index, then the header), with a
//! symbol table, zero timestamps and owners, written to a temp file and renamed.

use std::io::{Cursor, Write};
use std::path::Path;

use ar_archive_writer::{
    write_archive_to_stream, ArchiveKind, NewArchiveMember, DEFAULT_OBJECT_READER,
};

/// Writes `members` (name, bytes) as a GNU archive at `path`.
pub fn write_archive(path: &Path, members: &[(String, &[u8])]) -> std::io::Result<()> {
    let new_members: Vec<NewArchiveMember> = members
        .iter()
        .map(|(name, bytes)| NewArchiveMember::new(*bytes, &DEFAULT_OBJECT_READER, name.clone()))
        .collect();
    let mut out = Cursor::new(Vec::new());
    write_archive_to_stream(&mut out, &new_members, ArchiveKind::Gnu, false, None)?;
    write_atomically(path, out.get_ref())
}

/// Writes `bytes` to a temp file beside `path`, then renames it over `path`: a reader sees
/// the old file or the new one, whole, even if this process dies. No fsync: as with cc, ld
/// and LLD, surviving a power cut is the filesystem's business, and an fsync of an archive
/// that is linked and deleted a moment later cost a no-change SQLite rebuild 0.1 to 0.5 s.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = crate::crash_note::make_temp(dir, ".tmp", |path| {
        tempfile::Builder::new()
            .prefix(path.file_name().unwrap_or_default())
            .rand_bytes(0)
            .tempfile_in(dir)
    })?;
    temp.write_all(bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
