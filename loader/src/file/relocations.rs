//! Where the dynamic loader writes when it relocates an ELF image, read as glibc's `ld.so`
//! finds it, and checked against what the loader relies on.
//!
//! Why: the loader verifies the file's root, metadata and shard tables, and then uses them. A
//! dynamic relocation that writes into them makes the loaded copy differ from the bytes that
//! were verified (issue 27: a `R_X86_64_RELATIVE` retargeted into a method's callee range
//! passed every check; `dlopen` applied it and `aotlink run` panicked on the relocated range).
//! The writer relocates nothing there but the root's shard pointers, so an image with any
//! other relocation there is refused before `dlopen`.
//!
//! The relocations are the ones the dynamic loader applies: the last `PT_DYNAMIC` segment's
//! `DT_RELA`, `DT_REL`, `DT_JMPREL` and `DT_RELR` tables, read at their addresses (the section
//! headers, which `ld.so` never reads, could describe other tables). Every entry counts
//! whatever its type: glibc applies the first `DT_RELACOUNT` entries as relative ones without
//! looking at their type. Each writes a pointer (two for a TLS descriptor); a copy
//! relocation, which copies a symbol's whole size and has no business in a shared library, is
//! refused wherever it points.
//!
//! Every write must also land in a writable segment (RELRO included): elsewhere `ld.so`
//! would fault on a read-only page, or write outside the image.
//!
//! Mach-O (rebases and binds) and PE (base relocations) are not read here: on those formats
//! the loader still reads nothing the dynamic loader may have changed but the root's head,
//! which it compares with the file's after loading (`load/image.rs`), and the image data it hands
//! out (docs/DESIGN.md, "Trust model").

use std::ops::Range;

use object::read::elf::{Dyn as _, ElfFile, FileHeader, ProgramHeader as _, Rel as _, Rela as _};

use crate::file::segments::Segments;

/// A part of the image the loader relies on after `dlopen`, which no relocation may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protected {
    /// The root's fixed head (checksum and tables digest included).
    RootHead,
    /// The root's external-slot offsets, between its shard pointers and its metadata.
    ExternalSlotOffsets,
    Metadata,
    /// The table of the shard with this index.
    ShardTable(usize),
    ImageData,
}

impl std::fmt::Display for Protected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protected::RootHead => write!(f, "root's head"),
            Protected::ExternalSlotOffsets => write!(f, "root's external slot offsets"),
            Protected::Metadata => write!(f, "metadata"),
            Protected::ShardTable(i) => write!(f, "table of shard {i}"),
            Protected::ImageData => write!(f, "image data"),
        }
    }
}

/// Why an image's relocations are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelocationError {
    #[error("a dynamic relocation at {at:#x} writes into the {into}, which the loader verified in the file (only the root's shard pointers may be relocated)")]
    Into { at: u64, into: Protected },
    #[error("a dynamic relocation at {at:#x} writes outside the image's writable memory")]
    NotWritable { at: u64 },
    #[error("a copy relocation at {at:#x} (a shared library has none)")]
    Copy { at: u64 },
    #[error("the dynamic relocation table {0} lies outside the file's contents")]
    TableOutsideFile(&'static str),
}

/// The ranges (virtual addresses) no relocation may write, sorted by start, with the highest
/// end up to each: one binary search per relocation finds whether it overlaps any.
#[derive(Debug, Default)]
pub struct ProtectedRanges {
    ranges: Vec<(Range<u64>, Protected)>,
    max_end_so_far: Vec<u64>,
}

impl ProtectedRanges {
    pub fn new(mut ranges: Vec<(Range<u64>, Protected)>) -> ProtectedRanges {
        ranges.retain(|(r, _)| !r.is_empty());
        ranges.sort_by_key(|(r, _)| r.start);
        let max_end_so_far = (ranges.iter())
            .scan(0, |max, (r, _)| {
                *max = r.end.max(*max);
                Some(*max)
            })
            .collect();
        ProtectedRanges {
            ranges,
            max_end_so_far,
        }
    }

