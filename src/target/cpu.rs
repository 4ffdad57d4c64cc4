//! CPU targets of an image.

/// One CPU target: an LLVM CPU name plus feature changes and flags (`aotload::meta::TARGET_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuTarget {
    pub cpu: String,
    /// `+feat` / `-feat` as LLVM spells them.
    pub features: Vec<String>,
    pub flags: u32,
    pub base: u32,
}

impl CpuTarget {
    /// The baseline CPU of an architecture, with no extra features.
    pub fn generic() -> CpuTarget {
        CpuTarget {
            cpu: "generic".into(),
            features: Vec::new(),
            flags: 0,
            base: 0,
        }
    }

    /// The feature string LLVM takes (`+avx2,-rdrnd`).
    pub fn llvm_features(&self) -> String {
        self.features.join(",")
    }
}
