//! The memory a shared library maps: its segments (ELF `PT_LOAD`, Mach-O segments, PE
//! sections) with their addresses, file contents and permissions, read once from the file.
//! The loader checks every address it takes from the image's tables against this model before
//! `dlopen`: what it writes must be writable, what it calls must be executable, what it reads
//! must be readable.

use std::ops::Range;

use object::{Object, ObjectSection, ObjectSegment, SegmentFlags};

use crate::format::FormatError;

/// One mapped range of the file's program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual addresses it occupies in memory (the file's own, before load bias).
    pub vaddr: Range<u64>,
    /// Where its contents sit in the file; the first `file.len()` bytes of `vaddr` come from
    /// there, the rest is zero.
    pub file: Range<u64>,
    pub readable: bool,
    /// Writable once the dynamic loader is done (not RELRO, not `__DATA_CONST`).
    pub writable: bool,
    pub executable: bool,
}

/// A file's segments, sorted by address and not overlapping (lookups are binary searches).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Segments {
    list: Vec<Segment>,
    /// Ranges the dynamic loader makes read-only after relocating (ELF `PT_GNU_RELRO`).
    read_only_after_relocation: Vec<Range<u64>>,
}

/// The dynamic loader protects RELRO by pages from the page holding its start; this is the
/// largest page size of the supported targets (aarch64 Linux with 64 KiB pages).
const MAX_PAGE: u64 = 0x10000;

impl Segments {
    /// Reads the segments of `file` (whose bytes are `len` long). Refuses segments that
    /// overlap or whose contents lie outside the file.
    pub fn from_file(file: &object::File, len: usize) -> Result<Segments, FormatError> {
        let mut list = Vec::new();
        let mut relro = Vec::new();
        let bad = |what: &str| FormatError::Invalid(format!("segment table: {what}"));
        if file.format() == object::BinaryFormat::Pe {
            // PE "segments" are the sections; their characteristics give the permissions.
            for section in file.sections() {
                let SectionFlags::Coff { characteristics } = section.flags() else {
                    continue;
                };
                let (offset, size) = section.file_range().unwrap_or((0, 0));
                list.push(make(
                    section.address(),
                    section.size(),
                    offset,
                    size,
                    [
                        object::pe::IMAGE_SCN_MEM_READ,
                        object::pe::IMAGE_SCN_MEM_WRITE,
                        object::pe::IMAGE_SCN_MEM_EXECUTE,
                    ]
                    .map(|bit| characteristics & bit != 0),
                )?);
            }
        } else {
            for segment in file.segments() {
                let (offset, size) = segment.file_range();
                let rwx = match segment.flags() {
                    SegmentFlags::Elf { p_flags } => {
                        [object::elf::PF_R, object::elf::PF_W, object::elf::PF_X]
                            .map(|bit| p_flags & bit != 0)
                    }
                    SegmentFlags::MachO {
                        flags,
                        maxprot,
                        initprot,
                    } => {
                        use object::macho::*;
                        let prot = initprot & maxprot;
                        // dyld makes __DATA_CONST read-only after binding.
                        let read_only = flags & SG_READ_ONLY != 0
                            || segment.name().ok().flatten() == Some("__DATA_CONST");
                        [
                            prot & VM_PROT_READ != 0,
                            prot & VM_PROT_WRITE != 0 && !read_only,
                            prot & VM_PROT_EXECUTE != 0,
                        ]
                    }
                    _ => [false; 3],
                };
                list.push(make(segment.address(), segment.size(), offset, size, rwx)?);
            }
            relro = elf_relro(file)?;
        }
        let segments = Segments::new(list, relro)?;
        if segments.list.iter().any(|s| s.file.end > len as u64) {
            return Err(bad("a segment's contents lie past the end of the file"));
        }
        Ok(segments)
    }

    /// Sorts `list` by address, drops empty segments and refuses overlapping ones.
    pub fn new(
        mut list: Vec<Segment>,
        read_only_after_relocation: Vec<Range<u64>>,
    ) -> Result<Segments, FormatError> {
        list.retain(|s| !s.vaddr.is_empty());
        list.sort_by_key(|s| s.vaddr.start);
        if list.windows(2).any(|w| w[0].vaddr.end > w[1].vaddr.start) {
            return Err(FormatError::Invalid("segments overlap in memory".into()));
        }
        Ok(Segments {
            list,
            read_only_after_relocation,
        })
    }

    /// The segment whose memory holds `vaddr`.
    fn find(&self, vaddr: u64) -> Option<&Segment> {
        let i = self.list.partition_point(|s| s.vaddr.start <= vaddr);
        let s = self.list.get(i.checked_sub(1)?)?;
        (vaddr < s.vaddr.end).then_some(s)
    }

