//! What the image checksum covers: every byte of the file that a loader maps or reads. That
//! is the whole file, except
//! - the checksum's own 8 bytes (hashed as zero),
//! - in a Mach-O file, the code signature and what follows it (the signature is itself a hash
//!   of everything before it),
//! - in an ELF file, the contents of the sections that nothing loads: not `SHF_ALLOC`, such as
//!   the static symbol table and its strings (`.symtab`, `.strtab`, 40% of a 5,000-function
//!   image), debug information and `.comment`. They are for debuggers and profilers; no
//!   program header names them, and neither the dynamic loader nor aotload reads them. The
//!   section names (`.shstrtab`) and the section header table stay covered, so a damaged
//!   header cannot move what is left out; and a left-out range may not touch the ELF header,
//!   the program headers, the section headers or any range a program header names.
//!
//! A damaged symbol table therefore does not stop an image from loading, and the cost of an
//! open does not grow with the debug information, while anything that can run or be read at
//! run time is still checked. (`strip` still changes the checksum: it rewrites the section
//! headers.)

use std::ops::Range;

use object::read::elf::{ElfFile, FileHeader, ProgramHeader, SectionHeader};
use object::ReadRef;

use crate::file::segments::Segments;
use crate::format::FormatError;

/// The bytes of an image file the checksum covers (see the module comment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumCoverage {
    /// Where the checksummed part of the file ends: the file's end, a Mach-O code signature,
    /// or the start of a signature trailer (`aotlink sign`; not part of the image).
    pub end: usize,
    /// Ranges before `end` that are left out, sorted and disjoint: the contents of ELF
    /// sections nothing loads.
    pub left_out: Vec<Range<usize>>,
}

impl ChecksumCoverage {
    /// The coverage of `file`, `len` bytes long (without a signature trailer), whose checksum
    /// field is at `field` (refused unless covered).
    pub fn of_file(
        file: &object::File,
        segments: &Segments,
        len: usize,
        field: usize,
    ) -> Result<ChecksumCoverage, FormatError> {
        let end = checksum_end(file, segments, len, field)?;
        let left_out = match file {
            object::File::Elf64(elf) => unloaded_sections(elf, len)?,
            object::File::Elf32(elf) => unloaded_sections(elf, len)?,
            _ => Vec::new(),
        };
        if field.saturating_add(8) > end || overlaps(&left_out, &(field..field + 8)) {
            return Err(invalid("the checksum field is not in the checked bytes"));
        }
        Ok(ChecksumCoverage { end, left_out })
    }

    /// The image checksum of `bytes` (the whole file): xxh3-64 over the xxh3-64 of each
    /// 1 MiB piece of the covered bytes in file order, the 8 bytes of the checksum field at
    /// `field` read as zero; the pieces are hashed on all cores (`piece_hash.rs`).
    pub fn checksum(&self, bytes: &[u8], field: usize) -> u64 {
        self.checksum_beside(bytes, field, || ()).1
    }

    /// [`ChecksumCoverage::checksum`], while this thread runs `beside` (and then helps).
    pub(crate) fn checksum_beside<R>(
        &self,
        bytes: &[u8],
        field: usize,
        beside: impl FnOnce() -> R,
    ) -> (R, u64) {
        let parts = self.covered_parts();
        crate::file::piece_hash::pieces_checksum_beside(
            bytes,
            &parts,
            field,
            crate::file::piece_hash::PIECE_LEN,
            beside,
        )
    }

    /// The covered file ranges, in order: what lies between the left-out ranges, up to `end`.
    fn covered_parts(&self) -> Vec<Range<usize>> {
        let mut from = 0;
        let mut parts = Vec::with_capacity(self.left_out.len() + 1);
        for skip in (self.left_out.iter()).chain(std::iter::once(&(self.end..self.end))) {
            parts.push(from..skip.start);
            from = skip.end;
        }
        parts
    }

    /// How many bytes the checksum covers (its own field included).
    pub fn covered_len(&self) -> usize {
        self.end - self.left_out.iter().map(|r| r.len()).sum::<usize>()
    }

    /// Whether the checksum sees the byte at `offset`.
    pub fn covers(&self, offset: usize) -> bool {
        offset < self.end && !overlaps(&self.left_out, &(offset..offset + 1))
    }
}

