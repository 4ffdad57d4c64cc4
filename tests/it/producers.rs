//! IR from the compilers users run: clang 14 (typed pointers), clang 19 and clang 22 text and
//! bitcode, rustc's bitcode, and bitcode from an LLVM newer than the one aotlink links.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn build_and_check(input: &Path, name: &str) {
    let out = scratch(&format!("producers-{name}")).join(format!("{name}.so"));
    aotlink_ok([
        "build".as_ref(),
        input.as_os_str(),
        "--export-all".as_ref(),
        "--image-data".as_ref(),
        data_file().as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_matches_reference(&open(&out), 40);
}

#[test]
fn typed_pointer_bitcode_from_clang_14_builds_a_working_image() {
    // Bitcode is read by later LLVMs: LLVM 22 upgrades clang 14's typed pointers.
    let bc = compile_kernels_with("clang-14", "kernels-clang14.bc", "-c");
    let text = Command::new("llvm-dis-22")
        .arg(&bc)
        .arg("-o")
        .arg("-")
        .output()
        .expect("llvm-dis-22");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("clang version 14"),
        "the fixture should come from clang 14"
    );
    build_and_check(&bc, "clang14");
}

#[test]
fn text_and_bitcode_from_clang_19_build_working_images() {
    // An older LLVM's text IR must parse too: LLVM keeps reading the syntax it dropped.
    for (mode, file) in [("-S", "kernels-clang19.ll"), ("-c", "kernels-clang19.bc")] {
        let ir = compile_kernels_with("clang-19", file, mode);
        build_and_check(&ir, &file.replace('.', "-"));
    }
}

#[test]
fn text_and_bitcode_from_clang_22_build_working_images() {
    build_and_check(kernels_bc(), "clang22-bc");
    build_and_check(kernels_ll(), "clang22-ll");
}

/// The bits of `bytes`, least significant first, as LLVM's bitstream reads them.
fn bits_of(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| (0..8).map(move |i| (b >> i) & 1))
        .collect()
}

fn read_bits(bits: &[u8], at: usize, width: usize) -> u64 {
    (0..width).map(|i| (bits[at + i] as u64) << i).sum()
}

fn write_bits(bits: &mut [u8], at: usize, width: usize, value: u64) {
    for i in 0..width {
        bits[at + i] = ((value >> i) & 1) as u8;
    }
}

fn char6(c: u8) -> u64 {
    match c {
        b'a'..=b'z' => (c - b'a') as u64,
        b'A'..=b'Z' => (c - b'A') as u64 + 26,
        b'0'..=b'9' => (c - b'0') as u64 + 52,
        b'.' => 62,
        _ => 63,
    }
}

/// clang-22 bitcode made to look as if a future LLVM wrote it: the producer string of the
/// identification block says LLVM 99 and the epoch (a number LLVM bumps when old readers can
/// no longer read its bitcode) is 1. The identification block is laid out by LLVM's writer:
/// the producer as a char6 array record, an abbreviation for the epoch record, the epoch.
fn bitcode_from_a_future_llvm(bc: &[u8]) -> Vec<u8> {
    let mut bits = bits_of(bc);
    let needle: Vec<u8> = b"LLVM22"
        .iter()
        .flat_map(|&c| (0..6).map(move |i| ((char6(c) >> i) & 1) as u8))
        .collect();
    let start = (0..bits.len() - needle.len())
        .find(|&i| bits[i..i + needle.len()] == needle[..])
        .expect("clang-22 bitcode names its producer LLVM22...");
    let length = read_bits(&bits, start - 6, 6) as usize;
    for digit in [4, 5] {
        write_bits(&mut bits, start + digit * 6, 6, char6(b'9'));
    }
    // After the string: DEFINE_ABBREV (id 2) for the epoch record, then that record (id 5),
    // whose one operand is the epoch as a 6-bit VBR.
    let mut at = start + length * 6;
    let expect = [
        (5, 2),
        (5, 2),
        (1, 1),
        (8, 2),
        (1, 0),
        (3, 2),
        (5, 6),
        (5, 5),
    ];
    for (width, value) in expect {
        assert_eq!(
            read_bits(&bits, at, width),
            value,
            "unexpected identification block layout"
        );
        at += width;
    }
    assert_eq!(read_bits(&bits, at, 6), 0, "epoch 0 expected");
    write_bits(&mut bits, at, 6, 1);
    bits.chunks(8)
        .map(|byte| byte.iter().enumerate().map(|(i, b)| b << i).sum())
        .collect()
}

#[test]
fn bitcode_from_a_newer_llvm_is_one_error_naming_producer_and_reader() {
    let dir = scratch("producers-future");
    let future = dir.join("future.bc");
    std::fs::write(
        &future,
        bitcode_from_a_future_llvm(&std::fs::read(kernels_bc()).unwrap()),
    )
    .unwrap();
    let out = dir.join("future.so");
    let result = run_aotlink([
        "build".as_ref(),
        future.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_clean_failure(&result, "future.bc: ");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("Producer: 'LLVM99.") && stderr.contains("Reader: 'LLVM 22."),
        "{stderr}"
    );
    assert_only_files(&dir, &["future.bc"]);
}

/// A `no_std` library of `extern "C"` functions that needs nothing outside itself.
const RUST_SOURCE: &str = r#"
#![no_std]
#[no_mangle]
pub extern "C" fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n > 1 && steps < 10_000 {
        n = if n % 2 == 0 { n / 2 } else { n.wrapping_mul(3).wrapping_add(1) };
        steps += 1;
    }
    steps
}
#[no_mangle]
pub extern "C" fn poly(x: f64, y: f64) -> f64 {
    let mut acc = 0.0;
    let mut p = 1.0;
    for k in 0..16 {
        acc += p * (k as f64 + y);
        p *= x;
    }
    acc
}
#[no_mangle]
pub extern "C" fn mix(a: u32, b: i64, c: f32) -> i64 {
    let table = [3i64, -7, 11, 13, -17, 19, 23, -29];
    let pick = table[(a % 8) as usize];
    (b.rotate_left(a % 64) ^ pick).wrapping_add((c * 4.0) as i64)
}
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
"#;