    /// The protected part that `write` overlaps, if any.
    pub fn overlapped_by(&self, write: Range<u64>) -> Option<Protected> {
        // Ranges 0..k start before the write ends; one of them overlaps it when one ends after
        // it starts.
        let k = self.ranges.partition_point(|(r, _)| r.start < write.end);
        if k == 0 || self.max_end_so_far[k - 1] <= write.start {
            return None;
        }
        (self.ranges[..k].iter().rev())
            .find(|(r, _)| r.end > write.start)
            .map(|&(_, what)| what)
    }
}

/// Refuses an ELF image whose dynamic relocations write into `protected` (other formats: see
/// the module comment). Linear in the relocations, a binary search each.
pub fn check_dynamic_relocations(
    file: &object::File,
    segments: &Segments,
    protected: &ProtectedRanges,
) -> Result<(), RelocationError> {
    match file {
        object::File::Elf64(elf) => check_elf(elf, segments, protected),
        object::File::Elf32(elf) => check_elf(elf, segments, protected),
        _ => Ok(()),
    }
}

/// The `DT_*` entries that locate relocation tables; a later entry of a tag replaces an earlier
/// one, as in glibc's `elf_get_dynamic_info`.
#[derive(Default)]
struct RelocationTables {
    rela: Option<u64>,
    rela_size: u64,
    rel: Option<u64>,
    rel_size: u64,
    jmprel: Option<u64>,
    jmprel_size: u64,
    jmprel_is_rel: bool,
    relr: Option<u64>,
    relr_size: u64,
}

fn check_elf<Elf: FileHeader<Endian = object::Endianness>>(
    elf: &ElfFile<Elf>,
    segments: &Segments,
    protected: &ProtectedRanges,
) -> Result<(), RelocationError> {
    let endian = elf.endian();
    let data = elf.data();
    let word = if object::Object::is_64(elf) { 8 } else { 4 };
    let Some(tables) = relocation_tables(elf, segments) else {
        // No dynamic segment: the dynamic loader refuses the file, relocating nothing.
        return Ok(());
    };
    let machine = elf.elf_header().e_machine(endian);
    let check_write = |at: u64, r_type: u32| -> Result<(), RelocationError> {
        let width = match (machine, r_type) {
            (object::elf::EM_X86_64, object::elf::R_X86_64_COPY)
            | (object::elf::EM_AARCH64, object::elf::R_AARCH64_COPY) => {
                return Err(RelocationError::Copy { at })
            }
            (object::elf::EM_X86_64, object::elf::R_X86_64_TLSDESC)
            | (object::elf::EM_AARCH64, object::elf::R_AARCH64_TLSDESC) => 2 * word,
            (object::elf::EM_X86_64 | object::elf::EM_AARCH64, _) => word,
            // An architecture no image is built for: assume the widest write.
            _ => 2 * word,
        };
        check_range(at, width, segments, protected)
    };
    let table = |start: u64, size: u64, entry: usize, what: &'static str| {
        let count = usize::try_from(size.div_ceil(entry as u64)).ok();
        let bytes = segments.file_bytes_at(data, start);
        let len = count.and_then(|n| n.checked_mul(entry));
        match (bytes, len) {
            (Some(bytes), Some(len)) => (bytes.get(..len))
                .map(|b| (b, len / entry))
                .ok_or(RelocationError::TableOutsideFile(what)),
            _ => Err(RelocationError::TableOutsideFile(what)),
        }
    };
    let rela_tables = [
        (tables.rela, tables.rela_size, "DT_RELA"),
        (
            tables.jmprel.filter(|_| !tables.jmprel_is_rel),
            tables.jmprel_size,
            "DT_JMPREL",
        ),
    ];
    for (start, size, what) in rela_tables {
        let Some(start) = start.filter(|_| size > 0) else {
            continue;
        };
        let entry = std::mem::size_of::<Elf::Rela>();
        let (bytes, n) = table(start, size, entry, what)?;
        let entries: &[Elf::Rela] = object::pod::slice_from_bytes(bytes, n)
            .map_err(|()| RelocationError::TableOutsideFile(what))?
            .0;
        for r in entries {
            check_write(r.r_offset(endian).into(), r.r_type(endian, false))?;
        }
    }
    let rel_tables = [
        (tables.rel, tables.rel_size, "DT_REL"),
        (
            tables.jmprel.filter(|_| tables.jmprel_is_rel),
            tables.jmprel_size,
            "DT_JMPREL",
        ),
    ];
    for (start, size, what) in rel_tables {
        let Some(start) = start.filter(|_| size > 0) else {
            continue;
        };
        let entry = std::mem::size_of::<Elf::Rel>();
        let (bytes, n) = table(start, size, entry, what)?;
        let entries: &[Elf::Rel] = object::pod::slice_from_bytes(bytes, n)
            .map_err(|()| RelocationError::TableOutsideFile(what))?
            .0;
        for r in entries {
            check_write(r.r_offset(endian).into(), r.r_type(endian))?;
        }
    }
    if let Some(start) = tables.relr.filter(|_| tables.relr_size > 0) {
        let (bytes, _) = table(start, tables.relr_size, word as usize, "DT_RELR")?;
        check_relr(bytes, word, endian, segments, protected)?;
    }
    Ok(())
}

