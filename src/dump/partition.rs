//! Splitting the module into shards. The shard count depends on the module (or `--shards`),
//! never on the thread count. Globals that must share an object (relative references or block
//! addresses in an initializer, aliases and what they alias) form one group; groups go to shards by a hash of
//! their name, unless that shard is full, so that changing one function moves nothing else,
//! while the estimated cost (instructions + blocks) stays balanced.

use std::collections::{BTreeMap, HashMap};

use inkwell::module::Module;

use super::annotate::CloneSets;
use crate::llvm::{self, Global, GlobalKind};

/// The definitions one shard emits, sorted by name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShardPlan {
    pub index: u32,
    pub members: Vec<String>,
    pub weight: u64,
}

/// Cost that makes one shard worth its overhead. A shard costs little besides its own code
/// (split.rs gives it only its bodies and the declarations they use), and smaller shards mean
/// less to emit again after an edit: 96 shards of SQLite build as fast as 32.
const WEIGHT_PER_SHARD: u64 = 4_096;
const MAX_DEFAULT_SHARDS: u64 = 128;
/// How far over the average a shard may grow before a group goes elsewhere.
const SLACK_PERCENT: u64 = 10;

/// Plans `requested` shards, or as many as the module's size calls for. A function costs its
/// size times the number of versions it gets (`clone_sets`). More shards than groups of
/// definitions is an error carrying the most there can be (a huge `--shards` would otherwise
/// allocate and emit that many empty objects).
pub fn plan_shards(
    module: &Module,
    requested: Option<u32>,
    clone_sets: &CloneSets,
) -> Result<Vec<ShardPlan>, usize> {
    let defs: Vec<Global> = llvm::globals(module)
        .into_iter()
        .filter(|g| !g.is_declaration() && !g.is_llvm_special())
        .collect();
    let groups = group(&defs, clone_sets);
    let total: u64 = groups.iter().map(|g| g.1).sum();
    let n = match requested {
        Some(n) if n as usize > groups.len().max(1) => return Err(groups.len().max(1)),
        Some(n) => n.max(1) as u64,
        None => total
            .div_ceil(WEIGHT_PER_SHARD)
            .clamp(1, MAX_DEFAULT_SHARDS),
    };
    Ok(assign(groups, n))
}

/// Groups of definitions that must share a shard: (sorted names, weight).
fn group(defs: &[Global], clone_sets: &CloneSets) -> Vec<(Vec<String>, u64)> {
    let index: HashMap<Global, usize> = defs.iter().enumerate().map(|(i, g)| (*g, i)).collect();
    let mut parent: Vec<usize> = (0..defs.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, g) in defs.iter().enumerate() {
        let tied = g.kind() == GlobalKind::Alias || g.has_object_local_reference();
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
        entry.0.push(name);
        entry.1 += (1 + g.size_estimate()) * versions;
    }
    let mut groups: Vec<(Vec<String>, u64)> = groups.into_values().collect();
    for g in &mut groups {
        g.0.sort();
    }
    groups
}

/// Heaviest groups first, each into the shard its name hashes to unless that one is full.
fn assign(mut groups: Vec<(Vec<String>, u64)>, n: u64) -> Vec<ShardPlan> {
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0[0].cmp(&b.0[0])));
    let total: u64 = groups.iter().map(|g| g.1).sum();
    let heaviest = groups.first().map_or(0, |g| g.1);
    let capacity = (total.div_ceil(n) * (100 + SLACK_PERCENT) / 100).max(heaviest);
    let mut shards: Vec<ShardPlan> = (0..n as u32)
        .map(|index| ShardPlan {
            index,
            members: Vec::new(),
            weight: 0,
        })
        .collect();
    for (names, weight) in groups {
        let preferred = (xxhash_rust::xxh3::xxh3_64(names[0].as_bytes()) % n) as usize;
        let target = if shards[preferred].weight + weight <= capacity {
            preferred
        } else {
            (0..shards.len())
                .min_by_key(|&i| (shards[i].weight, i))
                .expect("n >= 1")
        };
        shards[target].members.extend(names);
        shards[target].weight += weight;
    }
    for s in &mut shards {
        s.members.sort();
    }
    shards
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
