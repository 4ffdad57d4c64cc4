//! CPU targets of multiversioning, in Julia's `JULIA_CPU_TARGET` grammar:
//! targets separated by `;`, each `CPU[,+feat|-feat...][,clone_all][,base(N)][,opt_size|min_size]`.

use aotload::features::{feature_list, vector_bits};
use aotload::meta::{TARGET_BASE, TARGET_CLONE_ALL, TARGET_MIN_SIZE, TARGET_OPT_SIZE};

use super::platform::Platform;
use super::triple::{Arch, Triple};

/// One CPU target: an LLVM CPU name plus feature changes and flags (`aotload::meta::TARGET_*`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CpuTarget {
    pub cpu: String,
    /// `+feat` / `-feat` as LLVM spells them.
    pub features: Vec<String>,
    pub flags: u32,
    /// With `TARGET_BASE`: the earlier `clone_all` target whose code this one falls back to.
    pub base: u32,
}

/// Clone sets are `u64` bit sets over the targets; the format defines the limit.
pub use aotload::format::MAX_TARGETS;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuTargetError {
    #[error("--cpu-target `{text}`: target {index} is empty")]
    Empty { text: String, index: usize },
    #[error("--cpu-target `{text}`: `{token}` is not a feature (+name/-name), clone_all, base(N), opt_size or min_size")]
    BadToken { text: String, token: String },
    #[error("--cpu-target: base({base}) of target {index} must name an earlier clone_all target")]
    BadBase { index: usize, base: String },
    #[error("--cpu-target: unknown CPU `{cpu}` for {triple}")]
    UnknownCpu { cpu: String, triple: String },
    #[error("--cpu-target: unknown feature `{feature}` for {triple} (known: {known})")]
    UnknownFeature {
        feature: String,
        triple: String,
        known: String,
    },
    #[error("--cpu-target: {count} targets; at most {MAX_TARGETS} are supported (clone sets are 64-bit sets)")]
    TooMany { count: usize },
    #[error("--cpu-target: `{cpu}` for {triple} implies {features}, which the image's feature list cannot record (the loader could not check a host for it)")]
    Unrepresentable {
        cpu: String,
        triple: String,
        features: String,
    },
    #[error("--cpu-target: LLVM has no target for {0}")]
    NoLlvmTarget(String),
}

impl CpuTarget {
    /// The feature string LLVM takes (`+avx2,-rdrnd`).
    pub fn llvm_features(&self) -> String {
        self.features.join(",")
    }

    /// The default target string for `triple`: its platform's (`platform/*.toml`), whose
    /// first target is the OS's baseline (apple-m1 for arm64 macOS, generic on Linux).
    pub fn default_string(triple: &Triple) -> String {
        Platform::for_triple(triple)
            .default_cpu_targets()
            .to_string()
    }

    /// Parses a target string; checks the grammar and the `base(N)` rules, not the names.
    pub fn parse_list(text: &str) -> Result<Vec<CpuTarget>, CpuTargetError> {
        let count = text.split(';').count();
        if count > MAX_TARGETS {
            return Err(CpuTargetError::TooMany { count });
        }
        let mut targets: Vec<CpuTarget> = Vec::new();
        for (index, spec) in text.split(';').enumerate() {
            let mut tokens = spec.split(',').map(str::trim);
            let cpu = tokens.next().unwrap_or("");
            if cpu.is_empty() {
                return Err(CpuTargetError::Empty {
                    text: text.into(),
                    index,
                });
            }
            let mut target = CpuTarget {
                cpu: cpu.to_string(),
                features: Vec::new(),
                flags: 0,
                base: 0,
            };
            for token in tokens {
                match token {
                    "clone_all" => target.flags |= TARGET_CLONE_ALL,
                    "opt_size" => target.flags |= TARGET_OPT_SIZE,
                    "min_size" => target.flags |= TARGET_MIN_SIZE,
                    t if (t.starts_with('+') || t.starts_with('-')) && t.len() > 1 => {
                        target.features.push(t.to_string())
                    }
                    t if t.starts_with("base(") && t.ends_with(')') => {
                        let n = &t[5..t.len() - 1];
                        let bad = || CpuTargetError::BadBase {
                            index,
                            base: n.to_string(),
                        };
                        let base: usize = n.parse().map_err(|_| bad())?;
                        let ok = base < index
                            && (base == 0 || targets[base].flags & TARGET_CLONE_ALL != 0);
                        if !ok {
                            return Err(bad());
                        }
                        target.base = base as u32;
                        target.flags |= TARGET_BASE;
                    }
                    t => {
                        return Err(CpuTargetError::BadToken {
                            text: text.into(),
                            token: t.to_string(),
                        })
                    }
                }
            }
            targets.push(target);
        }
        Ok(targets)
    }

