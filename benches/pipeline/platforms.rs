//! The target platforms aotlink builds images for: the library's one table
//! ([`aotlink::target::SUPPORTED_TARGETS`]), with what the multiversion, size and cross
//! sections ask of an entry.

use anyhow::{Context as _, Result};
use aotlink::target::{Platform, SupportedTarget, Triple, SUPPORTED_TARGETS};

/// What the sections ask of a table entry.
pub trait TargetFacts {
    fn parsed(&self) -> Triple;
    fn is_host(&self) -> bool;
    fn platform(&self) -> Platform;
}

impl TargetFacts for SupportedTarget {
    fn parsed(&self) -> Triple {
        Triple::parse(self.triple).expect("the table's triples are supported")
    }

    fn is_host(&self) -> bool {
        self.parsed() == Triple::host()
    }

    fn platform(&self) -> Platform {
        Platform::for_triple(&self.parsed())
    }
}

pub fn host_target() -> Result<&'static SupportedTarget> {
    SUPPORTED_TARGETS
        .iter()
        .find(|t| t.is_host())
        .context("this host is none of the benchmark's target platforms")
}

/// The image file name for `stem` on `platform` (`kernels.so`, `kernels.dylib`, ...).
pub fn image_name(stem: &str, platform: &Platform) -> String {
    format!("{stem}{}", platform.image_suffix)
}
