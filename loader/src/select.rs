//! Which of an image's CPU targets this host runs, and whether the image is for this host at all.

use crate::error::LoadCause;
use crate::file::ImageFile;
use crate::format::meta::{MetaView, TARGET_BASE};
use crate::host::features::{missing, names_of, FEATURE_LIST_VERSION};
use crate::host::HostCpu;

/// Refuses images of another object format or architecture than this process.
pub fn check_native<M, S>(file: &ImageFile<M, S>) -> Result<(), LoadCause> {
    let (format, arch) = (host_format(), host_arch());
    if file.format != format || file.arch != arch {
        return Err(LoadCause::Foreign {
            image: format!("{:?} {:?}", file.arch, file.format),
            host: format!("{arch:?} {format:?}"),
        });
    }
    Ok(())
}

fn host_format() -> object::BinaryFormat {
    if cfg!(target_os = "macos") {
        object::BinaryFormat::MachO
    } else if cfg!(windows) {
        object::BinaryFormat::Pe
    } else {
        object::BinaryFormat::Elf
    }
}

fn host_arch() -> object::Architecture {
    if cfg!(target_arch = "aarch64") {
        object::Architecture::Aarch64
    } else {
        object::Architecture::X86_64
    }
}

/// Julia's rule: a target is usable when the host has all its features; among usable ones
/// prefer the host's own CPU name, then the widest vectors, then the most features; a tie goes
/// to the later target. `forced` names a target to take instead (it must still be usable).
pub fn choose_target(
    meta: &MetaView,
    host: &HostCpu,
    forced: Option<&str>,
) -> Result<usize, LoadCause> {
    // Masks index a versioned list: bits of another version mean other features.
    if meta.feature_list_version != FEATURE_LIST_VERSION {
        return Err(LoadCause::NoCompatibleTarget(format!(
            "the image's CPU feature masks use feature list version {}, this loader knows \
             version {}: rebuild the image with a matching aotlink",
            meta.feature_list_version, FEATURE_LIST_VERSION
        )));
    }
    let usable = |i: usize| host.has_all(&meta.targets[i].features);
    if let Some(name) = forced {
        let i = meta
            .targets
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = meta.targets.iter().map(|t| t.name.as_str()).collect();
                LoadCause::NoCompatibleTarget(format!(
                    "no target named `{name}` in the image (it has: {})",
                    names.join(", ")
                ))
            })?;
        return if usable(i) {
            Ok(i)
        } else {
            Err(no_target(meta, host))
        };
    }
    let rank = |i: usize| {
        let t = &meta.targets[i];
        let popcount: u32 = t.features.iter().map(|w| w.count_ones()).sum();
        // "generic" is what detection says when it does not know the CPU: not a name to prefer.
        let own_name = t.name == host.name && host.name != "generic";
        (own_name, t.vector_bits, popcount, i)
    };
    (0..meta.targets.len())
        .filter(|&i| usable(i))
        .max_by_key(|&i| rank(i))
        .ok_or_else(|| no_target(meta, host))
}

fn no_target(meta: &MetaView, host: &HostCpu) -> LoadCause {
    let reasons: Vec<String> = meta
        .targets
        .iter()
        .map(|t| {
            let lacks = missing(&t.features, &host.features);
            match meta.arch() {
                _ if lacks.iter().all(|&w| w == 0) => format!("{}: usable", t.name),
                Some(arch) => {
                    format!(
                        "{}: host lacks {}",
                        t.name,
                        names_of(&lacks, arch).join(",")
                    )
                }
                None => format!("{}: for another architecture ({})", t.name, meta.triple),
            }
        })
        .collect();
    LoadCause::NoCompatibleTarget(format!(
        "unable to find a compatible target for host CPU `{}` ({})",
        host.name,
        reasons.join("; ")
    ))
}

/// The targets whose code makes up target `t`'s function table, first to last: the base
/// target, then the chain of `base(N)` targets, then `t` itself (later ones override).
pub fn version_chain(meta: &MetaView, t: usize) -> Vec<usize> {
    let mut chain = vec![t];
    let mut cur = t;
    while meta.targets[cur].flags & TARGET_BASE != 0 {
        cur = meta.targets[cur].base as usize;
        chain.push(cur);
    }
    if cur != 0 {
        chain.push(0);
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::meta::{Meta, TargetRecord};

    fn one_target(feature_list_version: u32) -> MetaView<'static> {
        let meta = Meta {
            triple: "x86_64-unknown-linux-gnu".into(),
            feature_list_version,
            targets: vec![TargetRecord {
                name: "generic".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        crate::format::meta::leaked_view(&meta)
    }

    #[test]
    fn an_unknown_feature_list_version_is_refused() {
        let host = HostCpu::default();
        let current = FEATURE_LIST_VERSION;
        assert_eq!(choose_target(&one_target(current), &host, None).unwrap(), 0);
        for other in [current - 1, current + 1] {
            let err = choose_target(&one_target(other), &host, None).unwrap_err();
            assert!(err.to_string().contains("feature list version"), "{err}");
        }
    }
}
