//! The host CPU as target choice sees it: a name and a feature bitmask over the versioned list.
//! Detecting it is `features.rs`' (the reading) and `mod.rs`' (once per process).

/// The CPU the loader picks a target for: its name and feature bitmask over the versioned list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostCpu {
    pub name: String,
    pub features: Vec<u64>,
}

impl HostCpu {
    /// Whether the host has every feature of `required` (a mask over the same list).
    pub fn has_all(&self, required: &[u64]) -> bool {
        required.iter().enumerate().all(|(i, &want)| {
            let have = self.features.get(i).copied().unwrap_or(0);
            want & !have == 0
        })
    }
}