fn rustc_llvm_major() -> u32 {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no LLVM version in rustc -vV: {text}"))
}

#[test]
fn rustc_bitcode_builds_into_an_image_that_agrees_with_rustcs_cdylib() {
    let dir = scratch("producers-rustc");
    let src = dir.join("lib.rs");
    std::fs::write(&src, RUST_SOURCE).unwrap();
    let rustc = |emit: &str, out: &Path| {
        let status = Command::new("rustc")
            .args(["--crate-type=cdylib", "-O", "-C", "panic=abort"])
            .args(["-C", "codegen-units=1", "--crate-name", "rs"])
            .arg(format!("--emit={emit}"))
            .arg(&src)
            .arg("-o")
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success(), "rustc --emit={emit}");
    };
    let bc = dir.join("lib.bc");
    let cdylib = dir.join("librs.so");
    rustc("llvm-bc", &bc);
    rustc("link", &cdylib);
    let image = dir.join("rs-image.so");
    let out = run_aotlink([
        "build".as_ref(),
        bc.as_os_str(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        image.as_os_str(),
    ]);
    let llvm = rustc_llvm_major();
    if !out.status.success() {
        // LLVM 22 reads older bitcode, and newer bitcode only while it uses nothing new.
        eprintln!("case: rustc's LLVM {llvm} wrote bitcode LLVM 22 cannot read");
        assert!(llvm > 22, "rustc's LLVM {llvm} bitcode must be readable");
        assert_clean_failure(&out, "Reader: 'LLVM 22.");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Producer: 'LLVM"));
        return;
    }
    eprintln!("case: rustc's LLVM {llvm} bitcode was read; comparing with rustc's cdylib");
    let loaded = open(&image);
    // SAFETY: the reference library is rustc's build of the same no_std source.
    let reference = unsafe { libloading::Library::new(&cdylib) }.unwrap();
    unsafe {
        let collatz: extern "C" fn(u64) -> u64 =
            std::mem::transmute(loaded.lookup("collatz_steps").unwrap());
        let poly: extern "C" fn(f64, f64) -> f64 =
            std::mem::transmute(loaded.lookup("poly").unwrap());
        let mix: extern "C" fn(u32, i64, f32) -> i64 =
            std::mem::transmute(loaded.lookup("mix").unwrap());
        let r_collatz = *reference
            .get::<extern "C" fn(u64) -> u64>(b"collatz_steps")
            .unwrap();
        let r_poly = *reference
            .get::<extern "C" fn(f64, f64) -> f64>(b"poly")
            .unwrap();
        let r_mix = *reference
            .get::<extern "C" fn(u32, i64, f32) -> i64>(b"mix")
            .unwrap();
        let mut args = Args::new(7);
        for _ in 0..200 {
            let n = args.next_u64() % 1_000_000;
            assert_eq!(collatz(n), r_collatz(n), "collatz_steps({n})");
            let (x, y) = (args.next_f64(), args.next_f64());
            assert_eq!(
                poly(x, y).to_bits(),
                r_poly(x, y).to_bits(),
                "poly({x}, {y})"
            );
            let (a, b, c) = (
                args.next_u64() as u32,
                args.next_u64() as i64,
                args.next_f64() as f32,
            );
            assert_eq!(mix(a, b, c), r_mix(a, b, c), "mix({a}, {b}, {c})");
        }
    }
}

/// IR as a front end hands it over before optimizing (`-Xclang -disable-llvm-passes`) keeps
/// `static` data nothing refers to; without a trace such data is dead, not a root that the
/// selection must keep (it used to fail with "selection removed `f.iLn`").
#[test]
fn unoptimized_ir_with_unreferenced_statics_builds_like_gccs_build() {
    let dir = scratch("producers-unoptimized");
    let c = dir.join("statics.c");
    std::fs::write(
        &c,
        "static const int unused_table[] = {1, 2, 3};\n\
         static int triple(int x) { return x * 3; }\n\
         int f(int x) {\n\
             static const char iLn[] = {1, 2};\n\
             static const int used[] = {5, 7, 11};\n\
             return triple(x) + used[x % 3];\n\
         }\n\
         #ifdef MAIN\n\
         #include <stdio.h>\n\
         int main(void) { printf(\"%d\\n\", f(41)); return 0; }\n\
         #endif\n",
    )
    .unwrap();
    let ll = dir.join("statics.ll");
    clang_ir(
        &c,
        &ll,
        &["-O2", "-Xclang", "-disable-llvm-passes", "-emit-llvm", "-S"],
    );
    let ir = std::fs::read_to_string(&ll).unwrap();
    assert!(
        ir.contains("@f.iLn = internal"),
        "the fixture must keep the dead static"
    );
    let image = dir.join("statics.so");
    build_image(&ll, &image, &[]);
    let out = aotlink_ok([
        "run".as_ref(),
        image.as_os_str(),
        "f".as_ref(),
        "41".as_ref(),
    ]);
    let exe = dir.join("statics-gcc");
    check(
        Command::new("gcc")
            .args(["-O2", "-DMAIN"])
            .arg(&c)
            .arg("-o")
            .arg(&exe),
    );
    let expected = check(&mut Command::new(&exe)).stdout;
    let got = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        got.lines().last().unwrap_or(""),
        String::from_utf8_lossy(&expected).trim()
    );
}