/// The relocation tables the last `PT_DYNAMIC` names (glibc keeps the last one), read up to
/// `DT_NULL` or the end of the segment's file contents (past them is zero-filled memory, a
/// `DT_NULL`). `None` without a dynamic segment in the file's contents.
fn relocation_tables<Elf: FileHeader<Endian = object::Endianness>>(
    elf: &ElfFile<Elf>,
    segments: &Segments,
) -> Option<RelocationTables> {
    let endian = elf.endian();
    let dynamic = (elf.elf_program_headers().iter())
        .rfind(|p| p.p_type(endian) == object::elf::PT_DYNAMIC)?;
    let bytes = segments.file_bytes_at(elf.data(), dynamic.p_vaddr(endian).into())?;
    let count = bytes.len() / std::mem::size_of::<Elf::Dyn>();
    let (entries, _) = object::pod::slice_from_bytes::<Elf::Dyn>(bytes, count).ok()?;
    let mut tables = RelocationTables::default();
    for d in entries {
        let tag: i64 = d.d_tag(endian).into();
        let value: u64 = d.d_val(endian).into();
        match tag {
            object::elf::DT_NULL => break,
            object::elf::DT_RELA => tables.rela = Some(value),
            object::elf::DT_RELASZ => tables.rela_size = value,
            object::elf::DT_REL => tables.rel = Some(value),
            object::elf::DT_RELSZ => tables.rel_size = value,
            object::elf::DT_JMPREL => tables.jmprel = Some(value),
            object::elf::DT_PLTRELSZ => tables.jmprel_size = value,
            object::elf::DT_PLTREL => tables.jmprel_is_rel = value == object::elf::DT_REL as u64,
            object::elf::DT_RELR => tables.relr = Some(value),
            object::elf::DT_RELRSZ => tables.relr_size = value,
            _ => {}
        }
    }
    Some(tables)
}

