//! Running aarch64 Linux images under qemu and Windows DLLs under wine, against gcc's build.

use aotload::call::{Scalar, Signature, Value};

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::common::*;

/// A C program that loads `argv[1]` (the image) and `argv[2]` (the same C built by the
/// target's gcc) and calls every exported function of the image with the same arguments in
/// both, printing mismatches and a summary.
fn comparison_harness(image: &Path, skip: &[&str]) -> String {
    let image = open_any(image);
    let mut c = String::from(HARNESS_HEAD);
    let mut calls = 0;
    for export in &image.meta.exports {
        if ["counter_add", "counter_get"].contains(&export.name.as_str())
            || skip.contains(&export.name.as_str())
        {
            continue;
        }
        let method = &image.meta.methods[export.fvar as usize];
        let sig = Signature::parse(&method.signature).unwrap();
        let ctype = |t: Option<Scalar>| match t {
            None => "void".to_string(),
            Some(Scalar::Double) => "double".into(),
            Some(Scalar::Float) => "float".into(),
            Some(Scalar::Int(bits)) => format!("int{}_t", bits.max(8).next_power_of_two()),
        };
        let params: Vec<String> = sig.params.iter().map(|p| ctype(Some(*p))).collect();
        let params = if params.is_empty() {
            "void".to_string()
        } else {
            params.join(", ")
        };
        let ret = ctype(sig.ret);
        c += &format!(
            "  {{ {ret} (*f)({params}) = ({ret} (*)({params}))SYM(a, \"{0}\");\n    {ret} (*g)({params}) = ({ret} (*)({params}))SYM(b, \"{0}\");\n",
            export.name
        );
        c += &format!(
            "    if (!f || !g) {{ printf(\"missing {}\\n\"); return 2; }}\n",
            export.name
        );
        let mut args = Args::new(export.fvar as u64 + 1);
        for _ in 0..25 {
            let values: Vec<String> = args
                .values(&sig)
                .iter()
                .zip(&sig.params)
                .map(|(v, t)| c_literal(v, &ctype(Some(*t))))
                .collect();
            let call = |fun: &str| format!("{fun}({})", values.join(", "));
            match sig.ret {
                None => c += &format!("    {}; {};\n", call("f"), call("g")),
                Some(t) => {
                    c += &format!(
                        "    {{ {} x = {}, y = {}; CHECK(\"{}\", &x, &y, sizeof x); }}\n",
                        ctype(Some(t)),
                        call("f"),
                        call("g"),
                        export.name
                    )
                }
            }
            calls += 1;
        }
        c += "  }\n";
    }
    c += &format!(
        "  printf(\"%d calls, %d mismatches\\n\", {calls}, bad);\n  return bad != 0;\n}}\n"
    );
    c
}

fn c_literal(v: &Value, ctype: &str) -> String {
    match v {
        Value::Int(i) => format!("({ctype})(uint64_t)0x{:x}ULL", *i as u64),
        Value::Double(d) => format!("dbl(0x{:x}ULL)", d.to_bits()),
        Value::Float(f) => format!("(float)dbl(0x{:x}ULL)", (*f as f64).to_bits()),
    }
}

const HARNESS_HEAD: &str = r#"#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#define OPEN(p) (void *)LoadLibraryA(p)
#define SYM(h, n) (void *)GetProcAddress((HMODULE)(h), n)
#else
#include <dlfcn.h>
#define OPEN(p) dlopen(p, RTLD_NOW | RTLD_LOCAL)
#define SYM(h, n) dlsym(h, n)
#endif
static int bad = 0;
static double dbl(uint64_t bits) { double d; memcpy(&d, &bits, sizeof d); return d; }
#define CHECK(name, x, y, n) do { if (memcmp(x, y, n) != 0) { bad++; printf("MISMATCH %s\n", name); } } while (0)
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  void *a = OPEN(argv[1]), *b = OPEN(argv[2]);
  if (!a || !b) { printf("cannot open %s\n", a ? argv[2] : argv[1]); return 2; }
"#;

