//! The compiler runtime an image links, as a C driver adds libgcc or compiler-rt: 128-bit
//! division, overflow-checked multiplication, half-precision conversions, `__powidf2`,
//! `__cpu_model` (x86 `__builtin_cpu_supports`), `___chkstk_ms` (Windows) and the like. LLVM
//! emits calls to these for plain C; without them an image links and then fails at dlopen.
//!
//! Found, per target, by asking the drivers the platform file names
//! (`x86_64-w64-mingw32-gcc -print-libgcc-file-name`, clang with `--rtlib=compiler-rt`),
//! once per process; `--rtlib PATH` names one instead. Without one, an image that needs it is
//! refused before LLD runs, naming the functions and how to provide a runtime.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::archive_info::archive_symbols;
use super::job::{LinkError, LinkJob};
use super::remembered::Remembered;
use crate::target::{Platform, Triple};

/// The runtime archives to link `job` with, after checking that they define every runtime
/// function its archive calls (less what the OS provides and what an archive has with
/// another calling convention): a missing one is an error naming it and how to get it.
pub fn runtime_archives(job: &LinkJob, explicit: Option<&Path>) -> Result<Vec<PathBuf>, LinkError> {
    let platform = job.platform;
    let runtime = compiler_runtime(platform, explicit)?;
    let needed = runtime_symbols_needed(&job.archive, platform)?;
    let unusable = |archive: &Path, name: &str| {
        archive.file_name().is_some_and(|n| n == "libgcc.a")
            && platform.libgcc_unusable.iter().any(|u| u == c_name(name))
    };
    let mut provided = BTreeSet::new();
    for path in &runtime {
        provided.extend(
            runtime_definitions(path)?
                .into_iter()
                .filter(|name| !unusable(path, name)),
        );
    }
    let missing: Vec<&str> = needed
        .iter()
        .filter(|n| !provided.contains(*n))
        .map(|n| c_name(n))
        .collect();
    if missing.is_empty() {
        return Ok(runtime);
    }
    let triple = platform.triple();
    let names = missing.join(", ");
    Err(LinkError::Runtime(if runtime.is_empty() {
        let how = match triple.gcc_triple() {
            Some(gcc) => format!("install {gcc}-gcc (libgcc) or clang's compiler-rt for it"),
            None => "install clang's compiler-rt for it".to_string(),
        };
        format!(
            "the image calls compiler-runtime functions ({names}) and no compiler runtime for {triple} was found: {how}, or pass --rtlib PATH"
        )
    } else {
        let paths: Vec<String> = runtime.iter().map(|p| p.display().to_string()).collect();
        let convention = missing
            .iter()
            .any(|m| platform.libgcc_unusable.iter().any(|u| u == m));
        format!(
            "the image calls compiler-runtime functions that {} lack{} ({names}): pass --rtlib with a runtime that has them (clang's compiler-rt does)",
            paths.join(" and "),
            if convention { " or have with another calling convention than LLVM's" } else { "" },
        )
    }))
}

/// Finds `platform`'s runtime archives and reads their symbols now, for a link later in this
/// process, which then finds both remembered: a build calls it beside the dump, where running
/// the drivers (0.1 s: clang answers slowly) costs the build nothing. A failure here is met
/// again by the link, which reports it.
pub fn warm_up(platform: &Platform, explicit: Option<&Path>) {
    if let Ok(runtime) = compiler_runtime(platform, explicit) {
        for path in runtime {
            let _ = runtime_definitions(&path);
        }
    }
}

