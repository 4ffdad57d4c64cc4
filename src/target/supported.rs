//! The one table of the targets aotlink builds images for, in each spelling a user meets:
//! aotlink's `--target`, clang's `--target`, the triple LLVM writes into IR, and that IR's data
//! layout. The command line's error messages, the tests and the benchmark all read it.

/// One supported target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedTarget {
    /// As `aotlink --target` takes it and reports it ([`super::Triple`]'s display).
    pub triple: &'static str,
    /// As `clang --target` takes it, with the GNU toolchain's spelling where there is one.
    pub clang: &'static str,
    /// As LLVM 22 writes it in IR compiled for it.
    pub llvm: &'static str,
    /// The `target datalayout` of IR compiled for it.
    pub datalayout: &'static str,
}

/// Every target aotlink builds images for; x86_64 Linux first.
pub const SUPPORTED_TARGETS: &[SupportedTarget] = &[
    SupportedTarget {
        triple: "x86_64-unknown-linux-gnu",
        clang: "x86_64-linux-gnu",
        llvm: "x86_64-unknown-linux-gnu",
        datalayout:
            "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128",
    },
    SupportedTarget {
        triple: "aarch64-unknown-linux-gnu",
        clang: "aarch64-linux-gnu",
        llvm: "aarch64-unknown-linux-gnu",
        datalayout:
            "e-m:e-p270:32:32-p271:32:32-p272:64:64-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128-Fn32",
    },
    SupportedTarget {
        triple: "x86_64-apple-macosx11.0",
        clang: "x86_64-apple-macos11",
        llvm: "x86_64-apple-macosx11.0.0",
        datalayout:
            "e-m:o-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128",
    },
    SupportedTarget {
        triple: "arm64-apple-macosx11.0",
        clang: "arm64-apple-macos11",
        llvm: "arm64-apple-macosx11.0.0",
        datalayout:
            "e-m:o-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-n32:64-S128-Fn32",
    },
    SupportedTarget {
        triple: "x86_64-pc-windows-gnu",
        clang: "x86_64-w64-mingw32",
        llvm: "x86_64-w64-windows-gnu",
        datalayout:
            "e-m:w-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128",
    },
];

/// The entry whose aotlink triple is `triple` (as `aotlink --target` spells it).
pub fn supported_target(triple: &str) -> Option<&'static SupportedTarget> {
    SUPPORTED_TARGETS.iter().find(|t| t.triple == triple)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Triple;

    /// Every spelling names the same target, and aotlink displays it as the table says.
    #[test]
    fn every_spelling_parses_to_the_entry() {
        for t in SUPPORTED_TARGETS {
            let triple = Triple::parse(t.triple).unwrap();
            assert_eq!(triple.to_string(), t.triple);
            assert_eq!(Triple::parse(t.clang).unwrap(), triple, "{}", t.clang);
            assert_eq!(Triple::parse(t.llvm).unwrap(), triple, "{}", t.llvm);
        }
    }

    /// The data layouts are LLVM 22's own for each triple.
    #[test]
    fn the_datalayouts_are_llvms() {
        crate::dump::init_llvm_targets();
        for t in SUPPORTED_TARGETS {
            let target = inkwell::targets::TargetTriple::create(t.llvm);
            let machine = inkwell::targets::Target::from_triple(&target)
                .unwrap()
                .create_target_machine(
                    &target,
                    "generic",
                    "",
                    inkwell::OptimizationLevel::Default,
                    inkwell::targets::RelocMode::PIC,
                    inkwell::targets::CodeModel::Default,
                )
                .unwrap();
            let layout = machine.get_target_data().get_data_layout();
            assert_eq!(
                layout.as_str().to_str().unwrap(),
                t.datalayout,
                "{}",
                t.llvm
            );
        }
    }
}
