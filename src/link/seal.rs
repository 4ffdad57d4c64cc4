//! Sealing: writing the image checksum into a freshly linked file.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use aotload::format::image_checksum;
use aotload::ImageFile;

/// Computes the checksum of the image at `path` and stores it in its root.
pub fn seal(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the linked image: {e}"))?;
    let image =
        ImageFile::parse(&bytes).map_err(|e| format!("the linked image is not readable: {e}"))?;
    let checksum = image_checksum(&bytes, image.checksum_file_offset);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    file.seek(SeekFrom::Start(image.checksum_file_offset as u64))
        .map_err(|e| e.to_string())?;
    file.write_all(&checksum.to_le_bytes())
        .map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())?;
    Ok(checksum)
}
