//! Splitting the program into self-contained shard jobs, once, in the calling thread: each
//! job is the bitcode of a module holding only the shard's definitions and declarations of
//! what they use, plus the slice of the whole-program facts (the clone sets) that its
//! emission reads. Nothing image-wide is in it (the fvar and gvar numbering goes into the
//! header's shard tables), so adding a function changes only the job of the shard it lands in. Emission threads then parse one shard's bitcode, not
//! the whole program's, and a job is everything its emission depends on besides the
//! configuration all shards share — which is what the shard cache's key hashes.

use std::collections::{BTreeMap, HashMap};

use inkwell::module::Module;
use serde::Serialize;

use super::annotate::CloneSets;
use super::partition::ShardPlan;
use crate::llvm::{self, GlobalKind};

/// One shard's emission input.
#[derive(Clone, Debug, Serialize)]
pub struct ShardJob {
    pub plan: ShardPlan,
    /// The clone sets of every function the shard defines or declares, and nothing else.
    pub clone_sets: CloneSets,
    /// Where the shard's own object must hold its table (see
    /// [`Triple::has_cross_object_differences`]): the image-wide fvar and gvar indices of its
    /// members. Such a shard changes whenever an added function shifts them.
    ///
    /// [`Triple::has_cross_object_differences`]: crate::target::Triple::has_cross_object_differences
    pub table: Option<TableIndices>,
    /// The shard's module (hashed on its own, not serialized with the rest).
    #[serde(skip)]
    pub bitcode: Vec<u8>,
}

/// The image-wide indices of a shard's fvars and gvars, in member order.
#[derive(Clone, Debug, Serialize)]
pub struct TableIndices {
    pub fvars: Vec<(u32, String)>,
    pub gvars: Vec<(u32, String)>,
}

impl TableIndices {
    /// The indices as maps from name, as [`super::tables::shard_spec`] takes them.
    pub fn maps(&self) -> (HashMap<String, u32>, HashMap<String, u32>) {
        let map = |v: &[(u32, String)]| v.iter().map(|(i, n)| (n.clone(), *i)).collect();
        (map(&self.fvars), map(&self.gvars))
    }
}

/// The image-wide numbering: fvar and gvar index by name.
pub struct Numbering<'a> {
    pub fvars: &'a HashMap<String, u32>,
    pub gvars: &'a HashMap<String, u32>,
}

/// The jobs of `plans`, in plan order. `numbering` is given when each shard must hold its own
/// table.
pub fn split(
    module: &Module,
    plans: &[ShardPlan],
    clone_sets: &CloneSets,
    numbering: Option<&Numbering>,
) -> Vec<ShardJob> {
    plans
        .iter()
        .map(|plan| {
            // LLVM's own globals (constructors, llvm.used) live in shard 0.
            let shard = llvm::clone_shard(module, &plan.members, plan.index == 0);
            let functions: Vec<String> = llvm::globals(&shard)
                .into_iter()
                .filter(|g| g.kind() == GlobalKind::Function)
                .map(|g| g.name())
                .collect();
            let indexed = |index: &HashMap<String, u32>| {
                (plan.members.iter())
                    .filter_map(|n| index.get(n).map(|&i| (i, n.clone())))
                    .collect()
            };
            ShardJob {
                plan: plan.clone(),
                clone_sets: restrict(clone_sets, &functions),
                table: numbering.map(|n| TableIndices {
                    fvars: indexed(n.fvars),
                    gvars: indexed(n.gvars),
                }),
                bitcode: shard.write_bitcode_to_memory().as_slice().to_vec(),
            }
        })
        .collect()
}

/// The entries of `sets` for `names` only.
fn restrict(sets: &CloneSets, names: &[String]) -> CloneSets {
    fn pick<V: Clone>(map: &BTreeMap<String, V>, names: &[String]) -> BTreeMap<String, V> {
        (names.iter())
            .filter_map(|n| map.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }
    CloneSets {
        dispatched: pick(&sets.dispatched, names),
        pinned: pick(&sets.pinned, names),
        own_features: pick(&sets.own_features, names),
    }
}
