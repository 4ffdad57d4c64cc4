//! An image read as a file: root, metadata and shard tables decoded from its bytes, without
//! loading it. Works on images of any object format, whatever the host (for `inspect`, and so
//! that `Image::open` can verify everything before the dynamic loader runs any of it).
//!
//! This folder owns reading an image file and what its checksum covers: the mapped segments
//! (`segments.rs`), the shard tables read in place (`shard_tables.rs`), the structural rules
//! between the tables and those segments (`well_formed.rs`), the relocations that must not
//! touch the tables (`protected.rs`, `relocations.rs`), the
//! checksum's coverage and its hashing (`coverage.rs`, `piece_hash.rs`, `early_checksum.rs`) and
//! the root symbol's lookup (`root_symbol.rs`). It decodes through `format` and may not touch the
//! host, the dynamic loader or the method table: nothing here runs any of the image.

pub mod coverage;
pub(crate) mod early_checksum;
pub(crate) mod piece_hash;
pub(crate) mod protected;
pub mod relocations;
pub mod root_symbol;
pub(crate) mod segments;
pub mod shard_tables;
pub(crate) mod well_formed;

use object::Object;

use crate::error::LoadCause;
pub use crate::file::coverage::ChecksumCoverage;
use crate::file::piece_hash::PIECE_LEN;
use crate::file::protected::{Protected, ProtectedRanges};
pub use crate::file::segments::{Segment, Segments};
use crate::file::shard_tables::{ShardTables, TableAt};
use crate::format::meta::{Meta, MetaView};
use crate::format::{
    tables_digest, FormatError, RootView, ShardTableView, CHECKSUM_OFFSET, ROOT_HEAD_SIZE,
};

/// A decoded image file. Addresses are the file's own virtual addresses (before load bias).
/// The metadata is owned ([`Meta`], from [`ImageFile::parse`]) or read in place from the
/// file's bytes ([`MetaView`], from [`ImageFile::parse_in_place`], what the loader uses);
/// likewise the shard tables, kept in a copy of their own or read in place ([`ShardTables`]).
#[derive(Clone, Debug)]
pub struct ImageFile<M = Meta, S = ShardTables<'static>> {
    pub format: object::BinaryFormat,
    pub arch: object::Architecture,
    pub kind: crate::format::ImageKind,
    pub checksum: u64,
    pub root_vaddr: u64,
    /// Where the checksum field sits in the file.
    pub checksum_file_offset: usize,
    /// The bytes the checksum covers (`coverage.rs`): the file but its trailer, a Mach-O code
    /// signature and the ELF sections nothing loads.
    pub checksum_coverage: ChecksumCoverage,
    /// The tables digest the root stores, and the one computed from the tables parsed.
    pub tables_digest: u64,
    pub computed_tables_digest: u64,
    pub meta: M,
    /// Where the metadata sits in the file.
    pub meta_file_range: std::ops::Range<usize>,
    pub image_data_vaddr: u64,
    /// Where the image data sits in the file.
    pub image_data_file_range: std::ops::Range<usize>,
    /// Each shard's table and its virtual address ([`ShardTables`]: read in place in the
    /// file's bytes, or over one copy of them). Shared, not copied, when the file is cloned: an
    /// in-process verdict keeps them (`verdict/`), and a deep copy of SQLite's 128 decoded
    /// tables was a tenth of the open's own thread (perf, 2026-12-07).
    pub shards: S,
    /// Virtual address of each external method's slot.
    pub external_slots: Vec<u64>,
    /// The program's segments with their permissions (what the checks above rely on).
    pub segments: Segments,
}

/// Reads an image file, refusing anything but a regular file: `/dev/zero` would grow without
/// end and a FIFO would block forever (an image is a shared library, always a regular file).
pub fn read_image_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    open_image_file(path).map(|(_, bytes)| bytes)
}

/// Opens an image file once and reads it: the open file (for the dynamic loader to map that
/// same file, `library.rs`) and its bytes (to verify). Refuses anything but a regular file.
/// On Windows the file is opened without sharing write or delete access: while it is open,
/// nobody can change, replace or rename it.
pub fn open_image_file(path: &std::path::Path) -> std::io::Result<(std::fs::File, Vec<u8>)> {
    use std::io::Read as _;
    let (mut file, len) = open_regular_file(path)?;
    // Read what the file held when opened, not what it may grow to.
    let mut bytes = Vec::with_capacity(len as usize);
    file.by_ref().take(len).read_to_end(&mut bytes)?;
    Ok((file, bytes))
}

