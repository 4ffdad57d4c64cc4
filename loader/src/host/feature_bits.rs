//! Which instruction-set features a CPU has, from raw cpuid values (x86_64) or the kernel's
//! feature words (aarch64). Pure functions over the values, so tests can feed any CPU; the
//! reading itself is in `features.rs`.
//!
//! The x86 bit positions are those LLVM's host detection (`sys::getHostCPUFeatures`) reads,
//! (as of LLVM 22), with the same operating-system checks: AVX, AVX-512, AMX and APX
//! instructions count only when XCR0 says the OS saves their registers. AVX10 is stricter than
//! LLVM: it also needs the AVX-512 state, without which its instructions fault.

/// A cpuid output register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    Eax,
    Ebx,
    Ecx,
    Edx,
}

/// Register state the OS must save (XCR0) for a feature to be usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsState {
    None,
    /// XMM and YMM (XCR0 bits 1-2), with AVX itself.
    Avx,
    /// Also the opmask and ZMM state (XCR0 bits 5-7).
    Avx512,
    /// The tile configuration and data (XCR0 bits 17-18).
    Amx,
    /// The 16 extended general-purpose registers of APX (XCR0 bit 19).
    Apx,
}

/// Feature `feature` is bit `bit` of register `reg` of cpuid leaf `leaf`, subleaf `subleaf`.
#[derive(Clone, Copy, Debug)]
pub struct CpuidBit {
    pub feature: &'static str,
    pub leaf: u32,
    pub subleaf: u32,
    pub reg: Reg,
    pub bit: u8,
    pub state: OsState,
}

const fn bit(feature: &'static str, leaf: u32, subleaf: u32, reg: Reg, bit: u8) -> CpuidBit {
    CpuidBit {
        feature,
        leaf,
        subleaf,
        reg,
        bit,
        state: OsState::None,
    }
}

const fn with(state: OsState, b: CpuidBit) -> CpuidBit {
    CpuidBit { state, ..b }
}

use OsState::{Amx, Apx, Avx, Avx512};
use Reg::{Eax, Ebx, Ecx, Edx};

const EXT1: u32 = 0x8000_0001;
const EXT8: u32 = 0x8000_0008;

