//! The fixed, versioned list of CPU feature names that target bitmasks index, and detection of
//! the host's features without LLVM (cpuid on x86_64, the kernel's HWCAP on aarch64).
//!
//! Names are LLVM's. The lists hold every instruction-set feature that an LLVM 22 CPU implies
//! and that can change the code LLVM emits; the rest of what CPUs imply is in the
//! `*_NOT_VERSIONED` lists, each with the reason. A test in aotlink (which links LLVM) fails
//! when LLVM knows a CPU feature that is in neither, so the lists cannot go stale silently.
//! Any change to a list bumps [`FEATURE_LIST_VERSION`]: the loader refuses images of another
//! version, whose masks mean other features (version 2 lacked AMX, AVX512-FP16, FMA4 and
//! others, so it accepted targets a host could not run; version 3, made for LLVM 19, lacked
//! APX, AVX10, Diamond Rapids' AMX extensions, MOPS, RCPC3 and the SVE/SME additions that
//! LLVM 22's CPUs imply).

use crate::format::arch::Arch;

pub const FEATURE_LIST_VERSION: u32 = 4;

/// x86_64 features that change what code LLVM may emit.
pub const X86_FEATURES: &[&str] = &[
    "sse",
    "sse2",
    "sse3",
    "ssse3",
    "sse4.1",
    "sse4.2",
    "sse4a",
    "popcnt",
    "cx16",
    "sahf",
    "lzcnt",
    "movbe",
    "prfchw",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi",
    "bmi2",
    "xsave",
    "xsaveopt",
    "xsavec",
    "xsaves",
    "rdrnd",
    "rdseed",
    "adx",
    "aes",
    "pclmul",
    "sha",
    "fxsr",
    "avx512f",
    "avx512cd",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512vnni",
    "avx512bf16",
    "avx512ifma",
    "avx512vbmi",
    "avx512vbmi2",
    "avx512bitalg",
    "avx512vpopcntdq",
    "vaes",
    "vpclmulqdq",
    "gfni",
    "avxvnni",
    // Added in version 3.
    "x87",
    "cx8",
    "cmov",
    "mmx",
    "64bit",
    "crc32",
    "evex512",
    "fsgsbase",
    "invpcid",
    "clflushopt",
    "clwb",
    "pku",
    "waitpkg",
    "shstk",
    "rdpid",
    "kl",
    "widekl",
    "cldemote",
    "movdiri",
    "movdir64b",
    "enqcmd",
    "uintr",
    "avx512vp2intersect",
    "serialize",
    "tsxldtrk",
    "pconfig",
    "amx-bf16",
    "avx512fp16",
    "amx-tile",
    "amx-int8",
    "sha512",
    "sm3",
    "sm4",
    "cmpccxadd",
    "amx-fp16",
    "hreset",
    "avxifma",
    "avxvnniint8",
    "avxneconvert",
    "amx-complex",
    "avxvnniint16",
    "prefetchi",
    "usermsr",
    "ptwrite",
    "xop",
    "lwp",
    "fma4",
    "tbm",
    "mwaitx",
    "clzero",
    "rdpru",
    "wbnoinvd",
    // Added in version 4.
    "movrs",
    "amx-fp8",
    "amx-tf32",
    "amx-avx512",
    "amx-movrs",
    "avx10.1",
    "avx10.2",
    "egpr",
    "push2pop2",
    "ppx",
    "ndd",
    "ccmp",
    "nf",
    "cf",
    "zu",
];

/// What LLVM 22's x86 CPUs imply but no host needs to be checked for, and why.
pub const X86_NOT_VERSIONED: &[(&str, &str)] = &[
    (
        "ermsb",
        "tells LLVM that `rep movsb` is fast; the instruction exists on every x86 CPU",
    ),
    (
        "fsrm",
        "tells LLVM that short `rep movsb` is fast; the instruction exists on every x86 CPU",
    ),
    ("nopl", "multi-byte NOPs, part of every x86-64 CPU"),
];

