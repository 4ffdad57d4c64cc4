//! Splitting the module into shards. The shard count depends on the module (or `--shards`),
//! never on the thread count. Globals that must share an object (relative references or block
//! addresses in an initializer, aliases and what they alias, ifuncs and their resolvers) form one group; groups go to shards by a hash of
//! their name, unless that shard is full, so that changing one function moves nothing else,
//! while the estimated cost (instructions + blocks) stays balanced.
//!
//! Variables the IR places in a section of their own choosing (`section("set")`, a *linker
//! set*: each file adds entries that code walks from `__start_set` to `__stop_set`) form one
//! group too, and keep the module's order in their shard: a linker lays out one section's
//! pieces in the order of its inputs, and code walking the set sees the files' entries in that
//! order. Sorted by name, three files' entries came out in the order of their names.

use std::collections::{BTreeMap, HashMap};

use inkwell::module::Module;

use super::annotate::CloneSets;
use crate::llvm::{self, Global, GlobalKind};

/// The definitions one shard emits, sorted by name, then the variables of linker sets in
/// module order (see the module's doc).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShardPlan {
    pub index: u32,
    pub members: Vec<String>,
    pub weight: u64,
}

/// Cost that makes one shard worth its overhead. A shard costs little besides its own code
/// (split.rs gives it only its bodies and the declarations they use), and smaller shards mean
/// less to emit again after an edit. Measured on 2 threads: 5,000 generated functions build
/// as fast in 16 shards as in 64 (this weight gives 68); SQLite with 4 targets (512 shards)
/// about as fast as in 128 (22.4 s against 25.0 s in one run, 21.3 s against 20.6 s in
/// another). A loader pays per shard too: 512 shards open 0.08 ms slower than 128 (SQLite).
const WEIGHT_PER_SHARD: u64 = 1_024;
/// At 50,000 functions, one function's edit re-emits one shard: 0.28-0.37 s of the rebuild
/// with 128 shards, 0.06-0.08 s with 512, while a clean build took as long with either.
const MAX_DEFAULT_SHARDS: u64 = 512;
/// How far over the average a shard may grow before a group goes elsewhere.
const SLACK_PERCENT: u64 = 10;

/// Plans `requested` shards, or as many as the module's size calls for. A function costs its
/// size times the number of versions it gets (`clone_sets`). More shards than groups of
/// definitions is an error carrying the most there can be (a huge `--shards` would otherwise
/// allocate and emit that many empty objects).
/// `sizes` are the functions' sizes measured before, where their bodies were not parsed
/// (`reuse.rs`); every function's size comes back with the plans.
pub fn plan_shards(
    module: &Module,
    requested: Option<u32>,
    clone_sets: &CloneSets,
    sizes: &HashMap<String, u64>,
) -> Result<(Vec<ShardPlan>, FunctionSizes), usize> {
    let defs: Vec<Global> = llvm::globals(module)
        .into_iter()
        .filter(|g| !g.is_declaration() && !g.is_llvm_special())
        .collect();
    let in_sets = linker_set_positions(&defs);
    let mut measured = Vec::new();
    let size = |g: &Global, name: &str| match sizes.get(name) {
        Some(&size) => size,
        None => g.size_estimate(),
    };
    let groups = group(&defs, clone_sets, &in_sets, &mut |g, name| {
        let s = size(g, name);
        if g.kind() == GlobalKind::Function {
            measured.push((name.to_string(), s));
        }
        s
    });
    let total: u64 = groups.iter().map(|g| g.1).sum();
    let n = match requested {
        Some(n) if n as usize > groups.len().max(1) => return Err(groups.len().max(1)),
        Some(n) => n.max(1) as u64,
        None => total
            .div_ceil(WEIGHT_PER_SHARD)
            .clamp(1, MAX_DEFAULT_SHARDS),
    };
    let mut shards = assign(groups, n);
    for s in &mut shards {
        s.members
            .sort_by_cached_key(|name| (in_sets.get(name).copied(), name.clone()));
    }
    Ok((shards, FunctionSizes(measured)))
}

/// Each defined function's size (instructions and blocks), in module order.
#[derive(Debug, Default)]
pub struct FunctionSizes(pub Vec<(String, u64)>);