    /// The full feature set of this target according to LLVM, as names of aotload's list.
    pub fn resolve(&self, triple: &str) -> Result<ResolvedTarget, CpuTargetError> {
        let arch = aotload::Arch::from_triple(triple).ok_or_else(|| {
            CpuTargetError::NoLlvmTarget(format!(
                "{triple}: not an architecture aotlink builds for"
            ))
        })?;
        let list = feature_list(arch);
        for f in &self.features {
            if !list.contains(&&f[1..]) {
                return Err(CpuTargetError::UnknownFeature {
                    feature: f[1..].to_string(),
                    triple: triple.into(),
                    known: list.join(","),
                });
            }
        }
        check_representable(triple, arch, self, list)?;
        let enabled = resolve_with_llvm(triple, &self.cpu, &self.llvm_features(), list)?;
        let names: Vec<&str> = list
            .iter()
            .zip(&enabled)
            .filter(|(_, on)| **on)
            .map(|(n, _)| *n)
            .collect();
        let mask = aotload::features::mask_of(list, names.iter().copied())
            .expect("names come from the list");
        Ok(ResolvedTarget {
            vector_bits: vector_bits(&mask, arch),
            mask,
            target: self.clone(),
        })
    }
}

/// Refuses a target whose CPU and features imply an instruction-set feature that `list`
/// (the versioned feature list) cannot record and that is not known to need no check: the
/// loader could not tell whether a host has it.
fn check_representable(
    triple: &str,
    arch: Arch,
    target: &CpuTarget,
    list: &[&str],
) -> Result<(), CpuTargetError> {
    let Some(implied) = llvm_isa_features(triple, &target.cpu, &target.llvm_features()) else {
        return Ok(()); // an unknown CPU is reported by resolve_with_llvm
    };
    let skipped = aotload::features::not_versioned(arch);
    let missing: Vec<String> = implied
        .into_iter()
        .filter(|f| !list.contains(&f.as_str()) && !skipped.iter().any(|(n, _)| n == f))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CpuTargetError::Unrepresentable {
            cpu: target.cpu.clone(),
            triple: triple.into(),
            features: missing.join(","),
        })
    }
}

/// A target with its feature set resolved by LLVM.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedTarget {
    pub target: CpuTarget,
    /// Bitmask over aotload's feature list for the triple.
    pub mask: Vec<u64>,
    pub vector_bits: u32,
}

impl ResolvedTarget {
    pub fn has(&self, feature: &str, triple: &str) -> bool {
        Arch::from_triple(triple)
            .is_some_and(|arch| aotload::features::names_of(&self.mask, arch).contains(&feature))
    }
}

/// Every CPU name LLVM knows for `triple` (empty when LLVM has no target for it).
#[cfg(test)]
pub fn llvm_cpu_names(triple: &str) -> Vec<String> {
    crate::dump::init_llvm_targets();
    crate::llvm::cpu::cpu_names(triple)
}

/// The instruction-set features LLVM enables for `cpu` with `features` (no tuning
/// features); `None` for an unknown CPU or triple.
pub fn llvm_isa_features(triple: &str, cpu: &str, features: &str) -> Option<Vec<String>> {
    crate::dump::init_llvm_targets();
    crate::llvm::cpu::isa_features(triple, cpu, features)
}

fn resolve_with_llvm(
    triple: &str,
    cpu: &str,
    features: &str,
    list: &[&str],
) -> Result<Vec<bool>, CpuTargetError> {
    use crate::llvm::cpu::{resolve_cpu, ResolveError};
    crate::dump::init_llvm_targets();
    resolve_cpu(triple, cpu, features, list).map_err(|e| match e {
        ResolveError::NoTarget(message) => {
            CpuTargetError::NoLlvmTarget(format!("{triple}: {message}"))
        }
        ResolveError::UnknownCpu => CpuTargetError::UnknownCpu {
            cpu: cpu.into(),
            triple: triple.into(),
        },
    })
}

/// The `+feature`s of a function's own `target-features` that its `target-cpu` does not
/// already give, in their order (`+avx,+avx2` for clang's `target("avx2")` on x86-64; nothing
/// for the features a `-march` gave every function). An unknown CPU counts as generic.
pub fn features_beyond_cpu(triple: &str, cpu: &str, features: &str) -> Vec<String> {
    let added: Vec<&str> = features
        .split(',')
        .filter_map(|f| f.strip_prefix('+'))
        .filter(|f| !f.is_empty())
        .collect();
    if added.is_empty() {
        return Vec::new();
    }
    let implied = resolve_with_llvm(triple, cpu, "", &added)
        .or_else(|_| resolve_with_llvm(triple, "", "", &added))
        .unwrap_or_else(|_| vec![false; added.len()]);
    added
        .iter()
        .zip(implied)
        .filter(|(_, by_cpu)| !by_cpu)
        .map(|(f, _)| format!("+{f}"))
        .collect()
}