/// Every x86 feature of the versioned list that a cpuid bit reports.
pub const X86_CPUID_BITS: &[CpuidBit] = &[
    // Leaf 1.
    bit("x87", 1, 0, Edx, 0),
    bit("cx8", 1, 0, Edx, 8),
    bit("cmov", 1, 0, Edx, 15),
    bit("mmx", 1, 0, Edx, 23),
    bit("fxsr", 1, 0, Edx, 24),
    bit("sse", 1, 0, Edx, 25),
    bit("sse2", 1, 0, Edx, 26),
    bit("sse3", 1, 0, Ecx, 0),
    bit("pclmul", 1, 0, Ecx, 1),
    bit("ssse3", 1, 0, Ecx, 9),
    with(Avx, bit("fma", 1, 0, Ecx, 12)),
    bit("cx16", 1, 0, Ecx, 13),
    bit("sse4.1", 1, 0, Ecx, 19),
    bit("sse4.2", 1, 0, Ecx, 20),
    bit("movbe", 1, 0, Ecx, 22),
    bit("popcnt", 1, 0, Ecx, 23),
    bit("aes", 1, 0, Ecx, 25),
    with(Avx, bit("xsave", 1, 0, Ecx, 26)),
    with(Avx, bit("avx", 1, 0, Ecx, 28)),
    with(Avx, bit("f16c", 1, 0, Ecx, 29)),
    bit("rdrnd", 1, 0, Ecx, 30),
    // Leaf 7, subleaf 0.
    bit("fsgsbase", 7, 0, Ebx, 0),
    bit("bmi", 7, 0, Ebx, 3),
    with(Avx, bit("avx2", 7, 0, Ebx, 5)),
    bit("bmi2", 7, 0, Ebx, 8),
    bit("invpcid", 7, 0, Ebx, 10),
    with(Avx512, bit("avx512f", 7, 0, Ebx, 16)),
    with(Avx512, bit("avx512dq", 7, 0, Ebx, 17)),
    bit("rdseed", 7, 0, Ebx, 18),
    bit("adx", 7, 0, Ebx, 19),
    with(Avx512, bit("avx512ifma", 7, 0, Ebx, 21)),
    bit("clflushopt", 7, 0, Ebx, 23),
    bit("clwb", 7, 0, Ebx, 24),
    with(Avx512, bit("avx512cd", 7, 0, Ebx, 28)),
    bit("sha", 7, 0, Ebx, 29),
    with(Avx512, bit("avx512bw", 7, 0, Ebx, 30)),
    with(Avx512, bit("avx512vl", 7, 0, Ebx, 31)),
    with(Avx512, bit("avx512vbmi", 7, 0, Ecx, 1)),
    bit("pku", 7, 0, Ecx, 4),
    bit("waitpkg", 7, 0, Ecx, 5),
    with(Avx512, bit("avx512vbmi2", 7, 0, Ecx, 6)),
    bit("shstk", 7, 0, Ecx, 7),
    bit("gfni", 7, 0, Ecx, 8),
    with(Avx, bit("vaes", 7, 0, Ecx, 9)),
    with(Avx, bit("vpclmulqdq", 7, 0, Ecx, 10)),
    with(Avx512, bit("avx512vnni", 7, 0, Ecx, 11)),
    with(Avx512, bit("avx512bitalg", 7, 0, Ecx, 12)),
    with(Avx512, bit("avx512vpopcntdq", 7, 0, Ecx, 14)),
    bit("rdpid", 7, 0, Ecx, 22),
    bit("kl", 7, 0, Ecx, 23),
    bit("cldemote", 7, 0, Ecx, 25),
    bit("movdiri", 7, 0, Ecx, 27),
    bit("movdir64b", 7, 0, Ecx, 28),
    bit("enqcmd", 7, 0, Ecx, 29),
    bit("uintr", 7, 0, Edx, 5),
    with(Avx512, bit("avx512vp2intersect", 7, 0, Edx, 8)),
    bit("serialize", 7, 0, Edx, 14),
    bit("tsxldtrk", 7, 0, Edx, 16),
    bit("pconfig", 7, 0, Edx, 18),
    with(Amx, bit("amx-bf16", 7, 0, Edx, 22)),
    with(Avx512, bit("avx512fp16", 7, 0, Edx, 23)),
    with(Amx, bit("amx-tile", 7, 0, Edx, 24)),
    with(Amx, bit("amx-int8", 7, 0, Edx, 25)),
    // Leaf 7, subleaf 1.
    bit("sha512", 7, 1, Eax, 0),
    bit("sm3", 7, 1, Eax, 1),
    bit("sm4", 7, 1, Eax, 2),
    with(Avx, bit("avxvnni", 7, 1, Eax, 4)),
    with(Avx512, bit("avx512bf16", 7, 1, Eax, 5)),
    bit("cmpccxadd", 7, 1, Eax, 7),
    with(Amx, bit("amx-fp16", 7, 1, Eax, 21)),
    bit("hreset", 7, 1, Eax, 22),
    with(Avx, bit("avxifma", 7, 1, Eax, 23)),
    with(Avx, bit("avxvnniint8", 7, 1, Edx, 4)),
    with(Avx, bit("avxneconvert", 7, 1, Edx, 5)),
    with(Amx, bit("amx-complex", 7, 1, Edx, 8)),
    with(Avx, bit("avxvnniint16", 7, 1, Edx, 10)),
    bit("prefetchi", 7, 1, Edx, 14),
    bit("usermsr", 7, 1, Edx, 15),
    bit("movrs", 7, 1, Eax, 31),
    // APX-F: one cpuid bit stands for all of LLVM's APX features.
    with(Apx, bit("egpr", 7, 1, Edx, 21)),
    with(Apx, bit("push2pop2", 7, 1, Edx, 21)),
    with(Apx, bit("ppx", 7, 1, Edx, 21)),
    with(Apx, bit("ndd", 7, 1, Edx, 21)),
    with(Apx, bit("ccmp", 7, 1, Edx, 21)),
    with(Apx, bit("nf", 7, 1, Edx, 21)),
    with(Apx, bit("cf", 7, 1, Edx, 21)),
    with(Apx, bit("zu", 7, 1, Edx, 21)),
    // Leaf 0xd, subleaf 1: XSAVE variants (LLVM counts them only with YMM state saved).
    with(Avx, bit("xsaveopt", 0xd, 1, Eax, 0)),
    with(Avx, bit("xsavec", 0xd, 1, Eax, 1)),
    with(Avx, bit("xsaves", 0xd, 1, Eax, 3)),
    // Leaf 0x14: processor trace.
    bit("ptwrite", 0x14, 0, Ebx, 4),
    // Leaf 0x19: key locker.
    bit("widekl", 0x19, 0, Ebx, 2),
    // Leaf 0x1e, subleaf 1: the AMX extensions of Diamond Rapids.
    with(Amx, bit("amx-fp8", 0x1e, 1, Eax, 4)),
    with(Amx, bit("amx-tf32", 0x1e, 1, Eax, 6)),
    with(Amx, bit("amx-avx512", 0x1e, 1, Eax, 7)),
    with(Amx, bit("amx-movrs", 0x1e, 1, Eax, 8)),
    // Extended leaf 1.
    bit("sahf", EXT1, 0, Ecx, 0),
    bit("lzcnt", EXT1, 0, Ecx, 5),
    bit("sse4a", EXT1, 0, Ecx, 6),
    bit("prfchw", EXT1, 0, Ecx, 8),
    with(Avx, bit("xop", EXT1, 0, Ecx, 11)),
    bit("lwp", EXT1, 0, Ecx, 15),
    with(Avx, bit("fma4", EXT1, 0, Ecx, 16)),
    bit("tbm", EXT1, 0, Ecx, 21),
    bit("mwaitx", EXT1, 0, Ecx, 29),
    bit("64bit", EXT1, 0, Edx, 29),
    // Extended leaf 8.
    bit("clzero", EXT8, 0, Ebx, 0),
    bit("rdpru", EXT8, 0, Ebx, 4),
    bit("wbnoinvd", EXT8, 0, Ebx, 9),
];

