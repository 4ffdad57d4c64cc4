//! Splitting the program into self-contained shard jobs, in the calling thread: each job is
//! the module of a shard holding only its definitions and declarations of what they use,
//! plus the slice of the whole-program facts (the clone sets) that its emission reads.
//! Nothing image-wide is in it (the fvar and gvar numbering goes into the header's shard
//! tables), so adding a function changes only the job of the shard it lands in. Emission
//! threads then parse one shard's bitcode, not the whole program's, and a job is everything
//! its emission depends on besides the configuration all shards share — which is what the
//! shard cache's key hashes.
//!
//! A job is keyed by its pieces of the module's print (text_key.rs) before anything is
//! cloned, so that only the shards no store holds are cloned and written ([`write_bitcode`]);
//! a shard whose pieces cannot be followed is cloned at once and keyed by its bitcode.

use std::collections::{BTreeMap, HashMap};

use inkwell::module::Module;
use serde::Serialize;

use super::annotate::CloneSets;
use super::partition::ShardPlan;
use super::reuse::{Reuse, ShardFacts};
use super::text_key;
use crate::cache::key::Key;
use crate::codegen::PrintedModule;
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
    /// The digest of the shard's pieces of the module's print, which its key hashes instead
    /// of its bitcode; `None` where the print could not be followed.
    #[serde(skip)]
    pub text_digest: Option<Key>,
    /// The shard's module; `None` until it is written, which a shard that a store holds
    /// under its text digest never is (hashed on its own, not serialized with the rest).
    #[serde(skip)]
    pub bitcode: Option<Vec<u8>>,
}

impl ShardJob {
    /// What a later rebuild takes from this job for a shard it does not parse (reuse.rs).
    pub fn facts(&self) -> ShardFacts {
        ShardFacts {
            members: self.plan.members.clone(),
            text_digest: self.text_digest.map(|k| k.0),
            clone_sets: self.clone_sets.clone(),
        }
    }
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
/// table. A job is keyed by its digest of `printed` (made on `threads` threads) where it has
/// one, and left without bitcode; one without (or every job, without a print) is cloned now
/// (its clone sets come from its module). A shard holding functions `reuse` stubs takes
/// the key facts of the same shard of the build before; the index of one that has none is
/// the error.
pub fn split(
    module: &Module,
    printed: Option<&PrintedModule>,
    plans: &[ShardPlan],
    clone_sets: &CloneSets,
    numbering: Option<&Numbering>,
    threads: usize,
    reuse: Option<&Reuse>,
) -> Result<Vec<ShardJob>, u32> {
    let by_printed_name = printed_names(clone_sets);
    let stubbed = |plan: &ShardPlan| reuse.is_some_and(|r| r.holds_stub(plan));
    let (texts, globals) = match printed {
        Some(printed) => (
            text_key::shard_texts(printed, plans, threads, &stubbed),
            &printed.globals[..],
        ),
        None => (vec![None; plans.len()], &[][..]),
    };
    (plans.iter().zip(texts))
        .map(|(plan, text)| {
            let indexed = |index: &HashMap<String, u32>| {
                (plan.members.iter())
                    .filter_map(|n| index.get(n).map(|&i| (i, n.clone())))
                    .collect()
            };
            let table = numbering.map(|n| TableIndices {
                fvars: indexed(n.fvars),
                gvars: indexed(n.gvars),
            });
            if let Some(reuse) = reuse.filter(|_| stubbed(plan)) {
                let recorded = reuse.recorded(plan).ok_or(plan.index)?;
                return Ok(ShardJob {
                    plan: plan.clone(),
                    clone_sets: recorded.clone_sets.clone(),
                    table,
                    text_digest: Some(Key(recorded.text_digest.ok_or(plan.index)?)),
                    bitcode: None,
                });
            }
            // LLVM's own globals (constructors, llvm.used) live in shard 0.
            let special = plan.index == 0;
            // (the functions whose clone sets the job carries, its digest, its bitcode)
            let (functions, text_digest, bitcode) = match text {
                Some(text) => {
                    let names: Vec<String> = (text.callables.iter())
                        .filter_map(|&g| by_printed_name.get(&*globals[g as usize].name))
                        .map(|n| n.to_string())
                        .collect();
                    (names, Some(text.digest), None)
                }
                None => {
                    let shard = llvm::clone_shard(module, &plan.members, special);
                    let functions: Vec<String> = llvm::globals(&shard)
                        .into_iter()
                        .filter(|g| g.kind() == GlobalKind::Function)
                        .map(|g| g.name())
                        .collect();
                    let bitcode = shard.write_bitcode_to_memory().as_slice().to_vec();
                    (functions, None, Some(bitcode))
                }
            };
            Ok(ShardJob {
                plan: plan.clone(),
                clone_sets: restrict(clone_sets, &functions),
                table,
                text_digest,
                bitcode,
            })
        })
        .collect()
}

/// Clones and writes the module of each job that has none yet and that `wanted` says (by
/// position) is to be emitted.
pub fn write_bitcode(module: &Module, jobs: &mut [ShardJob], wanted: impl Fn(usize) -> bool) {
    for (i, job) in jobs.iter_mut().enumerate() {
        if job.bitcode.is_none() && wanted(i) {
            let shard = llvm::clone_shard(module, &job.plan.members, job.plan.index == 0);
            job.bitcode = Some(shard.write_bitcode_to_memory().as_slice().to_vec());
        }
    }
}

/// The functions that have clone sets, by their printed names (without `@`).
fn printed_names(sets: &CloneSets) -> HashMap<String, &str> {
    (sets.dispatched.keys())
        .chain(sets.pinned.keys())
        .chain(sets.own_features.keys())
        .map(|name| {
            (
                crate::codegen::printed_name(name)[1..].to_string(),
                name.as_str(),
            )
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
