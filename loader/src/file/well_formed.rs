//! Structural rules between an image's tables and its program, checked before `dlopen`: every
//! index in range and used once, every address the loader writes, calls or reads inside a
//! segment that allows it, and the clone lists as the writer lays them out. All checks are
//! linear in the size of the tables.

use std::collections::BTreeMap;

use crate::file::segments::Segments;
use crate::file::shard_tables::ShardTables;
use crate::format::meta::MetaView;
use crate::format::{FormatError, Words};

fn invalid<T>(what: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError::Invalid(what.into()))
}

/// Every fvar and gvar index appears exactly once over all shards, every shard table has the
/// image's targets, and every dispatch slot names an fvar of the image.
pub fn check_indices(meta: &MetaView, shards: &ShardTables) -> Result<(), FormatError> {
    // Sized by the metadata, which was decoded from the file: bounded by its size.
    let mut seen_f = vec![false; meta.method_count()];
    let mut seen_g = vec![false; meta.gvar_count()];
    for (_, table) in shards.iter() {
        if table.clone_lists() + 1 != meta.targets.len() {
            return invalid("a shard table's target count differs from the image's");
        }
        for (seen, idxs) in [
            (&mut seen_f, table.fvar_idxs()),
            (&mut seen_g, table.gvar_idxs()),
        ] {
            for i in idxs.iter() {
                match seen.get_mut(i as usize) {
                    Some(slot) if !*slot => *slot = true,
                    _ => return invalid("a shard table lists an index twice or out of range"),
                }
            }
        }
        if (table.slot_fvars().iter()).any(|f| f as usize >= meta.method_count()) {
            return invalid("a dispatch slot names an fvar out of range");
        }
    }
    if seen_f.contains(&false) || seen_g.contains(&false) {
        return invalid("the shard tables miss some functions or globals");
    }
    Ok(())
}

/// The clone lists as the writer makes them: within one target, positions strictly increasing
/// (so each function has at most one version per target), and per target the clones of all
/// shards add up to the target's `nclones`.
pub fn check_clones(meta: &MetaView, shards: &ShardTables) -> Result<(), FormatError> {
    let mut counts = vec![0u64; meta.targets.len()];
    for (_, table) in shards.iter() {
        for (t, (positions, _)) in table.clones().enumerate() {
            let mut previous = None;
            let increasing = positions.iter().all(|p| previous.replace(p) < Some(p));
            if !increasing {
                return invalid(format!(
                    "a shard table lists the clones for target {} out of order or twice",
                    t + 1
                ));
            }
            if let Some(count) = counts.get_mut(t + 1) {
                *count += positions.len() as u64;
            }
        }
    }
    for (t, (target, &count)) in meta.targets.iter().zip(&counts).enumerate().skip(1) {
        if u64::from(target.nclones) != count {
            return invalid(format!(
                "target {t} claims {} clones, the shard tables list {count}",
                target.nclones
            ));
        }
    }
    Ok(())
}

/// `table + off`, refusing an address that wraps around.
pub fn address(table: u64, off: i32) -> Result<u64, FormatError> {
    table
        .checked_add_signed(i64::from(off))
        .ok_or_else(|| FormatError::Invalid("a table offset wraps around the address space".into()))
}