/// The contents of the ELF sections nothing loads, sorted and merged; refused if any touches
/// what a loader reads.
fn unloaded_sections<'data, Elf, R>(
    elf: &ElfFile<'data, Elf, R>,
    len: usize,
) -> Result<Vec<Range<usize>>, FormatError>
where
    Elf: FileHeader,
    R: ReadRef<'data>,
{
    let endian = elf.endian();
    let header = elf.elf_header();
    let sections = elf.elf_section_table();
    let names = names_section(elf);
    let mut left_out: Vec<Range<usize>> = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let loaded = section.sh_flags(endian).into() & u64::from(object::elf::SHF_ALLOC) != 0;
        let is_names = names == Some(index);
        let Some((offset, size)) = section.file_range(endian) else {
            continue; // SHT_NOBITS: no bytes in the file
        };
        if loaded || is_names || size == 0 || section.sh_type(endian) == object::elf::SHT_NULL {
            continue;
        }
        let range = offset
            .checked_add(size)
            .filter(|&end| end <= len as u64)
            .map(|end| offset as usize..end as usize)
            .ok_or_else(|| invalid("a section's contents lie outside the file"))?;
        left_out.push(range);
    }
    left_out.sort_by_key(|r| r.start);
    let left_out = merged(left_out);

    // What must stay covered: the headers and everything a program header names.
    let word = |w: Elf::Word| -> u64 { w.into() };
    let table = |offset: u64, count: u16, size: u16| {
        let end = offset.saturating_add(u64::from(count) * u64::from(size));
        offset.min(len as u64) as usize..end.min(len as u64) as usize
    };
    let mut kept = vec![
        0..usize::from(header.e_ehsize(endian)).min(len),
        table(
            word(header.e_phoff(endian)),
            header.e_phnum(endian),
            header.e_phentsize(endian),
        ),
        table(
            word(header.e_shoff(endian)),
            header.e_shnum(endian),
            header.e_shentsize(endian),
        ),
    ];
    for program in elf.elf_program_headers() {
        let (offset, size) = program.file_range(endian);
        let end = offset.saturating_add(size).min(len as u64);
        kept.push(offset.min(len as u64) as usize..end as usize);
    }
    if kept.iter().any(|k| overlaps(&left_out, k)) {
        return Err(invalid(
            "a section that is not loaded overlaps the headers or a segment",
        ));
    }
    Ok(left_out)
}

/// The index of the section names' section (`e_shstrndx`), if any.
fn names_section<'data, Elf, R>(elf: &ElfFile<'data, Elf, R>) -> Option<usize>
where
    Elf: FileHeader,
    R: ReadRef<'data>,
{
    let index = elf.elf_header().shstrndx(elf.endian(), elf.data()).ok()?;
    (index != 0).then_some(index as usize)
}

/// Sorted ranges with overlapping or touching ones joined.
fn merged(sorted: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match out.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => out.push(range),
        }
    }
    out
}

/// Whether any of `sorted` (disjoint, by start) shares a byte with `range`.
fn overlaps(sorted: &[Range<usize>], range: &Range<usize>) -> bool {
    if range.is_empty() {
        return false;
    }
    let after = sorted.partition_point(|r| r.end <= range.start);
    sorted.get(after).is_some_and(|r| r.start < range.end)
}

/// The end of the checksummed part: the whole file, or in a Mach-O file up to its code
/// signature, which must then be the file's last contents (in the segment that runs last in
/// the file, `__LINKEDIT`): everything the loader reads or maps is covered.
fn checksum_end(
    file: &object::File,
    segments: &Segments,
    len: usize,
    field: usize,
) -> Result<usize, FormatError> {
    let Some(end) = code_signature_offset(file) else {
        return Ok(len);
    };
    let last = segments
        .list()
        .iter()
        .all(|s| s.file.end <= end as u64 || s.file.contains(&(end as u64)));
    if end > len || !last || field.saturating_add(8) > end {
        return Err(invalid("the code signature is not at the end of the file"));
    }
    Ok(end)
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

fn invalid(what: &str) -> FormatError {
    FormatError::Invalid(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(end: usize, left_out: Vec<Range<usize>>) -> ChecksumCoverage {
        ChecksumCoverage { end, left_out }
    }

    fn xxh3_pieces(stream: &[u8]) -> u64 {
        crate::file::piece_hash::stream_checksum(stream, crate::file::piece_hash::PIECE_LEN)
    }

    #[test]
    fn the_checksum_is_of_the_covered_bytes_with_the_field_as_zero() {
        let bytes: Vec<u8> = (0..200u8).collect();
        let mut expected: Vec<u8> = bytes[..150].to_vec();
        expected[20..28].fill(0);
        expected.drain(100..120);
        expected.drain(40..60);
        let covered = coverage(150, vec![40..60, 100..120]);
        assert_eq!(covered.checksum(&bytes, 20), xxh3_pieces(&expected));
        assert_eq!(covered.covered_len(), expected.len());
        // The field may also sit between left-out ranges, the last ending the file.
        let mut expected: Vec<u8> = bytes.clone();
        expected[130..138].fill(0);
        expected.drain(180..200);
        expected.drain(40..60);
        let sum = coverage(200, vec![40..60, 180..200]).checksum(&bytes, 130);
        assert_eq!(sum, xxh3_pieces(&expected));
    }

    #[test]
    fn a_change_is_seen_exactly_where_covered() {
        let bytes = vec![7u8; 300];
        let c = coverage(280, vec![50..90, 200..210]);
        let sum = c.checksum(&bytes, 100);
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            let seen = c.checksum(&changed, 100) != sum;
            let in_field = (100..108).contains(&at);
            assert_eq!(seen, c.covers(at) && !in_field, "byte {at}");
        }
    }

    #[test]
    fn ranges_merge_and_overlap_as_intervals() {
        assert_eq!(merged(vec![0..4, 2..6, 6..8, 10..12]), vec![0..8, 10..12]);
        let sorted = [10..20, 30..40];
        assert!(overlaps(&sorted, &(19..21)));
        assert!(overlaps(&sorted, &(0..11)));
        assert!(!overlaps(&sorted, &(20..30)));
        assert!(!overlaps(&sorted, &(40..50)));
        assert!(!overlaps(&sorted, &(15..15)));
    }
}
