//! What LLVM knows about CPUs: which features a CPU name plus feature changes implies, which
//! CPUs and features exist (MCSubtargetInfo, through the shim).

use std::ffi::c_char;

#[cfg(test)]
use super::shim::{aotlink_shim_cpu_names, aotlink_shim_feature_known};
use super::shim::{aotlink_shim_isa_features, aotlink_shim_resolve_cpu, c_name, take_shim_string};

/// Why LLVM could not resolve a CPU.
#[derive(Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// LLVM has no target for the triple (LLVM's message).
    NoTarget(String),
    /// The CPU name is not one LLVM knows for the triple.
    UnknownCpu,
}

/// For each of `names`, whether `cpu` with `features` ("+a,-b") enables it on `triple`.
pub fn resolve_cpu(
    triple: &str,
    cpu: &str,
    features: &str,
    names: &[&str],
) -> Result<Vec<bool>, ResolveError> {
    let (ctriple, ccpu, cfeatures) = (c_name(triple), c_name(cpu), c_name(features));
    let cnames: Vec<_> = names.iter().map(|n| c_name(n)).collect();
    let pointers: Vec<*const c_char> = cnames.iter().map(|n| n.as_ptr()).collect();
    let mut enabled = vec![0u8; names.len()];
    let mut error = std::ptr::null_mut();
    // SAFETY: valid C strings and `names.len()` pointers to them, alive for the call; the shim
    // writes `names.len()` bytes into `enabled` and, on status 1, a string it allocated into
    // `error`.
    let status = unsafe {
        aotlink_shim_resolve_cpu(
            ctriple.as_ptr(),
            ccpu.as_ptr(),
            cfeatures.as_ptr(),
            pointers.as_ptr(),
            pointers.len(),
            enabled.as_mut_ptr(),
            &mut error,
        )
    };
    match status {
        0 => Ok(enabled.into_iter().map(|e| e != 0).collect()),
        // SAFETY: on status 1 the shim stored a message it allocated in `error`.
        1 => Err(ResolveError::NoTarget(
            unsafe { take_shim_string(error) }.unwrap_or_default(),
        )),
        _ => Err(ResolveError::UnknownCpu),
    }
}

/// Takes a comma-separated list the shim allocated.
///
/// # Safety
/// `p` is what a shim function returning an allocated list just returned.
unsafe fn shim_list(p: *mut c_char) -> Option<Vec<String>> {
    // SAFETY: by the contract, null or a string the shim allocated, freed here.
    let text = unsafe { take_shim_string(p) }?;
    Some(
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Every CPU name LLVM knows for `triple` (empty when it has no target for it).
#[cfg(test)]
pub fn cpu_names(triple: &str) -> Vec<String> {
    let t = c_name(triple);
    // SAFETY: a valid C string in; the shim returns an allocated list or NULL.
    unsafe { shim_list(aotlink_shim_cpu_names(t.as_ptr())) }.unwrap_or_default()
}

/// The instruction-set features LLVM enables for `cpu` with `features` (no tuning
/// features); `None` for an unknown CPU or triple.
pub fn isa_features(triple: &str, cpu: &str, features: &str) -> Option<Vec<String>> {
    let (t, p, f) = (c_name(triple), c_name(cpu), c_name(features));
    // SAFETY: valid C strings in; the shim returns an allocated list or NULL.
    unsafe {
        shim_list(aotlink_shim_isa_features(
            t.as_ptr(),
            p.as_ptr(),
            f.as_ptr(),
        ))
    }
}

/// Whether LLVM knows `name` as a feature of `triple`. LLVM prints a warning for unknown
/// names: for checking aotload's feature lists in tests.
#[cfg(test)]
pub fn feature_known(triple: &str, name: &str) -> bool {
    let (t, n) = (c_name(triple), c_name(name));
    // SAFETY: valid C strings in, an int out.
    unsafe { aotlink_shim_feature_known(t.as_ptr(), n.as_ptr()) != 0 }
}
