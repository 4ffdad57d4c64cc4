//! Hashing while the tables are decoded: the first open of an image hashes its bytes on rayon's
//! pool while this thread decodes and checks its structures (and then hashes what is left),
//! instead of one after the other.
//!
//! What the checksum covers depends only on the object file's headers and where the root is
//! (`coverage.rs`), not on the tables, so it is worked out first from those alone (a few
//! lookups), and the hash runs beside the full decoding (`ImageFile::parse_in_place`). The
//! early value stands for the checksum only when the decoding found the same coverage and the
//! same checksum field; otherwise, or when the headers do not read, the open hashes again after
//! decoding, as without it. SQLite's image spent about 0.2 ms decoding beside 0.4 ms hashing.

use crate::file::coverage::ChecksumCoverage;
use crate::file::segments::Segments;
use crate::file::ImageFile;
use crate::format::CHECKSUM_OFFSET;

/// What the checksum covers and where its field is, from the headers alone.
pub struct Outline {
    pub coverage: ChecksumCoverage,
    pub field: usize,
}

impl Outline {
    /// The outline of the image file `bytes` (its signature trailer, if any, left out), or
    /// `None` when its headers or root do not read: decoding then says what is wrong.
    pub fn of(bytes: &[u8]) -> Option<Outline> {
        let bytes = crate::signing::split_trailer(bytes).0;
        let file = object::File::parse(bytes).ok()?;
        let segments = Segments::from_file(&file, bytes.len()).ok()?;
        let root = crate::file::root_symbol::root_address(&file).ok()??;
        let field = usize::try_from(segments.file_offset(root)?).ok()? + CHECKSUM_OFFSET;
        // The field must be in the file; decoding says what is wrong otherwise.
        bytes.get(field..field + 8)?;
        let coverage = ChecksumCoverage::of_file(&file, &segments, bytes.len(), field).ok()?;
        Some(Outline { coverage, field })
    }

    /// The checksum of `bytes` over this outline's coverage, computed on rayon's pool and on
    /// this thread once it has run `beside` (`piece_hash.rs`).
    pub fn checksum_beside<R>(&self, bytes: &[u8], beside: impl FnOnce() -> R) -> (R, u64) {
        self.coverage.checksum_beside(bytes, self.field, beside)
    }

    /// Whether `file`, decoded in full from the same bytes, has this coverage and field, so a
    /// checksum computed over this outline is the file's.
    pub fn matches<M, S>(&self, file: &ImageFile<M, S>) -> bool {
        self.coverage == file.checksum_coverage && self.field == file.checksum_file_offset
    }
}