/// Whether LLVM knows `name` as a feature of `triple` (for checking aotload's feature lists).
#[cfg(test)]
fn llvm_knows_feature(triple: &str, name: &str) -> bool {
    crate::dump::init_llvm_targets();
    crate::llvm::cpu::feature_known(triple, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feature lists of aotload against LLVM: every instruction-set feature any CPU LLVM
    /// knows implies is either versioned or listed as not needing a check, with a reason.
    #[test]
    fn feature_lists_cover_every_feature_llvm_cpus_imply() {
        // Both architectures are checked before failing, so one run shows everything to add.
        let mut lacking = Vec::new();
        for (triple, arch) in [(X86, Arch::X86_64), (ARM, Arch::Aarch64)] {
            let list = feature_list(arch);
            let skipped = aotload::features::not_versioned(arch);
            let cpus = llvm_cpu_names(triple);
            assert!(
                cpus.len() > 50,
                "LLVM lists only {} CPUs for {triple}",
                cpus.len()
            );
            let mut unknown = std::collections::BTreeMap::<String, String>::new();
            for cpu in &cpus {
                for f in llvm_isa_features(triple, cpu, "").unwrap() {
                    if !list.contains(&f.as_str()) && !skipped.iter().any(|(n, _)| *n == f) {
                        unknown.entry(f).or_insert_with(|| cpu.clone());
                    }
                }
            }
            if !unknown.is_empty() {
                lacking.push(format!("{triple}: {unknown:?}"));
            }
        }
        assert!(
            lacking.is_empty(),
            "LLVM CPUs imply features aotload's lists lack (feature: a CPU):\n{}",
            lacking.join("\n")
        );
    }

    /// Every name the loader can give a host CPU is one LLVM 22 knows, so a stale table fails
    /// here rather than naming a CPU no target can match. LLVM's host detection also gives
    /// aliases, which its CPU list leaves out but it accepts as CPU names (apple-m1 is
    /// apple-a14).
    #[test]
    fn host_cpu_names_are_llvm_cpu_names() {
        for (triple, names) in [
            (X86, aotload::cpu_names::X86_HOST_NAMES),
            (ARM, aotload::cpu_names::AARCH64_HOST_NAMES),
        ] {
            let llvm = llvm_cpu_names(triple);
            for name in names {
                let listed = llvm.iter().any(|n| n == name);
                let accepted = || resolve_with_llvm(triple, name, "", &[]).is_ok();
                assert!(listed || accepted(), "{triple}: LLVM has no CPU `{name}`");
            }
            assert!(
                resolve_with_llvm(triple, "pentium9000", "", &[]).is_err(),
                "{triple}: LLVM accepts any CPU name, the check above is void"
            );
        }
        // The features the x86 naming rules ask about are features the loader detects.
        for f in aotload::cpu_names::X86_NAME_FEATURES {
            assert!(
                feature_list(Arch::X86_64).contains(f),
                "naming asks for undetected {f}"
            );
        }
    }

    #[test]
    fn targets_implying_unrepresentable_features_are_refused() {
        let target = CpuTarget::parse_list("generic;sapphirerapids").unwrap()[1].clone();
        assert!(target.resolve(X86).is_ok());
        // A list without AMX cannot record what sapphirerapids implies.
        let without_amx: Vec<&str> = feature_list(Arch::X86_64)
            .iter()
            .copied()
            .filter(|f| !f.starts_with("amx-"))
            .collect();
        let err = check_representable(X86, Arch::X86_64, &target, &without_amx).unwrap_err();
        assert!(err.to_string().contains("amx-tile"), "{err}");
        assert!(!err.to_string().contains("avx512f"), "{err}");
    }

    const X86: &str = "x86_64-unknown-linux-gnu";
    const ARM: &str = "aarch64-unknown-linux-gnu";

    #[test]
    fn julia_default_string_parses() {
        let linux = Triple::parse(X86).unwrap();
        let t = CpuTarget::parse_list(&CpuTarget::default_string(&linux)).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[1].cpu, "sandybridge");
        assert_eq!(t[1].features, vec!["-xsaveopt"]);
        assert_eq!(t[1].flags, TARGET_CLONE_ALL);
        assert_eq!((t[2].flags, t[2].base), (TARGET_BASE, 1));
    }

    /// Every supported target's default list parses and resolves, the loader can tell its
    /// targets apart (selection compares feature sets: no two are equal), and every target has
    /// all of the first's features (the base is what every host of the OS has).
    #[test]
    fn every_platform_default_resolves_to_targets_the_loader_tells_apart() {
        for supported in crate::target::SUPPORTED_TARGETS {
            let triple = Triple::parse(supported.triple).unwrap();
            let text = CpuTarget::default_string(&triple);
            let resolved: Vec<ResolvedTarget> = CpuTarget::parse_list(&text)
                .unwrap()
                .iter()
                .map(|t| t.resolve(supported.llvm).unwrap())
                .collect();
            let base = &resolved[0];
            for (i, t) in resolved.iter().enumerate() {
                let has_base = base.mask.iter().zip(&t.mask).all(|(b, x)| b & !x == 0);
                assert!(
                    has_base,
                    "{}: {} lacks features of the base {}",
                    supported.triple, t.target.cpu, base.target.cpu
                );
                for other in &resolved[i + 1..] {
                    assert_ne!(
                        t.mask, other.mask,
                        "{}: {} and {} have the same features",
                        supported.triple, t.target.cpu, other.target.cpu
                    );
                }
            }
        }
    }

    /// A CPU alias (AArch64's apple-m1 is apple-a14) has its CPU's features: the feature query
    /// used to look the alias up in LLVM's processor table, print "not a recognized processor"
    /// and resolve it to nothing.
    #[test]
    fn cpu_aliases_resolve_to_their_cpus_features() {
        let mac = "arm64-apple-macosx11.0.0";
        let alias = llvm_isa_features(mac, "apple-m1", "").unwrap();
        assert_eq!(alias, llvm_isa_features(mac, "apple-a14", "").unwrap());
        assert!(alias.iter().any(|f| f == "crc"), "{alias:?}");
    }

    #[test]
    fn grammar_errors_are_caught_before_any_work() {
        let err = |s| CpuTarget::parse_list(s).unwrap_err();
        assert!(matches!(
            err("generic;;haswell"),
            CpuTargetError::Empty { index: 1, .. }
        ));
        assert!(matches!(err("generic;"), CpuTargetError::Empty { .. }));
        assert!(matches!(
            err("generic;haswell,base(2)"),
            CpuTargetError::BadBase { .. }
        ));
        assert!(matches!(
            err("generic;haswell,base(1)"),
            CpuTargetError::BadBase { .. }
        ));
        assert!(matches!(
            err("generic;sandybridge;haswell,base(1)"),
            CpuTargetError::BadBase { .. }
        ));
        assert!(matches!(
            err("generic;haswell,base(x)"),
            CpuTargetError::BadBase { .. }
        ));
        let sixty_five = vec!["generic"; 65].join(";");
        assert!(matches!(
            err(&sixty_five),
            CpuTargetError::TooMany { count: 65 }
        ));
        assert!(CpuTarget::parse_list(&vec!["generic"; 64].join(";")).is_ok());
        assert!(matches!(
            err("generic;haswell,fast"),
            CpuTargetError::BadToken { .. }
        ));
    }

    #[test]
    fn llvm_resolves_cpu_names_to_feature_sets() {
        let resolve = |s: &str| {
            CpuTarget::parse_list(s)
                .unwrap()
                .remove(0)
                .resolve(X86)
                .unwrap()
        };
        let haswell = resolve("haswell");
        assert!(haswell.has("avx2", X86) && haswell.has("fma", X86) && haswell.has("rdrnd", X86));
        assert!(!haswell.has("avx512f", X86));
        assert_eq!(haswell.vector_bits, 256);
        assert!(!resolve("haswell,-rdrnd").has("rdrnd", X86));
        // Removing a feature removes what depends on it.
        assert!(!resolve("haswell,-avx").has("avx2", X86));
        let v4 = resolve("x86-64-v4");
        assert_eq!(v4.vector_bits, 512);
        assert!(v4.has("avx512bw", X86) && v4.has("avx512vl", X86));
        let generic = resolve("generic");
        assert!(generic.has("sse2", X86) && !generic.has("sse3", X86));
        let a76 = CpuTarget::parse_list("cortex-a76").unwrap()[0]
            .resolve(ARM)
            .unwrap();
        assert!(a76.has("dotprod", ARM) && a76.has("neon", ARM));
    }

    #[test]
    fn unknown_names_are_errors() {
        let t = &CpuTarget::parse_list("pentium9000").unwrap()[0];
        assert!(matches!(
            t.resolve(X86),
            Err(CpuTargetError::UnknownCpu { .. })
        ));
        let t = &CpuTarget::parse_list("haswell,+warp-drive").unwrap()[0];
        assert!(matches!(
            t.resolve(X86),
            Err(CpuTargetError::UnknownFeature { .. })
        ));
    }

    #[test]
    fn every_name_of_the_feature_lists_is_an_llvm_feature() {
        for (triple, list) in [
            (X86, aotload::features::X86_FEATURES),
            (ARM, aotload::features::AARCH64_FEATURES),
        ] {
            for name in list {
                assert!(
                    llvm_knows_feature(triple, name),
                    "LLVM does not know {name} for {triple}"
                );
            }
        }
    }
}
