//! Host detection: which CPU this process runs on, as a name and a feature bitmask over the
//! versioned feature list, computed without LLVM.
//!
//! This folder owns the feature list that target masks index (`features.rs`, with the reading
//! of cpuid / HWCAP), the pure tables that turn raw cpuid values or HWCAP words into feature
//! names (`feature_bits.rs`), what macOS does differently (`darwin.rs`), LLVM's name for the host CPU (`cpu_names.rs`) and the
//! [`HostCpu`] value they make (`host_cpu.rs`). It reads only
//! the CPU and the kernel's feature words; it may not touch image files, the dynamic loader or
//! the choice of target (`select.rs` takes a [`HostCpu`] from here).

pub mod cpu_names;
// Used only when built for macOS; its rules are unit-tested everywhere.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
mod darwin;
pub mod feature_bits;
pub mod features;
mod host_cpu;

pub use host_cpu::HostCpu;

impl HostCpu {
    /// The CPU this process runs on, detected once per process (cpuid traps to the
    /// hypervisor in a VM, and the answer does not change).
    pub fn detect() -> HostCpu {
        static HOST: std::sync::OnceLock<HostCpu> = std::sync::OnceLock::new();
        HOST.get_or_init(features::detect_host).clone()
    }
}
