//! Sealing: writing the tables digest and then the image checksum into a freshly linked file
//! (and, for a Mach-O file with an ad-hoc code signature, the new hash of the page that holds
//! them). Both wait for the link: the tables hold offsets only the linker resolves.

use std::os::unix::fs::FileExt as _;
use std::path::Path;

use aotload::format::{CHECKSUM_OFFSET, TABLES_DIGEST_OFFSET};
use aotload::ImageFile;

use super::codesign::{rehash_pages, CodeSignatureError};

/// Why a linked image could not be sealed (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read the linked image: {0}")]
    Read(std::io::Error),
    #[error("the linked image is not readable: {0}")]
    Unreadable(aotload::LoadCause),
    #[error(transparent)]
    CodeSignature(#[from] CodeSignatureError),
    #[error("cannot write the sealed image: {0}")]
    Write(std::io::Error),
}

/// Computes the tables digest and the checksum of the image at `path` and stores them in its
/// root.
pub fn seal(path: &Path) -> Result<u64, SealError> {
    let mut bytes = std::fs::read(path).map_err(SealError::Read)?;
    // The metadata is read in place: sealing needs only where the fields are and the digest.
    let (at, digest, coverage) = {
        let image = ImageFile::parse_in_place(&bytes).map_err(SealError::Unreadable)?;
        (
            image.checksum_file_offset,
            image.computed_tables_digest,
            image.checksum_coverage,
        )
    };
    // The digest is computed with both fields read as zero, so it can be stored first.
    let digest_at = at - CHECKSUM_OFFSET + TABLES_DIGEST_OFFSET;
    bytes[digest_at..digest_at + 8].copy_from_slice(&digest.to_le_bytes());
    let checksum = coverage.checksum(&bytes, at);
    bytes[at..at + 8].copy_from_slice(&checksum.to_le_bytes());
    // The signature hashes the pages before it, the pages of both fields included.
    let slots = rehash_pages(&mut bytes, at.min(digest_at)..digest_at.max(at) + 8)?;
    // The linker's temp file, not yet the output: rewriting it in place is safe. Only what
    // changed is written (an image is megabytes, the fields 16 bytes).
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(SealError::Write)?;
    for range in [digest_at..digest_at + 8, at..at + 8]
        .into_iter()
        .chain(slots)
    {
        file.write_all_at(&bytes[range.clone()], range.start as u64)
            .map_err(SealError::Write)?;
    }
    Ok(checksum)
}
