//! The fixed, versioned list of CPU feature names that target bitmasks index, and detection of
//! the host's features without LLVM (cpuid on x86_64, the kernel's HWCAP on aarch64).
//!
//! Names are LLVM's. Appending names keeps old images readable; any other change bumps
//! [`FEATURE_LIST_VERSION`].

pub const FEATURE_LIST_VERSION: u32 = 2;

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
];

/// aarch64 features that change what code LLVM may emit. Left out on purpose: ssbs, sb, dit,
/// flagm, rand, mte — only intrinsics reach them, and kernels and emulators often do not report
/// them (qemu's cortex-a76 lacks ssbs), which would make a host needlessly miss a target.
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
];

/// The list for an LLVM triple's architecture.
pub fn feature_list(triple: &str) -> &'static [&'static str] {
    if triple.starts_with("aarch64") || triple.starts_with("arm64") {
        AARCH64_FEATURES
    } else {
        X86_FEATURES
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

/// The feature names a mask over `triple`'s list stands for.
pub fn names_of(mask: &[u64], triple: &str) -> Vec<&'static str> {
    let list = feature_list(triple);
    (0..list.len())
        .filter(|&bit| mask.get(bit / 64).is_some_and(|w| w >> (bit % 64) & 1 == 1))
        .map(|bit| list[bit])
        .collect()
}

/// Widest vector register the features give, in bits.
pub fn vector_bits(mask: &[u64], triple: &str) -> u32 {
    let names = names_of(mask, triple);
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
pub fn detect_host() -> crate::select::HostCpu {
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
        crate::select::HostCpu {
            name: "unknown".into(),
            features: Vec::new(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::__cpuid;

    use crate::select::HostCpu;

    pub fn detect() -> HostCpu {
        let have = |name: &str| -> bool {
            // std checks both cpuid and that the OS saves the wider registers (xgetbv).
            match name {
                "sse" => is_x86_feature_detected!("sse"),
                "sse2" => is_x86_feature_detected!("sse2"),
                "sse3" => is_x86_feature_detected!("sse3"),
                "ssse3" => is_x86_feature_detected!("ssse3"),
                "sse4.1" => is_x86_feature_detected!("sse4.1"),
                "sse4.2" => is_x86_feature_detected!("sse4.2"),
                "sse4a" => is_x86_feature_detected!("sse4a"),
                "popcnt" => is_x86_feature_detected!("popcnt"),
                "cx16" => is_x86_feature_detected!("cmpxchg16b"),
                "lzcnt" => is_x86_feature_detected!("lzcnt"),
                "movbe" => is_x86_feature_detected!("movbe"),
                "avx" => is_x86_feature_detected!("avx"),
                "avx2" => is_x86_feature_detected!("avx2"),
                "fma" => is_x86_feature_detected!("fma"),
                "f16c" => is_x86_feature_detected!("f16c"),
                "bmi" => is_x86_feature_detected!("bmi1"),
                "bmi2" => is_x86_feature_detected!("bmi2"),
                "xsave" => is_x86_feature_detected!("xsave"),
                "xsaveopt" => is_x86_feature_detected!("xsaveopt"),
                "xsavec" => is_x86_feature_detected!("xsavec"),
                "xsaves" => is_x86_feature_detected!("xsaves"),
                "rdrnd" => is_x86_feature_detected!("rdrand"),
                "rdseed" => is_x86_feature_detected!("rdseed"),
                "adx" => is_x86_feature_detected!("adx"),
                "aes" => is_x86_feature_detected!("aes"),
                "pclmul" => is_x86_feature_detected!("pclmulqdq"),
                "sha" => is_x86_feature_detected!("sha"),
                "fxsr" => is_x86_feature_detected!("fxsr"),
                "avx512f" => is_x86_feature_detected!("avx512f"),
                "avx512cd" => is_x86_feature_detected!("avx512cd"),
                "avx512dq" => is_x86_feature_detected!("avx512dq"),
                "avx512bw" => is_x86_feature_detected!("avx512bw"),
                "avx512vl" => is_x86_feature_detected!("avx512vl"),
                "avx512vnni" => is_x86_feature_detected!("avx512vnni"),
                "avx512bf16" => is_x86_feature_detected!("avx512bf16"),
                "avx512ifma" => is_x86_feature_detected!("avx512ifma"),
                "avx512vbmi" => is_x86_feature_detected!("avx512vbmi"),
                "avx512vbmi2" => is_x86_feature_detected!("avx512vbmi2"),
                "avx512bitalg" => is_x86_feature_detected!("avx512bitalg"),
                "avx512vpopcntdq" => is_x86_feature_detected!("avx512vpopcntdq"),
                "vaes" => is_x86_feature_detected!("vaes"),
                "vpclmulqdq" => is_x86_feature_detected!("vpclmulqdq"),
                "gfni" => is_x86_feature_detected!("gfni"),
                "avxvnni" => is_x86_feature_detected!("avxvnni"),
                // Not in std's list: read cpuid leaf 0x8000_0001 ecx directly.
                "sahf" => extended_ecx() & 1 != 0,
                "prfchw" => extended_ecx() >> 8 & 1 != 0,
                _ => false,
            }
        };
        let names = super::X86_FEATURES.iter().copied().filter(|f| have(f));
        let features =
            super::mask_of(super::X86_FEATURES, names).expect("names come from the list");
        HostCpu {
            name: cpu_name(),
            features,
        }
    }

    fn extended_ecx() -> u32 {
        // Leaf 0x8000_0000 says how far the extended leaves go.
        if __cpuid(0x8000_0000).eax < 0x8000_0001 {
            return 0;
        }
        __cpuid(0x8000_0001).ecx
    }

    /// LLVM's name for this CPU from its cpuid family and model (as LLVM's Host.cpp does, for the
    /// families that matter); "generic" when unknown.
    fn cpu_name() -> String {
        let l0 = __cpuid(0);
        let mut vendor = Vec::with_capacity(12);
        for reg in [l0.ebx, l0.edx, l0.ecx] {
            vendor.extend_from_slice(&reg.to_le_bytes());
        }
        let sig = __cpuid(1).eax;
        let base_family = (sig >> 8) & 0xf;
        let family = if base_family == 0xf {
            base_family + ((sig >> 20) & 0xff)
        } else {
            base_family
        };
        let model = ((sig >> 4) & 0xf)
            | if base_family >= 6 {
                ((sig >> 16) & 0xf) << 4
            } else {
                0
            };
        let name = match (&vendor[..], family, model) {
            (b"GenuineIntel", 6, 0x2a | 0x2d) => "sandybridge",
            (b"GenuineIntel", 6, 0x3a | 0x3e) => "ivybridge",
            (b"GenuineIntel", 6, 0x3c | 0x3f | 0x45 | 0x46) => "haswell",
            (b"GenuineIntel", 6, 0x3d | 0x47 | 0x4f | 0x56) => "broadwell",
            (b"GenuineIntel", 6, 0x4e | 0x5e | 0x8e | 0x9e | 0xa5 | 0xa6) => "skylake",
            (b"GenuineIntel", 6, 0x55) => "skylake-avx512",
            (b"GenuineIntel", 6, 0x6a | 0x6c) => "icelake-server",
            (b"GenuineIntel", 6, 0x7d | 0x7e) => "icelake-client",
            (b"GenuineIntel", 6, 0x8c | 0x8d) => "tigerlake",
            (b"GenuineIntel", 6, 0x8f) => "sapphirerapids",
            (b"GenuineIntel", 6, 0x97 | 0x9a | 0xb7 | 0xba | 0xbf) => "alderlake",
            (b"AuthenticAMD", 0x15, 0x00..=0x0f) => "bdver1",
            (b"AuthenticAMD", 0x15, 0x10..=0x1f) => "bdver2",
            (b"AuthenticAMD", 0x15, 0x30..=0x3f) => "bdver3",
            (b"AuthenticAMD", 0x15, 0x60..=0x7f) => "bdver4",
            (b"AuthenticAMD", 0x17, 0x00..=0x2f) => "znver1",
            (b"AuthenticAMD", 0x17, _) => "znver2",
            // LLVM 14 knows no later Zen: newer families are at least znver3.
            (b"AuthenticAMD", 0x19.., _) => "znver3",
            _ => "generic",
        };
        name.to_string()
    }
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use crate::select::HostCpu;

    pub fn detect() -> HostCpu {
        use std::arch::is_aarch64_feature_detected as has;
        let have = |name: &str| -> bool {
            match name {
                "neon" => has!("neon"),
                "fp-armv8" => has!("fp"),
                "crc" => has!("crc"),
                "lse" => has!("lse"),
                "rdm" => has!("rdm"),
                "fullfp16" => has!("fp16"),
                "dotprod" => has!("dotprod"),
                "rcpc" => has!("rcpc"),
                "sve" => has!("sve"),
                "sve2" => has!("sve2"),
                "aes" => has!("aes"),
                "sha2" => has!("sha2"),
                "sha3" => has!("sha3"),
                "sm4" => has!("sm4"),
                "fp16fml" => has!("fhm"),
                "jsconv" => has!("jsconv"),
                "complxnum" => has!("fcma"),
                "i8mm" => has!("i8mm"),
                "bf16" => has!("bf16"),
                _ => false,
            }
        };
        let names = super::AARCH64_FEATURES.iter().copied().filter(|f| have(f));
        let features =
            super::mask_of(super::AARCH64_FEATURES, names).expect("names come from the list");
        HostCpu {
            name: "generic".into(),
            features,
        }
    }
}
