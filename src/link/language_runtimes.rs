//! Which language runtimes an image's code calls into: the C++ runtime (libstdc++) and the
//! unwinder (libgcc_s: Rust's panics, C++ exceptions, C's `cleanup` under `-fexceptions`).
//! The image then links against them, as `g++` or rustc link a library, and loads into any
//! process (LLD gets the platform's stand-ins, a C driver `-lstdc++`). Without those dependencies such an image loaded only where something had already
//! brought them in (aotlink itself, a Rust test, through LLVM); a C program's or Python's
//! dlopen of it failed on the first `std::` or `_Unwind_` symbol. Told from the symbols the
//! archive's objects use and none defines: names of libstdc++ and libsupc++ are the Itanium
//! ABI's (`std::` and `__cxxabiv1::`, `operator new`, `__cxa_throw`), which no C or Rust
//! symbol takes (Rust's `std` is `_ZN3std`); the unwinder's are `_Unwind_*`.

use std::path::Path;

use super::archive_info::archive_symbols;
use super::job::LinkError;

/// The language runtimes an archive's objects call into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimesUsed {
    pub cxx: bool,
    pub unwinder: bool,
}

/// The runtimes whose symbols the objects of `archive` use and none of them defines.
pub fn runtimes_used(archive: &Path) -> Result<RuntimesUsed, LinkError> {
    let (_, undefined) = archive_symbols(archive, |n| {
        is_unwinder_symbol(n) || is_cxx_runtime_symbol(n)
    })?;
    Ok(RuntimesUsed {
        cxx: undefined.iter().any(|n| is_cxx_runtime_symbol(n)),
        unwinder: undefined.iter().any(|n| is_unwinder_symbol(n)),
    })
}

/// A symbol of the unwinder's interface (the Itanium ABI's level 1: `_Unwind_Resume`, ...),
/// or C's personality routine (`-fexceptions`), which libgcc_s has too.
fn is_unwinder_symbol(name: &str) -> bool {
    name.starts_with("_Unwind_") || name == "__gcc_personality_v0"
}

/// A symbol libstdc++ or libsupc++ defines, by its (mangled) name.
fn is_cxx_runtime_symbol(name: &str) -> bool {
    if name == "__gxx_personality_v0" || name == "__dynamic_cast" {
        return true;
    }
    // The C library has these three (static destructors, C++ or not).
    if let Some(rest) = name.strip_prefix("__cxa_") {
        return !["atexit", "finalize", "thread_atexit_impl"].contains(&rest);
    }
    let Some(mangled) = name.strip_prefix("_Z") else {
        return false;
    };
    // operator new, new[], delete, delete[]
    if ["nw", "na", "dl", "da"]
        .iter()
        .any(|p| mangled.starts_with(p))
    {
        return true;
    }
    // The type info, its name, the vtable or VTT of a standard type or of a built-in one
    // (`_ZTIl`: `throw 1L`).
    if let Some(of) = ["TI", "TS", "TV", "TT"]
        .iter()
        .find_map(|p| mangled.strip_prefix(p))
    {
        return of.starts_with(|c: char| c.is_ascii_lowercase() || c == 'P' || c == 'K')
            || in_runtime_namespace(of);
    }
    in_runtime_namespace(mangled)
}

/// Whether a mangled name (after `_Z`) is in `std::` (`St`, or an abbreviation of a standard
/// class: `Ss` string, `So` ostream, ...), `__gnu_cxx::` or `__cxxabiv1::`. libc++'s
/// `std::__1::` is another library.
fn in_runtime_namespace(mangled: &str) -> bool {
    let scope = (mangled
        .strip_prefix("NK")
        .or_else(|| mangled.strip_prefix('N')))
    .unwrap_or(mangled);
    if scope.starts_with("St3__1") {
        return false;
    }
    [
        "St",
        "Sa",
        "Sb",
        "Sd",
        "Si",
        "So",
        "Ss",
        "9__gnu_cxx",
        "10__cxxabiv1",
    ]
    .iter()
    .any(|p| scope.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_symbols_are_told_from_c_and_rust_ones() {
        for name in [
            "__gxx_personality_v0",
            "__cxa_throw",
            "__cxa_begin_catch",
            "__cxa_guard_acquire",
            "__dynamic_cast",
            "_Znwm",
            "_ZdlPvm",
            "_ZSt4cout",
            "_ZSt9terminatev",
            "_ZNSt6thread6_M_runEv",
            "_ZNKSt5ctypeIcE13_M_widen_initEv",
            "_ZNSolsEi",
            "_ZTIl",
            "_ZTISt9exception",
            "_ZTVN10__cxxabiv117__class_type_infoE",
            "_ZTTNSt7__cxx1119basic_istringstreamIcSt11char_traitsIcESaIcEEE",
            "_ZN9__gnu_cxx27__verbose_terminate_handlerEv",
        ] {
            assert!(is_cxx_runtime_symbol(name), "{name}");
        }
        for name in [
            "__cxa_atexit",
            "__cxa_finalize",
            "__cxa_thread_atexit_impl",
            "malloc",
            "__divti3",
            "_Unwind_Resume",
            "_ZN3std2io5stdio6_print17h0123456789abcdefE",
            "_ZN4core9panicking5panic17h0123456789abcdefE",
            "_ZTI5Shape",
            "_ZTV5Shape",
            "_ZN5Shape4areaEv",
            "_ZNSt3__14coutE",
        ] {
            assert!(!is_cxx_runtime_symbol(name), "{name}");
        }
        assert!(is_unwinder_symbol("_Unwind_Resume") && is_unwinder_symbol("__gcc_personality_v0"));
        assert!(!is_unwinder_symbol("__gxx_personality_v0") && !is_unwinder_symbol("_Znwm"));
    }
}
