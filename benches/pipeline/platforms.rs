//! The target platforms aotlink builds images for, as aotlink, clang and the generated IR spell
//! them (the multiversion, size and cross sections).

use anyhow::{Context as _, Result};
use aotlink::target::{Platform, Triple};

use crate::ir::DATALAYOUT;

/// A target platform, as aotlink, clang and the generated IR spell it.
pub struct PlatformTarget {
    pub aotlink: &'static str,
    pub clang: &'static str,
    pub llvm: &'static str,
    pub datalayout: &'static str,
}

/// Every platform aotlink builds images for; the host (x86_64 Linux) first.
pub const PLATFORM_TARGETS: &[PlatformTarget] = &[
    PlatformTarget {
        aotlink: "x86_64-unknown-linux-gnu",
        clang: "x86_64-linux-gnu",
        llvm: "x86_64-unknown-linux-gnu",
        datalayout: DATALAYOUT,
    },
    PlatformTarget {
        aotlink: "aarch64-unknown-linux-gnu",
        clang: "aarch64-linux-gnu",
        llvm: "aarch64-unknown-linux-gnu",
        datalayout: "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128",
    },
    PlatformTarget {
        aotlink: "x86_64-apple-macosx11.0",
        clang: "x86_64-apple-macos11",
        llvm: "x86_64-apple-macosx11.0.0",
        datalayout: "e-m:o-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128",
    },
    PlatformTarget {
        aotlink: "arm64-apple-macosx11.0",
        clang: "arm64-apple-macos11",
        llvm: "arm64-apple-macosx11.0.0",
        datalayout: "e-m:o-i64:64-i128:128-n32:64-S128",
    },
    PlatformTarget {
        aotlink: "x86_64-pc-windows-gnu",
        clang: "x86_64-w64-mingw32",
        llvm: "x86_64-w64-windows-gnu",
        datalayout: "e-m:w-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128",
    },
];

impl PlatformTarget {
    pub fn triple(&self) -> Triple {
        Triple::parse(self.aotlink).expect("the benchmark's triples are supported")
    }

    pub fn is_host(&self) -> bool {
        self.triple() == Triple::host()
    }

    pub fn platform(&self) -> Platform {
        Platform::for_triple(&self.triple())
    }
}

pub fn host_target() -> Result<&'static PlatformTarget> {
    PLATFORM_TARGETS
        .iter()
        .find(|t| t.is_host())
        .context("this host is none of the benchmark's target platforms")
}

/// The image file name for `stem` on `platform` (`kernels.so`, `kernels.dylib`, ...).
pub fn image_name(stem: &str, platform: &Platform) -> String {
    format!("{stem}{}", platform.image_suffix)
}