/// Opens an image file once and maps it read-only, as [`open_image_file`] reads it: the
/// loader hashes the pages of the page cache in place instead of copying them first (a copy of
/// a 4 MB image cost about as much as hashing it), and the dynamic loader maps the same pages.
/// Like any mapped file (the image's code after dlopen included), a file truncated by another
/// process while mapped raises SIGBUS on access; on Windows the open file cannot be changed.
pub fn map_image_file(path: &std::path::Path) -> std::io::Result<(std::fs::File, FileBytes)> {
    let (file, len) = open_regular_file(path)?;
    if len == 0 {
        // Nothing to map (mmap refuses a length of 0); parsing then says what is wrong.
        return Ok((file, FileBytes::Read(Vec::new())));
    }
    // SAFETY: a private read-only mapping of the regular file opened above; nothing of this
    // process writes to the file. Another process could change it (in-place writes are not
    // excluded for read either, DESIGN.md "Verify what you load"), which at worst changes what
    // the checksum sees; a truncation would be a SIGBUS, as for the mapped code.
    let map = unsafe { memmap2::MmapOptions::new().len(len as usize).map(&file)? };
    Ok((file, FileBytes::Mapped(map)))
}

/// Maps `range` of an image file opened by [`map_image_file`], read-only: the loader reads the
/// metadata it verified from the file this way after `dlopen`, not from the copy the dynamic
/// loader mapped, which a relocation may have changed. Only that range stays mapped (a system
/// image is hundreds of megabytes), and its pages are the page cache's, shared as before.
pub fn map_file_range(
    file: &std::fs::File,
    range: std::ops::Range<usize>,
) -> std::io::Result<FileBytes> {
    if range.is_empty() {
        return Ok(FileBytes::Read(Vec::new()));
    }
    // SAFETY: as in `map_image_file`: a private read-only mapping of the regular file that
    // was opened and verified; nothing of this process writes to it.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(range.start as u64)
            .len(range.len())
            .map(file)?
    };
    Ok(FileBytes::Mapped(map))
}