/// `DT_RELR`: an even entry is an address (relocated, and the start of what follows), an odd
/// one a bitmap of the next `8 * word - 1` words.
fn check_relr(
    bytes: &[u8],
    word: u64,
    endian: object::Endianness,
    segments: &Segments,
    protected: &ProtectedRanges,
) -> Result<(), RelocationError> {
    use object::Endian as _;
    let bits = 8 * word - 1;
    let mut next = 0u64;
    for entry in bytes.chunks_exact(word as usize) {
        let value = match word {
            8 => endian.read_u64(entry.try_into().unwrap_or_default()),
            _ => u64::from(endian.read_u32(entry.try_into().unwrap_or_default())),
        };
        if value & 1 == 0 {
            check_range(value, word, segments, protected)?;
            next = value.wrapping_add(word);
            continue;
        }
        // Look at each bit only when the bitmap's span touches a protected range.
        let span = next..next.saturating_add(bits * word);
        if protected.overlapped_by(span).is_some() {
            for bit in (0..bits).filter(|b| value >> (b + 1) & 1 == 1) {
                check_range(next.wrapping_add(bit * word), word, segments, protected)?;
            }
        }
        next = next.wrapping_add(bits * word);
    }
    Ok(())
}

/// A write of `width` bytes at `at`: into writable memory (else the dynamic loader would fault
/// on a read-only page, or write outside the image), and into nothing protected.
fn check_range(
    at: u64,
    width: u64,
    segments: &Segments,
    protected: &ProtectedRanges,
) -> Result<(), RelocationError> {
    if let Some(into) = protected.overlapped_by(at..at.saturating_add(width)) {
        return Err(RelocationError::Into { at, into });
    }
    match segments.is_writable_at_load(at, width) {
        true => Ok(()),
        false => Err(RelocationError::NotWritable { at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_found_in_overlapping_and_disjoint_ranges() {
        let protected = ProtectedRanges::new(vec![
            (100..156, Protected::RootHead),
            (200..300, Protected::Metadata),
            (120..130, Protected::ShardTable(0)),
            (400..400, Protected::ImageData),
        ]);
        assert_eq!(protected.overlapped_by(92..100), None);
        assert_eq!(protected.overlapped_by(93..101), Some(Protected::RootHead));
        assert_eq!(protected.overlapped_by(156..164), None);
        assert_eq!(protected.overlapped_by(160..168), None);
        assert_eq!(protected.overlapped_by(150..158), Some(Protected::RootHead));
        assert_eq!(protected.overlapped_by(296..304), Some(Protected::Metadata));
        assert_eq!(protected.overlapped_by(300..308), None);
        // An empty range protects nothing.
        assert_eq!(protected.overlapped_by(396..404), None);
        let found = protected.overlapped_by(124..132);
        assert!(matches!(
            found,
            Some(Protected::RootHead | Protected::ShardTable(0))
        ));
    }

    #[test]
    fn relr_bitmaps_reach_the_words_they_mark() {
        let protected = ProtectedRanges::new(vec![(
            0x1000 + 8 * 10..0x1000 + 8 * 11,
            Protected::Metadata,
        )]);
        let writable = crate::file::segments::Segment {
            vaddr: 0x1000..0x2000,
            file: 0x1000..0x2000,
            readable: true,
            writable: true,
            executable: false,
        };
        let segments = Segments::new(vec![writable], Vec::new()).unwrap();
        let encode = |entries: &[u64]| {
            entries
                .iter()
                .flat_map(|e| e.to_le_bytes())
                .collect::<Vec<u8>>()
        };
        let check =
            |entries: &[u64]| check_relr(&encode(entries), 8, Little, &segments, &protected);
        use object::Endianness::Little;
        // The address 0x1000, then a bitmap whose bit k + 1 marks the word at 0x1008 + 8k.
        assert_eq!(check(&[0x1000, 1 | 1 << 1 | 1 << 8]), Ok(()));
        // Bit 10 marks 0x1008 + 72 = 0x1050, the protected word.
        assert_eq!(
            check(&[0x1000, 1 | 1 << 10]),
            Err(RelocationError::Into {
                at: 0x1050,
                into: Protected::Metadata
            })
        );
        // The address entry itself.
        assert!(check(&[0x1050]).is_err());
        // A word outside writable memory.
        assert_eq!(
            check(&[0x2000]),
            Err(RelocationError::NotWritable { at: 0x2000 })
        );
    }
}
