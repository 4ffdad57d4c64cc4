//! Shard tables: how the writer lays one out ([`encode_shard_table`]) and how the loader reads
//! it back in place ([`ShardTableView`]).
//!
//! Read in place because decoding was half of a first open: SQLite's 128 tables became about
//! 1,500 small vectors per open, and their allocations and frees (glibc consolidating the heap
//! during the `dlopen` that follows) cost about as much as hashing the file (perf, issue 30).
//! A view checks the table's counts against its bytes once ([`ShardTableView::parse`]); its
//! lists are then read where they lie, as [`Words`].

use std::marker::PhantomData;

use crate::format::{Blob, FormatError, TableRef, MAX_TARGETS, SHARD_MAGIC};

/// What the writer knows about one shard, in shard-local order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: u32,
    /// (global fvar index, symbol of the base-target version), in shard-local order.
    pub fvars: Vec<(u32, String)>,
    /// (global gvar index, symbol), in shard-local order.
    pub gvars: Vec<(u32, String)>,
    /// For each target after the first: (shard-local fvar position, symbol of its clone).
    pub clones: Vec<Vec<(u32, String)>>,
    /// Dispatch slots: (global fvar index the slot points at, symbol of the pointer-sized slot).
    pub slots: Vec<(u32, String)>,
}

/// Lays out a shard table: six header words, then
/// `fvar_idxs[nf] fvar_offsets[nf] gvar_idxs[ng] gvar_offsets[ng]`,
/// then per target after the first `count, positions[count], offsets[count]`,
/// then `slot_fvars[ns] slot_offsets[ns]`. Offsets are from the table's first byte.
pub fn encode_shard_table(spec: &ShardSpec, ntargets: u32) -> Blob<TableRef> {
    assert_eq!(spec.clones.len() as u32, ntargets.saturating_sub(1));
    let mut blob = Blob::new();
    for word in [
        SHARD_MAGIC,
        spec.index,
        spec.fvars.len() as u32,
        spec.gvars.len() as u32,
        ntargets,
        spec.slots.len() as u32,
    ] {
        blob.u32(word);
    }
    let pairs = |blob: &mut Blob<TableRef>, list: &[(u32, String)]| {
        list.iter().for_each(|(i, _)| blob.u32(*i));
        list.iter()
            .for_each(|(_, s)| blob.offset_of(TableRef::Symbol(s.clone())));
    };
    pairs(&mut blob, &spec.fvars);
    pairs(&mut blob, &spec.gvars);
    for clones in &spec.clones {
        blob.u32(clones.len() as u32);
        pairs(&mut blob, clones);
    }
    pairs(&mut blob, &spec.slots);
    blob
}

/// Bytes of the six header words.
const HEAD_LEN: usize = 24;

/// A shard table's header once its counts were checked against its bytes: where each list
/// starts follows from it. Small and `Copy`, so a decoded file keeps one per shard and makes
/// views over the bytes it keeps (`file/shard_tables.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardLayout {
    pub index: u32,
    nfvars: u32,
    ngvars: u32,
    ntargets: u32,
    nslots: u32,
    /// Bytes of the clone lists (count, positions, offsets for each target after the first).
    clones_len: u32,
}

impl ShardLayout {
    fn clones_at(&self) -> usize {
        HEAD_LEN + 8 * self.nfvars as usize + 8 * self.ngvars as usize
    }

    fn slots_at(&self) -> usize {
        self.clones_at() + self.clones_len as usize
    }

    /// Size of the encoded table in bytes.
    pub fn encoded_len(&self) -> usize {
        self.slots_at() + 8 * self.nslots as usize
    }
}

/// A shard table read in place: offsets stay relative to the table's first byte.
#[derive(Clone, Copy, Debug)]
pub struct ShardTableView<'a> {
    /// Exactly the table's bytes.
    bytes: &'a [u8],
    layout: ShardLayout,
}