/// An image file's bytes: mapped, or read (an empty file).
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileBytes {
    /// Unmaps the bytes; when `every_page_touched` (they were hashed), on rayon's pool rather
    /// than on this thread. Once an open has verified and loaded the file, its own mapping is
    /// only cleanup, and unmapping it after a hash was a sixth of the opening thread's time on
    /// SQLite's image (the kernel clears a page-table entry for every page the hash touched,
    /// and flushes the other core's TLB): about 0.1 ms of a 0.7 ms first open, 0.4–0.9 ms of a
    /// 7 ms one at 141 MB (perf, issue 30). After a verdict only the tables' pages were
    /// touched, and waking a pool thread costs more than the unmapping; likewise for a file
    /// of one checksum piece or less, which a signature check may not have started the pool for.
    pub fn release(self, every_page_touched: bool) {
        match self {
            FileBytes::Mapped(map) if every_page_touched && map.len() > PIECE_LEN => {
                rayon_core::spawn(move || drop(map));
            }
            _ => drop(self),
        }
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

/// Opens `path` for reading, without blocking, and checks that it is a regular file: `/dev/zero`
/// would grow without end and a FIFO would block forever (an image is a shared library, always
/// a regular file). Returns the file and its length when opened.
fn open_regular_file(path: &std::path::Path) -> std::io::Result<(std::fs::File, u64)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO would wait for a writer: open without blocking, then look at what it is.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    #[cfg(windows)]
    {
        const FILE_SHARE_READ: u32 = 1;
        std::os::windows::fs::OpenOptionsExt::share_mode(&mut options, FILE_SHARE_READ);
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok((file, metadata.len()))
}

/// An image file read in place: what the loader decodes on an open, borrowing the file's bytes.
pub type ImageFileInPlace<'a> = ImageFile<MetaView<'a>, ShardTables<'a>>;

impl ImageFile {
    /// Decodes an image from the bytes of its file, checking every structural rule
    /// (`docs/FORMAT.md`, "What the loader checks before dlopen"), with owned metadata and
    /// shard tables.
    pub fn parse(bytes: &[u8]) -> Result<ImageFile, LoadCause> {
        let file = ImageFile::parse_in_place(bytes)?;
        Ok(file.with_kept_shards().map_meta(|meta| meta.to_meta()))
    }
}

impl<M> ImageFile<M, ShardTables<'_>> {
    /// The same decoded file with its shard tables copied out of the file's bytes (one
    /// allocation), so that it outlives them.
    pub fn with_kept_shards(&self) -> ImageFile<M, ShardTables<'static>>
    where
        M: Clone,
    {
        self.clone().map(|meta| meta, |shards| shards.kept())
    }
}

impl<M, S> ImageFile<M, S> {
    /// The same decoded file with its metadata turned into `meta(self.meta)`: owned, read in
    /// place, or kept aside while the rest is remembered (`verdict/in_process.rs`).
    pub fn map_meta<N>(self, meta: impl FnOnce(M) -> N) -> ImageFile<N, S> {
        self.map(meta, |shards| shards)
    }

    /// The same decoded file with its metadata and shard tables turned into others.
    fn map<N, T>(self, meta: impl FnOnce(M) -> N, shards: impl FnOnce(S) -> T) -> ImageFile<N, T> {
        ImageFile {
            format: self.format,
            arch: self.arch,
            kind: self.kind,
            checksum: self.checksum,
            root_vaddr: self.root_vaddr,
            checksum_file_offset: self.checksum_file_offset,
            checksum_coverage: self.checksum_coverage,
            tables_digest: self.tables_digest,
            computed_tables_digest: self.computed_tables_digest,
            meta: meta(self.meta),
            meta_file_range: self.meta_file_range,
            image_data_vaddr: self.image_data_vaddr,
            image_data_file_range: self.image_data_file_range,
            shards: shards(self.shards),
            external_slots: self.external_slots,
            segments: self.segments,
        }
    }
}

impl<'a> ImageFileInPlace<'a> {
    /// Reads an image from the bytes of its file, checking every structural rule
    /// (`docs/FORMAT.md`, "What the loader checks before dlopen"), with the metadata and the
    /// shard tables read in place. Linear in the file's size. A signature trailer is not part
    /// of the image: it is left out.
    pub fn parse_in_place(bytes: &'a [u8]) -> Result<ImageFileInPlace<'a>, LoadCause> {
        let bytes = crate::signing::split_trailer(bytes).0;
        let file =
            object::File::parse(bytes).map_err(|e| LoadCause::NotSharedLibrary(e.to_string()))?;
        let format = file.format();
        let segments = Segments::from_file(&file, bytes.len())?;
        let root_vaddr = crate::file::root_symbol::root_address(&file)
            .map_err(|e| LoadCause::NotSharedLibrary(e.to_string()))?
            .ok_or(LoadCause::NotAnImage)?;

        let at = |vaddr: u64, what: &'static str| {
            segments
                .file_bytes_at(bytes, vaddr)
                .ok_or(FormatError::Truncated(what))
        };
        let root_bytes = at(root_vaddr, "root symbol")?;
        let root = RootView::parse(root_bytes)?;
        // After dlopen the loader compares the head in memory with the file's.
        if !segments.is_readable_data(root_vaddr, ROOT_HEAD_SIZE as u64) {
            return Err(invalid("the root is not in readable memory of the image").into());
        }
        let meta = MetaView::parse(root.meta)?;
        if meta.external_count() != root.external_slot_offsets.len() {
            return Err(invalid("external slots and methods differ in number").into());
        }
        let external_slots = root
            .external_slot_offsets
            .iter()
            .map(|&off| {
                let slot = well_formed::address(root_vaddr, off)?;
                match segments.is_writable_pointer(slot) {
                    true => Ok(slot),
                    false => Err(invalid(
                        "an external slot is not an aligned pointer in writable memory of the image",
                    )),
                }
            })
            .collect::<Result<Vec<u64>, FormatError>>()?;
        let slots: Vec<u64> = root
            .shard_pointer_offsets
            .iter()
            .map(|&off| {
                root_vaddr
                    .checked_add(off as u64)
                    .ok_or(FormatError::Truncated("shard pointer"))
            })
            .collect::<Result<_, _>>()?;
        let relocated = relocated_values(&file, &slots);
        let mut ranges = well_formed::TableRanges::default();
        // Grown as tables parse (each at least 24 bytes of its own), not sized by nshards.
        let mut tables = Vec::new();
        for (i, (&slot, relocated)) in slots.iter().zip(relocated).enumerate() {
            let vaddr = match relocated {
                Some(vaddr) => vaddr,
                None => read_u64(at(slot, "shard pointer")?)?,
            };
            let start = segments
                .file_offset(vaddr)
                .ok_or(FormatError::Truncated("shard table"))?;
            // Refuse a table seen before without parsing it again: the total of the tables
            // parsed stays within the file's size.
            ranges.check_start(start)?;
            let table = ShardTableView::parse(at(vaddr, "shard table")?)?;
            ranges.insert(start, table.encoded_len() as u64)?;
            // The writer puts shard i's table behind pointer i.
            if table.index() as usize != i {
                return Err(invalid(format!(
                    "shard pointer {i} leads to the table of shard {}",
                    table.index()
                ))
                .into());
            }
            tables.push(TableAt {
                vaddr,
                start: offset_in(bytes, table.bytes()),
                layout: table.layout(),
            });
        }
        let shards = ShardTables::in_file(bytes, tables);
        well_formed::check_indices(&meta, &shards)?;
        well_formed::check_clones(&meta, &shards)?;
        well_formed::check_addresses(&shards, &segments)?;
        let image_data_vaddr = well_formed::address(root_vaddr, root.head.image_data_offset)?;
        let image_data_file_range = match root.head.image_data_len {
            0 => 0..0,
            len => {
                if !segments.is_readable_data(image_data_vaddr, len) {
                    return Err(FormatError::Truncated("image data").into());
                }
                let start = offset_in(bytes, at(image_data_vaddr, "image data")?);
                start..start + len as usize
            }
        };
        let protected = protected_ranges(
            root_vaddr,
            &root,
            &shards,
            image_data_vaddr,
            root.head.image_data_len,
        );
        crate::file::relocations::check_dynamic_relocations(&file, &segments, &protected)?;
        let computed_tables_digest = tables_digest(
            &root_bytes[..root.encoded_len],
            shards.iter().map(|(vaddr, table)| (vaddr, table.bytes())),
        );
        let root_file_offset = offset_in(bytes, root_bytes);
        let checksum_file_offset = root_file_offset + CHECKSUM_OFFSET;
        let meta_file_range = root_file_offset + root.encoded_len - root.meta.len()
            ..root_file_offset + root.encoded_len;
        Ok(ImageFile {
            format,
            arch: file.architecture(),
            kind: root.kind(),
            checksum: root.head.checksum,
            tables_digest: root.head.tables_digest,
            computed_tables_digest,
            root_vaddr,
            checksum_file_offset,
            checksum_coverage: ChecksumCoverage::of_file(
                &file,
                &segments,
                bytes.len(),
                checksum_file_offset,
            )?,
            meta,
            meta_file_range,
            image_data_vaddr,
            image_data_file_range,
            shards,
            external_slots,
            segments,
        })
    }
}

impl<M, S> ImageFile<M, S> {
    /// The checksum of `bytes` (this file's), as sealing writes it and [`ImageFile::verify`]
    /// compares it: over the bytes [`ImageFile::checksum_coverage`] covers.
    pub fn computed_checksum(&self, bytes: &[u8]) -> u64 {
        (self.checksum_coverage).checksum(bytes, self.checksum_file_offset)
    }

    /// Checks the stored checksum against the file's bytes, then the stored tables digest
    /// against the tables (see [`tables_digest`]).
    pub fn verify_checksum(&self, bytes: &[u8]) -> Result<(), LoadCause> {
        self.verify(bytes, false)
    }

    /// [`ImageFile::verify_checksum`], except that with `signature_verified` (a trusted key's
    /// signature held over these bytes, `signature::check`) the checksum is not recomputed:
    /// BLAKE3 has just covered those bytes and more, and `aotlink sign` signs only images whose
    /// checksum holds. That saves a second pass over the file. Sealing and the tables digest
    /// are still checked. `Image::open` also passes true when a verdict vouches for this
    /// unchanged file (`verdict/`): it was hashed, with this stored checksum, before.
    pub fn verify(&self, bytes: &[u8], signature_verified: bool) -> Result<(), LoadCause> {
        if self.checksum == 0 {
            return Err(LoadCause::Unsealed);
        }
        if self.checksum_coverage.end > bytes.len() {
            return Err(crate::format::FormatError::Truncated("file").into());
        }
        let computed = match signature_verified {
            true => self.checksum,
            false => self.computed_checksum(bytes),
        };
        if computed != self.checksum {
            return Err(LoadCause::Checksum {
                stored: self.checksum,
                computed,
            });
        }
        if self.computed_tables_digest != self.tables_digest {
            return Err(LoadCause::TablesDigest {
                stored: self.tables_digest,
                computed: self.computed_tables_digest,
            });
        }
        Ok(())
    }
}

/// What the loader reads from the image after `dlopen` or relies on having verified: all of
/// the root but its shard pointers (relocated by design), the shard tables and the image data.
fn protected_ranges(
    root_vaddr: u64,
    root: &RootView,
    shards: &ShardTables,
    image_data_vaddr: u64,
    image_data_len: u64,
) -> ProtectedRanges {
    // Parsing checked that the root and the image data lie in segments: no sum wraps around.
    let at = |from: u64, len: usize| from..from.saturating_add(len as u64);
    let pointers_end = ROOT_HEAD_SIZE + 8 * root.shard_pointer_offsets.len();
    let meta_start = root.encoded_len - root.meta.len();
    let mut ranges = vec![
        (at(root_vaddr, ROOT_HEAD_SIZE), Protected::RootHead),
        (
            at(root_vaddr + pointers_end as u64, meta_start - pointers_end),
            Protected::ExternalSlotOffsets,
        ),
        (
            at(root_vaddr + meta_start as u64, root.meta.len()),
            Protected::Metadata,
        ),
        (
            image_data_vaddr..image_data_vaddr.saturating_add(image_data_len),
            Protected::ImageData,
        ),
    ];
    for (i, (vaddr, table)) in shards.iter().enumerate() {
        ranges.push((at(vaddr, table.encoded_len()), Protected::ShardTable(i)));
    }
    ProtectedRanges::new(ranges)
}

/// For each address in `slots`, the value the dynamic loader writes there when the file keeps
/// it in a relocation rather than in place (ELF RELA); `None` where the bytes in place are the
/// value (Mach-O rebases, PE base relocations). The slots are the root's shard pointers, 8
/// bytes apart from the first: one pass over the relocations, an O(1) test each.
fn relocated_values(file: &object::File, slots: &[u64]) -> Vec<Option<u64>> {
    let mut values = vec![None; slots.len()];
    let Some(&first) = slots.first() else {
        return values;
    };
    debug_assert!(slots
        .iter()
        .enumerate()
        .all(|(i, &s)| s == first + 8 * i as u64));
    let slot_of = |at: u64| {
        let from_first = at.checked_sub(first)?;
        let i = usize::try_from(from_first / 8).ok()?;
        (from_first.is_multiple_of(8) && i < slots.len()).then_some(i)
    };
    if let object::File::Elf64(elf) = file {
        if let Some(values) = elf_rela_values(elf, slots.len(), slot_of) {
            return values;
        }
    }
    if let Some(relocations) = file.dynamic_relocations() {
        for (at, r) in
            relocations.filter(|(_, r)| matches!(r.target(), object::RelocationTarget::Absolute))
        {
            if let Some(i) = slot_of(at) {
                values[i] = Some(r.addend() as u64);
            }
        }
    }
    values
}

/// [`relocated_values`] for a 64-bit ELF file whose dynamic relocations are all RELA (what LLD
/// writes): the entries read where they lie, an offset test each, the rest decoded only for
/// the slots (object's iterator decodes every entry in full: a tenth of the parse with 5,000
/// of them). `None` for another kind of relocation section: the caller takes the general path.
fn elf_rela_values(
    elf: &object::read::elf::ElfFile64,
    nslots: usize,
    slot_of: impl Fn(u64) -> Option<usize>,
) -> Option<Vec<Option<u64>>> {
    use object::read::elf::{Rela as _, SectionHeader as _};
    let (endian, data) = (elf.endian(), elf.data());
    let dynsym = elf.elf_dynamic_symbol_table().section();
    let mut values = vec![None; nslots];
    for section in elf.elf_section_table().iter() {
        if section.link(endian) != dynsym || dynsym.0 == 0 {
            continue;
        }
        match section.sh_type(endian) {
            object::elf::SHT_RELA => {
                let (relocations, _) = section.rela(endian, data).ok()??;
                for r in relocations {
                    // Symbol 0: an absolute value, the addend (object's `Absolute` target).
                    if let Some(i) = slot_of(r.r_offset(endian)) {
                        if r.r_sym(endian, false) == 0 {
                            values[i] = Some(r.r_addend(endian) as u64);
                        }
                    }
                }
            }
            object::elf::SHT_REL | object::elf::SHT_CREL => return None,
            _ => {}
        }
    }
    Some(values)
}

fn read_u64(bytes: &[u8]) -> Result<u64, FormatError> {
    bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or(FormatError::Truncated("shard pointer"))
}

fn invalid(what: impl Into<String>) -> FormatError {
    FormatError::Invalid(what.into())
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
        .map(|e| String::from_utf8_lossy(root_symbol::c_name(file.format(), e.name())).into_owned())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Where `part`, a subslice of `whole`, starts in it.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}
