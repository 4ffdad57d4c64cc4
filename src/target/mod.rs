//! What an image is built for: the triple and OS ([`Triple`], [`Platform`]) and the CPU
//! targets of multiversioning ([`CpuTarget`]).

mod cpu;
mod platform;
mod supported;
mod triple;

pub use cpu::{features_beyond_cpu, CpuTarget, CpuTargetError, ResolvedTarget};
pub use platform::{
    vendor_file, CRuntime, Crt, CrtLibrary, LinkedWhen, LldFlavor, Platform, SystemLibraryKind,
};
pub use supported::{supported_target, SupportedTarget, SUPPORTED_TARGETS};
pub use triple::{Arch, Os, Triple, TripleError};
