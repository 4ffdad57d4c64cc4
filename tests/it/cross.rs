//! Images for other systems, built on this Linux machine with nothing but aotlink: each parses
//! as the right format and architecture, exports exactly what it should, and needs nothing
//! its OS would not provide. aarch64 Linux images run under qemu-user and Windows DLLs under
//! wine, against the same C built by the target's gcc; macOS images are checked structurally.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use aotload::call::{Scalar, Signature, Value};
use aotload::ImageFile;
use object::{Object, ObjectSymbol};

use crate::common::*;

struct Target {
    /// How the test spells it for clang and for `--target`.
    clang: &'static str,
    aotlink: &'static str,
    format: object::BinaryFormat,
    arch: object::Architecture,
}

const TARGETS: &[Target] = &[
    Target {
        clang: "x86_64-linux-gnu",
        aotlink: "x86_64-unknown-linux-gnu",
        format: object::BinaryFormat::Elf,
        arch: object::Architecture::X86_64,
    },
    Target {
        clang: "aarch64-linux-gnu",
        aotlink: "aarch64-unknown-linux-gnu",
        format: object::BinaryFormat::Elf,
        arch: object::Architecture::Aarch64,
    },
    Target {
        clang: "x86_64-apple-macos11",
        aotlink: "x86_64-apple-macosx11.0",
        format: object::BinaryFormat::MachO,
        arch: object::Architecture::X86_64,
    },
    Target {
        clang: "arm64-apple-macos11",
        aotlink: "arm64-apple-macosx",
        format: object::BinaryFormat::MachO,
        arch: object::Architecture::Aarch64,
    },
    Target {
        clang: "x86_64-w64-mingw32",
        aotlink: "x86_64-pc-windows-gnu",
        format: object::BinaryFormat::Pe,
        arch: object::Architecture::X86_64,
    },
];

/// The example compiled to IR for `target` (no SDK needed: it includes no system header),
/// once per test run.
fn example_ir(target: &Target) -> PathBuf {
    static DONE: std::sync::Mutex<Vec<(&str, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap();
    if let Some((_, path)) = done.iter().find(|(t, _)| *t == target.clang) {
        return path.clone();
    }
    let dir = scratch(&format!("cross-ir-{}", target.clang));
    let out = dir.join("kernels.ll");
    let status = Command::new("clang-14")
        .arg(format!("--target={}", target.clang))
        .args(IR_FLAGS)
        .arg("-S")
        .arg(kernels_c())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "clang-14 --target={}", target.clang);
    done.push((target.clang, out.clone()));
    out
}