/// The variables in a section the IR names (not one of the toolchain's own, which start with
/// a dot: `.text.startup`, `.init_array`), by name: their position in the module.
fn linker_set_positions(defs: &[Global]) -> HashMap<String, usize> {
    (defs.iter().enumerate())
        .filter(|(_, g)| g.kind() == GlobalKind::Variable)
        .filter(|(_, g)| g.section().is_some_and(|s| !s.starts_with('.')))
        .map(|(i, g)| (g.name(), i))
        .collect()
}

/// Groups of definitions that must share a shard: (sorted names, weight).
fn group(
    defs: &[Global],
    clone_sets: &CloneSets,
    in_sets: &HashMap<String, usize>,
    size: &mut dyn FnMut(&Global, &str) -> u64,
) -> Vec<(Vec<String>, u64)> {
    let index: HashMap<Global, usize> = defs.iter().enumerate().map(|(i, g)| (*g, i)).collect();
    let mut parent: Vec<usize> = (0..defs.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // One linker set's variables share a shard (by section name, the first one met).
    let mut first_in_set: HashMap<String, usize> = HashMap::new();
    for &i in in_sets.values() {
        let section = defs[i].section().unwrap_or_default();
        let first = *first_in_set.entry(section).or_insert(i);
        let (a, b) = (find(&mut parent, i), find(&mut parent, first));
        parent[a] = b;
    }
    for (i, g) in defs.iter().enumerate() {
        // An ifunc's resolver must be in its object: the symbol is defined by the pair.
        let tied = matches!(g.kind(), GlobalKind::Alias | GlobalKind::IFunc)
            || g.has_object_local_reference();
        if !tied {
            continue;
        }
        for r in g.references() {
            if let Some(&j) = index.get(&r) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut groups: BTreeMap<usize, (Vec<String>, u64)> = BTreeMap::new();
    for (i, g) in defs.iter().enumerate() {
        let root = find(&mut parent, i);
        let entry = groups.entry(root).or_default();
        let name = g.name();
        let versions = clone_sets.body_count(&name);
        entry.1 += (1 + size(g, &name)) * versions;
        entry.0.push(name);
    }
    let mut groups: Vec<(Vec<String>, u64)> = groups.into_values().collect();
    for g in &mut groups {
        g.0.sort();
    }
    groups
}

/// Heaviest groups first, each into the shard its name hashes to, or when that one is full the
/// next one with room (else the least loaded). Adding or removing a group moves little: the
/// groups placed before it (the heavier ones) land where they did, lighter ones move only if
/// the shard it took was their first choice and is now full, and the capacity changes only
/// when the total crosses a step (see [`capacity`]).
fn assign(mut groups: Vec<(Vec<String>, u64)>, n: u64) -> Vec<ShardPlan> {
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0[0].cmp(&b.0[0])));
    let total: u64 = groups.iter().map(|g| g.1).sum();
    let heaviest = groups.first().map_or(0, |g| g.1);
    let capacity = capacity(total, n).max(heaviest);
    let mut shards: Vec<ShardPlan> = (0..n as u32)
        .map(|index| ShardPlan {
            index,
            members: Vec::new(),
            weight: 0,
        })
        .collect();
    let len = shards.len();
    for (names, weight) in groups {
        let preferred = jump_hash(xxhash_rust::xxh3::xxh3_64(names[0].as_bytes()), len);
        let target = (0..len)
            .map(|k| (preferred + k) % len)
            .find(|&i| shards[i].weight + weight <= capacity)
            .unwrap_or_else(|| {
                (0..len)
                    .min_by_key(|&i| (shards[i].weight, i))
                    .expect("n >= 1")
            });
        shards[target].members.extend(names);
        shards[target].weight += weight;
    }
    for s in &mut shards {
        s.members.sort();
    }
    shards
}

/// How much a shard may hold: the average plus the slack, rounded up to a step of a sixteenth
/// of the average's power of two, so that a function added or removed almost never changes it
/// (a change would let groups settle elsewhere).
fn capacity(total: u64, n: u64) -> u64 {
    let average = total.div_ceil(n).max(1);
    let step = (average.next_power_of_two() / 16).max(1);
    (average * (100 + SLACK_PERCENT) / 100).div_ceil(step) * step
}

/// Jump consistent hash (Lamping and Veach, 2014): a bucket in `0..n` for `key` such that
/// going from `n` to `n + 1` buckets moves only a `1 / (n + 1)` share of the keys, where
/// `key % n` would move nearly all of them. The shard count follows the module's size.
fn jump_hash(mut key: u64, n: usize) -> usize {
    let (mut bucket, mut next) = (-1i64, 0i64);
    while next < n as i64 {
        bucket = next;
        key = key.wrapping_mul(2862933555777941757).wrapping_add(1);
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(weights: &[(&str, u64)]) -> Vec<(Vec<String>, u64)> {
        weights
            .iter()
            .map(|(n, w)| (vec![n.to_string()], *w))
            .collect()
    }

    #[test]
    fn assignment_is_balanced() {
        let input: Vec<(String, u64)> = (0..400).map(|i| (format!("f{i}"), 10 + i % 37)).collect();
        let gs: Vec<(Vec<String>, u64)> =
            input.iter().map(|(n, w)| (vec![n.clone()], *w)).collect();
        let total: u64 = input.iter().map(|g| g.1).sum();
        let shards = assign(gs, 4);
        let max = shards.iter().map(|s| s.weight).max().unwrap();
        assert!(
            max <= total / 4 * 111 / 100 + 1,
            "max {max} of total {total}"
        );
        assert_eq!(shards.iter().map(|s| s.members.len()).sum::<usize>(), 400);
    }

    /// A function added anywhere (its name sorting first or last, light or heavy) changes the
    /// members of at most two shards, as does one removed.
    #[test]
    fn adding_or_removing_a_function_moves_at_most_two_shards() {
        let base: Vec<(String, u64)> = (0..3000)
            .map(|i| (format!("sqlite_fn_{i:05}"), 5 + (i * 7919) % 400))
            .collect();
        let plan = |v: &[(String, u64)]| {
            let gs: Vec<(Vec<String>, u64)> =
                v.iter().map(|(n, w)| (vec![n.clone()], *w)).collect();
            assign(gs, 128)
        };
        let before = plan(&base);
        let differing = |after: &[ShardPlan]| {
            before
                .iter()
                .zip(after)
                .filter(|(a, b)| {
                    let (a, b) = (&a.members, &b.members);
                    a.iter()
                        .filter(|n| !n.starts_with("aaa") && !n.starts_with("zzz"))
                        .ne(b
                            .iter()
                            .filter(|n| !n.starts_with("aaa") && !n.starts_with("zzz")))
                        || a.len().abs_diff(b.len()) > 1
                })
                .count()
        };
        for (name, weight) in [("aaa_first", 3), ("zzz_last", 40), ("aaa_heavy", 399)] {
            let mut added = base.clone();
            added.push((name.to_string(), weight));
            let after = plan(&added);
            assert!(
                differing(&after) <= 2,
                "{name}: {} shards changed",
                differing(&after)
            );
        }
        let mut removed = base.clone();
        removed.remove(1234);
        let after = plan(&removed);
        let changed = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.members != b.members)
            .count();
        assert!(changed <= 2, "removal: {changed} shards changed");
    }

    #[test]
    fn jump_hash_moves_a_small_share_when_the_count_grows() {
        let keys: Vec<u64> = (0..10_000u64)
            .map(|k| xxhash_rust::xxh3::xxh3_64(&k.to_le_bytes()))
            .collect();
        let moved = keys
            .iter()
            .filter(|&&k| jump_hash(k, 40) != jump_hash(k, 41))
            .count();
        assert!(moved < 10_000 * 2 / 41, "{moved} of 10000 moved");
        assert!(keys.iter().all(|&k| jump_hash(k, 7) < 7));
    }

    #[test]
    fn changing_one_function_moves_only_it() {
        let base: Vec<(String, u64)> = (0..200).map(|i| (format!("fn_{i}"), 20)).collect();
        let as_refs = |v: &[(String, u64)]| {
            groups(&v.iter().map(|(n, w)| (n.as_str(), *w)).collect::<Vec<_>>())
        };
        let before = assign(as_refs(&base), 4);
        let mut changed = base.clone();
        changed[17].1 = 25;
        let after = assign(as_refs(&changed), 4);
        let differing = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.members != b.members)
            .count();
        assert_eq!(
            differing, 0,
            "membership must not change when one function grows a little"
        );
        let weights_changed = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.weight != b.weight)
            .count();
        assert_eq!(weights_changed, 1);
    }
}
