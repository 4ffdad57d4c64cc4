//! The image format: the one definition that the writer (`aotlink dump`) and this loader share.
//!
//! An image is an ordinary shared library that exports one data symbol, [`ROOT_SYMBOL`]. Its
//! bytes are a [`Blob`]: a fixed [`RootHead`], one pointer per shard to that shard's table, then
//! the encoded [`crate::format::meta::Meta`]. Each shard table is a [`Blob`] of 32-bit words laid out by
//! [`encode_shard_table`] and read in place by [`ShardTableView`] (`shard_table.rs`). References inside one object file (a shard table to its functions, the root to
//! the image data) are 32-bit offsets from the start of the structure that holds them, resolved
//! by the static linker: no dynamic relocation. The root's references to the shard tables cross
//! object files, which a 32-bit difference cannot express on every format (x86_64 Mach-O), so
//! they are ordinary pointers: one relocation per shard.
//!
//! All integers are little-endian (every supported target is).
//!
//! This folder owns the bytes' meaning: the root (here), the shard tables (`shard_table.rs`),
//! the metadata (`meta.rs`) and the architectures images are for (`arch.rs`). It is pure functions of bytes
//! and may not touch object files, the file system, the host or the dynamic loader; every other
//! part of the loader, and the writer, import it.

pub mod arch;
pub mod meta;
pub mod shard_table;

pub use shard_table::{encode_shard_table, ShardLayout, ShardSpec, ShardTableView, Word, Words};

/// First bytes of the root symbol.
pub const MAGIC: [u8; 8] = *b"AOTLINK\0";
/// Bumped on every incompatible change of anything in this file or in `meta.rs`.
pub const FORMAT_VERSION: u32 = 8;
/// At most this many CPU targets: clone sets are 64-bit sets over the targets (the writer's
/// `--cpu-target` limit is this constant).
pub const MAX_TARGETS: usize = 64;
/// The one symbol an image exports besides the user's own exports.
pub const ROOT_SYMBOL: &str = "aotlink_image";
/// Hidden symbols the header object defines, for C code that wants its image data.
pub const IMAGE_DATA_SYMBOL: &str = "aotlink_image_data";
pub const IMAGE_DATA_SIZE_SYMBOL: &str = "aotlink_image_data_size";
/// First word of every shard table.
pub const SHARD_MAGIC: u32 = u32::from_le_bytes(*b"SHRD");

/// Name of shard `index`'s table symbol (hidden; referenced from the root).
pub fn shard_table_symbol(index: u32) -> String {
    format!("{SHARD_TABLE_PREFIX}{index}")
}

/// What every shard table's symbol name starts with, followed by the shard's index.
pub const SHARD_TABLE_PREFIX: &str = "aotlink_shard_";

/// The shard index a symbol name gives, if it names a shard table ([`shard_table_symbol`]'s
/// inverse).
pub fn shard_table_index(symbol: &str) -> Option<u32> {
    symbol.strip_prefix(SHARD_TABLE_PREFIX)?.parse().ok()
}

/// Name of the slot through which the image calls external method `index` (hidden, in the
/// header object); the loader writes the method's address there.
pub fn external_slot_symbol(index: u32) -> String {
    format!("aotlink_external_{index}")
}

/// What an external slot holds until the loader fills it: a function that traps, so a call
/// to an unresolved method stops the program instead of jumping to null.
pub const UNRESOLVED_SYMBOL: &str = "aotlink_unresolved_method";

/// What the image is for; package images are validated against a method table at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ImageKind {
    Sysimg = 1,
    Pkg = 2,
}

impl ImageKind {
    pub fn from_u32(v: u32) -> Option<ImageKind> {
        match v {
            1 => Some(ImageKind::Sysimg),
            2 => Some(ImageKind::Pkg),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Sysimg => "sysimg",
            ImageKind::Pkg => "pkg",
        }
    }
}