/// `aotlink build --target` of the example for `target`, with `extra` options.
fn cross_image(target: &Target, name: &str, extra: &[&str]) -> PathBuf {
    let ir = example_ir(target);
    let dir = scratch(&format!("cross-{name}-{}", target.clang));
    let suffix = match target.format {
        object::BinaryFormat::MachO => "dylib",
        object::BinaryFormat::Pe => "dll",
        _ => "so",
    };
    let out = dir.join(format!("kernels.{suffix}"));
    let mut args: Vec<String> = vec![
        "build".into(),
        ir.display().to_string(),
        "--target".into(),
        target.aotlink.into(),
    ];
    args.extend(["--export-all", "--image-data"].map(String::from));
    args.push(data_file().display().to_string());
    args.extend(["-o".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    aotlink_ok(&args);
    out
}

/// The functions the example exports.
fn example_exports() -> BTreeSet<String> {
    open(&example_image("cross-exports", &["--export-all"]))
        .meta()
        .exports
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

#[test]
fn every_target_builds_an_image_of_the_right_format_and_exports() {
    let exports = example_exports();
    for target in TARGETS {
        let path = cross_image(target, "structure", &[]);
        let bytes = std::fs::read(&path).unwrap();
        let image = ImageFile::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", target.clang));
        image.verify_checksum(&bytes).unwrap();
        assert_eq!(
            (image.format, image.arch),
            (target.format, target.arch),
            "{}",
            target.clang
        );
        let mut expected: BTreeSet<String> = exports.clone();
        expected.insert("aotlink_image".into());
        let found: BTreeSet<String> = image.exported_symbols.iter().cloned().collect();
        assert_eq!(found, expected, "{}: exported symbols", target.clang);
        // inspect reads it on this host, whatever its format.
        let report = aotlink_ok(["inspect".as_ref(), path.as_os_str(), "--json".as_ref()]);
        let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        assert_eq!(
            json["fvars"].as_u64().unwrap() as usize,
            image.meta.methods.len()
        );
        let targets = json["targets"].as_array().unwrap().len();
        assert!(
            targets >= 3,
            "{}: the default CPU targets apply to every platform",
            target.clang
        );
        match target.format {
            object::BinaryFormat::Elf => check_elf_dependencies(target, &bytes),
            object::BinaryFormat::MachO => check_macho(&path, &bytes),
            _ => check_pe_imports(&bytes),
        }
    }
}

/// ELF: needs libm and libc, and every undefined symbol is defined by one of them.
fn check_elf_dependencies(target: &Target, bytes: &[u8]) {
    let file = object::File::parse(bytes).unwrap();
    let needed = goblin::elf::Elf::parse(bytes).unwrap().libraries;
    assert_eq!(needed, ["libm.so.6", "libc.so.6"], "{}", target.clang);
    let lib_dir = match target.arch {
        object::Architecture::Aarch64 => Path::new("/usr/aarch64-linux-gnu/lib"),
        _ => Path::new("/lib/x86_64-linux-gnu"),
    };
    let mut provided = BTreeSet::new();
    for lib in ["libc.so.6", "libm.so.6"] {
        let Ok(data) = std::fs::read(lib_dir.join(lib)) else {
            eprintln!(
                "skipping the symbol check for {}: {} is not installed",
                target.clang,
                lib_dir.join(lib).display()
            );
            return;
        };
        let lib = object::File::parse(&*data).unwrap();
        // Every defined dynamic symbol (exports() leaves out GNU ifuncs such as libm's sin).
        provided.extend(
            lib.dynamic_symbols()
                .filter(|s| !s.is_undefined())
                .map(|s| s.name().unwrap().to_string()),
        );
    }
    let undefined: Vec<String> = file
        .dynamic_symbols()
        .filter(|s| s.is_undefined() && !s.name().unwrap_or("").is_empty())
        .map(|s| s.name().unwrap().to_string())
        .collect();
    assert!(!undefined.is_empty(), "the example calls libm and libc");
    for name in undefined {
        let base = name.split('@').next().unwrap();
        assert!(
            provided.contains(base),
            "{}: `{name}` is defined by neither libc nor libm",
            target.clang
        );
    }
}

/// Mach-O: a dylib for macOS 11 named @rpath/<file>, bound to libSystem only, its undefined
/// symbols all in the shipped libSystem stub, no writable text, a valid signature on arm64.
fn check_macho(path: &Path, bytes: &[u8]) {
    use object::macho;
    use object::read::macho::LoadCommandVariant;
    let file = object::File::parse(bytes).unwrap();
    let object::File::MachO64(m) = &file else {
        panic!("not Mach-O 64")
    };
    let endian = m.endian();
    assert_eq!(m.macho_header().filetype.get(endian), macho::MH_DYLIB);
    let mut commands = m.macho_load_commands().unwrap();
    let (mut id, mut dylibs, mut min_os, mut signed, mut segments) =
        (None, Vec::new(), None, false, Vec::new());
    while let Some(command) = commands.next().unwrap() {
        match command.variant().unwrap() {
            LoadCommandVariant::IdDylib(d) => {
                id = Some(command.string(endian, d.dylib.name).unwrap().to_vec())
            }
            LoadCommandVariant::Dylib(d) => dylibs.push(
                String::from_utf8_lossy(command.string(endian, d.dylib.name).unwrap()).into_owned(),
            ),
            LoadCommandVariant::BuildVersion(b) => {
                min_os = Some((b.platform.get(endian), b.minos.get(endian)))
            }
            LoadCommandVariant::LinkeditData(_) if command.cmd() == macho::LC_CODE_SIGNATURE => {
                signed = true
            }
            LoadCommandVariant::Segment64(s, _) => segments.push((
                String::from_utf8_lossy(object::pod::bytes_of(&s.segname))
                    .trim_end_matches('\0')
                    .to_string(),
                s.initprot.get(endian),
            )),
            _ => {}
        }
    }
    let name = path.file_name().unwrap().to_string_lossy();
    assert_eq!(id.as_deref(), Some(format!("@rpath/{name}").as_bytes()));
    assert_eq!(dylibs, ["/usr/lib/libSystem.B.dylib"]);
    assert_eq!(
        min_os,
        Some((macho::PLATFORM_MACOS, 11 << 16)),
        "LC_BUILD_VERSION: macOS, minimum 11.0"
    );
    let names: Vec<&str> = segments.iter().map(|s| s.0.as_str()).collect();
    assert!(
        names.starts_with(&["__TEXT"])
            && names.contains(&"__DATA")
            && names.ends_with(&["__LINKEDIT"]),
        "{names:?}"
    );
    for (segment, prot) in &segments {
        if segment == "__TEXT" {
            assert_eq!(
                prot & macho::VM_PROT_WRITE,
                0,
                "writable __TEXT (text relocations)"
            );
        }
    }
    let stub = std::fs::read_to_string(repo().join("vendor/macos/libSystem.tbd")).unwrap();
    for symbol in file.symbols().filter(|s| s.is_undefined()) {
        let name = symbol.name().unwrap();
        assert!(
            stub.contains(&format!(" {name},")) || stub.contains(&format!(" {name} ]")),
            "`{name}` is not in libSystem.tbd"
        );
    }
    if m.architecture() == object::Architecture::Aarch64 {
        assert!(signed, "arm64 images must carry a code signature");
        assert_code_signature_holds(bytes);
    }
}

/// Checks every page hash of an ad-hoc signature (independently of aotlink's own code).
fn assert_code_signature_holds(bytes: &[u8]) {
    use sha2::{Digest, Sha256};
    let file = object::File::parse(bytes).unwrap();
    let object::File::MachO64(m) = &file else {
        unreachable!()
    };
    let mut commands = m.macho_load_commands().unwrap();
    let mut offset = None;
    while let Some(c) = commands.next().unwrap() {
        if let object::read::macho::LoadCommandVariant::LinkeditData(d) = c.variant().unwrap() {
            if c.cmd() == object::macho::LC_CODE_SIGNATURE {
                offset = Some(d.dataoff.get(m.endian()) as usize);
            }
        }
    }
    let sig = offset.unwrap();
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let cd = (0..be(sig + 8))
        .map(|i| sig + be(sig + 16 + 8 * i))
        .find(|&cd| be(cd) == 0xfade_0c02)
        .unwrap();
    let (hashes, slots, limit, page) = (
        cd + be(cd + 16),
        be(cd + 28),
        be(cd + 32),
        1usize << bytes[cd + 39],
    );
    for i in 0..slots {
        let digest = Sha256::digest(&bytes[i * page..((i + 1) * page).min(limit)]);
        assert_eq!(
            digest.as_slice(),
            &bytes[hashes + 32 * i..hashes + 32 * (i + 1)],
            "signature page {i}"
        );
    }
}

/// PE: a DLL for x86_64 importing only from msvcrt.dll, only names the shipped .def lists.
fn check_pe_imports(bytes: &[u8]) {
    let file = object::File::parse(bytes).unwrap();
    let object::File::Pe64(pe) = &file else {
        panic!("not PE32+")
    };
    let characteristics = pe
        .nt_headers()
        .file_header
        .characteristics
        .get(object::LittleEndian);
    assert_ne!(characteristics & object::pe::IMAGE_FILE_DLL, 0, "not a DLL");
    let def = std::fs::read_to_string(repo().join("vendor/windows/msvcrt.def")).unwrap();
    let listed: BTreeSet<&str> = def
        .lines()
        .skip_while(|l| !l.starts_with("EXPORTS"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let imports = file.imports().unwrap();
    assert!(!imports.is_empty());
    for import in imports {
        assert_eq!(import.library(), b"msvcrt.dll");
        let name = String::from_utf8_lossy(import.name()).into_owned();
        assert!(
            listed.contains(name.as_str()),
            "`{name}` is not in msvcrt.def"
        );
    }
}

#[test]
fn target_spellings_and_mismatches() {
    let ir = example_ir(&TARGETS[1]);
    let dir = scratch("cross-mismatch");
    let out = run_aotlink([
        "build".as_ref(),
        ir.as_os_str(),
        "--target".as_ref(),
        "x86_64-unknown-linux-gnu".as_ref(),
        "-o".as_ref(),
        dir.join("x.so").as_os_str(),
    ]);
    assert_clean_failure(
        &out,
        "the IR is for aarch64-unknown-linux-gnu, not for --target x86_64-unknown-linux-gnu",
    );
    let out = run_aotlink([
        "build".as_ref(),
        ir.as_os_str(),
        "--target".as_ref(),
        "riscv64-unknown-linux-gnu".as_ref(),
        "-o".as_ref(),
        dir.join("x.so").as_os_str(),
    ]);
    assert_clean_failure(
        &out,
        "supported: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu",
    );
    // Two spellings of Windows-GNU are one target.
    let windows = example_ir(&TARGETS[4]);
    for spelling in [
        "x86_64-pc-windows-gnu",
        "x86_64-w64-windows-gnu",
        "x86_64-w64-mingw32",
    ] {
        let out = dir.join("w.dll");
        aotlink_ok([
            "build".as_ref(),
            windows.as_os_str(),
            "--target".as_ref(),
            spelling.as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
    }
    // macOS images have no C compiler driver to link with.
    let mac = example_ir(&TARGETS[3]);
    let archive = dir.join("mac.a");
    aotlink_ok([
        "dump".as_ref(),
        mac.as_os_str(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    let out = run_aotlink([
        "sysimg".as_ref(),
        archive.as_os_str(),
        "--cc".as_ref(),
        "cc".as_ref(),
        "-o".as_ref(),
        dir.join("mac.dylib").as_os_str(),
    ]);
    assert_clean_failure(&out, "not supported");
    assert_only_files(&dir, &["w.dll", "w.lib", "mac.a"]);
}

/// A C program that loads `argv[1]` (the image) and `argv[2]` (the same C built by the
/// target's gcc) and calls every exported function of the example with the same arguments in
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

/// Functions whose results come from the C library's exp/sin. On Windows the image calls
/// msvcrt.dll's (wine's, whose exp(-1e10) is not even positive) while MinGW's gcc links its own
/// libmingwex versions into the reference, so there they are not compared.
const LIBM_DEPENDENT: &[&str] = &["exp_sum", "sin_wave"];

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

/// Any image's metadata, whatever its format.
fn open_any(path: &Path) -> ImageFile {
    ImageFile::parse(&std::fs::read(path).unwrap()).unwrap()
}

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

/// Missing tools skip a test with a reason (CI installs them all).
fn have(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| which::which(t).is_err() && !Path::new(t).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {missing:?} not installed (scripts/setup.sh --cross installs them)");
    }
    missing.is_empty()
}

/// Compiles and runs the comparison harness for `image` against the reference.
fn run_comparison(
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
    assert!(
        calls > 800 && summary.ends_with(" 0 mismatches"),
        "{summary}"
    );
}

#[test]
fn aarch64_linux_images_run_under_qemu() {
    if !have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        return;
    }
    let target = &TARGETS[1];
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
    let wine = "/usr/lib/wine/wine64";
    if !have(&[wine, "x86_64-w64-mingw32-gcc"]) {
        return;
    }
    let target = &TARGETS[4];
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
        eprintln!("not compared on Windows (different C runtimes' exp/sin): {LIBM_DEPENDENT:?}");
        run_comparison(
            &image,
            &reference,
            LIBM_DEPENDENT,
            Command::new("x86_64-w64-mingw32-gcc")
                .arg(dir.join("harness.c"))
                .arg("-o")
                .arg(&exe),
            Command::new(wine).env("WINEDEBUG", "-all").arg(&exe),
        );
    }
}

/// tests/it/methods/{sys,pkg}.c for `target`: the system image, and the package image built
/// against its method table (once per test run: several tests use them).
fn cross_packages(target: &Target) -> (PathBuf, PathBuf) {
    static BUILT: std::sync::Mutex<Vec<(&str, (PathBuf, PathBuf))>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, images)) = built.iter().find(|(t, _)| *t == target.clang) {
        return images.clone();
    }
    let dir = scratch(&format!("cross-methods-{}", target.clang));
    let suffix = match target.format {
        object::BinaryFormat::MachO => "dylib",
        object::BinaryFormat::Pe => "dll",
        _ => "so",
    };
    let ir = |name: &str| {
        let out = dir.join(format!("{name}.ll"));
        let status = Command::new("clang-14")
            .arg(format!("--target={}", target.clang))
            .args(["-O2", "-S", "-emit-llvm", "-o"])
            .arg(&out)
            .arg(repo().join(format!("tests/it/methods/{name}.c")))
            .status()
            .unwrap();
        assert!(status.success());
        out
    };
    let sys = dir.join(format!("sys.{suffix}"));
    aotlink_ok([
        "build".as_ref(),
        ir("sys").as_os_str(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        sys.as_os_str(),
    ]);
    let table = dir.join("sys.json");
    std::fs::write(
        &table,
        aotlink_ok([
            "inspect".as_ref(),
            "--method-table".as_ref(),
            sys.as_os_str(),
        ])
        .stdout,
    )
    .unwrap();
    let pkg = dir.join(format!("pkg.{suffix}"));
    aotlink_ok([
        "build".as_ref(),
        ir("pkg").as_os_str(),
        "--export-all".as_ref(),
        "--method-table".as_ref(),
        table.as_os_str(),
        "-o".as_ref(),
        pkg.as_os_str(),
    ]);
    built.push((target.clang, (sys.clone(), pkg.clone())));
    (sys, pkg)
}

#[test]
fn package_images_with_external_methods_build_for_every_target() {
    for target in TARGETS {
        let (_, pkg) = cross_packages(target);
        let image = open_any(&pkg);
        let externals: Vec<&str> = image
            .meta
            .externals
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        assert_eq!(externals, ["f", "g"], "{}", target.clang);
        // The slots are the image's own: f and g are not symbols it imports.
        let bytes = std::fs::read(&pkg).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let imported: Vec<String> = file
            .imports()
            .unwrap()
            .iter()
            .map(|i| String::from_utf8_lossy(i.name()).into_owned())
            .collect();
        assert!(
            !imported
                .iter()
                .any(|n| ["f", "g", "_f", "_g"].contains(&n.as_str())),
            "{}: imports {imported:?}",
            target.clang
        );
    }
}

/// Without the loader (plain dlopen), a method that reaches an external one calls the trap
/// stub, not null: the program stops on an illegal instruction / trap.
const TRAP_HARNESS: &str = r#"#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#define OPEN(p) (void *)LoadLibraryA(p)
#define SYM(h, n) (void *)GetProcAddress((HMODULE)(h), n)
#else
#include <dlfcn.h>
#define OPEN(p) dlopen(p, RTLD_NOW)
#define SYM(h, n) dlsym(h, n)
#endif
int main(int argc, char **argv) {
  void *pkg = OPEN(argv[1]);
  if (!pkg) { printf("cannot open\n"); return 2; }
  long (*independent)(long) = (long (*)(long))SYM(pkg, "independent");
  long (*uses_f)(long) = (long (*)(long))SYM(pkg, "uses_f");
  printf("independent %ld\n", independent(5));
  fflush(stdout);
  printf("uses_f returned %ld\n", uses_f(5));
  return 0;
}
"#;

fn assert_traps(run: &mut Command) {
    let out = run.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("independent 105"), "{stdout}");
    assert!(
        !stdout.contains("uses_f returned") && !out.status.success(),
        "the unresolved call must trap: {stdout}"
    );
}

#[test]
fn unresolved_external_methods_trap_under_qemu_and_wine() {
    if have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        let (_, pkg) = cross_packages(&TARGETS[1]);
        let dir = pkg.parent().unwrap();
        std::fs::write(dir.join("trap.c"), TRAP_HARNESS).unwrap();
        let status = Command::new("aarch64-linux-gnu-gcc")
            .arg(dir.join("trap.c"))
            .arg("-o")
            .arg(dir.join("trap"))
            .arg("-ldl")
            .status()
            .unwrap();
        assert!(status.success());
        assert_traps(
            Command::new("qemu-aarch64")
                .args(["-L", "/usr/aarch64-linux-gnu"])
                .arg(dir.join("trap"))
                .arg(&pkg),
        );
    }
    let wine = "/usr/lib/wine/wine64";
    if have(&[wine, "x86_64-w64-mingw32-gcc"]) {
        let (_, pkg) = cross_packages(&TARGETS[4]);
        let dir = pkg.parent().unwrap();
        std::fs::write(dir.join("trap.c"), TRAP_HARNESS).unwrap();
        let status = Command::new("x86_64-w64-mingw32-gcc")
            .arg(dir.join("trap.c"))
            .arg("-o")
            .arg(dir.join("trap.exe"))
            .status()
            .unwrap();
        assert!(status.success());
        assert_traps(
            Command::new(wine)
                .env("WINEDEBUG", "-all")
                .current_dir(dir)
                .arg("trap.exe")
                .arg("./pkg.dll"),
        );
    }
}