/// Features LLVM has as names of their own that a CPU has exactly when it has another one:
/// (feature, the feature it comes with).
pub const X86_DERIVED: &[(&str, &str)] = &[
    // The CRC32 instruction is part of SSE4.2.
    ("crc32", "sse4.2"),
    // 512-bit EVEX encodings: every AVX-512 CPU has them (AVX10.2 dropped the 256-bit-only
    // variant, and no LLVM 22 CPU has it).
    ("evex512", "avx512f"),
];

/// AVX10 features and the AVX10 version (cpuid leaf 0x24, ebx bits 0-7) each needs. AVX10
/// itself is leaf 7 subleaf 1, edx bit 19.
pub const X86_AVX10_VERSIONS: &[(&str, u32)] = &[("avx10.1", 1), ("avx10.2", 2)];

/// The features of an x86 CPU whose cpuid leaves `cpuid(leaf, subleaf)` returns
/// (`[eax, ebx, ecx, edx]`) and whose XCR0 is `xcr0` (`None` when the OS has not enabled
/// XSAVE, so no extended state is saved).
pub fn x86_features(cpuid: &dyn Fn(u32, u32) -> [u32; 4], xcr0: Option<u64>) -> Vec<&'static str> {
    let max_basic = cpuid(0, 0)[0];
    let max_extended = cpuid(0x8000_0000, 0)[0];
    let leaf7_subleaves = if max_basic >= 7 { cpuid(7, 0)[0] } else { 0 };
    let valid = |leaf: u32, subleaf: u32| {
        if leaf >= 0x8000_0000 {
            leaf <= max_extended
        } else {
            leaf <= max_basic && (leaf != 7 || subleaf <= leaf7_subleaves)
        }
    };
    let leaf1_ecx = cpuid(1, 0)[2];
    let osxsave = leaf1_ecx >> 27 & 1 == 1;
    let xcr0 = if osxsave { xcr0.unwrap_or(0) } else { 0 };
    let avx_state = leaf1_ecx >> 28 & 1 == 1 && xcr0 & 0x6 == 0x6;
    let saved = |state: OsState| match state {
        OsState::None => true,
        OsState::Avx => avx_state,
        OsState::Avx512 => avx_state && xcr0 & 0xe0 == 0xe0,
        OsState::Amx => xcr0 & (0x3 << 17) == 0x3 << 17,
        OsState::Apx => xcr0 & (1 << 19) != 0,
    };
    let mut have: Vec<&'static str> = X86_CPUID_BITS
        .iter()
        .filter(|b| valid(b.leaf, b.subleaf) && saved(b.state))
        .filter(|b| {
            let regs = cpuid(b.leaf, b.subleaf);
            let value = match b.reg {
                Reg::Eax => regs[0],
                Reg::Ebx => regs[1],
                Reg::Ecx => regs[2],
                Reg::Edx => regs[3],
            };
            value >> b.bit & 1 == 1
        })
        .map(|b| b.feature)
        .collect();
    for (feature, from) in X86_DERIVED {
        if have.contains(from) {
            have.push(feature);
        }
    }
    let avx10 = valid(7, 1) && cpuid(7, 1)[3] >> 19 & 1 == 1 && saved(OsState::Avx512);
    let avx10_version = if avx10 && valid(0x24, 0) {
        cpuid(0x24, 0)[1] & 0xff
    } else {
        0
    };
    for (feature, version) in X86_AVX10_VERSIONS {
        if avx10_version >= *version {
            have.push(feature);
        }
    }
    have
}