/// aarch64 features that change what code LLVM may emit.
pub const AARCH64_FEATURES: &[&str] = &[
    "neon",
    "fp-armv8",
    "crc",
    "lse",
    "rdm",
    "fullfp16",
    "dotprod",
    "rcpc",
    "sve",
    "sve2",
    "aes",
    "sha2",
    "sha3",
    "sm4",
    "fp16fml",
    "jsconv",
    "complxnum",
    "i8mm",
    "bf16",
    // Added in version 3.
    "lse2",
    "rcpc-immo",
    "sve2-bitperm",
    "pauth",
    "fptoint",
    "cssc",
    "sme",
    "sme2",
    "sme-f64f64",
    "sme-i16i64",
    // Added in version 4.
    "faminmax",
    "hbc",
    "mops",
    "rcpc3",
    "sme-b16b16",
    "sme-f16f16",
    "sme2p1",
    "sve-aes",
    "sve-b16b16",
    "sve-bitperm",
    "sve-sha3",
    "sve-sm4",
];

const ONLY_INTRINSICS: &str =
    "reached only through intrinsics or inline assembly, which the code guards itself";
const SYSTEM: &str =
    "system registers and instructions of EL1 and above; LLVM never emits them for user code";
const ARCH_VERSION: &str =
    "an architecture version: it groups features that are listed (or here) one by one";

/// What LLVM 22's aarch64 CPUs imply but no host needs to be checked for, and why. Kernels
/// and emulators often do not report these (qemu's cortex-a76 lacks ssbs), which would make a
/// host miss a target for nothing.
pub const AARCH64_NOT_VERSIONED: &[(&str, &str)] = &[
    ("altnzcv", ONLY_INTRINSICS),
    (
        "bti",
        "BTI landing pads are hint instructions, NOPs on CPUs without BTI",
    ),
    ("ccdp", ONLY_INTRINSICS),
    ("ccpp", ONLY_INTRINSICS),
    (
        "chk",
        "CHKFEAT is a hint instruction, a NOP on CPUs without it; only intrinsics emit it",
    ),
    (
        "clrbhb",
        "CLRBHB is a hint instruction, a NOP on CPUs without it; only intrinsics emit it",
    ),
    ("dit", ONLY_INTRINSICS),
    ("flagm", ONLY_INTRINSICS),
    // LLVM has no IR type for the 8-bit floats: only intrinsics reach these instructions.
    ("fp8", ONLY_INTRINSICS),
    ("fp8dot2", ONLY_INTRINSICS),
    ("fp8dot4", ONLY_INTRINSICS),
    ("fp8fma", ONLY_INTRINSICS),
    (
        "fpac",
        "failed pointer authentication faults instead of poisoning the pointer; the same \
         instructions run either way, and no kernel reports it",
    ),
    ("lut", ONLY_INTRINSICS),
    ("ls64", ONLY_INTRINSICS),
    (
        "mte",
        "memory tagging: only intrinsics and -fsanitize=memtag emit it",
    ),
    ("predres", ONLY_INTRINSICS),
    ("rand", ONLY_INTRINSICS),
    ("sb", ONLY_INTRINSICS),
    ("specres2", ONLY_INTRINSICS),
    ("specrestrict", ONLY_INTRINSICS),
    ("ssbs", ONLY_INTRINSICS),
    ("wfxt", ONLY_INTRINSICS),
    (
        "use-scalar-inc-vl",
        "a tuning choice among SVE instructions; SVE itself is listed",
    ),
    ("CONTEXTIDREL2", SYSTEM),
    ("am", SYSTEM),
    ("amvs", SYSTEM),
    ("apple-a7-sysreg", SYSTEM),
    ("brbe", SYSTEM),
    ("ccidx", SYSTEM),
    ("ecv", SYSTEM),
    ("el2vmsa", SYSTEM),
    ("el3", SYSTEM),
    ("ete", SYSTEM),
    ("fgt", SYSTEM),
    ("hcx", SYSTEM),
    ("lor", SYSTEM),
    ("mec", SYSTEM),
    ("mpam", SYSTEM),
    ("nmi", SYSTEM),
    ("nv", SYSTEM),
    ("pan", SYSTEM),
    ("pan-rwv", SYSTEM),
    ("perfmon", SYSTEM),
    ("ras", SYSTEM),
    ("rme", SYSTEM),
    ("sel2", SYSTEM),
    ("spe", SYSTEM),
    ("spe-eef", SYSTEM),
    ("tlb-rmi", SYSTEM),
    ("tracev8.4", SYSTEM),
    ("trbe", SYSTEM),
    ("uaops", SYSTEM),
    ("vh", SYSTEM),
    ("xs", SYSTEM),
    ("v8a", ARCH_VERSION),
    ("v8.1a", ARCH_VERSION),
    ("v8.2a", ARCH_VERSION),
    ("v8.3a", ARCH_VERSION),
    ("v8.4a", ARCH_VERSION),
    ("v8.5a", ARCH_VERSION),
    ("v8.6a", ARCH_VERSION),
    ("v8.7a", ARCH_VERSION),
    ("v8.8a", ARCH_VERSION),
    ("v8r", ARCH_VERSION),
    ("v9a", ARCH_VERSION),
    ("v9.1a", ARCH_VERSION),
    ("v9.2a", ARCH_VERSION),
    ("v9.3a", ARCH_VERSION),
];