/// Every function version is code, every dispatch slot a writable aligned pointer, every gvar
/// an address of the program.
pub fn check_addresses(shards: &ShardTables, segments: &Segments) -> Result<(), FormatError> {
    for (vaddr, table) in shards.iter() {
        // Code is contiguous within a segment: when the lowest and highest function addresses
        // are code of one segment, all between are. Otherwise each is looked at.
        let lists = || std::iter::once(table.fvar_offsets()).chain(table.clones().map(|c| c.1));
        if let Some((lowest, highest)) = lists().filter_map(|l| bounds(l)).reduce(widest) {
            let (lowest, highest) = (address(vaddr, lowest)?, address(vaddr, highest)?);
            if !segments.is_code_range(lowest, highest) {
                for off in lists().flat_map(|l| l.iter()) {
                    if !segments.is_code(address(vaddr, off)?) {
                        return invalid("a function address lies outside the image's code");
                    }
                }
            }
        }
        // Likewise: aligned slots whose span is writable memory outside RELRO are each such a
        // pointer; globals between two of one readable segment are in it.
        let slots = table.slot_offsets();
        if let Some((lowest, highest)) = bounds(slots) {
            let (lowest, highest) = (address(vaddr, lowest)?, address(vaddr, highest)?);
            let aligned =
                (slots.iter()).all(|off| vaddr.wrapping_add_signed(off.into()).is_multiple_of(8));
            let span = highest.checked_add(8);
            if !(aligned && span.is_some_and(|end| segments.is_writable_span(lowest, end))) {
                for off in slots.iter() {
                    if !segments.is_writable_pointer(address(vaddr, off)?) {
                        return invalid(
                            "a dispatch slot is not an aligned pointer in writable memory of the \
                             image",
                        );
                    }
                }
            }
        }
        let gvars = table.gvar_offsets();
        if let Some((lowest, highest)) = bounds(gvars) {
            let (lowest, highest) = (address(vaddr, lowest)?, address(vaddr, highest)?);
            if !segments.is_readable_span(lowest, highest) {
                // A shard's globals lie in a few segments (constants, data, zeroed data): each
                // is looked up only when it leaves the one the previous global was in.
                let mut previous: Option<std::ops::Range<u64>> = None;
                for off in gvars.iter() {
                    let at = address(vaddr, off)?;
                    if previous
                        .as_ref()
                        .is_some_and(|r| r.start <= at && at <= r.end)
                    {
                        continue;
                    }
                    previous = segments.readable_around(at);
                    if previous.is_none() {
                        return invalid("a global's address lies outside the image's memory");
                    }
                }
            }
        }
    }
    Ok(())
}

/// The lowest and highest of `offsets`, in one pass; `None` when there are none.
fn bounds(offsets: Words<i32>) -> Option<(i32, i32)> {
    offsets.iter().map(|off| (off, off)).reduce(widest)
}

/// The bounds that cover both.
fn widest(a: (i32, i32), b: (i32, i32)) -> (i32, i32) {
    (a.0.min(b.0), a.1.max(b.1))
}

/// The file ranges of the shard tables read so far: no two tables may share bytes, so all of
/// them together are at most the file (many shard pointers at one big table would otherwise
/// each parse and keep a copy of it). The linker lays the tables out mostly in shard order
/// (SQLite's 128: six out of order, one far away), so a sorted list takes a table at its end or
/// a few places before it; only a table that would move more than [`MOVE_AT_MOST`] entries
/// goes to a search tree, so a hostile order costs a tree insertion, not a long move (a tree
/// for every table was a tenth of decoding SQLite's image).
#[derive(Default)]
pub struct TableRanges {
    /// Ranges sorted by start, none sharing bytes.
    in_order: Vec<(u64, u64)>,
    /// The other ranges, by start.
    others: BTreeMap<u64, u64>,
}

impl TableRanges {
    /// Refuses a table starting at file offset `start` if an earlier table covers it.
    pub fn check_start(&self, start: u64) -> Result<(), FormatError> {
        let before = self.in_order.partition_point(|&(s, _)| s <= start);
        let in_order = before.checked_sub(1).map(|i| self.in_order[i]);
        let other = self.others.range(..=start).next_back();
        let covered = |end: u64| end > start;
        if in_order.is_some_and(|(_, end)| covered(end))
            || other.is_some_and(|(_, &end)| covered(end))
        {
            return invalid("two shard tables share bytes (or a shard is listed twice)");
        }
        Ok(())
    }

    /// Adds `start .. start + len`, refusing it when it runs into a table after it.
    pub fn insert(&mut self, start: u64, len: u64) -> Result<(), FormatError> {
        self.check_start(start)?;
        let end = start.saturating_add(len);
        let after_in_order = self.in_order.partition_point(|&(s, _)| s < start);
        let next_in_order = self.in_order.get(after_in_order).map(|&(s, _)| s);
        let next_other = self.others.range(start..).next().map(|(&s, _)| s);
        if next_in_order.is_some_and(|next| next < end) || next_other.is_some_and(|next| next < end)
        {
            return invalid("two shard tables share bytes");
        }
        match self.in_order.len() - after_in_order <= MOVE_AT_MOST {
            true => self.in_order.insert(after_in_order, (start, end)),
            false => {
                self.others.insert(start, end);
            }
        }
        Ok(())
    }
}