/// The fixed start of the root symbol. Followed by `[i32; nshards]` (offset of each shard table
/// from the root's first byte) and `meta_len` bytes of encoded metadata.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootHead {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u32,
    /// [`ImageKind`] as u32.
    pub kind: u32,
    /// The image checksum: xxh3-64 over the xxh3-64 of each 1 MiB piece of the image file's
    /// bytes that a loader maps or reads, these 8 read as zero (see [`crate::file::coverage`]).
    /// Zero until the linked file is sealed.
    pub checksum: u64,
    /// xxh3-64 of the tables the loader follows (see [`tables_digest`]), written when sealing
    /// (the linker resolves the tables' offsets, so not before).
    pub tables_digest: u64,
    /// Number of shards (and of shard offsets after this head).
    pub nshards: u32,
    /// Bytes of encoded metadata after the shard offsets.
    pub meta_len: u32,
    /// Bytes of image data.
    pub image_data_len: u64,
    /// Offset of the image data ([`IMAGE_DATA_SYMBOL`]) from the root's first byte.
    pub image_data_offset: i32,
    /// Number of external methods (methods of other images this one calls), and of their slot
    /// offsets after the shard pointers.
    pub nexternals: u32,
}

/// Size of [`RootHead`] in bytes.
pub const ROOT_HEAD_SIZE: usize = std::mem::size_of::<RootHead>();
/// Where the checksum sits inside the root.
pub const CHECKSUM_OFFSET: usize = std::mem::offset_of!(RootHead, checksum);

/// Where the tables digest sits inside the root.
pub const TABLES_DIGEST_OFFSET: usize = std::mem::offset_of!(RootHead, tables_digest);

const _: () = assert!(ROOT_HEAD_SIZE == 56);

impl RootHead {
    fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ROOT_HEAD_SIZE);
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.kind.to_le_bytes());
        out.extend_from_slice(&self.checksum.to_le_bytes());
        out.extend_from_slice(&self.tables_digest.to_le_bytes());
        out.extend_from_slice(&self.nshards.to_le_bytes());
        out.extend_from_slice(&self.meta_len.to_le_bytes());
        out.extend_from_slice(&self.image_data_len.to_le_bytes());
        out.extend_from_slice(&self.image_data_offset.to_le_bytes());
        out.extend_from_slice(&self.nexternals.to_le_bytes());
        debug_assert_eq!(out.len(), ROOT_HEAD_SIZE);
        out
    }

    /// Reads a head from the first [`ROOT_HEAD_SIZE`] bytes; `None` when too short.
    pub fn parse(bytes: &[u8]) -> Option<RootHead> {
        let head = bytes.get(..ROOT_HEAD_SIZE)?;
        let mut r = WordReader {
            bytes: head,
            pos: 8,
        };
        Some(RootHead {
            magic: head[..8].try_into().ok()?,
            version: r.u32()?,
            kind: r.u32()?,
            checksum: r.u64()?,
            tables_digest: r.u64()?,
            nshards: r.u32()?,
            meta_len: r.u32()?,
            image_data_len: r.u64()?,
            image_data_offset: r.i32()?,
            nexternals: r.u32()?,
        })
    }
}

/// Bytes plus the places where the linker puts the address of a symbol. The writer turns a
/// blob into one global; the loader reads the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob<S> {
    pub bytes: Vec<u8>,
    /// (byte offset of a hole in `bytes`, what goes there, symbol).
    pub fixups: Vec<(usize, Fixup, S)>,
}

/// What the linker writes into a hole of a [`Blob`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixup {
    /// `i32`: the symbol's address minus the blob's first byte (symbol in the same object).
    Offset32,
    /// `u64`: the symbol's address (a relocation the dynamic loader applies).
    Pointer64,
}

impl<S> Blob<S> {
    fn new() -> Self {
        Blob {
            bytes: Vec::new(),
            fixups: Vec::new(),
        }
    }

    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    fn offset_of(&mut self, symbol: S) {
        self.fixups
            .push((self.bytes.len(), Fixup::Offset32, symbol));
        self.u32(0);
    }

    fn pointer_to(&mut self, symbol: S) {
        self.fixups
            .push((self.bytes.len(), Fixup::Pointer64, symbol));
        self.bytes.extend_from_slice(&[0; 8]);
    }
}

/// A symbol a root or shard table refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableRef {
    /// Shard `n`'s table ([`shard_table_symbol`]).
    ShardTable(u32),
    /// The image data ([`IMAGE_DATA_SYMBOL`]).
    ImageData,
    /// External method `n`'s slot ([`external_slot_symbol`]).
    ExternalSlot(u32),
    /// A function or global of the shard, by its symbol name.
    Symbol(String),
}