impl<'a> ShardTableView<'a> {
    /// Reads a shard table from `bytes` (starting at the table, may run past its end),
    /// checking that every count fits in them and that every clone names a function of the
    /// shard. Allocates nothing, whatever the bytes say.
    pub fn parse(bytes: &'a [u8]) -> Result<ShardTableView<'a>, FormatError> {
        let truncated = || FormatError::Truncated("shard table");
        let word = |at: usize| read_word(bytes, at).ok_or_else(truncated);
        if word(0)? != SHARD_MAGIC {
            return Err(FormatError::Invalid("shard table magic is wrong".into()));
        }
        let [index, nfvars, ngvars, ntargets, nslots] =
            [4, 8, 12, 16, 20].map(|at| read_word(bytes, at));
        let (index, nfvars, ngvars, ntargets, nslots) = (
            index.ok_or_else(truncated)?,
            nfvars.ok_or_else(truncated)?,
            ngvars.ok_or_else(truncated)?,
            ntargets.ok_or_else(truncated)?,
            nslots.ok_or_else(truncated)?,
        );
        if ntargets == 0 || ntargets as usize > MAX_TARGETS {
            return Err(FormatError::Invalid(format!(
                "shard table lists {ntargets} targets, 1 to {MAX_TARGETS} are possible"
            )));
        }
        // Each step stays within `bytes` (so below isize::MAX) before the next is added.
        let fits = |at: usize, words: u32| {
            let end = at.checked_add((words as usize).checked_mul(4)?)?;
            (end <= bytes.len()).then_some(end)
        };
        let gvars_at = fits(HEAD_LEN, nfvars)
            .and_then(|at| fits(at, nfvars))
            .ok_or_else(truncated)?;
        let clones_at = fits(gvars_at, ngvars)
            .and_then(|at| fits(at, ngvars))
            .ok_or_else(truncated)?;
        let mut at = clones_at;
        for _ in 1..ntargets {
            let count = word(at)?;
            // `word` read 4 bytes at `at`: `at + 4` is within `bytes`.
            let positions_end = fits(at + 4, count).ok_or_else(truncated)?;
            let positions = bytes.get(at + 4..positions_end).ok_or_else(truncated)?;
            if Words::<u32>::new(positions, count)
                .iter()
                .any(|p| p >= nfvars)
            {
                return Err(FormatError::Invalid(
                    "clone names a function outside its shard".into(),
                ));
            }
            at = fits(positions_end, count).ok_or_else(truncated)?;
        }
        let end = fits(at, nslots)
            .and_then(|at| fits(at, nslots))
            .ok_or_else(truncated)?;
        let clones_len = u32::try_from(at - clones_at).map_err(|_| truncated())?;
        let layout = ShardLayout {
            index,
            nfvars,
            ngvars,
            ntargets,
            nslots,
            clones_len,
        };
        debug_assert_eq!(layout.encoded_len(), end);
        Ok(ShardTableView {
            bytes: bytes.get(..end).ok_or_else(truncated)?,
            layout,
        })
    }

    /// The view of a table that [`ShardTableView::parse`] accepted with `layout`, over a copy
    /// of its bytes that starts at the table. Bytes shorter than the layout read as an empty
    /// table (never a panic); the callers pass the bytes that were checked.
    pub fn with_layout(bytes: &'a [u8], layout: ShardLayout) -> ShardTableView<'a> {
        let bytes = bytes.get(..layout.encoded_len()).unwrap_or(&[]);
        ShardTableView { bytes, layout }
    }

    pub fn layout(&self) -> ShardLayout {
        self.layout
    }

    /// The table's bytes, exactly.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn index(&self) -> u32 {
        self.layout.index
    }

    /// Size of the encoded table in bytes.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Shard-local position -> global fvar index.
    pub fn fvar_idxs(&self) -> Words<'a, u32> {
        self.words(HEAD_LEN, self.layout.nfvars)
    }