/// aarch64 features and how the kernel reports them: the feature name of
/// `std::arch::is_aarch64_feature_detected!` (which reads HWCAP and HWCAP2), or a name of
/// [`AARCH64_HWCAP2`] for what std does not detect on stable Rust.
pub const AARCH64_DETECTION: &[(&str, &str)] = &[
    ("neon", "neon"),
    ("fp-armv8", "fp"),
    ("crc", "crc"),
    ("lse", "lse"),
    ("lse2", "lse2"),
    ("rdm", "rdm"),
    ("fullfp16", "fp16"),
    ("dotprod", "dotprod"),
    ("rcpc", "rcpc"),
    ("rcpc-immo", "rcpc2"),
    ("sve", "sve"),
    ("sve2", "sve2"),
    ("sve2-bitperm", "sve2-bitperm"),
    ("aes", "aes"),
    ("sha2", "sha2"),
    ("sha3", "sha3"),
    ("sm4", "sm4"),
    ("fp16fml", "fhm"),
    ("jsconv", "jsconv"),
    ("complxnum", "fcma"),
    ("i8mm", "i8mm"),
    ("bf16", "bf16"),
    ("pauth", "paca"),
    ("fptoint", "frintts"),
    ("cssc", "cssc"),
    ("sme", "sme"),
    ("sme2", "sme2"),
    ("sme-f64f64", "sme-f64f64"),
    ("sme-i16i64", "sme-i16i64"),
    // Added in version 4; the names are the kernel's (/proc/cpuinfo), read from HWCAP2.
    ("faminmax", "faminmax"),
    ("hbc", "hbc"),
    ("mops", "mops"),
    ("rcpc3", "lrcpc3"),
    ("sme-b16b16", "smeb16b16"),
    ("sme-f16f16", "smef16f16"),
    ("sme2p1", "sme2p1"),
    ("sve-aes", "sveaes"),
    ("sve-b16b16", "sveb16b16"),
    ("sve-bitperm", "svebitperm"),
    ("sve-sha3", "svesha3"),
    ("sve-sm4", "svesm4"),
];

