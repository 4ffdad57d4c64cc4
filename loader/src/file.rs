//! An image read as a file: root, metadata and shard tables decoded from its bytes, without
//! loading it. Works on images of any object format, whatever the host (for `inspect`, and so
//! that `Image::open` can verify everything before the dynamic loader runs any of it).

use object::{Object, ObjectSegment};

use crate::error::LoadCause;
use crate::format::{image_checksum, RootView, ShardTable, CHECKSUM_OFFSET, ROOT_SYMBOL};
use crate::meta::Meta;

/// A decoded image file. Addresses are the file's own virtual addresses (before load bias).
#[derive(Clone, Debug)]
pub struct ImageFile {
    pub format: object::BinaryFormat,
    pub arch: object::Architecture,
    pub kind: crate::format::ImageKind,
    pub checksum: u64,
    pub root_vaddr: u64,
    /// Where the checksum field sits in the file.
    pub checksum_file_offset: usize,
    /// The checksum covers the file up to here: all of it, except a Mach-O code signature,
    /// which is itself a hash of what comes before it, and a signature trailer (`aotlink sign`).
    pub checksum_end: usize,
    pub meta: Meta,
    pub image_data_vaddr: u64,
    /// Where the image data sits in the file.
    pub image_data_file_range: std::ops::Range<usize>,
    /// Each shard's table and its virtual address.
    pub shards: Vec<(u64, ShardTable)>,
    /// Virtual address of each external method's slot.
    pub external_slots: Vec<u64>,
}

/// Reads an image file, refusing anything but a regular file: `/dev/zero` would grow without
/// end and a FIFO would block forever (an image is a shared library, always a regular file).
pub fn read_image_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO would wait for a writer: open without blocking, then look at what it is.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let mut file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // Read what the file held when opened, not what it may grow to.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.by_ref().take(metadata.len()).read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl ImageFile {
    /// Decodes an image from the bytes of its file.
    /// A signature trailer is not part of the image: it is left out.
    pub fn parse(bytes: &[u8]) -> Result<ImageFile, LoadCause> {
        let bytes = crate::signature::split_trailer(bytes).0;
        let file =
            object::File::parse(bytes).map_err(|e| LoadCause::NotSharedLibrary(e.to_string()))?;
        let format = file.format();
        let exports = file
            .exports()
            .map_err(|e| LoadCause::NotSharedLibrary(e.to_string()))?;
        let root_vaddr = exports
            .iter()
            .find(|e| c_name(format, e.name()) == ROOT_SYMBOL.as_bytes())
            .map(|e| e.address())
            .ok_or(LoadCause::NotAnImage)?;

        let at = |vaddr: u64, what: &'static str| {
            file_bytes_at(&file, bytes, vaddr).ok_or(crate::format::FormatError::Truncated(what))
        };
        let root_bytes = at(root_vaddr, "root symbol")?;
        let root = RootView::parse(root_bytes)?;
        let meta = Meta::decode(root.meta)?;
        if meta.externals.len() != root.external_slot_offsets.len() {
            return Err(crate::format::FormatError::Invalid(
                "external slots and methods differ in number".into(),
            )
            .into());
        }
        let external_slots = root
            .external_slot_offsets
            .iter()
            .map(|&off| root_vaddr.wrapping_add_signed(off as i64))
            .collect();
        let slots: Vec<u64> = root
            .shard_pointer_offsets
            .iter()
            .map(|&off| root_vaddr.wrapping_add(off as u64))
            .collect();
        let relocated = relocated_values(&file, &slots);
        let shards = slots
            .iter()
            .zip(relocated)
            .map(|(&slot, relocated)| {
                let vaddr = relocated.unwrap_or(read_u64(at(slot, "shard pointer")?));
                Ok((vaddr, ShardTable::parse(at(vaddr, "shard table")?)?))
            })
            .collect::<Result<Vec<_>, LoadCause>>()?;
        check_indices(&meta, &shards)?;
        let image_data_vaddr = root_vaddr.wrapping_add_signed(root.head.image_data_offset as i64);
        let image_data_file_range = match root.head.image_data_len as usize {
            0 => 0..0,
            len => {
                let data = at(image_data_vaddr, "image data")?;
                if data.len() < len {
                    return Err(crate::format::FormatError::Truncated("image data").into());
                }
                let start = offset_in(bytes, data);
                start..start + len
            }
        };
        let root_file_offset = offset_in(bytes, root_bytes);
        Ok(ImageFile {
            format,
            arch: file.architecture(),
            kind: root.kind(),
            checksum: root.head.checksum,
            root_vaddr,
            checksum_file_offset: root_file_offset + CHECKSUM_OFFSET,
            checksum_end: code_signature_offset(&file)
                .unwrap_or(bytes.len())
                .min(bytes.len()),
            meta,
            image_data_vaddr,
            image_data_file_range,
            shards,
            external_slots,
        })
    }

    /// Checks the stored checksum against the file's bytes.
    pub fn verify_checksum(&self, bytes: &[u8]) -> Result<(), LoadCause> {
        if self.checksum == 0 {
            return Err(LoadCause::Unsealed);
        }
        if self.checksum_file_offset + 8 > self.checksum_end || self.checksum_end > bytes.len() {
            return Err(crate::format::FormatError::Truncated("file").into());
        }
        let computed = image_checksum(&bytes[..self.checksum_end], self.checksum_file_offset);
        if computed != self.checksum {
            return Err(LoadCause::Checksum {
                stored: self.checksum,
                computed,
            });
        }
        Ok(())
    }
}

