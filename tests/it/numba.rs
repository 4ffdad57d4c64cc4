//! numba's IR through aotlink: four functions compiled by numba 0.68 (llvmlite's LLVM 20,
//! `captures(none)`, `initializes(...)`) as C-ABI `@cfunc`s, for the generic CPU, built into an
//! image whose results equal numba's own JIT build of the same IR bit for bit. numba lives in
//! a venv that scripts/setup.sh --cross makes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// The venv's python: `$AOTLINK_NUMBA_VENV/bin/python`, else where setup.sh puts it.
pub fn numba_python() -> PathBuf {
    let venv = std::env::var_os("AOTLINK_NUMBA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".local/share/aotlink-test/numba-0.68.1")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/setup.sh --cross installs numba (or set AOTLINK_NUMBA_VENV)",
        python.display()
    );
    python
}

/// numba's IR of tests/it/numba/emit.py's four functions, written into `dir` (with
/// `expected.json`, numba's own results): the `.ll` files, sorted.
pub fn emit_ir(dir: &Path) -> Vec<PathBuf> {
    let out = Command::new(numba_python())
        .arg(repo().join("tests/it/numba/emit.py"))
        .arg(dir)
        .env("NUMBA_CPU_NAME", "generic")
        .env("NUMBA_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("numba's python");
    assert!(
        out.status.success(),
        "emit.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ir = files_ending_in(dir, "ll");
    assert_eq!(ir.len(), 4, "{ir:?}");
    ir
}

#[test]
fn numba_ir_builds_an_image_that_agrees_with_numbas_jit() {
    let dir = scratch("numba");
    let ir = emit_ir(&dir);
    let image = dir.join("numba.so");
    let mut args = vec!["build".into(), "--export-all".into(), "-o".into()];
    args.push(image.display().to_string());
    args.extend(ir.iter().map(|p| p.display().to_string()));
    aotlink_ok(&args);

    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let loaded = open(&image);
    let mut calls = 0;
    for (name, case) in expected.as_object().unwrap() {
        let symbol = case["symbol"].as_str().unwrap();
        let address = loaded
            .lookup(symbol)
            .unwrap_or_else(|| panic!("{symbol} not in the image"));
        for row in case["rows"].as_array().unwrap() {
            let args: Vec<u64> = (row["args"].as_array().unwrap().iter())
                .map(|a| a.as_u64().unwrap())
                .collect();
            let want = row["result"].as_u64().unwrap();
            // SAFETY: each symbol is the C wrapper numba made for the signature named here.
            let got = unsafe {
                match name.as_str() {
                    "horner" => {
                        let f: extern "C" fn(f64, f64) -> f64 = std::mem::transmute(address);
                        f(f64::from_bits(args[0]), f64::from_bits(args[1])).to_bits()
                    }
                    "collatz" => {
                        let f: extern "C" fn(i64) -> i64 = std::mem::transmute(address);
                        f(args[0] as i64) as u64
                    }
                    "wave" => {
                        let f: extern "C" fn(f64) -> f64 = std::mem::transmute(address);
                        f(f64::from_bits(args[0])).to_bits()
                    }
                    "mix" => {
                        let f: extern "C" fn(i32, i32) -> i32 = std::mem::transmute(address);
                        f(args[0] as i32, args[1] as i32) as i64 as u64
                    }
                    other => panic!("no signature for {other}"),
                }
            };
            let nan = |bits: u64| f64::from_bits(bits).is_nan();
            let float = matches!(name.as_str(), "horner" | "wave");
            assert!(
                got == want || (float && nan(got) && nan(want)),
                "{name}{args:?}: image {got:#x}, numba {want:#x}"
            );
            calls += 1;
        }
    }
    assert_eq!(calls, 1200);
}