/// The features of `arch` that are known not to need a host check.
pub fn not_versioned(arch: Arch) -> &'static [(&'static str, &'static str)] {
    match arch {
        Arch::X86_64 => X86_NOT_VERSIONED,
        Arch::Aarch64 => AARCH64_NOT_VERSIONED,
    }
}

/// The versioned feature list of `arch`.
pub fn feature_list(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => X86_FEATURES,
        Arch::Aarch64 => AARCH64_FEATURES,
    }
}

/// The bitmask of `names` over `list`; names not in the list are returned as the error.
pub fn mask_of<'a>(
    list: &[&str],
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<u64>, String> {
    let mut mask = vec![0u64; list.len().div_ceil(64)];
    for name in names {
        let bit = list
            .iter()
            .position(|&f| f == name)
            .ok_or_else(|| name.to_string())?;
        mask[bit / 64] |= 1 << (bit % 64);
    }
    Ok(mask)
}

/// Bits set in `required` but not in `have`.
pub fn missing(required: &[u64], have: &[u64]) -> Vec<u64> {
    required
        .iter()
        .enumerate()
        .map(|(i, &r)| r & !have.get(i).copied().unwrap_or(0))
        .collect()
}

/// The feature names a mask over `arch`'s list stands for.
pub fn names_of(mask: &[u64], arch: Arch) -> Vec<&'static str> {
    let list = feature_list(arch);
    (0..list.len())
        .filter(|&bit| mask.get(bit / 64).is_some_and(|w| w >> (bit % 64) & 1 == 1))
        .map(|bit| list[bit])
        .collect()
}

/// Widest vector register the features give, in bits.
pub fn vector_bits(mask: &[u64], arch: Arch) -> u32 {
    let names = names_of(mask, arch);
    let has = |f: &str| names.contains(&f);
    if has("avx512f") {
        512
    } else if has("avx") {
        256
    } else if has("sse") || has("neon") {
        128
    } else {
        64
    }
}