/// The example built by a cross gcc as an ordinary shared library, with the image data.
fn gcc_reference(gcc: &str, dir: &Path, output: &str) -> PathBuf {
    let data = std::fs::read(data_file()).unwrap();
    let bytes: Vec<String> = data.iter().map(|b| b.to_string()).collect();
    let data_c = dir.join("data.c");
    std::fs::write(
        &data_c,
        format!(
            "const unsigned char aotlink_image_data[] = {{{}}};\nconst unsigned long long aotlink_image_data_size = {};\n",
            bytes.join(","),
            data.len()
        ),
    )
    .unwrap();
    let out = dir.join(output);
    let status = Command::new(gcc)
        .args(["-O2", "-ffp-contract=off", "-fPIC", "-shared", "-o"])
        .arg(&out)
        .arg(kernels_c())
        .arg(&data_c)
        .arg("-lm")
        .status()
        .unwrap();
    assert!(status.success(), "{gcc} failed");
    out
}

/// Compiles and runs the comparison harness for `image` against the reference.
pub fn run_comparison(
    image: &Path,
    reference: &Path,
    skip: &[&str],
    compile: &mut Command,
    run: &mut Command,
) {
    let dir = image.parent().unwrap();
    std::fs::write(dir.join("harness.c"), comparison_harness(image, skip)).unwrap();
    let status = compile.status().unwrap();
    assert!(status.success(), "{compile:?}");
    // Relative names: wine would read an absolute Unix path as a path on drive C:.
    let name = |p: &Path| format!("./{}", p.file_name().unwrap().to_string_lossy());
    let out = run
        .current_dir(dir)
        .arg(name(image))
        .arg(name(reference))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{run:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap_or("");
    let calls: usize = summary.split(' ').next().unwrap().parse().unwrap();
    let exports = open_any(image).meta.exports.len() - skip.len();
    assert!(
        calls >= 20 * exports && summary.ends_with(" 0 mismatches"),
        "{summary}"
    );
}

#[test]
fn aarch64_linux_images_run_under_qemu() {
    if !have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        return;
    }
    let target = &targets()[1];
    for (kind, extra) in [
        ("pkg", vec![]),
        (
            "sysimg",
            vec!["--kind", "sysimg", "--cc", "aarch64-linux-gnu-gcc"],
        ),
    ] {
        let image = cross_image(target, &format!("run-{kind}"), &extra);
        let dir = image.parent().unwrap().to_path_buf();
        let reference = gcc_reference("aarch64-linux-gnu-gcc", &dir, "libkernels_ref.so");
        let exe = dir.join("harness");
        run_comparison(
            &image,
            &reference,
            &[],
            Command::new("aarch64-linux-gnu-gcc")
                .arg(dir.join("harness.c"))
                .arg("-o")
                .arg(&exe)
                .arg("-ldl"),
            Command::new("qemu-aarch64")
                .args(["-L", "/usr/aarch64-linux-gnu"])
                .arg(&exe),
        );
    }
}

#[test]
fn windows_dlls_run_under_wine() {
    if !have(&["/usr/lib/wine/wine64", "x86_64-w64-mingw32-gcc"]) {
        return;
    }
    let wine = wine();
    let target = &targets()[4];
    for (kind, extra) in [
        ("pkg", vec![]),
        (
            "sysimg",
            vec!["--kind", "sysimg", "--cc", "x86_64-w64-mingw32-gcc"],
        ),
    ] {
        let image = cross_image(target, &format!("run-{kind}"), &extra);
        let dir = image.parent().unwrap().to_path_buf();
        assert!(
            dir.join("kernels.lib").exists(),
            "no import library beside the DLL"
        );
        let reference = gcc_reference("x86_64-w64-mingw32-gcc", &dir, "kernels_ref.dll");
        let exe = dir.join("harness.exe");
        run_comparison(
            &image,
            &reference,
            // Every function, exp_sum and sin_wave too: the image links MinGW-w64's libmingwex
            // math as gcc's build does (it used to call msvcrt.dll's, whose exp differs).
            &[],
            Command::new("x86_64-w64-mingw32-gcc")
                .arg(dir.join("harness.c"))
                .arg("-o")
                .arg(&exe),
            Command::new(wine).env("WINEDEBUG", "-all").arg(&exe),
        );
    }
}