/// The detection names of [`AARCH64_DETECTION`] that std cannot detect (on stable Rust) and the
/// bits of the kernel's AT_HWCAP2 word they need, all of them (Linux,
/// arch/arm64/include/uapi/asm/hwcap.h).
pub const AARCH64_HWCAP2: &[(&str, u64)] = &[
    ("sveaes", HWCAP2_SVEAES | HWCAP2_SVEPMULL),
    ("svebitperm", 1 << 4),
    ("svesha3", 1 << 5),
    ("svesm4", 1 << 6),
    ("sme", 1 << 23),
    ("sme-i16i64", 1 << 24),
    ("sme-f64f64", 1 << 25),
    ("cssc", 1 << 34),
    ("sme2", 1 << 37),
    ("sme2p1", 1 << 38),
    ("smeb16b16", 1 << 41),
    ("smef16f16", 1 << 42),
    ("mops", 1 << 43),
    ("hbc", 1 << 44),
    ("sveb16b16", 1 << 45),
    ("lrcpc3", 1 << 46),
    ("faminmax", 1 << 50),
];

// LLVM's sve-aes also has the quadword polynomial multiply, which the kernel reports apart.
const HWCAP2_SVEAES: u64 = 1 << 2;
const HWCAP2_SVEPMULL: u64 = 1 << 3;

