//! Keeping a Mach-O ad-hoc code signature valid after aotlink changes bytes of the file.
//!
//! LLD signs arm64 macOS images ad hoc (macOS refuses unsigned arm64 code): a SuperBlob at
//! `LC_CODE_SIGNATURE`'s offset holds a CodeDirectory with one SHA-256 per page of the file
//! before the signature. When sealing writes the checksum, the hash of the page it lands in is
//! recomputed. All fields are big-endian.

use std::ops::Range;

use object::read::macho::LoadCommandVariant;
use sha2::{Digest, Sha256};

const SUPERBLOB_MAGIC: u32 = 0xfade_0cc0;
const CODEDIRECTORY_MAGIC: u32 = 0xfade_0c02;
const CS_HASHTYPE_SHA256: u8 = 2;

/// The hashed pages of a signed file: where the hashes are and what they cover.
struct CodeDirectory {
    /// File offset of slot 0's hash.
    hashes: usize,
    code_slots: usize,
    code_limit: usize,
    page_size: usize,
}

/// A Mach-O code signature that cannot be updated.
#[derive(Debug, thiserror::Error)]
pub enum CodeSignatureError {
    #[error("code signature truncated")]
    Truncated,
    #[error("code signature: not a SuperBlob")]
    NotSuperBlob,
    #[error("code signature: only SHA-256 code directories are supported")]
    NotSha256,
    #[error("code signature: code directory out of bounds")]
    OutOfBounds,
    #[error("code signature without a code directory")]
    NoCodeDirectory,
}

/// Recomputes the page hashes covering `changed`; returns the bytes it rewrote (`None`: the
/// file has no signature).
pub fn rehash_pages(
    bytes: &mut [u8],
    changed: Range<usize>,
) -> Result<Option<Range<usize>>, CodeSignatureError> {
    let Some(cd) = code_directory(bytes)? else {
        return Ok(None);
    };
    let first = changed.start / cd.page_size;
    let last = ((changed.end - 1) / cd.page_size).min(cd.code_slots - 1);
    for page in first..=last {
        let start = page * cd.page_size;
        let end = (start + cd.page_size).min(cd.code_limit);
        let hash = Sha256::digest(&bytes[start..end]);
        let slot = cd.hashes + page * 32;
        bytes[slot..slot + 32].copy_from_slice(&hash);
    }
    Ok(Some(cd.hashes + first * 32..cd.hashes + (last + 1) * 32))
}

fn code_directory(bytes: &[u8]) -> Result<Option<CodeDirectory>, CodeSignatureError> {
    let Some(blob) = signature_offset(bytes) else {
        return Ok(None);
    };
    let be = |at: usize| -> Result<u32, CodeSignatureError> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
            .ok_or(CodeSignatureError::Truncated)
    };
    if be(blob)? != SUPERBLOB_MAGIC {
        return Err(CodeSignatureError::NotSuperBlob);
    }
    for i in 0..be(blob + 8)? as usize {
        let cd = blob + be(blob + 12 + 8 * i + 4)? as usize;
        if be(cd)? != CODEDIRECTORY_MAGIC {
            continue;
        }
        let byte = |at: usize| {
            bytes
                .get(cd + at)
                .copied()
                .ok_or(CodeSignatureError::Truncated)
        };
        if byte(37)? != CS_HASHTYPE_SHA256 || byte(36)? != 32 {
            return Err(CodeSignatureError::NotSha256);
        }
        let directory = CodeDirectory {
            hashes: cd + be(cd + 16)? as usize,
            code_slots: be(cd + 28)? as usize,
            code_limit: be(cd + 32)? as usize,
            page_size: 1usize << byte(39)?,
        };
        if directory.hashes + 32 * directory.code_slots > bytes.len()
            || directory.code_limit > bytes.len()
        {
            return Err(CodeSignatureError::OutOfBounds);
        }
        return Ok(Some(directory));
    }
    Err(CodeSignatureError::NoCodeDirectory)
}

/// File offset of a Mach-O file's code signature.
fn signature_offset(bytes: &[u8]) -> Option<usize> {
    let object::File::MachO64(macho) = object::File::parse(bytes).ok()? else {
        return None;
    };
    let mut commands = macho.macho_load_commands().ok()?;
    while let Ok(Some(command)) = commands.next() {
        if let Ok(LoadCommandVariant::LinkeditData(data)) = command.variant() {
            if command.cmd() == object::macho::LC_CODE_SIGNATURE {
                return Some(data.dataoff.get(macho.endian()) as usize);
            }
        }
    }
    None
}
