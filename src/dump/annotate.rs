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
//!
//! Calls stay ABI-consistent (x86_64): a vector wider than 128 bits is passed in memory or
//! xmm pairs without AVX, in ymm with AVX, in zmm with AVX-512, so caller and callee must be
//! compiled for the same *ABI class* for that width. Every address of a function (exports,
//! pointers, dispatch thunks, other images' slots) is its base version, so:
//! - a function whose signature carries such a vector is *pinned*: it gets no thunk and no
//!   slot (`f` stays its base version), and its versions — one for every target whose ABI
//!   class differs from the base's, plus those the rule above gives — are reached only by
//!   direct calls from versions for the same target;
//! - a function that makes such a call through a pointer, to a declaration, to another
//!   image, or to a pinned function that cannot have all those versions, gets no version
//!   for a target whose ABI class for that width differs from the base's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use inkwell::module::Module;

use crate::llvm::{self, Global, GlobalKind};
use crate::target::ResolvedTarget;

/// Which functions get versions for which targets: bit sets over the targets (bit `t`,
/// t >= 1), by function name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CloneSets {
    /// Versions the loader dispatches to: the function becomes a thunk through a slot and the
    /// shard table lists the versions.
    pub dispatched: BTreeMap<String, u64>,
    /// Versions reached only by direct calls from versions for the same target; the function
    /// itself stays its base version (wide vectors in the signature).
    pub pinned: BTreeMap<String, u64>,
    /// Features a function asks for beyond its own `target-cpu` (`target("avx2")`): every
    /// version keeps them.
    pub own_features: BTreeMap<String, String>,
}

impl CloneSets {
    pub fn dispatched(&self, name: &str) -> u64 {
        self.dispatched.get(name).copied().unwrap_or(0)
    }

    pub fn pinned(&self, name: &str) -> u64 {
        self.pinned.get(name).copied().unwrap_or(0)
    }

    /// How many bodies `name` is emitted as (its base included).
    pub fn body_count(&self, name: &str) -> u64 {
        1 + (self.dispatched(name) | self.pinned(name)).count_ones() as u64
    }

    /// Functions with a dispatched version for target `t`.
    pub fn dispatched_count(&self, t: usize) -> u32 {
        self.dispatched
            .values()
            .filter(|s| *s >> t & 1 == 1)
            .count() as u32
    }
}

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
    let functions: Vec<Global> = llvm::globals(module)
        .into_iter()
        .filter(|g| {
            g.kind() == GlobalKind::Function
                && !g.is_declaration()
                && fvars.contains(g.name().as_str())
        })
        .collect();
    if targets.len() < 2 {
        // One target: no versions to decide, only what each function asks for itself (the
        // walks over every body below would find nothing to clone).
        return CloneSets {
            own_features: own_features(&functions, triple),
            ..CloneSets::default()
        };
    }
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
    let wide_calls: Vec<Vec<(Option<usize>, u32)>> = functions
        .iter()
        .map(|f| {
            f.wide_vector_calls()
                .into_iter()
                .map(|(callee, bits)| (callee.and_then(|c| index.get(&c).copied()), bits))
                .collect()
        })
        .collect();
    let signature_bits: Vec<u32> = functions
        .iter()
        .map(|f| f.signature_vector_bits())
        .collect();
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
    let abi = AbiClasses::new(targets, triple);
    let (pinned, restricted) = abi_consistent(&abi, &signature_bits, &wide_calls, &traits);
    let mut out = CloneSets {
        own_features: own_features(&functions, triple),
        ..CloneSets::default()
    };
    for (i, f) in functions.iter().enumerate() {
        let set = sets[i] & !restricted[i];
        if pinned[i] {
            let set = (set | abi.differing(signature_bits[i])) & !restricted[i];
            if set != 0 {
                out.pinned.insert(f.name(), set);
            }
        } else if set != 0 {
            out.dispatched.insert(f.name(), set);
        }
    }
    out
}

/// Per function, the features its attributes add to its own CPU's (only non-empty ones).
fn own_features(functions: &[Global], triple: &str) -> BTreeMap<String, String> {
    let mut cache: HashMap<(String, String), String> = HashMap::new();
    let mut out = BTreeMap::new();
    for f in functions {
        let Some(features) = f.string_attribute("target-features") else {
            continue;
        };
        let cpu = f.string_attribute("target-cpu").unwrap_or_default();
        let extra = cache
            .entry((cpu.clone(), features.clone()))
            .or_insert_with(|| {
                crate::target::features_beyond_cpu(triple, &cpu, &features).join(",")
            });
        if !extra.is_empty() {
            out.insert(f.name(), extra.clone());
        }
    }
    out
}

/// The ABI class of each target for vectors of each width (x86_64; aarch64 passes fixed
/// vectors the same way with or without SVE, so every target is one class there).
struct AbiClasses {
    /// Per target: 0 without AVX, 1 with AVX, 2 with AVX-512F.
    class: Vec<u8>,
}

impl AbiClasses {
    fn new(targets: &[ResolvedTarget], triple: &str) -> AbiClasses {
        let x86 = triple.starts_with("x86_64");
        let class = targets
            .iter()
            .map(
                |t| match (x86, t.has("avx512f", triple), t.has("avx", triple)) {
                    (false, _, _) => 0,
                    (true, true, _) => 2,
                    (true, false, true) => 1,
                    (true, false, false) => 0,
                },
            )
            .collect();
        AbiClasses { class }
    }

    /// Target `t`'s class for vectors of `bits` (256-bit vectors use ymm with AVX-512 too).
    fn of(&self, t: usize, bits: u32) -> u8 {
        match bits {
            0..=128 => 0,
            129..=256 => self.class[t].min(1),
            _ => self.class[t],
        }
    }

    /// The targets whose class for `bits` differs from the base target's.
    fn differing(&self, bits: u32) -> u64 {
        (1..self.class.len())
            .filter(|&t| self.of(t, bits) != self.of(0, bits))
            .fold(0, |set, t| set | 1 << t)
    }
}

/// Which functions are pinned (wide vectors in the signature, and able to have a version for
/// every target of another ABI class), and per function the targets it may have no version
/// for, because a wide-vector call of its body reaches base-ABI code. Computed to a fixed
/// point: a pinned function that cannot have all its versions turns its callers' calls into
/// such calls.
fn abi_consistent(
    abi: &AbiClasses,
    signature_bits: &[u32],
    wide_calls: &[Vec<(Option<usize>, u32)>],
    traits: &[llvm::BodyTraits],
) -> (Vec<bool>, Vec<u64>) {
    let n = signature_bits.len();
    let mut pinned: Vec<bool> = (0..n)
        .map(|i| signature_bits[i] > 128 && !traits[i].block_address_taken)
        .collect();
    let mut restricted = vec![0u64; n];
    loop {
        let mut changed = false;
        for i in 0..n {
            let mut r = 0;
            for &(callee, bits) in &wide_calls[i] {
                if !callee.is_some_and(|c| pinned[c]) {
                    r |= abi.differing(bits);
                }
            }
            if signature_bits[i] > 128 && !pinned[i] {
                r |= abi.differing(signature_bits[i]);
            }
            if r != restricted[i] {
                restricted[i] = r;
                changed = true;
            }
            if pinned[i] && abi.differing(signature_bits[i]) & restricted[i] != 0 {
                pinned[i] = false;
                changed = true;
            }
        }
        if !changed {
            return (pinned, restricted);
        }
    }
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
    traits: &[llvm::BodyTraits],
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
