//! The loader's host CPU names against LLVM's own host detection, over every x86 vendor,
//! family and model and every aarch64 implementer and part. Needs the tables
//! scripts/llvm-host-oracle/sweep.py writes (it runs LLVM's code on faked cpuid), so it is
//! ignored by default:
//!
//! `AOTLOAD_LLVM_HOST_ORACLE=scripts/llvm-host-oracle/out cargo test -p aotload --test llvm_host_oracle -- --ignored`

use aotload::cpu_names::{
    aarch64_cpu_name_from_cpuinfo, x86_cpu_name, x86_family_model, AARCH64_HOST_NAMES,
};

fn table(name: &str) -> Vec<Vec<String>> {
    let dir = std::env::var("AOTLOAD_LLVM_HOST_ORACLE")
        .expect("AOTLOAD_LLVM_HOST_ORACLE names the directory sweep.py wrote");
    let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("run sweep.py first");
    text.lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn hex(s: &str) -> u32 {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

#[test]
#[ignore = "needs the tables of scripts/llvm-host-oracle/sweep.py"]
fn names_agree_with_llvm() {
    let mut differ = Vec::new();
    for row in table("x86_names.tsv") {
        let (family, model) = (hex(&row[1]), hex(&row[2]));
        let base = if family < 0xf { family } else { 0xf };
        let eax = base << 8 | (family - base) << 20 | (model & 0xf) << 4 | (model >> 4) << 16;
        let vendor: &[u8] = if row[0] == "intel" {
            b"GenuineIntel"
        } else {
            b"AuthenticAMD"
        };
        let (f, m) = x86_family_model(eax);
        // The sweep's CPUs report no features: the feature-based choices are unit-tested.
        let ours = x86_cpu_name(vendor, f, m, &|_| false).unwrap_or("generic");
        if ours != row[3] {
            differ.push(format!("{row:?}: loader says {ours}"));
        }
    }
    for row in table("arm_names.tsv") {
        let text = format!("CPU implementer\t: {}\nCPU part\t: {}\n", row[0], row[1]);
        let ours = aarch64_cpu_name_from_cpuinfo(&text).unwrap_or("generic");
        // LLVM's 32-bit-only Arm cores are not aarch64 CPUs: the loader says generic.
        let llvm = row[2].as_str();
        let want = if AARCH64_HOST_NAMES.contains(&llvm) {
            llvm
        } else {
            "generic"
        };
        if ours != want {
            differ.push(format!("{row:?}: loader says {ours}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differences, e.g. {:?}",
        differ.len(),
        &differ[..differ.len().min(20)]
    );
}