    /// The base-target version of each function.
    pub fn fvar_offsets(&self) -> Words<'a, i32> {
        self.words(
            HEAD_LEN + 4 * self.layout.nfvars as usize,
            self.layout.nfvars,
        )
    }

    pub fn gvar_idxs(&self) -> Words<'a, u32> {
        self.words(
            HEAD_LEN + 8 * self.layout.nfvars as usize,
            self.layout.ngvars,
        )
    }

    pub fn gvar_offsets(&self) -> Words<'a, i32> {
        let at = HEAD_LEN + 8 * self.layout.nfvars as usize + 4 * self.layout.ngvars as usize;
        self.words(at, self.layout.ngvars)
    }

    /// Number of targets the table lists clones for (the image's targets but the first).
    pub fn clone_lists(&self) -> usize {
        (self.layout.ntargets as usize).saturating_sub(1)
    }

    /// For each target after the first, in order: (shard-local fvar positions, clone offsets).
    pub fn clones(&self) -> impl Iterator<Item = (Words<'a, u32>, Words<'a, i32>)> + 'a {
        let bytes = self.bytes;
        let mut at = self.layout.clones_at();
        (0..self.clone_lists()).map(move |_| {
            let count = read_word(bytes, at).unwrap_or(0);
            let positions = Words::new(bytes.get(at + 4..).unwrap_or(&[]), count);
            let offsets = Words::new(
                bytes.get(at + 4 + positions.byte_len()..).unwrap_or(&[]),
                count,
            );
            at += 4 + positions.byte_len() + offsets.byte_len();
            (positions, offsets)
        })
    }

    /// The clones for target `t` (`t` ≥ 1), as [`ShardTableView::clones`] lists them.
    pub fn clones_of(&self, t: usize) -> Option<(Words<'a, u32>, Words<'a, i32>)> {
        self.clones().nth(t.checked_sub(1)?)
    }

    /// The function each dispatch slot points at.
    pub fn slot_fvars(&self) -> Words<'a, u32> {
        self.words(self.layout.slots_at(), self.layout.nslots)
    }

    /// The dispatch slots (pointer-sized writable globals).
    pub fn slot_offsets(&self) -> Words<'a, i32> {
        let at = self.layout.slots_at() + 4 * self.layout.nslots as usize;
        self.words(at, self.layout.nslots)
    }

    fn words<T: Word>(&self, at: usize, count: u32) -> Words<'a, T> {
        Words::new(self.bytes.get(at..).unwrap_or(&[]), count)
    }
}

/// A little-endian 32-bit word of a table, unsigned (indices) or signed (offsets).
pub trait Word: Copy {
    fn from_le(bytes: [u8; 4]) -> Self;
}

impl Word for u32 {
    fn from_le(bytes: [u8; 4]) -> u32 {
        u32::from_le_bytes(bytes)
    }
}

impl Word for i32 {
    fn from_le(bytes: [u8; 4]) -> i32 {
        i32::from_le_bytes(bytes)
    }
}

/// A list of little-endian words read where they lie (the bytes need not be aligned).
#[derive(Clone, Copy)]
pub struct Words<'a, T> {
    bytes: &'a [u8],
    word: PhantomData<T>,
}

impl<'a, T: Word> Words<'a, T> {
    /// The first `count` words of `bytes`, or as many as there are.
    fn new(bytes: &'a [u8], count: u32) -> Words<'a, T> {
        let len = (count as usize).saturating_mul(4).min(bytes.len() / 4 * 4);
        Words {
            bytes: &bytes[..len],
            word: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn get(&self, i: usize) -> Option<T> {
        let word = self.bytes.get(4 * i..4 * i + 4)?;
        Some(T::from_le(word.try_into().ok()?))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + 'a {
        (self.bytes.chunks_exact(4)).map(|w| T::from_le([w[0], w[1], w[2], w[3]]))
    }

    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }
}

impl<T: Word + std::fmt::Debug> std::fmt::Debug for Words<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn read_word(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}