/// The runtime archives for `platform`'s target: `explicit` if given (it must exist), else
/// every one the platform's discovery commands print and that exists, in the file's order
/// (libgcc, then compiler-rt: LLD takes each function from the first archive that has it, and
/// compiler-rt has a few LLVM calls that libgcc lacks, such as `__muloti4`).
fn compiler_runtime(
    platform: &Platform,
    explicit: Option<&Path>,
) -> Result<Vec<PathBuf>, LinkError> {
    if let Some(path) = explicit {
        if !path.is_file() {
            return Err(LinkError::Runtime(format!(
                "--rtlib {}: no such file",
                path.display()
            )));
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let triple = platform.triple();
    static FOUND: Remembered<String, Vec<PathBuf>> = Remembered::new();
    Ok(FOUND.get_or(triple.to_string(), |_| {
        platform
            .compiler_runtime
            .iter()
            .filter_map(|command| discover(command, triple))
            .collect()
    }))
}

/// Runs one discovery command (`{gcc_triple}` and `{clang_triple}` filled in) and returns the
/// path it prints when that file exists. gcc prints a bare `libgcc.a` when it has none.
fn discover(command: &[String], triple: &Triple) -> Option<PathBuf> {
    let gcc_triple = triple.gcc_triple();
    let args: Option<Vec<String>> = command
        .iter()
        .map(|a| {
            if a.contains("{gcc_triple}") {
                gcc_triple.map(|g| a.replace("{gcc_triple}", g))
            } else {
                Some(a.replace("{clang_triple}", &triple.to_string()))
            }
        })
        .collect();
    let args = args?;
    let (program, rest) = args.split_first()?;
    let out = Command::new(program).args(rest).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let printed = String::from_utf8(out.stdout).ok()?;
    let path = PathBuf::from(printed.trim());
    (path.is_absolute() && path.is_file()).then_some(path)
}

/// Whether `name` is a function or variable of the compiler runtime (libgcc / compiler-rt
/// builtins) rather than of the C library.
pub fn is_runtime_symbol(name: &str) -> bool {
    let Some(rest) = c_name(name).strip_prefix("__") else {
        return false;
    };
    const EXACT: &[&str] = &[
        "cpu_model",
        "cpu_features2",
        "cpu_indicator_init",
        "chkstk",
        "chkstk_ms",
        "gnu_h2f_ieee",
        "gnu_f2h_ieee",
        "clear_cache",
        "emutls_get_address",
    ];
    if EXACT.contains(&rest) || rest.starts_with("aarch64_") {
        return true;
    }
    // The builtins' naming: an operation and operand modes, a digit for the operand count
    // (`__divti3`, `__muloti4`, `__extendhfsf2`, `__powidf2`, `__fixunsdfti`, `__clzti2`).
    const OPERATIONS: &[&str] = &[
        "div", "udiv", "mod", "umod", "mul", "mulo", "umulo", "ashl", "ashr", "lshr", "neg",
        "negv", "add", "sub", "abs", "cmp", "ucmp", "clz", "ctz", "ffs", "popcount", "parity",
        "bswap", "extend", "trunc", "fix", "fixuns", "float", "floatun", "floatuns", "powi",
        "divmod", "udivmod", "eq", "ne", "ge", "gt", "le", "lt", "unord",
    ];
    const MODES: &[&str] = &[
        "qi", "hi", "si", "di", "ti", "hf", "sf", "df", "xf", "tf", "bf",
    ];
    // Conversions (`__fixunsdfti`, `__floattidf`) end in their two modes, the rest in the
    // operand count.
    let (stem, conversion) = match rest.strip_suffix(|c: char| c.is_ascii_digit()) {
        Some(stem) => (stem, false),
        None => (rest, true),
    };
    OPERATIONS.iter().any(|op| {
        let is_conversion = op.starts_with("fix") || op.starts_with("float");
        stem.strip_prefix(op).is_some_and(|modes| {
            (!conversion || (is_conversion && modes.len() == 4))
                && !modes.is_empty()
                && modes.len() % 2 == 0
                && modes
                    .as_bytes()
                    .chunks(2)
                    .all(|m| MODES.contains(&std::str::from_utf8(m).unwrap_or("")))
        })
    })
}

/// Only runtime-looking names matter: skipping the rest early keeps reading an archive of
/// thousands of functions cheap.
fn is_runtime_name(name: &str) -> bool {
    name.starts_with("__") && is_runtime_symbol(name)
}

/// The runtime builtins archive `runtime` defines, read once per process.
fn runtime_definitions(runtime: &Path) -> Result<BTreeSet<String>, LinkError> {
    static READ: Remembered<PathBuf, BTreeSet<String>> = Remembered::new();
    READ.get_or_find(runtime.to_path_buf(), |runtime| {
        Ok(archive_symbols(runtime, is_runtime_name)?.0)
    })
}

/// Runtime variables and functions that only a static runtime archive has (no OS library
/// exports them).
fn static_only(name: &str) -> bool {
    let name = name.trim_start_matches('_');
    ["cpu_model", "cpu_features2", "cpu_indicator_init"].contains(&name)
}

/// The compiler-runtime symbols the archive's objects use and do not define and that
/// `platform` cannot resolve without a runtime archive, sorted.
fn runtime_symbols_needed(
    archive: &Path,
    platform: &Platform,
) -> Result<BTreeSet<String>, LinkError> {
    let (_, undefined) = archive_symbols(archive, is_runtime_name)?;
    Ok(undefined
        .into_iter()
        .filter(|n| is_runtime_symbol(n))
        .filter(|n| !platform.system_provides_runtime || static_only(n))
        .collect())
}

/// A runtime symbol name as C spells it (Mach-O puts a `_` in front).
fn c_name(name: &str) -> &str {
    name.strip_prefix('_')
        .filter(|r| r.starts_with("__"))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_told_from_c_library_functions() {
        for name in [
            "__divti3",
            "__udivti3",
            "__modti3",
            "__umodti3",
            "__muloti4",
            "__extendhfsf2",
            "__truncsfhf2",
            "__truncdfhf2",
            "__gnu_h2f_ieee",
            "__gnu_f2h_ieee",
            "__powidf2",
            "__powisf2",
            "__fixunsdfti",
            "__floattidf",
            "__clzti2",
            "__cpu_model",
            "__cpu_indicator_init",
            "___chkstk_ms",
            "__chkstk",
            "__aarch64_cas8_acq_rel",
            "__aarch64_ldadd4_relax",
        ] {
            assert!(is_runtime_symbol(name), "{name}");
        }
        for name in [
            "memcpy",
            "malloc",
            "__errno_location",
            "__stack_chk_fail",
            "__assert_fail",
            "__cxa_atexit",
            "__isoc99_sscanf",
            "__ctype_b_loc",
            "__acrt_iob_func",
            "sqrt",
            "__mingw_vfprintf",
            "__divide",
            "__float",
        ] {
            assert!(!is_runtime_symbol(name), "{name}");
        }
    }
}