/// Whether a kernel whose AT_HWCAP2 word is `hwcap2` reports `name` (a detection name of
/// [`AARCH64_HWCAP2`]); `None` for a name std detects instead.
pub fn aarch64_hwcap2_has(name: &str, hwcap2: u64) -> Option<bool> {
    AARCH64_HWCAP2
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bits)| hwcap2 & bits == *bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake CPU: the given (leaf, subleaf) -> registers, zero elsewhere.
    fn cpu(leaves: &[((u32, u32), [u32; 4])]) -> impl Fn(u32, u32) -> [u32; 4] {
        let map: HashMap<(u32, u32), [u32; 4]> = leaves.iter().copied().collect();
        move |leaf, subleaf| map.get(&(leaf, subleaf)).copied().unwrap_or([0; 4])
    }

    /// A Sapphire Rapids-like CPU: SSE..AVX2, AVX-512, AVX512-FP16 and AMX (from Intel's
    /// cpuid documentation, bit by bit).
    fn sapphire_rapids() -> impl Fn(u32, u32) -> [u32; 4] {
        let leaf1_ecx = (1 << 0)
            | (1 << 1)
            | (1 << 9)
            | (1 << 12)
            | (1 << 13)
            | (1 << 19)
            | (1 << 20)
            | (1 << 22)
            | (1 << 23)
            | (1 << 25)
            | (1 << 26)
            | (1 << 27)
            | (1 << 28)
            | (1 << 29)
            | (1 << 30);
        let leaf1_edx =
            (1 << 0) | (1 << 8) | (1 << 15) | (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26);
        let leaf7_ebx = (1 << 3)
            | (1 << 5)
            | (1 << 8)
            | (1 << 16)
            | (1 << 17)
            | (1 << 28)
            | (1 << 30)
            | (1u32 << 31);
        let leaf7_edx = (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25);
        cpu(&[
            ((0, 0), [0x20, 0, 0, 0]),
            ((1, 0), [0, 0, leaf1_ecx, leaf1_edx]),
            ((7, 0), [1, leaf7_ebx, 0, leaf7_edx]),
            ((7, 1), [1 << 5, 0, 0, 0]),
            ((0x8000_0000, 0), [0x8000_0008, 0, 0, 0]),
            ((0x8000_0001, 0), [0, 0, 1 | (1 << 5), 1 << 29]),
        ])
    }

    #[test]
    fn features_need_their_bit_and_the_state_the_os_saves() {
        let all_state = Some(0x6 | 0xe0 | (0x3 << 17));
        let f = x86_features(&sapphire_rapids(), all_state);
        for want in [
            "sse4.2",
            "crc32",
            "avx2",
            "fma",
            "avx512f",
            "evex512",
            "avx512fp16",
            "avx512bf16",
            "amx-tile",
            "amx-int8",
            "amx-bf16",
            "sahf",
            "lzcnt",
            "64bit",
        ] {
            assert!(f.contains(&want), "{want} missing from {f:?}");
        }
        assert!(!f.contains(&"avx512vnni") && !f.contains(&"fma4"));
        // An OS that saves YMM but not ZMM or tiles: no AVX-512, no AMX, AVX2 stays.
        let f = x86_features(&sapphire_rapids(), Some(0x7));
        assert!(f.contains(&"avx2") && !f.contains(&"avx512f") && !f.contains(&"evex512"));
        assert!(!f.contains(&"avx512fp16") && !f.contains(&"amx-tile"));
        // No XSAVE enabled by the OS: no AVX at all.
        let f = x86_features(&sapphire_rapids(), None);
        assert!(!f.contains(&"avx") && !f.contains(&"fma") && f.contains(&"sse4.2"));
    }

    #[test]
    fn leaves_past_the_maximum_are_not_read() {
        // The same CPU claiming only leaf 1: leaf 7 bits do not count.
        let base = sapphire_rapids();
        let limited = move |leaf: u32, sub: u32| {
            if leaf == 0 {
                [1, 0, 0, 0]
            } else {
                base(leaf, sub)
            }
        };
        let f = x86_features(&limited, Some(0xe7));
        assert!(f.contains(&"avx") && !f.contains(&"avx2") && !f.contains(&"avx512f"));
        // Subleaf 1 of leaf 7 needs leaf 7's eax >= 1.
        let base = sapphire_rapids();
        let no_subleaf = move |leaf: u32, sub: u32| {
            let mut r = base(leaf, sub);
            if (leaf, sub) == (7, 0) {
                r[0] = 0;
            }
            r
        };
        assert!(!x86_features(&no_subleaf, Some(0xe7)).contains(&"avx512bf16"));
    }

    /// A Diamond Rapids-like CPU on top of the Sapphire Rapids one: APX-F, AVX10 (of version
    /// `avx10_version`), MOVRS and the AMX extensions of leaf 0x1e (Intel's APX and AVX10
    /// architecture specifications and ISA extensions reference, bit by bit).
    fn diamond_rapids(avx10_version: u32) -> impl Fn(u32, u32) -> [u32; 4] {
        let base = sapphire_rapids();
        move |leaf, subleaf| match (leaf, subleaf) {
            (0, 0) => [0x24, 0, 0, 0],
            (7, 1) => {
                let r = base(7, 1);
                [r[0] | 1 << 31, r[1], r[2], r[3] | 1 << 19 | 1 << 21]
            }
            (0x1e, 1) => [1 << 4 | 1 << 6 | 1 << 7 | 1 << 8, 0, 0, 0],
            (0x24, 0) => [0, avx10_version, 0, 0],
            _ => base(leaf, subleaf),
        }
    }

    const APX: &[&str] = &["egpr", "push2pop2", "ppx", "ndd", "ccmp", "nf", "cf", "zu"];
    const AMX_LEAF_1E: &[&str] = &["amx-fp8", "amx-tf32", "amx-avx512", "amx-movrs"];

    #[test]
    fn apx_needs_its_xcr0_bit() {
        let without_apx_state = 0x6 | 0xe0 | (0x3 << 17);
        let f = x86_features(&diamond_rapids(2), Some(without_apx_state | 1 << 19));
        for want in APX.iter().chain(&["movrs"]) {
            assert!(f.contains(want), "{want} missing from {f:?}");
        }
        let f = x86_features(&diamond_rapids(2), Some(without_apx_state));
        assert!(APX.iter().all(|a| !f.contains(a)), "{f:?}");
        // MOVRS needs no saved state.
        assert!(f.contains(&"movrs") && f.contains(&"avx512f"));
    }

    #[test]
    fn amx_extensions_of_leaf_1e_need_the_tile_state() {
        let all = 0x6 | 0xe0 | (0x3 << 17) | 1 << 19;
        let f = x86_features(&diamond_rapids(2), Some(all));
        for want in AMX_LEAF_1E {
            assert!(f.contains(want), "{want} missing from {f:?}");
        }
        let f = x86_features(&diamond_rapids(2), Some(all & !(0x3 << 17)));
        assert!(AMX_LEAF_1E.iter().all(|a| !f.contains(a)), "{f:?}");
        // A CPU whose maximum leaf stops before 0x1e: its (garbage) leaf 0x1e does not count.
        let base = diamond_rapids(2);
        let short = move |leaf: u32, sub: u32| {
            if leaf == 0 {
                [0x1d, 0, 0, 0]
            } else {
                base(leaf, sub)
            }
        };
        let f = x86_features(&short, Some(all));
        assert!(AMX_LEAF_1E.iter().all(|a| !f.contains(a)), "{f:?}");
    }

    #[test]
    fn avx10_features_follow_the_version_of_leaf_24() {
        let all = Some(0x6 | 0xe0 | (0x3 << 17) | 1 << 19);
        let avx10 = |version, xcr0| {
            let f = x86_features(&diamond_rapids(version), xcr0);
            (f.contains(&"avx10.1"), f.contains(&"avx10.2"))
        };
        assert_eq!(avx10(0, all), (false, false));
        assert_eq!(avx10(1, all), (true, false));
        assert_eq!(avx10(2, all), (true, true));
        // A later version has the earlier ones; bits 8 and up of ebx are not the version.
        assert_eq!(avx10(3 | 0x700, all), (true, true));
        // Without the OS saving ZMM and opmask state AVX10 instructions fault: stricter than
        // LLVM, which does not check.
        assert_eq!(avx10(2, Some(0x7)), (false, false));
        // No AVX10 bit in leaf 7: the version leaf is not read.
        let base = diamond_rapids(2);
        let no_bit = move |leaf: u32, sub: u32| {
            let mut r = base(leaf, sub);
            if (leaf, sub) == (7, 1) {
                r[3] &= !(1 << 19);
            }
            r
        };
        let f = x86_features(&no_bit, all);
        assert!(!f.contains(&"avx10.1") && f.contains(&"egpr"), "{f:?}");
    }

    #[test]
    fn aarch64_hwcap2_words() {
        // Graviton4-like: SVE2 with AES, PMULL, BITPERM, SHA3 and SM4 (bits 1-6).
        let graviton4 = 0x7e;
        assert_eq!(aarch64_hwcap2_has("sveaes", graviton4), Some(true));
        assert_eq!(aarch64_hwcap2_has("svebitperm", graviton4), Some(true));
        assert_eq!(aarch64_hwcap2_has("mops", graviton4), Some(false));
        // AES without the quadword PMULL is not LLVM's sve-aes.
        assert_eq!(aarch64_hwcap2_has("sveaes", 1 << 2), Some(false));
        assert_eq!(aarch64_hwcap2_has("mops", 1 << 43), Some(true));
        assert_eq!(aarch64_hwcap2_has("lrcpc3", 1 << 46), Some(true));
        assert_eq!(aarch64_hwcap2_has("faminmax", 1 << 49), Some(false)); // that is LUT
                                                                          // Names std detects are not answered here.
        assert_eq!(aarch64_hwcap2_has("sve2", u64::MAX), None);
        for (name, _) in AARCH64_HWCAP2 {
            assert!(
                AARCH64_DETECTION.iter().any(|(_, kernel)| kernel == name),
                "{name} detects no feature"
            );
        }
    }

    #[test]
    fn every_feature_is_detected_once() {
        let mut names: Vec<&str> = X86_CPUID_BITS.iter().map(|b| b.feature).collect();
        names.extend(X86_DERIVED.iter().map(|(f, _)| *f));
        names.extend(X86_AVX10_VERSIONS.iter().map(|(f, _)| *f));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a feature has two detection rules");
    }
}