/// Lays out the root symbol.
/// Lays out the root symbol: head, shard table pointers, external slot offsets, metadata.
pub fn encode_root(
    kind: ImageKind,
    nshards: u32,
    nexternals: u32,
    image_data_len: u64,
    meta: &[u8],
) -> Blob<TableRef> {
    let head = RootHead {
        magic: MAGIC,
        version: FORMAT_VERSION,
        kind: kind as u32,
        checksum: 0,
        tables_digest: 0,
        nshards,
        meta_len: meta.len() as u32,
        image_data_len,
        image_data_offset: 0,
        nexternals,
    };
    let mut blob = Blob::new();
    blob.bytes = head.to_bytes();
    blob.fixups.push((
        std::mem::offset_of!(RootHead, image_data_offset),
        Fixup::Offset32,
        TableRef::ImageData,
    ));
    for shard in 0..nshards {
        blob.pointer_to(TableRef::ShardTable(shard));
    }
    for external in 0..nexternals {
        blob.offset_of(TableRef::ExternalSlot(external));
    }
    blob.bytes.extend_from_slice(meta);
    blob
}

/// The root as read back from bytes (file or memory).
#[derive(Clone, Debug)]
pub struct RootView<'a> {
    pub head: RootHead,
    /// Where each shard table's pointer sits, from the root's first byte (the value itself
    /// is a relocated pointer: read it from memory, or resolve it in the file).
    pub shard_pointer_offsets: Vec<usize>,
    /// Offset of each external method's slot from the root's first byte.
    pub external_slot_offsets: Vec<i32>,
    pub meta: &'a [u8],
    /// Bytes from the root's first byte through the end of its metadata.
    pub encoded_len: usize,
}

impl<'a> RootView<'a> {
    /// Parses the root from `bytes`, which start at the root symbol and may run past its end.
    pub fn parse(bytes: &'a [u8]) -> Result<RootView<'a>, FormatError> {
        let head = RootHead::parse(bytes).ok_or(FormatError::Truncated("root header"))?;
        if head.magic != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if head.version != FORMAT_VERSION {
            return Err(FormatError::Version {
                found: head.version,
                expected: FORMAT_VERSION,
            });
        }
        if ImageKind::from_u32(head.kind).is_none() {
            return Err(FormatError::Invalid(format!(
                "unknown image kind {}",
                head.kind
            )));
        }
        let pointers_end = (head.nshards as usize)
            .checked_mul(8)
            .and_then(|n| n.checked_add(ROOT_HEAD_SIZE))
            .filter(|&end| end <= bytes.len())
            .ok_or(FormatError::Truncated("shard pointers"))?;
        let shard_pointer_offsets = (ROOT_HEAD_SIZE..pointers_end).step_by(8).collect();
        let mut r = WordReader {
            bytes,
            pos: pointers_end,
        };
        let external_slot_offsets = (0..head.nexternals)
            .map(|_| r.i32().ok_or(FormatError::Truncated("external slots")))
            .collect::<Result<Vec<_>, _>>()?;
        let meta = r
            .take(head.meta_len as usize)
            .ok_or(FormatError::Truncated("metadata"))?;
        Ok(RootView {
            head,
            shard_pointer_offsets,
            external_slot_offsets,
            meta,
            encoded_len: r.pos,
        })
    }

    pub fn kind(&self) -> ImageKind {
        ImageKind::from_u32(self.head.kind).expect("checked in parse")
    }
}

/// The tables digest: xxh3-64 of the root (its head with the checksum and the digest read as
/// zero, then everything after the shard pointers through the metadata), then for each shard in
/// order the address its pointer resolves to and the bytes of its table: everything the loader
/// follows. The checksum covers every byte a loader reads, so a changed one is an accident it
/// catches; this hash covers again what decides which code runs, so a file whose tables were
/// changed and whose checksum was then recomputed is still refused unless the digest was
/// recomputed too. Neither is a defence against someone who knows the format: a signature
/// decides trust (docs/DESIGN.md, "Trust model").
///
/// `root` is the root's `encoded_len` bytes, as [`RootView::parse`] accepted them.
pub fn tables_digest<'a>(root: &[u8], tables: impl Iterator<Item = (u64, &'a [u8])>) -> u64 {
    let nshards = RootHead::parse(root).map_or(0, |head| head.nshards as usize);
    let pointers_end = (ROOT_HEAD_SIZE + 8 * nshards).min(root.len());
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(root.get(..CHECKSUM_OFFSET).unwrap_or(root));
    hasher.update(&[0u8; 16]);
    hasher.update(
        root.get(TABLES_DIGEST_OFFSET + 8..ROOT_HEAD_SIZE)
            .unwrap_or(&[]),
    );
    // The pointers' bytes in place may be unrelocated: their resolved values are hashed below.
    hasher.update(&root[pointers_end..]);
    for (vaddr, table) in tables {
        hasher.update(&vaddr.to_le_bytes());
        hasher.update(table);
    }
    hasher.digest()
}