    /// The segment whose memory holds all of `vaddr .. vaddr + len` (`len` > 0).
    fn holding(&self, vaddr: u64, len: u64) -> Option<&Segment> {
        let end = vaddr.checked_add(len)?;
        self.find(vaddr).filter(|s| end <= s.vaddr.end)
    }

    /// The file's bytes from `vaddr` to the end of its segment's contents in the file; `None`
    /// where no file contents map there.
    pub fn file_bytes_at<'a>(&self, bytes: &'a [u8], vaddr: u64) -> Option<&'a [u8]> {
        let s = self.find(vaddr)?;
        let start = vaddr - s.vaddr.start;
        if start >= s.file.end - s.file.start {
            return None;
        }
        let from = usize::try_from(s.file.start.checked_add(start)?).ok()?;
        let to = usize::try_from(s.file.end).ok()?;
        bytes.get(from..to)
    }

    /// Where `vaddr` sits in the file, if file contents map there.
    pub fn file_offset(&self, vaddr: u64) -> Option<u64> {
        let s = self.find(vaddr)?;
        let start = vaddr - s.vaddr.start;
        (start < s.file.end - s.file.start).then(|| s.file.start + start)
    }

    /// `vaddr` is a pointer-sized, pointer-aligned place the loader may write after `dlopen`.
    pub fn is_writable_pointer(&self, vaddr: u64) -> bool {
        vaddr.is_multiple_of(8)
            && vaddr
                .checked_add(8)
                .is_some_and(|end| self.is_writable_span(vaddr, end))
    }

    /// `low .. end` lies in one writable segment, outside RELRO (from the start of its page,
    /// for the largest page size).
    pub fn is_writable_span(&self, low: u64, end: u64) -> bool {
        end > low
            && self.holding(low, end - low).is_some_and(|s| s.writable)
            && !self.read_only_after_relocation.iter().any(|r| {
                let start = r.start - r.start % MAX_PAGE;
                low < r.end && end > start
            })
    }

    /// The memory of the one segment that holds `vaddr .. vaddr + len` if the dynamic loader
    /// may write it while it relocates: writable, RELRO included (ELF; what it makes read-only
    /// afterwards).
    pub fn writable_at_load(&self, vaddr: u64, len: u64) -> Option<Range<u64>> {
        (self.holding(vaddr, len))
            .filter(|s| s.writable)
            .map(|s| s.vaddr.clone())
    }

    /// `low` and `high` (`low <= high`) lie in the memory of one readable segment.
    pub fn is_readable_span(&self, low: u64, high: u64) -> bool {
        low <= high
            && self
                .find(low)
                .is_some_and(|s| s.readable && high < s.vaddr.end)
    }

    /// `vaddr` is code: inside the file contents of an executable segment.
    pub fn is_code(&self, vaddr: u64) -> bool {
        self.find(vaddr)
            .is_some_and(|s| s.executable && vaddr - s.vaddr.start < s.file.end - s.file.start)
    }

    /// Every address from `low` to `high` (both included) is code of one segment.
    pub fn is_code_range(&self, low: u64, high: u64) -> bool {
        low <= high
            && self.find(low).is_some_and(|s| {
                s.executable
                    && high >= s.vaddr.start
                    && high - s.vaddr.start < s.file.end - s.file.start
            })
    }

    /// `vaddr .. vaddr + len` lies in the file contents of one readable segment.
    pub fn is_readable_data(&self, vaddr: u64, len: u64) -> bool {
        len == 0
            || self.holding(vaddr, len).is_some_and(|s| {
                s.readable && vaddr - s.vaddr.start + len <= s.file.end - s.file.start
            })
    }

    /// `vaddr` is an address of the program's memory (or just past a readable segment's end,
    /// which a zero-sized global may have).
    pub fn is_mapped(&self, vaddr: u64) -> bool {
        self.readable_around(vaddr).is_some()
    }

    /// The memory of the readable segment that holds `vaddr` or ends just at it: every address
    /// from its start to its end (included) is [`Segments::is_mapped`].
    pub fn readable_around(&self, vaddr: u64) -> Option<Range<u64>> {
        let readable = |s: &&Segment| s.readable;
        (self.find(vaddr).filter(readable))
            .or_else(|| self.find(vaddr.checked_sub(1)?).filter(readable))
            .map(|s| s.vaddr.clone())
    }

    /// The segments, by address.
    pub fn list(&self) -> &[Segment] {
        &self.list
    }
}

use object::SectionFlags;

/// One segment from its raw numbers, refusing ranges that wrap around; file contents beyond
/// the memory size are not mapped.
fn make(
    address: u64,
    size: u64,
    offset: u64,
    file_size: u64,
    [readable, writable, executable]: [bool; 3],
) -> Result<Segment, FormatError> {
    let wraps = || FormatError::Invalid("segment table: a range wraps around".into());
    let end = address.checked_add(size).ok_or_else(wraps)?;
    let file_end = offset.checked_add(file_size.min(size)).ok_or_else(wraps)?;
    Ok(Segment {
        vaddr: address..end,
        file: offset..file_end,
        readable,
        writable,
        executable,
    })
}

