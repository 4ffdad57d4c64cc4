//! What no dynamic relocation may write: the parts of an image the loader verified in the
//! file and relies on after `dlopen` (`relocations.rs` says why), and how a pass over a
//! relocation table finds whether a write touches one of them.

use std::ops::Range;

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

/// The ranges (virtual addresses) no relocation may write, sorted by start, with the highest
/// end up to each: one binary search per write finds whether it overlaps any.
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
        let k = self.ranges.partition_point(|(r, _)| r.start < write.end);
        self.overlapped_among_first(k, write)
    }

    /// The protected part among the first `k` ranges (those that start before `write` ends)
    /// that `write` overlaps: one does when one ends after it starts.
    fn overlapped_among_first(&self, k: usize, write: Range<u64>) -> Option<Protected> {
        if k == 0 || self.max_end_so_far[k - 1] <= write.start {
            return None;
        }
        (self.ranges[..k].iter().rev())
            .find(|(r, _)| r.end > write.start)
            .map(|&(_, what)| what)
    }
}

/// Checks the writes of a pass over relocation tables: each lands in writable memory and in
/// nothing protected. LLD sorts a table by the address each entry writes, so a check usually
/// goes on from where the previous one stopped: a cursor over the protected ranges and the
/// writable segment the previous write landed in, instead of two binary searches per entry
/// (they were the loader's hottest symbol, a third of decoding SQLite's image with its 2,900
/// relocations). Any order is still checked exactly: a write that ends below the previous one
/// looks its place up again.
pub struct WriteCheck<'a> {
    segments: &'a Segments,
    protected: &'a ProtectedRanges,
    /// How many protected ranges start before `last_end`.
    starting_before: usize,
    last_end: u64,
    /// The writable segment (its memory) the previous write landed in.
    writable: Range<u64>,
}

/// Why a write is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadWrite {
    Into(Protected),
    NotWritable,
}

impl<'a> WriteCheck<'a> {
    pub fn new(segments: &'a Segments, protected: &'a ProtectedRanges) -> WriteCheck<'a> {
        WriteCheck {
            segments,
            protected,
            starting_before: 0,
            last_end: 0,
            writable: 0..0,
        }
    }

    /// Whether writing `width` bytes at `at` is allowed.
    pub fn check(&mut self, at: u64, width: u64) -> Result<(), BadWrite> {
        let end = at.saturating_add(width);
        let ranges = &self.protected.ranges;
        self.starting_before = match end >= self.last_end {
            true => {
                let mut k = self.starting_before;
                while ranges.get(k).is_some_and(|(r, _)| r.start < end) {
                    k += 1;
                }
                k
            }
            false => ranges.partition_point(|(r, _)| r.start < end),
        };
        self.last_end = end;
        let write = at..end;
        if let Some(into) = (self.protected).overlapped_among_first(self.starting_before, write) {
            return Err(BadWrite::Into(into));
        }
        let within = |segment: &Range<u64>| {
            (at.checked_add(width)).is_some_and(|end| segment.start <= at && end <= segment.end)
        };
        if within(&self.writable) {
            return Ok(());
        }
        match self.segments.writable_at_load(at, width) {
            Some(segment) => {
                self.writable = segment;
                Ok(())
            }
            None => Err(BadWrite::NotWritable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::segments::Segment;

    fn sample() -> ProtectedRanges {
        ProtectedRanges::new(vec![
            (100..156, Protected::RootHead),
            (200..300, Protected::Metadata),
            (120..130, Protected::ShardTable(0)),
            (400..400, Protected::ImageData),
        ])
    }

    #[test]
    fn overlaps_are_found_in_overlapping_and_disjoint_ranges() {
        let protected = sample();
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

    fn segments() -> Segments {
        let seg = |vaddr: Range<u64>, writable| Segment {
            file: vaddr.clone(),
            vaddr,
            readable: true,
            writable,
            executable: false,
        };
        Segments::new(
            vec![
                seg(0..64, false),
                seg(64..1000, true),
                seg(1000..2000, true),
            ],
            vec![],
        )
        .unwrap()
    }

    /// Every write of every order, ascending, descending and shuffled, gets the answer a
    /// binary search and a segment lookup give it on its own.
    #[test]
    fn the_cursor_agrees_with_a_lookup_of_each_write_in_any_order() {
        let protected = sample();
        let segments = segments();
        let alone = |at: u64, width: u64| match protected.overlapped_by(at..at + width) {
            Some(into) => Err(BadWrite::Into(into)),
            None if segments.writable_at_load(at, width).is_some() => Ok(()),
            None => Err(BadWrite::NotWritable),
        };
        let ascending: Vec<u64> = (40..1100).step_by(4).collect();
        let descending: Vec<u64> = ascending.iter().rev().copied().collect();
        let mut shuffled = ascending.clone();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for order in [ascending, descending, shuffled] {
            for width in [8, 16] {
                let mut check = WriteCheck::new(&segments, &protected);
                for &at in &order {
                    assert_eq!(check.check(at, width), alone(at, width), "{at}, {width}");
                }
            }
        }
    }

    #[test]
    fn writes_into_protected_or_read_only_memory_are_refused_in_a_sorted_pass() {
        let protected = sample();
        let segments = segments();
        let mut check = WriteCheck::new(&segments, &protected);
        assert_eq!(check.check(64, 8), Ok(()));
        assert_eq!(check.check(92, 8), Ok(()));
        assert_eq!(
            check.check(150, 8),
            Err(BadWrite::Into(Protected::RootHead))
        );
        assert_eq!(check.check(160, 8), Ok(()));
        assert_eq!(
            check.check(296, 8),
            Err(BadWrite::Into(Protected::Metadata))
        );
        // Across two writable segments: no one segment holds it.
        assert_eq!(check.check(996, 8), Err(BadWrite::NotWritable));
        assert_eq!(check.check(1000, 8), Ok(()));
        assert_eq!(check.check(1996, 8), Err(BadWrite::NotWritable));
        // Back down, into the read-only first segment.
        assert_eq!(check.check(8, 8), Err(BadWrite::NotWritable));
    }
}