/// What is wrong with bytes that should be an image's tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("no aotlink image header (bad magic)")]
    BadMagic,
    #[error("image format version {found}, this loader reads version {expected}")]
    Version { found: u32, expected: u32 },
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// Bounds-checked little-endian reads: `None` past the end, never a panic.
pub(crate) struct WordReader<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> WordReader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn i32(&mut self) -> Option<i32> {
        self.u32().map(|v| v as i32)
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves every fixup as if the blob sat at address 0 and the k-th symbol at 1000 + 16k.
    fn link(blob: &Blob<TableRef>) -> Vec<u8> {
        let mut bytes = blob.bytes.clone();
        for (k, (at, kind, _)) in blob.fixups.iter().enumerate() {
            let address = 1000 + 16 * k as u64;
            match kind {
                Fixup::Offset32 => {
                    bytes[*at..*at + 4].copy_from_slice(&(address as i32).to_le_bytes())
                }
                Fixup::Pointer64 => bytes[*at..*at + 8].copy_from_slice(&address.to_le_bytes()),
            }
        }
        bytes
    }

    #[test]
    fn root_round_trips() {
        let meta = b"metadata bytes".to_vec();
        let blob = encode_root(ImageKind::Pkg, 3, 2, 77, &meta);
        let bytes = link(&blob);
        let root = RootView::parse(&bytes).unwrap();
        assert_eq!(root.kind(), ImageKind::Pkg);
        assert_eq!(root.head.nshards, 3);
        assert_eq!(root.head.image_data_len, 77);
        assert_eq!(root.head.image_data_offset, 1000);
        assert_eq!(root.shard_pointer_offsets, vec![56, 64, 72]);
        // Offsets are from the root's start: symbol k at 1000 + 16k.
        assert_eq!(root.external_slot_offsets, vec![1064, 1080]);
        let pointer = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        assert_eq!(
            root.shard_pointer_offsets
                .iter()
                .map(|&at| pointer(at))
                .collect::<Vec<_>>(),
            [1016, 1032, 1048]
        );
        assert_eq!(root.meta, &meta[..]);
        assert_eq!(&bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8], &[0; 8]);
    }

    #[test]
    fn shard_table_round_trips() {
        let s = |n: &str| n.to_string();
        let spec = ShardSpec {
            index: 2,
            fvars: vec![(5, s("f")), (9, s("g"))],
            gvars: vec![(1, s("x"))],
            clones: vec![vec![(1, s("g.t1"))], vec![]],
            slots: vec![(9, s("g.slot"))],
        };
        let blob = encode_shard_table(&spec, 3);
        let mut bytes = link(&blob);
        // Whatever follows the table is not part of it.
        bytes.extend_from_slice(&[0xff; 12]);
        let table = ShardTableView::parse(&bytes).unwrap();
        assert_eq!(table.index(), 2);
        assert_eq!(table.fvar_idxs().to_vec(), vec![5, 9]);
        assert_eq!(table.fvar_offsets().to_vec(), vec![1000, 1016]);
        assert_eq!(table.gvar_idxs().to_vec(), vec![1]);
        assert_eq!(table.gvar_offsets().to_vec(), vec![1032]);
        let clones: Vec<_> = (table.clones())
            .map(|(p, o)| (p.to_vec(), o.to_vec()))
            .collect();
        assert_eq!(clones, vec![(vec![1], vec![1048]), (vec![], vec![])]);
        assert_eq!(table.clones_of(1).unwrap().1.to_vec(), vec![1048]);
        assert!(table.clones_of(2).unwrap().0.is_empty());
        assert!(table.clones_of(0).is_none() && table.clones_of(3).is_none());
        assert_eq!(table.slot_fvars().to_vec(), vec![9]);
        assert_eq!(table.slot_offsets().to_vec(), vec![1064]);
        assert_eq!(table.encoded_len(), blob.bytes.len());
        assert_eq!(table.bytes(), &bytes[..blob.bytes.len()]);
        // A view made again from its layout over a copy of its bytes reads the same.
        let copy = table.bytes().to_vec();
        let again = ShardTableView::with_layout(&copy, table.layout());
        assert_eq!(again.clones_of(1).unwrap().0.to_vec(), vec![1]);
        assert_eq!(again.slot_offsets().to_vec(), vec![1064]);
        // Bytes shorter than the layout read as an empty table, not a panic.
        let short = ShardTableView::with_layout(&copy[..10], table.layout());
        assert!(short.fvar_idxs().is_empty() && short.clones().all(|(p, _)| p.is_empty()));
    }

    #[test]
    fn truncated_tables_are_errors_not_panics() {
        let blob = encode_root(ImageKind::Sysimg, 2, 1, 0, b"abc");
        let bytes = link(&blob);
        for cut in 0..bytes.len() {
            assert!(RootView::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let spec = ShardSpec {
            index: 0,
            fvars: vec![(0, "f".into())],
            ..Default::default()
        };
        let bytes = link(&encode_shard_table(&spec, 1));
        for cut in 0..bytes.len() {
            assert!(
                ShardTableView::parse(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    /// Counts that claim more than the bytes hold, up to `u32::MAX`, are refused before
    /// anything is read past the end (the view allocates nothing, whatever they say).
    #[test]
    fn counts_past_the_bytes_are_refused() {
        let s = |n: &str| n.to_string();
        let spec = ShardSpec {
            index: 0,
            fvars: vec![(0, s("f")), (1, s("g"))],
            gvars: vec![(0, s("x"))],
            clones: vec![vec![(1, s("g.t1"))]],
            slots: vec![(1, s("g.slot"))],
        };
        let good = link(&encode_shard_table(&spec, 2));
        ShardTableView::parse(&good).unwrap();
        // nfvars, ngvars, nslots, then the clone count (after 6 + 4 + 2 words).
        for at in [8, 12, 20, 4 * 12] {
            for claim in [3u32, 1000, u32::MAX / 4, u32::MAX / 8 + 1, u32::MAX] {
                let mut bytes = good.clone();
                bytes[at..at + 4].copy_from_slice(&claim.to_le_bytes());
                assert!(ShardTableView::parse(&bytes).is_err(), "{claim} at {at}");
            }
        }
    }

    #[test]
    fn clones_outside_their_shard_are_refused() {
        let s = |n: &str| n.to_string();
        let spec = ShardSpec {
            index: 0,
            fvars: vec![(0, s("f")), (1, s("g"))],
            clones: vec![vec![(1, s("g.t1"))]],
            ..Default::default()
        };
        let mut bytes = link(&encode_shard_table(&spec, 2));
        // The clone's position, after 6 + 4 words and its count.
        bytes[44..48].copy_from_slice(&2u32.to_le_bytes());
        let refused = ShardTableView::parse(&bytes).unwrap_err();
        assert!(
            refused.to_string().contains("outside its shard"),
            "{refused}"
        );
    }

    #[test]
    fn target_counts_are_bounded() {
        let spec = ShardSpec::default();
        let mut bytes = link(&encode_shard_table(&spec, 1));
        for (ntargets, ok) in [(0u32, false), (1, true), (65, false), (u32::MAX, false)] {
            bytes[16..20].copy_from_slice(&ntargets.to_le_bytes());
            bytes.resize(24 + 4 * 64, 0);
            let parsed = ShardTableView::parse(&bytes);
            assert_eq!(parsed.is_ok(), ok, "{ntargets}: {parsed:?}");
        }
    }
}
