//! Running LLVM's pass pipelines over a module, and the target machine settings the C API
//! lacks.

use std::ffi::CStr;

use inkwell::module::Module;
use inkwell::targets::TargetMachine;

use super::shim::{aotlink_shim_o2_pipeline, aotlink_shim_use_init_array, take_shim_string};

/// Runs a new-pass-manager pipeline (`opt -passes=...` syntax) over `module`.
///
/// Takes the module exclusively: passes delete globals and instructions, so no [`Global`]
/// handle into it may live across the call.
///
/// [`Global`]: super::Global
pub fn run_passes(
    module: &mut Module,
    passes: &str,
    machine: Option<&TargetMachine>,
) -> Result<(), String> {
    use llvm_sys::transforms::pass_builder::*;
    let passes = std::ffi::CString::new(passes).expect("pass names have no NUL");
    // SAFETY: the module and the target machine are live LLVM objects the caller owns; the
    // options are created and disposed here, and an error message is read and disposed once.
    unsafe {
        let options = LLVMCreatePassBuilderOptions();
        let tm = machine.map_or(std::ptr::null_mut(), |m| m.as_mut_ptr());
        let error = LLVMRunPasses(module.as_mut_ptr(), passes.as_ptr(), tm, options);
        LLVMDisposePassBuilderOptions(options);
        if error.is_null() {
            Ok(())
        } else {
            let message = llvm_sys::error::LLVMGetErrorMessage(error);
            let text = CStr::from_ptr(message).to_string_lossy().into_owned();
            llvm_sys::error::LLVMDisposeErrorMessage(message);
            Err(text)
        }
    }
}

/// LLVM's `-O2` module pipeline cut where vectorization begins: what comes before depends on
/// the target only through cost thresholds (inlining, full unrolling), what comes after
/// (loop and SLP vectorization, runtime unrolling, the clean-up behind them) is the part a
/// version for another CPU must redo.
pub struct O2Pipeline {
    pub before_vectorization: String,
    pub from_vectorization: String,
}

impl O2Pipeline {
    /// The pipeline as LLVM builds it for `machine` (clang's -O2 tuning), split in two.
    pub fn for_machine(machine: &TargetMachine) -> Result<O2Pipeline, String> {
        // SAFETY: the machine is live for the call, and the shim hands over a string it
        // allocated, which take_shim_string frees.
        let text = unsafe { take_shim_string(aotlink_shim_o2_pipeline(machine.as_mut_ptr())) }
            .ok_or("the shim printed no pipeline")?;
        Self::split(&text)
    }

    /// Splits a pipeline text before its first top-level element that runs `loop-vectorize`.
    fn split(text: &str) -> Result<O2Pipeline, String> {
        let elements = top_level_elements(text);
        let cut = (elements.iter())
            .position(|e| {
                e.split(['(', ',', ')'])
                    .any(|p| p.starts_with("loop-vectorize"))
            })
            .filter(|&cut| cut > 0)
            .ok_or_else(|| {
                format!("LLVM's -O2 pipeline has no loop vectorizer to split at: {text}")
            })?;
        Ok(O2Pipeline {
            before_vectorization: elements[..cut].join(","),
            from_vectorization: elements[cut..].join(","),
        })
    }
}

/// The comma-separated elements of a pipeline text, commas inside `(...)` and `<...>` kept.
fn top_level_elements(text: &str) -> Vec<&str> {
    let (mut elements, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                elements.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    elements.push(&text[start..]);
    elements
}

/// Makes ELF code put constructors in `.init_array` (what the dynamic loader runs), as clang
/// does, instead of LLVM's default `.ctors`, which only crtbegin.o runs, and an image linked
/// by LLD has none. No effect on COFF or Mach-O.
pub fn use_init_array(machine: &TargetMachine) {
    // SAFETY: the machine is live for the call; the shim sets one field of its options.
    unsafe { aotlink_shim_use_init_array(machine.as_mut_ptr()) };
}

/// The version of the LLVM aotlink is linked with ("19.1.7"): part of every shard cache key,
/// since another LLVM may emit other code from the same IR.
pub fn version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVM writes three integers through the pointers it is given.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::CpuTarget;

    #[test]
    fn a_pipeline_splits_at_its_first_top_level_element_that_vectorizes_loops() {
        let text = "a,function<x;y>(b,c<p,q>),cgscc(d(e,f)),function(g,loop-vectorize<z>,h),i";
        let split = O2Pipeline::split(text).unwrap();
        assert_eq!(
            split.before_vectorization,
            "a,function<x;y>(b,c<p,q>),cgscc(d(e,f))"
        );
        assert_eq!(
            split.from_vectorization,
            "function(g,loop-vectorize<z>,h),i"
        );
        assert!(O2Pipeline::split("a,b(c)").is_err());
        assert!(O2Pipeline::split("loop-vectorize,b").is_err());
    }

    #[test]
    fn llvm_o2_pipeline_inlines_before_and_vectorizes_after_the_cut() {
        crate::dump::init_llvm_targets();
        let cpu = CpuTarget::parse_list("generic").unwrap().remove(0);
        let machine = crate::dump::target_machine("x86_64-unknown-linux-gnu", &cpu).unwrap();
        let pipeline = O2Pipeline::for_machine(&machine).unwrap();
        let passes = |text: &str| -> Vec<String> {
            (text.split(['(', ',', ')']))
                .map(|p| p.split('<').next().unwrap().to_string())
                .collect()
        };
        let (before, after) = (
            passes(&pipeline.before_vectorization),
            passes(&pipeline.from_vectorization),
        );
        for pass in ["inline", "sroa", "gvn", "loop-unroll-full"] {
            assert!(before.iter().any(|p| p == pass), "{pass} before the cut");
        }
        for pass in ["loop-vectorize", "slp-vectorizer", "loop-unroll"] {
            assert!(after.iter().any(|p| p == pass), "{pass} after the cut");
            assert!(
                !before.iter().any(|p| p == pass),
                "{pass} not before the cut"
            );
        }
        assert!(
            !after.iter().any(|p| p == "inline"),
            "no inlining after the cut"
        );
    }
}
