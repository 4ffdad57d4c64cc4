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

use object::read::elf::{Dyn as _, ElfFile, FileHeader, ProgramHeader as _, Rela as _};

use crate::file::protected::{BadWrite, WriteCheck};
pub use crate::file::protected::{Protected, ProtectedRanges};
use crate::file::segments::Segments;

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

/// Refuses an ELF image whose dynamic relocations write into `protected` (other formats: see
/// the module comment). Linear in the relocations when each table is sorted by the address it
/// writes, as LLD writes them; a binary search for each entry out of that order.
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
    let mut writes = WriteCheck::new(segments, protected);
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
    // A REL entry reads as a RELA entry without its addend (object's `From`): one check for
    // both kinds, whichever DT_JMPREL is.
    let mut check_rela = |r: Elf::Rela| {
        let at = r.r_offset(endian).into();
        let width = write_width(machine, r.r_type(endian, false), word, at)?;
        check(&mut writes, at, width)
    };
    let jmprel = |rela: bool| tables.jmprel.filter(|_| tables.jmprel_is_rel != rela);
    let rela_tables = [
        (tables.rela, tables.rela_size, "DT_RELA"),
        (jmprel(true), tables.jmprel_size, "DT_JMPREL"),
    ];
    for (start, size, what) in rela_tables {
        let Some(start) = start.filter(|_| size > 0) else {
            continue;
        };
        let (bytes, n) = table(start, size, std::mem::size_of::<Elf::Rela>(), what)?;
        each_entry(bytes, n, what, |r: &Elf::Rela| check_rela(*r))?;
    }
    let rel_tables = [
        (tables.rel, tables.rel_size, "DT_REL"),
        (jmprel(false), tables.jmprel_size, "DT_JMPREL"),
    ];
    for (start, size, what) in rel_tables {
        let Some(start) = start.filter(|_| size > 0) else {
            continue;
        };
        let (bytes, n) = table(start, size, std::mem::size_of::<Elf::Rel>(), what)?;
        each_entry(bytes, n, what, |r: &Elf::Rel| check_rela((*r).into()))?;
    }
    if let Some(start) = tables.relr.filter(|_| tables.relr_size > 0) {
        let (bytes, _) = table(start, tables.relr_size, word as usize, "DT_RELR")?;
        check_relr(bytes, word, endian, &mut writes)?;
    }
    Ok(())
}

/// How many bytes a relocation of `r_type` writes at `at`: a pointer, two for a TLS descriptor;
/// a copy relocation is refused.
fn write_width(machine: u16, r_type: u32, word: u64, at: u64) -> Result<u64, RelocationError> {
    match (machine, r_type) {
        (object::elf::EM_X86_64, object::elf::R_X86_64_COPY)
        | (object::elf::EM_AARCH64, object::elf::R_AARCH64_COPY) => {
            Err(RelocationError::Copy { at })
        }
        (object::elf::EM_X86_64, object::elf::R_X86_64_TLSDESC)
        | (object::elf::EM_AARCH64, object::elf::R_AARCH64_TLSDESC) => Ok(2 * word),
        (object::elf::EM_X86_64 | object::elf::EM_AARCH64, _) => Ok(word),
        // An architecture no image is built for: assume the widest write.
        _ => Ok(2 * word),
    }
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

/// `f` on each of the `n` entries of type `R` that `bytes` hold, read in place.
fn each_entry<R: object::Pod>(
    bytes: &[u8],
    n: usize,
    what: &'static str,
    f: impl FnMut(&R) -> Result<(), RelocationError>,
) -> Result<(), RelocationError> {
    let entries: &[R] = object::pod::slice_from_bytes(bytes, n)
        .map_err(|()| RelocationError::TableOutsideFile(what))?
        .0;
    entries.iter().try_for_each(f)
}

/// `DT_RELR`: an even entry is an address (relocated, and the start of what follows), an odd
/// one a bitmap of the next `8 * word - 1` words.
fn check_relr(
    bytes: &[u8],
    word: u64,
    endian: object::Endianness,
    writes: &mut WriteCheck,
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
            check(writes, value, word)?;
            next = value.wrapping_add(word);
            continue;
        }
        // Every word a bit marks, not only those near a protected range: a marked word in a
        // read-only segment would make the dynamic loader fault. The words ascend, which is
        // the order the write check walks fastest.
        for bit in (0..bits).filter(|b| value >> (b + 1) & 1 == 1) {
            check(writes, next.wrapping_add(bit * word), word)?;
        }
        next = next.wrapping_add(bits * word);
    }
    Ok(())
}

/// A write of `width` bytes at `at`: into writable memory (else the dynamic loader would fault
/// on a read-only page, or write outside the image), and into nothing protected.
fn check(writes: &mut WriteCheck, at: u64, width: u64) -> Result<(), RelocationError> {
    writes.check(at, width).map_err(|bad| match bad {
        BadWrite::Into(into) => RelocationError::Into { at, into },
        BadWrite::NotWritable => RelocationError::NotWritable { at },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let check = |entries: &[u64]| {
            let mut writes = WriteCheck::new(&segments, &protected);
            check_relr(&encode(entries), 8, Little, &mut writes)
        };
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
        // A bitmap marking a word past the writable segment, far from anything protected.
        let last = 0x1f00;
        assert_eq!(
            check(&[last, 1 | 1 << 33]),
            Err(RelocationError::NotWritable { at: last + 8 * 33 })
        );
    }
}
