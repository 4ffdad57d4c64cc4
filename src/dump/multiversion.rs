//! Making the versions of one shard's functions, as the annotation decided.
//!
//! A function `f` with versions becomes:
//! - `f.aotlink.base`: its body for the base target (the fvar table points here);
//! - `f.aotlink.t<k>`: a copy of the body for each target `k` it is cloned for;
//! - `f.aotlink.slot`: a writable pointer, initially `f.aotlink.base`, that the loader points
//!   at the chosen version;
//! - `f` itself: a thunk that calls through the slot, keeping `f`'s linkage and visibility.
//!   Every use of `f` (address stored in data, exports, calls from code) sees the thunk, so
//!   addresses compare equal everywhere and a plain dlopen runs the base version.
//!
//! Calls between functions with the same clone set stay direct (version `k` calls version `k`):
//! whatever target the loader picks, it picks matching versions of both. Other direct calls
//! to a function with versions load its slot and call what it holds, which is what the thunk
//! would do, one jump earlier.
//!
//! A *pinned* function (wide vectors in its signature, see `annotate.rs`) keeps its name for
//! its base version and gets no thunk or slot; version `k` of any caller calls its version
//! `k` if it has one, else its base version, which then has the same vector ABI.

use std::collections::{BTreeMap, HashSet};

use inkwell::module::Module;

use super::annotate::CloneSets;
use super::partition::ShardPlan;
use crate::llvm::{self, CallRewrite, Global, GlobalKind, Linkage, Visibility};
use crate::target::ResolvedTarget;

pub fn base_name(f: &str) -> String {
    format!("{f}.aotlink.base")
}

pub fn clone_name(f: &str, target: usize) -> String {
    format!("{f}.aotlink.t{target}")
}

pub fn slot_name(f: &str) -> String {
    format!("{f}.aotlink.slot")
}

/// The functions the shard defines for itself, in module order.
fn member_functions<'m>(module: &'m Module, plan: &ShardPlan) -> Vec<Global<'m>> {
    let members: HashSet<&str> = plan.members.iter().map(String::as_str).collect();
    llvm::globals(module)
        .into_iter()
        .filter(|g| {
            g.kind() == GlobalKind::Function
                && !g.is_declaration()
                && members.contains(g.name().as_str())
        })
        .collect()
}

/// Gives every function of the shard the base target's attributes (plus its own features).
/// Done before the target-independent optimizations, so that they, inlining above all, see
/// the functions as the base target will run them.
pub fn set_base_attributes(
    module: &Module,
    plan: &ShardPlan,
    sets: &CloneSets,
    targets: &[ResolvedTarget],
) {
    for f in member_functions(module, plan) {
        let own_features = sets.own_features.get(&f.name()).map(String::as_str);
        set_target_attributes(f, &targets[0], own_features);
    }
}

/// Creates versions, thunks and slots for the shard's functions, which
/// [`set_base_attributes`] has prepared, and gives each version its target's attributes.
/// `sets` covers the whole program. Every symbol the shard's table (in the header) points at
/// keeps an address of its own.
pub fn multiversion(
    module: &Module,
    plan: &ShardPlan,
    sets: &CloneSets,
    targets: &[ResolvedTarget],
) {
    // (function body, its owner's dispatched clone set, the target it is the version for)
    let mut bodies: Vec<(Global, u64, usize)> = Vec::new();
    for f in member_functions(module, plan) {
        let name = f.name();
        let own_features = sets.own_features.get(&name).map(String::as_str);
        let (dispatched, pinned) = (sets.dispatched(&name), sets.pinned(&name));
        if dispatched != 0 {
            let thunk = llvm::add_dispatch_thunk(module, f, &base_name(&name), &slot_name(&name));
            set_target_attributes(thunk, &targets[0], own_features);
        }
        // The table's entry for f: its base version, or f itself.
        f.keep_address();
        bodies.push((f, dispatched, 0));
        for (t, target) in targets
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(t, _)| (dispatched | pinned) >> t & 1 == 1)
        {
            let copy = f.clone_as(&clone_name(&name, t));
            copy.set_linkage(Linkage::External);
            copy.set_visibility(Visibility::Hidden);
            set_target_attributes(copy, target, own_features);
            copy.keep_address();
            bodies.push((copy, dispatched, t));
        }
    }
    // Direct calls between functions cloned alike go to the matching version; calls from
    // version t to a pinned function go to its version t when it has one.
    let mut declared: BTreeMap<String, Global> = BTreeMap::new();
    for (body, set, t) in bodies {
        body.rewrite_direct_calls(|callee| {
            let callee_name = callee.name();
            let target_name = if set != 0 && sets.dispatched(&callee_name) == set {
                if t == 0 {
                    base_name(&callee_name)
                } else {
                    clone_name(&callee_name, t)
                }
            } else if t != 0 && sets.pinned(&callee_name) >> t & 1 == 1 {
                clone_name(&callee_name, t)
            } else if sets.dispatched(&callee_name) != 0 {
                // Which version runs depends on the target the loader picks: call through
                // the slot it fills, without the detour through the thunk.
                return CallRewrite::ThroughSlot(llvm::pointer_slot(
                    module,
                    &slot_name(&callee_name),
                ));
            } else {
                return CallRewrite::Keep;
            };
            let target = *declared
                .entry(target_name.clone())
                .or_insert_with(|| llvm::function_like(module, &target_name, callee));
            CallRewrite::Direct(target)
        });
    }
    let members: HashSet<&str> = plan.members.iter().map(String::as_str).collect();
    for g in llvm::globals(module) {
        if g.kind() == GlobalKind::Variable && members.contains(g.name().as_str()) {
            g.keep_address();
        }
    }
}

/// Every version is compiled for its target's CPU and features, plus the function's own
/// features (`__attribute__((target("avx2")))` behind a `__builtin_cpu_supports` check must
/// keep AVX2 in every version; later features win in LLVM's list, so its own come last).
/// Targets with 512-bit vectors get them: LLVM tunes several AVX-512 CPUs (x86-64-v4,
/// skylake-avx512) to prefer 256-bit vectors, which would make such a version no wider than
/// a haswell one.
fn set_target_attributes(f: Global, resolved: &ResolvedTarget, own_features: Option<&str>) {
    let target = &resolved.target;
    if resolved.vector_bits >= 512 {
        f.set_function_attribute("prefer-vector-width", &resolved.vector_bits.to_string());
    } else {
        f.remove_function_attribute("prefer-vector-width");
    }
    f.set_function_attribute("target-cpu", &target.cpu);
    f.remove_function_attribute("tune-cpu");
    let features: Vec<&str> = target
        .features
        .iter()
        .map(String::as_str)
        .chain(own_features.into_iter().flat_map(|s| s.split(',')))
        .filter(|s| !s.is_empty())
        .collect();
    match features.join(",").as_str() {
        "" => f.remove_function_attribute("target-features"),
        features => f.set_function_attribute("target-features", features),
    }
    use aotload::meta::{TARGET_MIN_SIZE, TARGET_OPT_SIZE};
    for (flag, attribute) in [(TARGET_OPT_SIZE, "optsize"), (TARGET_MIN_SIZE, "minsize")] {
        if target.flags & flag != 0 {
            f.add_enum_function_attribute(attribute);
        } else {
            f.remove_enum_function_attribute(attribute);
        }
    }
}
