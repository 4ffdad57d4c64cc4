//! Each platform's default CPU targets start from its baseline, the CPU its clang compiles for
//! by default (`clang-22 --target=... -###`, the independent reference): on macOS exactly that
//! CPU (penryn, apple-m1); on Linux and Windows `generic`, whose features clang's default CPU
//! all has. A CPU LLVM knows by an alias builds without LLVM's warnings; an unknown one is one
//! error line.

use std::collections::BTreeSet;
use std::process::Command;

use super::*;
use crate::common::*;

/// The `-target-cpu` clang's driver passes for `target` when none is asked for.
fn clang_default_cpu(target: &Target) -> String {
    let out = Command::new(CLANG)
        .arg(format!("--target={}", target.clang))
        .args(["-###", "-c", "-x", "c", "/dev/null", "-o", "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let args: Vec<&str> = text.split('"').collect();
    let at = args
        .iter()
        .position(|a| *a == "-target-cpu")
        .unwrap_or_else(|| panic!("{}: no -target-cpu in {text}", target.clang));
    args[at + 2].to_string()
}

/// The targets of `image` as `inspect --json` reports them: (name, features).
fn image_targets(image: &Path) -> Vec<(String, BTreeSet<String>)> {
    let out = aotlink_ok(["inspect".as_ref(), image.as_os_str(), "--json".as_ref()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (json["targets"].as_array().unwrap().iter())
        .map(|t| {
            let features = (t["features"].as_array().unwrap().iter())
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            (t["name"].as_str().unwrap().to_string(), features)
        })
        .collect()
}

#[test]
fn every_platforms_default_targets_start_from_what_its_clang_compiles_for() {
    for target in targets() {
        let clang_cpu = clang_default_cpu(target);
        let image = cross_image(target, "baseline", &[]);
        let found = image_targets(&image);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        let listed: Vec<&str> = (target.cpu_targets.split(';'))
            .map(|t| t.split(',').next().unwrap())
            .collect();
        assert_eq!(names, listed, "{}: the default targets", target.aotlink);
        if target.format == object::BinaryFormat::MachO {
            assert_eq!(names[0], clang_cpu, "{}: the base", target.aotlink);
            continue;
        }
        let clang_image = cross_image(target, "baseline-clang", &["--cpu-target", &clang_cpu]);
        let clang_features = &image_targets(&clang_image)[0].1;
        let base = &found[0].1;
        assert!(
            base.is_subset(clang_features),
            "{}: the base {} has {:?}, which clang's default {clang_cpu} lacks",
            target.aotlink,
            names[0],
            base.difference(clang_features).collect::<Vec<_>>()
        );
    }
}

/// `apple-m1` is an alias LLVM resolves to apple-a14: it used to print LLVM's "'apple-m1' is
/// not a recognized processor for this target (ignoring processor)" and resolve to no
/// features. Now it builds silently with the M1's features, and a CPU LLVM does not know is
/// one error line naming it.
#[test]
fn a_cpu_alias_builds_silently_and_an_unknown_cpu_is_one_error() {
    let mac = target("arm64-apple-macosx11.0");
    let ir = example_ir(mac);
    let dir = scratch("cross-cpu-alias");
    let out = dir.join("alias.dylib");
    let run = run_aotlink([
        "build".as_ref(),
        ir.as_os_str(),
        "--no-cache".as_ref(),
        "--cpu-target".as_ref(),
        "apple-m1;apple-m2".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success() && stderr.is_empty(), "{stderr}");
    let found = image_targets(&out);
    assert!(found[0].1.contains("crc") && found[0].1.contains("lse"));
    let run = run_aotlink([
        "build".as_ref(),
        ir.as_os_str(),
        "--cpu-target".as_ref(),
        "apple-m9".as_ref(),
        "-o".as_ref(),
        dir.join("unknown.dylib").as_os_str(),
    ]);
    assert_clean_failure(&run, "unknown CPU `apple-m9`");
    assert_only_files(&dir, &["alias.dylib"]);
}
