//! Sealing: writing the image checksum into a freshly linked file (and, for a Mach-O file with
//! an ad-hoc code signature, the new hash of the page that holds it).

use std::path::Path;

use aotload::format::image_checksum;
use aotload::ImageFile;

use super::codesign::rehash_pages;

/// Computes the checksum of the image at `path` and stores it in its root.
pub fn seal(path: &Path) -> Result<u64, String> {
    let mut bytes =
        std::fs::read(path).map_err(|e| format!("cannot read the linked image: {e}"))?;
    let image =
        ImageFile::parse(&bytes).map_err(|e| format!("the linked image is not readable: {e}"))?;
    let at = image.checksum_file_offset;
    let checksum = image_checksum(&bytes[..image.checksum_end], at);
    bytes[at..at + 8].copy_from_slice(&checksum.to_le_bytes());
    // The signature hashes the pages before it, the checksum field's page included.
    rehash_pages(&mut bytes, at..at + 8)?;
    // The linker's temp file, not yet the output: rewriting it in place is safe.
    std::fs::write(path, &bytes).map_err(|e| format!("cannot write the sealed image: {e}"))?;
    Ok(checksum)
}