/// Every fvar and gvar index appears exactly once over all shards.
fn check_indices(meta: &Meta, shards: &[(u64, ShardTable)]) -> Result<(), LoadCause> {
    let invalid = |what: &str| Err(crate::format::FormatError::Invalid(what.to_string()).into());
    let mut seen_f = vec![false; meta.methods.len()];
    let mut seen_g = vec![false; meta.gvars.len()];
    for (_, table) in shards {
        if table.clones.len() + 1 != meta.targets.len() {
            return invalid("a shard table's target count differs from the image's");
        }
        for (seen, idxs) in [
            (&mut seen_f, &table.fvar_idxs),
            (&mut seen_g, &table.gvar_idxs),
        ] {
            for &i in idxs {
                match seen.get_mut(i as usize) {
                    Some(slot) if !*slot => *slot = true,
                    _ => return invalid("a shard table lists an index twice or out of range"),
                }
            }
        }
        if table
            .slot_fvars
            .iter()
            .any(|&f| f as usize >= meta.methods.len())
        {
            return invalid("a dispatch slot names an fvar out of range");
        }
    }
    if seen_f.contains(&false) || seen_g.contains(&false) {
        return invalid("the shard tables miss some functions or globals");
    }
    Ok(())
}

/// For each address in `slots`, the value the dynamic loader writes there when the file keeps
/// it in a relocation rather than in place (ELF RELA); `None` where the bytes in place are the
/// value (Mach-O rebases, PE base relocations). One pass over the relocations.
fn relocated_values(file: &object::File, slots: &[u64]) -> Vec<Option<u64>> {
    let mut values = vec![None; slots.len()];
    if let Some(relocations) = file.dynamic_relocations() {
        for (at, r) in
            relocations.filter(|(_, r)| matches!(r.target(), object::RelocationTarget::Absolute))
        {
            if let Some(i) = slots.iter().position(|&s| s == at) {
                values[i] = Some(r.addend() as u64);
            }
        }
    }
    values
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// A symbol name as C spells it (Mach-O prefixes `_`).
fn c_name(format: object::BinaryFormat, name: &[u8]) -> &[u8] {
    match format {
        object::BinaryFormat::MachO => name.strip_prefix(b"_").unwrap_or(name),
        _ => name,
    }
}

/// The names of the symbols an image file exports, as C spells them, sorted (for `inspect`
/// and tests; loading does not need them).
pub fn exported_symbols(bytes: &[u8]) -> Result<Vec<String>, LoadCause> {
    let file =
        object::File::parse(bytes).map_err(|e| LoadCause::NotSharedLibrary(e.to_string()))?;
    let exports = file
        .exports()
        .map_err(|e| LoadCause::NotSharedLibrary(e.to_string()))?;
    let mut names: Vec<String> = exports
        .iter()
        .map(|e| String::from_utf8_lossy(c_name(file.format(), e.name())).into_owned())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Where a Mach-O file's code signature starts, if it has one.
fn code_signature_offset(file: &object::File) -> Option<usize> {
    use object::read::macho::LoadCommandVariant;
    let object::File::MachO64(macho) = file else {
        return None;
    };
    let mut commands = macho.macho_load_commands().ok()?;
    while let Ok(Some(command)) = commands.next() {
        if command.cmd() == object::macho::LC_CODE_SIGNATURE {
            if let Ok(LoadCommandVariant::LinkeditData(data)) = command.variant() {
                return Some(data.dataoff.get(macho.endian()) as usize);
            }
        }
    }
    None
}

/// Where `part`, a subslice of `whole`, starts in it.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// The file's bytes from virtual address `vaddr` to the end of its segment's file contents.
fn file_bytes_at<'a>(file: &object::File, bytes: &'a [u8], vaddr: u64) -> Option<&'a [u8]> {
    file.segments().find_map(|seg| {
        let (offset, size) = seg.file_range();
        let start = vaddr.checked_sub(seg.address())?;
        if start >= size {
            return None;
        }
        bytes.get((offset + start) as usize..(offset + size) as usize)
    })
}
