//! Multiversioning annotation over the whole module, before the split: which functions get
//! their own version for which target. Every shard then knows, for any function of any other
//! shard, which versions exist, so shards can be emitted alone.
//!
//! The rule (after Julia's partial cloning):
//! - a `clone_all` target gets a version of every function;
//! - another target gets versions of the functions that can profit from it: those with a loop
//!   (always), those using vectors or doing floating-point math when the target has wider
//!   vectors than its base, and those doing floating-point math when it adds FMA;
//! - then, to save dispatch, a function called by a cloned one joins when it calls a cloned
//!   function itself, until nothing changes;
//! - varargs functions and functions with parameters passed in memory are never cloned (their
//!   calls cannot be forwarded through a dispatch thunk), nor functions whose block addresses
//!   are taken (a computed-goto table can point into one body only).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use inkwell::module::Module;

use crate::ir::{self, Global, GlobalKind};
use crate::target::ResolvedTarget;

/// Function name -> bit set of the targets (bit `t`, t >= 1) it has its own version for.
pub type CloneSets = BTreeMap<String, u64>;

const LOOP: u32 = 1;
const VECTOR: u32 = 2;
const MATH: u32 = 4;

/// Decides the clone sets of the image's functions (`fvars`; glue such as the thunks of
/// external methods gets no versions).
pub fn annotate(
    module: &Module,
    fvars: &[String],
    targets: &[ResolvedTarget],
    triple: &str,
) -> CloneSets {
    let fvars: std::collections::HashSet<&str> = fvars.iter().map(String::as_str).collect();
    let functions: Vec<Global> = ir::globals(module)
        .into_iter()
        .filter(|g| {
            g.kind() == GlobalKind::Function
                && !g.is_declaration()
                && fvars.contains(g.name().as_str())
        })
        .collect();
    let index: HashMap<Global, usize> =
        functions.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    let callees: Vec<Vec<usize>> = functions
        .iter()
        .map(|f| {
            f.references()
                .iter()
                .filter_map(|r| index.get(r).copied())
                .collect()
        })
        .collect();
    let traits: Vec<_> = functions.iter().map(|f| f.body_traits()).collect();
    let profile = |i: usize| {
        let t = traits[i];
        (if t.has_loop { LOOP } else { 0 })
            | (if t.uses_vectors || t.does_float_math {
                VECTOR
            } else {
                0
            })
            | (if t.does_float_math { MATH } else { 0 })
    };
    let mut sets = vec![0u64; functions.len()];
    for (t, target) in targets.iter().enumerate().skip(1) {
        let clonable = (0..functions.len()).filter(|&i| !traits[i].unclonable);
        let chosen: BTreeSet<usize> = if target.target.flags & aotload::meta::TARGET_CLONE_ALL != 0
        {
            clonable.collect()
        } else {
            let base = &targets[target.target.base as usize];
            let wanted = target_profile(target, base, triple);
            let direct: BTreeSet<usize> = clonable.filter(|&i| profile(i) & wanted != 0).collect();
            expand_through_callees(direct, &callees, &traits)
        };
        for i in chosen {
            sets[i] |= 1 << t;
        }
    }
    functions
        .iter()
        .zip(sets)
        .map(|(f, s)| (f.name(), s))
        .collect()
}

/// What makes a function worth a version for `target` over `base`.
fn target_profile(target: &ResolvedTarget, base: &ResolvedTarget, triple: &str) -> u32 {
    let mut wanted = LOOP;
    if target.vector_bits > base.vector_bits {
        wanted |= VECTOR;
    }
    if target.has("fma", triple) && !base.has("fma", triple) {
        wanted |= MATH;
    }
    wanted
}

/// Julia's "reduce dispatch": callees of cloned functions that call cloned functions join.
fn expand_through_callees(
    mut chosen: BTreeSet<usize>,
    callees: &[Vec<usize>],
    traits: &[ir::BodyTraits],
) -> BTreeSet<usize> {
    let mut frontier: Vec<usize> = chosen.iter().copied().collect();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for f in frontier {
            for &c in &callees[f] {
                if chosen.contains(&c) || traits[c].unclonable {
                    continue;
                }
                if callees[c].iter().any(|cc| chosen.contains(cc)) {
                    chosen.insert(c);
                    next.push(c);
                }
            }
        }
        frontier = next;
    }
    chosen
}
