//! What a macOS host reports differently, for host detection.
//!
//! x86_64: macOS saves a thread's AVX-512 state (opmask, ZMM) lazily. XCR0 leaves bits 5-7
//! clear until the thread first uses AVX-512 (the kernel takes the fault, enables the state
//! and resumes), so an AVX-512 Mac (iMac Pro, Mac Pro 2019) reads like an AVX2 one from XCR0,
//! and an image's x86-64-v4 version (macOS's default targets have one) would never run there.
//! LLVM's host detection trusts Darwin the same way (`HasAVX512Save = true` under
//! `__APPLE__` in `lib/TargetParser/Host.cpp`).
//!
//! arm64: std reads the features from sysctl (`hw.optional.arm.FEAT_*`); the features of
//! macOS's default targets (apple-m1, apple-m2: CRC, LSE, LSE2, RCPC2, FP16, dot product,
//! SHA3, PAuth, FRINTTS, I8MM, BF16, ...) are all among them. What the loader reads from
//! Linux's AT_HWCAP2 instead (SME, CSSC, MOPS, ...) reads as absent on macOS: a target that
//! needs them is not chosen there.

/// XCR0's AVX state (XMM and YMM, bits 1-2) and AVX-512 state (opmask, ZMM, bits 5-7).
const AVX_STATE: u64 = 0x6;
const AVX512_STATE: u64 = 0xe0;

/// XCR0 as detection should read it on macOS: with the AVX-512 state, which the OS saves on
/// first use, whenever the AVX state is enabled.
pub fn darwin_xcr0(xcr0: u64) -> u64 {
    if xcr0 & AVX_STATE == AVX_STATE {
        xcr0 | AVX512_STATE
    } else {
        xcr0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::feature_bits::x86_features;

    /// A CPU with AVX-512F whose OS has enabled XCR0's x87, SSE and AVX state only, as macOS
    /// before a thread's first AVX-512 instruction.
    #[test]
    fn an_avx512_mac_has_avx512_before_its_first_use() {
        let cpuid = |leaf: u32, subleaf: u32| -> [u32; 4] {
            match (leaf, subleaf) {
                (0, _) => [7, 0, 0, 0],
                // SSE, SSE2 (edx 25, 26); OSXSAVE (ecx 27), AVX (ecx 28).
                (1, _) => [0, 0, 1 << 27 | 1 << 28, 1 << 25 | 1 << 26],
                // AVX-512F (ebx 16).
                (7, 0) => [0, 1 << 16, 0, 0],
                _ => [0; 4],
            }
        };
        let xcr0 = 0x7;
        assert!(!x86_features(&cpuid, Some(xcr0)).contains(&"avx512f"));
        let darwin = x86_features(&cpuid, Some(darwin_xcr0(xcr0)));
        assert!(
            darwin.contains(&"avx512f") && darwin.contains(&"avx"),
            "{darwin:?}"
        );
        // Without the AVX state enabled, nothing is assumed.
        assert_eq!(darwin_xcr0(0x3), 0x3);
    }
}
