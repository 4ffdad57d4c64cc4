//! Text-based dylib stubs (`.tbd`, tbd-version 4, YAML): the names a stub exports per
//! architecture, read with a YAML parser (yaml-rust2), and the one-document libSystem stub
//! aotlink vendors, written from such names.

use std::collections::{BTreeMap, BTreeSet};

use yaml_rust2::{Yaml, YamlLoader};

/// An architecture of macOS stubs: `x86_64`, or `arm64` (whose `arm64e` slices export the same
/// names; the ziglang package's stubs list only `arm64e` for most libraries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    fn covers(self, target: &str) -> bool {
        let Some((arch, platform)) = target.split_once('-') else {
            return false;
        };
        platform == "macos"
            && match self {
                Arch::X86_64 => arch == "x86_64",
                Arch::Arm64 => arch == "arm64" || arch.starts_with("arm64e"),
            }
    }

    /// How `object` names it.
    pub fn of(arch: object::Architecture) -> Arch {
        match arch {
            object::Architecture::X86_64 => Arch::X86_64,
            object::Architecture::Aarch64 => Arch::Arm64,
            other => panic!("no macOS stubs for {other:?}"),
        }
    }
}

/// What a stub exports for one architecture: per kind (`symbols`, `weak-symbols`,
/// `objc-classes`, ...), the names as the stub spells them, over all its documents (a
/// library's re-exported libraries are documents of the same file).
pub type Exports = BTreeMap<String, BTreeSet<String>>;

pub fn exports(text: &str, arch: Arch) -> Exports {
    let docs = YamlLoader::load_from_str(text).expect("a .tbd is YAML");
    let mut out = Exports::new();
    for doc in &docs {
        for section in ["exports", "reexports"] {
            for entry in doc[section].as_vec().map(Vec::as_slice).unwrap_or(&[]) {
                let targets = entry["targets"]
                    .as_vec()
                    .expect("an export list has targets");
                if !targets
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| arch.covers(t)))
                {
                    continue;
                }
                let Yaml::Hash(kinds) = entry else { continue };
                for (kind, names) in kinds {
                    let kind = kind.as_str().unwrap();
                    if kind == "targets" {
                        continue;
                    }
                    let names = names.as_vec().expect("a list of names");
                    (out.entry(kind.to_string()).or_default())
                        .extend(names.iter().map(|n| n.as_str().unwrap().to_string()));
                }
            }
        }
    }
    out
}

/// The symbols a linker sees in `exports` (an Objective-C class name stands for its class and
/// metaclass symbols).
pub fn symbols(exports: &Exports) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (kind, names) in exports {
        for name in names {
            match kind.as_str() {
                "objc-classes" => {
                    out.insert(format!("_OBJC_CLASS_$_{name}"));
                    out.insert(format!("_OBJC_METACLASS_$_{name}"));
                }
                "objc-eh-types" => {
                    out.insert(format!("_OBJC_EHTYPE_$_{name}"));
                }
                "objc-ivars" => {
                    out.insert(format!("_OBJC_IVAR_$_{name}"));
                }
                _ => {
                    out.insert(name.clone());
                }
            }
        }
    }
    out
}

/// The vendored stub: one document, libSystem's install name, each name under the targets
/// that export it (both architectures, then each alone), sorted, quoted.
pub fn write_stub(header: &str, x86_64: &Exports, arm64: &Exports) -> String {
    let mut out = String::from("--- !tapi-tbd\n");
    out += header;
    out += "tbd-version:     4\n";
    out += "targets:         [ x86_64-macos, arm64-macos ]\n";
    out += "install-name:    '/usr/lib/libSystem.B.dylib'\n";
    out += "current-version: 1359\n";
    out += "exports:\n";
    let kinds: BTreeSet<&String> = x86_64.keys().chain(arm64.keys()).collect();
    let empty = BTreeSet::new();
    let groups = [
        ("[ x86_64-macos, arm64-macos ]", true, true),
        ("[ x86_64-macos ]", true, false),
        ("[ arm64-macos ]", false, true),
    ];
    for (targets, in_x86, in_arm) in groups {
        let mut lists = Vec::new();
        for kind in &kinds {
            let (x, a) = (
                x86_64.get(*kind).unwrap_or(&empty),
                arm64.get(*kind).unwrap_or(&empty),
            );
            let names: Vec<&String> = (x.union(a))
                .filter(|n| x.contains(*n) == in_x86 && a.contains(*n) == in_arm)
                .collect();
            if !names.is_empty() {
                lists.push((kind, names));
            }
        }
        if lists.is_empty() {
            continue;
        }
        out += &format!("  - targets:         {targets}\n");
        for (kind, names) in lists {
            out += &format!("    {:<17}[ ", format!("{kind}:"));
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out += if i % 4 == 0 {
                        ",\n                       "
                    } else {
                        ", "
                    };
                }
                out += &format!("'{name}'");
            }
            out += " ]\n";
        }
    }
    out + "...\n"
}