/// At most this many entries of [`TableRanges`]' sorted list move for a table out of order.
const MOVE_AT_MOST: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::segments::Segment;
    use crate::file::shard_tables::TableAt;
    use crate::format::meta::{Meta, Method, TargetRecord};
    use crate::format::{ShardTableView, SHARD_MAGIC};

    /// Metadata with these targets' clone counts and three methods, read in place (the bytes
    /// are leaked: a test's lifetime).
    fn meta(nclones: &[u32]) -> MetaView<'static> {
        let meta = Meta {
            targets: nclones
                .iter()
                .map(|&nclones| TargetRecord {
                    nclones,
                    ..Default::default()
                })
                .collect(),
            methods: ["a", "b", "c"]
                .iter()
                .map(|n| Method {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        crate::format::meta::leaked_view(&meta)
    }

    /// A shard table's lists, as the writer would encode them.
    #[derive(Clone, Default)]
    struct Lists {
        fvar_idxs: Vec<u32>,
        fvar_offsets: Vec<i32>,
        gvar_offsets: Vec<i32>,
        clones: Vec<(Vec<u32>, Vec<i32>)>,
        slot_fvars: Vec<u32>,
        slot_offsets: Vec<i32>,
    }

    impl Lists {
        /// The table encoded at 0x1000 (its bytes leaked: a test's lifetime), read in place.
        fn tables(&self) -> ShardTables<'static> {
            let (nf, ng, ns) = (
                self.fvar_idxs.len(),
                self.gvar_offsets.len(),
                self.slot_fvars.len(),
            );
            let mut words = vec![SHARD_MAGIC, 0, nf as u32, ng as u32];
            words.extend([self.clones.len() as u32 + 1, ns as u32]);
            words.extend(&self.fvar_idxs);
            words.extend(self.fvar_offsets.iter().map(|&o| o as u32));
            words.extend(0..ng as u32);
            words.extend(self.gvar_offsets.iter().map(|&o| o as u32));
            for (positions, offsets) in &self.clones {
                words.push(positions.len() as u32);
                words.extend(positions);
                words.extend(offsets.iter().map(|&o| o as u32));
            }
            words.extend(&self.slot_fvars);
            words.extend(self.slot_offsets.iter().map(|&o| o as u32));
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            let layout = ShardTableView::parse(bytes).unwrap().layout();
            let at = TableAt {
                vaddr: 0x1000,
                start: 0,
                layout,
            };
            ShardTables::in_file(bytes, vec![at])
        }
    }

    /// One shard with fvars 0..3 at offsets 0x10, 0x20, 0x30 from a table at 0x1000 (code
    /// 0x1000..0x2000); slot at 0x3000 (data 0x3000..0x3100).
    fn table(clones: Vec<(Vec<u32>, Vec<i32>)>) -> Lists {
        Lists {
            fvar_idxs: vec![0, 1, 2],
            fvar_offsets: vec![0x10, 0x20, 0x30],
            clones,
            slot_fvars: vec![1],
            slot_offsets: vec![0x2000],
            ..Default::default()
        }
    }

    fn segments() -> Segments {
        let seg = |vaddr: std::ops::Range<u64>, file, writable| Segment {
            vaddr,
            file,
            readable: true,
            writable,
            executable: !writable,
        };
        Segments::new(
            vec![
                seg(0x1000..0x2000, 0..0x1000, false),
                seg(0x3000..0x3100, 0x1000..0x1100, true),
            ],
            vec![],
        )
        .unwrap()
    }

    fn refused(result: Result<(), FormatError>, why: &str) {
        match result {
            Err(FormatError::Invalid(text)) => assert!(text.contains(why), "{text}"),
            other => panic!("expected `{why}`, got {other:?}"),
        }
    }

    #[test]
    fn a_good_table_passes() {
        let shards = table(vec![(vec![0, 2], vec![0x40, 0x50])]).tables();
        check_indices(&meta(&[0, 2]), &shards).unwrap();
        check_clones(&meta(&[0, 2]), &shards).unwrap();
        check_addresses(&shards, &segments()).unwrap();
    }

    #[test]
    fn clone_positions_are_unique_and_sorted() {
        let twice = table(vec![(vec![1, 1], vec![0x40, 0x50])]).tables();
        refused(
            check_clones(&meta(&[0, 2]), &twice),
            "out of order or twice",
        );
        let unsorted = table(vec![(vec![2, 0], vec![0x40, 0x50])]).tables();
        refused(check_clones(&meta(&[0, 2]), &unsorted), "out of order");
    }

    #[test]
    fn clone_counts_match_the_targets() {
        let shards = table(vec![(vec![0], vec![0x40])]).tables();
        refused(check_clones(&meta(&[0, 2]), &shards), "claims 2 clones");
    }

    #[test]
    fn function_addresses_must_be_code() {
        let mut lists = table(vec![(vec![0], vec![0x40])]);
        lists.fvar_offsets[1] = 0x2000; // the data segment
        refused(
            check_addresses(&lists.tables(), &segments()),
            "outside the image's code",
        );
        let mut lists = table(vec![(vec![0], vec![-0x800])]);
        refused(
            check_addresses(&lists.tables(), &segments()),
            "outside the image's code",
        );
        lists.clones[0].1[0] = i32::MIN;
        refused(
            check_addresses(&lists.tables(), &segments()),
            "wraps around",
        );
        // The highest address of a later target's clones counts too.
        let lists = table(vec![(vec![0], vec![0x40]), (vec![1], vec![0x1000])]);
        refused(
            check_addresses(&lists.tables(), &segments()),
            "outside the image's code",
        );
    }

    #[test]
    fn dispatch_slots_must_be_writable_aligned_pointers() {
        for bad in [0x100, 0x2004, 0x20fc, 0x2100, i32::MAX] {
            let mut lists = table(vec![(vec![], vec![])]);
            lists.slot_offsets[0] = bad;
            refused(
                check_addresses(&lists.tables(), &segments()),
                "not an aligned pointer",
            );
        }
    }

    #[test]
    fn gvars_must_be_in_the_program() {
        let mut lists = table(vec![(vec![], vec![])]);
        lists.gvar_offsets = vec![0x2100]; // the end of data: a zero-sized global
        check_addresses(&lists.tables(), &segments()).unwrap();
        // In two segments, one after the other and back (each looked up as it changes).
        lists.gvar_offsets = vec![0x2000, 0x2100, 0x10, 0x2008, 0x0];
        check_addresses(&lists.tables(), &segments()).unwrap();
        // Between them, where nothing is mapped, after globals that are.
        lists.gvar_offsets = vec![0x2000, 0x10, 0x1200, 0x2008];
        refused(
            check_addresses(&lists.tables(), &segments()),
            "outside the image's memory",
        );
        lists.gvar_offsets = vec![0x1200];
        refused(
            check_addresses(&lists.tables(), &segments()),
            "outside the image's memory",
        );
    }

    #[test]
    fn shard_tables_may_not_share_bytes() {
        let mut ranges = TableRanges::default();
        ranges.insert(100, 50).unwrap();
        ranges.insert(150, 10).unwrap();
        ranges.insert(60, 40).unwrap();
        refused(ranges.check_start(100), "listed twice");
        refused(ranges.check_start(120), "share bytes");
        refused(ranges.insert(40, 21), "share bytes");
        ranges.check_start(160).unwrap();
    }

    /// Tables in order, out of order and both: every overlap is found whichever list holds
    /// the tables it involves, as a scan of all the ranges finds it.
    #[test]
    fn overlaps_are_found_in_any_order() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200 {
            let mut ranges = TableRanges::default();
            let mut kept: Vec<(u64, u64)> = Vec::new();
            let mut at = 0;
            for _ in 0..40 {
                // Mostly ascending (as the linker lays them out), sometimes anywhere.
                let start = match next() % 4 {
                    0 => next() % 2000,
                    _ => at + next() % 30,
                };
                let len = 1 + next() % 40;
                let overlaps = kept.iter().any(|&(s, e)| start < e && s < start + len);
                let result = ranges.insert(start, len);
                assert_eq!(
                    result.is_err(),
                    overlaps,
                    "round {round}: {start}+{len}, {kept:?}"
                );
                if !overlaps {
                    kept.push((start, start + len));
                    at = at.max(start + len);
                }
            }
        }
    }
}