/// The host CPU's name and features.
pub fn detect_host() -> crate::host::host_cpu::HostCpu {
    #[cfg(target_arch = "x86_64")]
    {
        x86::detect()
    }
    #[cfg(target_arch = "aarch64")]
    {
        aarch64::detect()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        crate::host::host_cpu::HostCpu {
            name: "unknown".into(),
            features: Vec::new(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{__cpuid, __cpuid_count};

    use crate::host::cpu_names::{x86_cpu_name, x86_family_model};
    use crate::host::feature_bits::x86_features;
    use crate::host::host_cpu::HostCpu;

    pub fn detect() -> HostCpu {
        // cpuid exists on every x86_64 CPU (safe to call since Rust 1.87).
        let cpuid = |leaf: u32, subleaf: u32| {
            let r = __cpuid_count(leaf, subleaf);
            [r.eax, r.ebx, r.ecx, r.edx]
        };
        let osxsave = cpuid(1, 0)[2] >> 27 & 1 == 1;
        let xcr0 = osxsave.then(|| {
            let (lo, hi): (u32, u32);
            // SAFETY: xgetbv exists when cpuid says the OS enabled XSAVE (OSXSAVE), checked
            // above; it reads XCR0 and nothing else.
            unsafe {
                std::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi,
                    options(nomem, nostack, preserves_flags));
            }
            (hi as u64) << 32 | lo as u64
        });
        // macOS enables the AVX-512 state on first use (darwin.rs).
        #[cfg(target_os = "macos")]
        let xcr0 = xcr0.map(super::darwin::darwin_xcr0);
        let names = x86_features(&cpuid, xcr0);
        let features = super::mask_of(super::X86_FEATURES, names.iter().copied())
            .expect("detection names come from the list");
        HostCpu {
            name: cpu_name(&names),
            features,
        }
    }

    /// LLVM's name for this CPU (`sys::getHostCPUName`), "generic" when it has none.
    fn cpu_name(features: &[&str]) -> String {
        let (l0, sig) = (__cpuid(0), __cpuid(1).eax);
        if l0.eax < 1 {
            return "generic".into();
        }
        let mut vendor = Vec::with_capacity(12);
        for reg in [l0.ebx, l0.edx, l0.ecx] {
            vendor.extend_from_slice(&reg.to_le_bytes());
        }
        let (family, model) = x86_family_model(sig);
        x86_cpu_name(&vendor, family, model, &|f| features.contains(&f))
            .unwrap_or("generic")
            .to_string()
    }
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use crate::host::feature_bits::{aarch64_hwcap2_has, AARCH64_DETECTION};
    use crate::host::host_cpu::HostCpu;

    /// The kernel's AT_HWCAP2 word (0 where there is none).
    fn hwcap2() -> u64 {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: getauxval reads the process's auxiliary vector; no memory is passed.
            unsafe { libc::getauxval(libc::AT_HWCAP2) as u64 }
        }
        #[cfg(not(target_os = "linux"))]
        {
            0
        }
    }

    pub fn detect() -> HostCpu {
        use std::arch::is_aarch64_feature_detected as has;
        // The macro takes literals only: one arm per name of AARCH64_DETECTION.
        let hwcap2 = hwcap2();
        let kernel_has = |name: &str| -> bool {
            // Not yet stable in std's detection: the kernel's HWCAP2 word directly.
            if let Some(has) = aarch64_hwcap2_has(name, hwcap2) {
                return has;
            }
            match name {
                "neon" => has!("neon"),
                "fp" => has!("fp"),
                "crc" => has!("crc"),
                "lse" => has!("lse"),
                "lse2" => has!("lse2"),
                "rdm" => has!("rdm"),
                "fp16" => has!("fp16"),
                "dotprod" => has!("dotprod"),
                "rcpc" => has!("rcpc"),
                "rcpc2" => has!("rcpc2"),
                "sve" => has!("sve"),
                "sve2" => has!("sve2"),
                "sve2-bitperm" => has!("sve2-bitperm"),
                "aes" => has!("aes"),
                "sha2" => has!("sha2"),
                "sha3" => has!("sha3"),
                "sm4" => has!("sm4"),
                "fhm" => has!("fhm"),
                "jsconv" => has!("jsconv"),
                "fcma" => has!("fcma"),
                "i8mm" => has!("i8mm"),
                "bf16" => has!("bf16"),
                "paca" => has!("paca"),
                "frintts" => has!("frintts"),
                _ => false,
            }
        };
        let names = AARCH64_DETECTION
            .iter()
            .filter(|(_, kernel)| kernel_has(kernel))
            .map(|(llvm, _)| *llvm);
        let features =
            super::mask_of(super::AARCH64_FEATURES, names).expect("names come from the list");
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        HostCpu {
            name: crate::host::cpu_names::aarch64_cpu_name_from_cpuinfo(&cpuinfo)
                .unwrap_or("generic")
                .to_string(),
            features,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_feature_has_a_detection_rule() {
        use crate::host::feature_bits::{
            AARCH64_DETECTION, X86_AVX10_VERSIONS, X86_CPUID_BITS, X86_DERIVED,
        };
        let x86: Vec<&str> = X86_CPUID_BITS
            .iter()
            .map(|b| b.feature)
            .chain(X86_DERIVED.iter().map(|(f, _)| *f))
            .chain(X86_AVX10_VERSIONS.iter().map(|(f, _)| *f))
            .collect();
        for f in X86_FEATURES {
            assert!(x86.contains(f), "x86 feature {f} has no cpuid rule");
        }
        assert_eq!(
            x86.len(),
            X86_FEATURES.len(),
            "a rule for a feature not in the list"
        );
        for f in AARCH64_FEATURES {
            assert!(
                AARCH64_DETECTION.iter().any(|(llvm, _)| llvm == f),
                "aarch64 feature {f} has no HWCAP rule"
            );
        }
        assert_eq!(AARCH64_DETECTION.len(), AARCH64_FEATURES.len());
    }

    #[test]
    fn no_feature_is_both_listed_and_not_versioned() {
        for (list, skipped) in [
            (X86_FEATURES, X86_NOT_VERSIONED),
            (AARCH64_FEATURES, AARCH64_NOT_VERSIONED),
        ] {
            for (f, _) in skipped {
                assert!(!list.contains(f), "{f} is both versioned and not");
            }
            let mut sorted = list.to_vec();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "a feature is listed twice");
        }
    }
}
