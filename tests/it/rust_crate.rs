//! A real Rust crate through aotlink: the `libm` crate (pure `no_std` Rust, the code Rust's own
//! `compiler-builtins` math comes from) behind eight `extern "C"` wrappers, compiled by this
//! machine's rustc with fat LTO into bitcode and text IR, built into images, and compared bit
//! for bit with rustc's own `cdylib` of the same wrappers. rustc's LLVM writes what older
//! LLVMs cannot read (`icmp samesign`, `captures(none)`, `initializes(...)`, new attribute
//! kinds), which is why aotlink links the newest LLVM.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const WRAPPERS: &str = r#"
#![no_std]
#[no_mangle] pub extern "C" fn w_sin(x: f64) -> f64 { libm::sin(x) }
#[no_mangle] pub extern "C" fn w_exp(x: f64) -> f64 { libm::exp(x) }
#[no_mangle] pub extern "C" fn w_lgamma(x: f64) -> f64 { libm::lgamma(x) }
#[no_mangle] pub extern "C" fn w_cbrt(x: f64) -> f64 { libm::cbrt(x) }
#[no_mangle] pub extern "C" fn w_pow(x: f64, y: f64) -> f64 { libm::pow(x, y) }
#[no_mangle] pub extern "C" fn w_atan2(y: f64, x: f64) -> f64 { libm::atan2(y, x) }
#[no_mangle] pub extern "C" fn w_fma(x: f64, y: f64, z: f64) -> f64 { libm::fma(x, y, z) }
#[no_mangle] pub extern "C" fn w_jn(n: i32, x: f64) -> f64 { libm::jn(n, x) }
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
"#;

/// Where cargo keeps the `libm` sources this workspace depends on (a dev-dependency, so they
/// are on disk whenever the tests build).
fn libm_source_dir() -> PathBuf {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(repo())
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libm")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("libm is a dev-dependency");
    Path::new(manifest).parent().unwrap().to_path_buf()
}

/// The wrapper crate built by cargo in `dir` (release, fat LTO, one codegen unit): its
/// bitcode, its text IR and rustc's own shared library.
fn build_wrappers(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), WRAPPERS).unwrap();
    let manifest = format!(
        "[package]\nname = \"wrap\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n\
         [dependencies]\nlibm = {{ path = {:?} }}\n\n\
         [profile.release]\nlto = \"fat\"\ncodegen-units = 1\npanic = \"abort\"\n\n\
         [workspace]\n",
        libm_source_dir()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let status = Command::new("cargo")
        .args(["rustc", "--release", "--offline", "--quiet", "--lib"])
        .args(["--", "--emit=llvm-bc,llvm-ir,link"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo rustc");
    assert!(status.success(), "cargo rustc of the libm wrappers failed");
    let deps = dir.join("target/release/deps");
    let find = |ext: &str| -> PathBuf {
        std::fs::read_dir(&deps)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .unwrap_or_else(|| panic!("no .{ext} in {}", deps.display()))
    };
    (
        find("bc"),
        find("ll"),
        dir.join("target/release/libwrap.so"),
    )
}

#[test]
fn rustc_text_and_bitcode_of_the_libm_crate_agree_with_rustcs_cdylib_bit_for_bit() {
    let dir = scratch("rust-crate-libm");
    let (bc, ll, cdylib) = build_wrappers(&dir.join("crate"));
    let text = std::fs::read_to_string(&ll).unwrap();
    assert!(
        text.contains("icmp samesign") || text.contains("captures(none)"),
        "the fixture should use IR syntax older LLVMs lack"
    );
    // SAFETY: rustc's build of the same no_std wrappers; nothing runs at load.
    let reference = unsafe { libloading::Library::new(&cdylib) }.unwrap();
    for (name, input) in [("bitcode", &bc), ("text", &ll)] {
        let image = dir.join(format!("libm-{name}.so"));
        aotlink_ok([
            "build".as_ref(),
            input.as_os_str(),
            "--export-all".as_ref(),
            "--cpu-target".as_ref(),
            "generic;haswell,-rdrnd,base(0)".as_ref(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
        let loaded = open(&image);
        compare(name, &loaded, &reference);
    }
}

/// 2,000 calls of each wrapper (16,000 in all) on awkward and ordinary inputs.
fn compare(form: &str, loaded: &aotload::Image, reference: &libloading::Library) {
    type F1 = extern "C" fn(f64) -> f64;
    type F2 = extern "C" fn(f64, f64) -> f64;
    type F3 = extern "C" fn(f64, f64, f64) -> f64;
    type Fj = extern "C" fn(i32, f64) -> f64;
    // SAFETY: every symbol is one of the wrappers above, called with its own signature; both
    // libraries stay loaded for the whole comparison.
    unsafe {
        /// # Safety
        /// `T` is the function pointer type of `name`'s signature.
        unsafe fn ours<T: Copy>(image: &aotload::Image, name: &str) -> T {
            let p = image
                .lookup(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            // SAFETY: a code address, read as the caller's function pointer type.
            unsafe { std::mem::transmute_copy(&p) }
        }
        let theirs = |name: &str| -> *const () {
            *reference
                .get::<*const ()>(name.as_bytes())
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let same = |what: String, a: f64, b: f64| {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{form}: {what}: image {a:e}, rustc {b:e}"
            )
        };
        let mut args = Args::new(26);
        for name in ["w_sin", "w_exp", "w_lgamma", "w_cbrt"] {
            let (a, b): (F1, F1) = (
                ours(loaded, name),
                std::mem::transmute::<*const (), F1>(theirs(name)),
            );
            for _ in 0..2000 {
                let x = args.next_f64();
                same(format!("{name}({x:e})"), a(x), b(x));
            }
        }
        for name in ["w_pow", "w_atan2"] {
            let (a, b): (F2, F2) = (
                ours(loaded, name),
                std::mem::transmute::<*const (), F2>(theirs(name)),
            );
            for _ in 0..2000 {
                let (x, y) = (args.next_f64(), args.next_f64());
                same(format!("{name}({x:e}, {y:e})"), a(x, y), b(x, y));
            }
        }
        let (a, b): (F3, F3) = (
            ours(loaded, "w_fma"),
            std::mem::transmute::<*const (), F3>(theirs("w_fma")),
        );
        for _ in 0..2000 {
            let (x, y, z) = (args.next_f64(), args.next_f64(), args.next_f64());
            same(
                format!("w_fma({x:e}, {y:e}, {z:e})"),
                a(x, y, z),
                b(x, y, z),
            );
        }
        let (a, b): (Fj, Fj) = (
            ours(loaded, "w_jn"),
            std::mem::transmute::<*const (), Fj>(theirs("w_jn")),
        );
        for _ in 0..2000 {
            let n = (args.next_u64() % 41) as i32 - 20;
            let x = args.next_f64();
            same(format!("w_jn({n}, {x:e})"), a(n, x), b(n, x));
        }
    }
}