/// The ELF `PT_GNU_RELRO` ranges (made read-only after relocation).
fn elf_relro(file: &object::File) -> Result<Vec<Range<u64>>, FormatError> {
    use object::read::elf::ProgramHeader as _;
    let headers = match file {
        object::File::Elf64(elf) => elf
            .elf_program_headers()
            .iter()
            .filter(|h| h.p_type(elf.endian()) == object::elf::PT_GNU_RELRO)
            .map(|h| (h.p_vaddr(elf.endian()), h.p_memsz(elf.endian())))
            .collect(),
        object::File::Elf32(elf) => elf
            .elf_program_headers()
            .iter()
            .filter(|h| h.p_type(elf.endian()) == object::elf::PT_GNU_RELRO)
            .map(|h| {
                (
                    u64::from(h.p_vaddr(elf.endian())),
                    u64::from(h.p_memsz(elf.endian())),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    headers
        .into_iter()
        .map(|(start, size)| {
            start
                .checked_add(size)
                .map(|end| start..end)
                .ok_or_else(|| FormatError::Invalid("segment table: RELRO wraps around".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(vaddr: Range<u64>, file: Range<u64>, rwx: &str) -> Segment {
        Segment {
            vaddr,
            file,
            readable: rwx.contains('r'),
            writable: rwx.contains('w'),
            executable: rwx.contains('x'),
        }
    }

    /// Text at 0x1000 (file 0..0x800), data at 0x3000 (file 0x800..0x900, 0x200 in memory),
    /// RELRO over the first 0x40 bytes of data.
    fn sample() -> Segments {
        Segments::new(
            vec![
                seg(0x3000..0x3200, 0x800..0x900, "rw"),
                seg(0x1000..0x1800, 0..0x800, "rx"),
            ],
            vec![Range {
                start: 0x3000,
                end: 0x3040,
            }],
        )
        .unwrap()
    }

    #[test]
    fn writable_pointers_are_aligned_writable_and_not_relro() {
        let s = sample();
        assert!(s.is_writable_pointer(0x3040));
        assert!(
            s.is_writable_pointer(0x31f8),
            "the zero-filled tail is writable"
        );
        assert!(!s.is_writable_pointer(0x3038), "RELRO");
        assert!(!s.is_writable_pointer(0x3044), "misaligned");
        assert!(!s.is_writable_pointer(0x3200), "past the end");
        assert!(!s.is_writable_pointer(0x1000), "text");
        assert!(!s.is_writable_pointer(u64::MAX - 7));
    }

    #[test]
    fn code_is_in_the_file_contents_of_executable_segments() {
        let s = sample();
        assert!(s.is_code(0x1000) && s.is_code(0x17ff));
        assert!(!s.is_code(0x1800) && !s.is_code(0xfff) && !s.is_code(0x3040));
    }

    #[test]
    fn readable_data_and_file_bytes() {
        let s = sample();
        let bytes = vec![0u8; 0x900];
        assert_eq!(s.file_bytes_at(&bytes, 0x3010).unwrap().len(), 0xf0);
        assert_eq!(
            s.file_bytes_at(&bytes, 0x3100),
            None,
            "zero-filled, not in the file"
        );
        assert_eq!(s.file_bytes_at(&bytes, u64::MAX), None);
        assert_eq!(s.file_offset(0x1010), Some(0x10));
        assert!(s.is_readable_data(0x3000, 0x100));
        assert!(!s.is_readable_data(0x3000, 0x101));
        assert!(!s.is_readable_data(u64::MAX, 2));
        assert!(s.is_mapped(0x3200) && !s.is_mapped(0x3201) && !s.is_mapped(0x2000));
    }

    /// The model of a real file: this test program (ELF, Mach-O or PE as the host makes).
    #[test]
    fn this_program_reads_as_segments() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let s = Segments::from_file(&file, bytes.len()).unwrap();
        assert!(s.list().iter().any(|s| s.writable && !s.executable));
        if file.format() != object::BinaryFormat::MachO {
            assert!(s.is_code(file.entry()), "the entry point is code");
        }
        if cfg!(target_os = "linux") {
            assert!(!s.read_only_after_relocation.is_empty(), "a PIE has RELRO");
        }
        assert!(matches!(
            crate::ImageFile::parse(&bytes),
            Err(crate::LoadCause::NotAnImage)
        ));
    }

    #[test]
    fn overlapping_segments_are_refused() {
        let overlapping = vec![
            seg(0x1000..0x2000, 0..0x1000, "rx"),
            seg(0x1800..0x2800, 0..0x1000, "rw"),
        ];
        assert!(Segments::new(overlapping, vec![]).is_err());
        assert!(make(u64::MAX, 2, 0, 0, [true; 3]).is_err());
    }
}
