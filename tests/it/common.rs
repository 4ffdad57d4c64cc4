//! Fixtures: the example compiled to IR with clang-22, the same C built by cc as a reference,
//! images built by the `aotlink` binary, and a generator of awkward arguments.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use std::ffi::c_void;

use aotload::call::{call, Scalar, Signature, Value};
use aotload::{Image, LoadOptions};

/// The C frontend the fixtures are compiled with: the clang of the LLVM aotlink links.
pub const CLANG: &str = "clang-22";

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn aotlink() -> &'static str {
    env!("CARGO_BIN_EXE_aotlink")
}

/// A fresh directory under cargo's per-target temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("it").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn kernels_c() -> PathBuf {
    repo().join("examples/kernels/kernels.c")
}

pub fn trace_file() -> PathBuf {
    repo().join("examples/kernels/trace.txt")
}

pub fn data_file() -> PathBuf {
    repo().join("examples/kernels/data.txt")
}

/// The flags the example is compiled with (README, examples/kernels/README.md).
pub const IR_FLAGS: &[&str] = &[
    "-O2",
    "-fno-vectorize",
    "-fno-slp-vectorize",
    "-ffp-contract=off",
    "-emit-llvm",
];

pub fn check(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// examples/kernels/kernels.c as text IR (`.ll`), compiled once per test run.
pub fn kernels_ll() -> &'static Path {
    static IR: OnceLock<PathBuf> = OnceLock::new();
    IR.get_or_init(|| compile_kernels("kernels.ll", "-S"))
}

/// The same IR as bitcode.
pub fn kernels_bc() -> &'static Path {
    static BC: OnceLock<PathBuf> = OnceLock::new();
    BC.get_or_init(|| compile_kernels("kernels.bc", "-c"))
}

/// [`CLANG`] with the example's flags; `mode` is `-S` (text) or `-c` (bitcode).
fn compile_kernels(name: &str, mode: &str) -> PathBuf {
    compile_kernels_with(CLANG, name, mode)
}

/// `clang` (a program name) with the example's flags into a fixture directory of its own.
pub fn compile_kernels_with(clang: &str, name: &str, mode: &str) -> PathBuf {
    let out = scratch(&format!("fixtures-{name}")).join(name);
    check(
        Command::new(clang)
            .args(IR_FLAGS)
            .arg(mode)
            .arg(kernels_c())
            .arg("-o")
            .arg(&out),
    );
    out
}

/// kernels.c built by the system C compiler as an ordinary shared library, with the image data
/// symbols defined by a generated C file holding data.txt.
pub fn reference_library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = scratch("fixtures-reference");
        let data = std::fs::read(data_file()).unwrap();
        let bytes: Vec<String> = data.iter().map(|b| b.to_string()).collect();
        let c = format!(
            "const unsigned char aotlink_image_data[] = {{{}}};\nconst unsigned long long aotlink_image_data_size = {};\n",
            bytes.join(","),
            data.len()
        );
        std::fs::write(dir.join("data.c"), c).unwrap();
        let out = dir.join("libkernels_ref.so");
        check(
            Command::new("cc")
                .args(["-O2", "-ffp-contract=off", "-fPIC", "-shared", "-o"])
                .arg(&out)
                .arg(kernels_c())
                .arg(dir.join("data.c"))
                .arg("-lm"),
        );
        out
    })
}

/// Runs `aotlink ARGS`.
pub fn run_aotlink<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(aotlink())
        .args(args)
        .output()
        .expect("run aotlink")
}

/// Runs `aotlink ARGS` and expects success.
pub fn aotlink_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = run_aotlink(args);
    assert!(
        out.status.success(),
        "aotlink failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `aotlink build` of the example IR with `extra` options into `dir/name`, cached per options.
pub fn example_image(name: &str, extra: &[&str]) -> PathBuf {
    type Cache = Mutex<std::collections::HashMap<String, std::sync::Arc<OnceLock<PathBuf>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = format!("{name}|{}", extra.join(" "));
    // One build per key: tests asking for the same image wait for it, others go on.
    let once = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .clone();
    once.get_or_init(|| {
        let dir = scratch(&format!("image-{name}"));
        let out = dir.join(format!("{name}.so"));
        let mut args: Vec<String> = vec!["build".into(), kernels_ll().display().to_string()];
        args.extend([
            "--image-data".into(),
            data_file().display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        aotlink_ok(&args);
        out
    })
    .clone()
}

/// Deterministic awkward arguments: extremes, random bit patterns, small values.
pub struct Args(u64);

impl Args {
    pub fn new(seed: u64) -> Args {
        Args(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A raw 64-bit pattern.
    pub fn next_u64(&mut self) -> u64 {
        self.next()
    }

    /// An awkward double (extremes, NaN, infinities, random bits, ordinary values).
    pub fn next_f64(&mut self) -> f64 {
        match self.value(Scalar::Double) {
            Value::Double(d) => d,
            _ => unreachable!("a double was asked for"),
        }
    }

    pub fn value(&mut self, ty: Scalar) -> Value {
        let pick = self.next();
        match ty {
            Scalar::Int(_) => Value::Int(match pick % 4 {
                0 => [
                    0,
                    1,
                    -1,
                    i64::MIN,
                    i64::MAX,
                    1024,
                    1025,
                    4096,
                    1 << 32,
                    -1025,
                ][(pick >> 8) as usize % 10],
                1 => (self.next() % 2000) as i64 - 1000,
                _ => self.next() as i64,
            }),
            Scalar::Double | Scalar::Float => {
                let d = match pick % 4 {
                    0 => [
                        0.0,
                        -0.0,
                        f64::NAN,
                        f64::INFINITY,
                        -f64::INFINITY,
                        f64::MAX,
                        f64::MIN_POSITIVE,
                        1e-310,
                    ][(pick >> 8) as usize % 8],
                    1 => f64::from_bits(self.next()),
                    _ => (self.next() % 2_000_000) as f64 / 1000.0 - 1000.0,
                };
                match ty {
                    Scalar::Float => Value::Float(d as f32),
                    _ => Value::Double(d),
                }
            }
        }
    }

    pub fn values(&mut self, sig: &Signature) -> Vec<Value> {
        sig.params.iter().map(|&t| self.value(t)).collect()
    }
}

/// Asserts that a failed run printed one error line, no panic, and exited non-zero.
pub fn assert_clean_failure(out: &Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(
        lines[0].starts_with("aotlink: error: "),
        "unexpected error format: {stderr}"
    );
    assert!(
        stderr.contains(expect),
        "error should mention `{expect}`: {stderr}"
    );
}

/// No file in `dir` but the ones listed (no output, no temp file left behind).
pub fn assert_only_files(dir: &Path, allowed: &[&str]) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !allowed.contains(&n.as_str()))
        .collect();
    assert!(
        names.is_empty(),
        "unexpected files left in {}: {names:?}",
        dir.display()
    );
}

/// The example's functions whose results depend on earlier calls.
const STATEFUL: &[&str] = &["counter_add", "counter_get"];

/// Calls every exported, stateless function of `image` with many awkward argument lists and
/// compares the bits of each result with the cc-built reference library.
pub fn assert_matches_reference(image: &Image, calls_per_function: usize) {
    // The example's kernels work in static buffers, and every test that loads the same file
    // shares them (dlopen returns one handle per path): one comparison at a time.
    static KERNEL_CALLS: Mutex<()> = Mutex::new(());
    let _one_at_a_time = KERNEL_CALLS.lock().unwrap_or_else(|p| p.into_inner());
    let compared = assert_same_results(image, reference_library(), calls_per_function, STATEFUL);
    assert!(
        compared > 30 * calls_per_function,
        "compared only {compared} calls"
    );
}

/// Calls every exported function of `image` but `skip` with awkward arguments and compares
/// the bits of each result with the same function of the shared library `reference` (built by
/// a C compiler from the same source). Returns how many calls were compared.
pub fn assert_same_results(
    image: &Image,
    reference: &Path,
    calls_per_function: usize,
    skip: &[&str],
) -> usize {
    // SAFETY: the reference is a C compiler's build of the image's source.
    let reference = unsafe { libloading::Library::new(reference) }.unwrap();
    let mut compared = 0;
    for export in &image.meta().exports {
        if skip.contains(&export.name.as_str()) {
            continue;
        }
        let method = &image.meta().methods[export.fvar as usize];
        let sig = Signature::parse(&method.signature).unwrap();
        let ours = image.fvars()[export.fvar as usize];
        let theirs: *const c_void = unsafe {
            *reference
                .get::<*const c_void>(export.name.as_bytes())
                .unwrap()
        };
        let mut args = Args::new(export.fvar as u64 + 7);
        for _ in 0..calls_per_function {
            let values = args.values(&sig);
            let a = unsafe { call(ours, &sig, &values) }.unwrap();
            let b = unsafe { call(theirs, &sig, &values) }.unwrap();
            assert_eq!(
                a.map(Value::bits),
                b.map(Value::bits),
                "{}{:?}: image {a:?}, reference {b:?}",
                export.name,
                values
            );
            compared += 1;
        }
    }
    compared
}

pub fn open(path: &Path) -> Image {
    Image::open(path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Opens the image at `path` on each of its targets this CPU runs (forced by name, so the
/// test does not depend on which the loader would pick here) and hands it to `f`; returns how
/// many targets ran.
pub fn on_each_runnable_target(path: &Path, mut f: impl FnMut(&Image)) -> usize {
    let host = aotload::HostCpu::detect();
    let targets = open(path).meta().targets.clone();
    let mut ran = 0;
    for target in &targets {
        let missing = aotload::features::missing(&target.features, &host.features);
        if missing.iter().any(|w| *w != 0) {
            eprintln!(
                "skipping target {}: this CPU lacks its features",
                target.name
            );
            continue;
        }
        let options = LoadOptions {
            target: Some(target.name.clone()),
            ..Default::default()
        };
        let image = Image::open(path, &options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(image.target_name(), target.name);
        f(&image);
        ran += 1;
    }
    ran
}

/// Compiles the C program `source` into `exe` against aotload.h and libaotload (plus `extra`
/// compiler arguments).
pub fn cc_with_aotload(source: &Path, exe: &Path, extra: &[&str]) {
    let lib_dir = aotload_c_library_dir();
    check(
        Command::new("cc")
            .arg(format!("-I{}", repo().join("loader/include").display()))
            .args(extra)
            .arg(source)
            .arg("-o")
            .arg(exe)
            .arg(format!("-L{}", lib_dir.display()))
            .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
            .arg("-laotload"),
    );
}

/// The directory holding a libaotload.so built from the current sources. `cargo test` builds
/// the loader only as an rlib, so the C library is built here (once per run) with the same
/// profile as the tests.
pub fn aotload_c_library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(aotlink()).parent().unwrap().to_path_buf();
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--quiet",
                "-p",
                "aotload",
                "--lib",
                "--manifest-path",
            ])
            .arg(repo().join("Cargo.toml"));
        if dir.ends_with("release") {
            cargo.arg("--release");
        }
        check(&mut cargo);
        assert!(
            dir.join("libaotload.so").exists(),
            "no libaotload.so in {}",
            dir.display()
        );
        link_soname(&dir.join("libaotload.so"));
        dir
    })
}

/// Puts a link named after `library`'s soname (`libaotload.so.0`) beside it, as an install
/// does: programs linked against the library ask the dynamic loader for that name.
pub fn link_soname(library: &Path) {
    let bytes = std::fs::read(library).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let Some(soname) = elf.soname else {
        return;
    };
    let link = library.with_file_name(soname);
    if link != library {
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        std::os::unix::fs::symlink(library.file_name().unwrap(), &link).unwrap();
    }
}

/// `aotlink dump IR --shards 1 --emit EMIT -o ARCHIVE` (EMIT includes `asm`), and the one
/// shard's assembly from the `.s.a` archive written beside ARCHIVE.
pub fn one_shard_asm(ir: &Path, archive: &Path, emit: &str) -> String {
    aotlink_ok([
        "dump".as_ref(),
        ir.as_os_str(),
        "--shards".as_ref(),
        "1".as_ref(),
        "--emit".as_ref(),
        emit.as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    let asm_archive = archive.with_extension("s.a");
    let bytes = std::fs::read(&asm_archive).unwrap();
    let ar = object::read::archive::ArchiveFile::parse(&*bytes).unwrap();
    let shard = ar
        .members()
        .map(|m| m.unwrap())
        .find(|m| m.name() == b"shard_0.s")
        .unwrap_or_else(|| panic!("no shard_0.s in {}", asm_archive.display()));
    String::from_utf8(shard.data(&*bytes).unwrap().to_vec()).unwrap()
}

/// The assembly of function `name` in `asm`, up to its end label.
pub fn function_asm<'a>(asm: &'a str, name: &str) -> &'a str {
    let start = asm
        .find(&format!("\n{name}:"))
        .unwrap_or_else(|| panic!("no function {name}"));
    let end = asm[start..]
        .find(".Lfunc_end")
        .map_or(asm.len(), |e| start + e);
    &asm[start..end]
}

/// Whether this CPU has every feature `target` needs.
pub fn host_runs(target: &aotload::meta::TargetRecord) -> bool {
    let host = aotload::HostCpu::detect();
    aotload::features::missing(&target.features, &host.features)
        .iter()
        .all(|w| *w == 0)
}

/// [`CLANG`] `args` `source` `-o out`, expecting success: C to IR for a test's own sources.
pub fn clang_ir(source: &Path, out: &Path, args: &[&str]) {
    check(
        Command::new(CLANG)
            .args(args)
            .arg(source)
            .arg("-o")
            .arg(out),
    );
}

/// The files of `dir` whose extension is `ext`, sorted (a compiler's outputs, in a stable order).
pub fn files_ending_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// `aotlink build IR --export-all -o image` with `extra` arguments, expecting success.
pub fn build_image(ir: &Path, image: &Path, extra: &[String]) {
    let mut args = vec![
        "build".to_string(),
        ir.display().to_string(),
        "--export-all".into(),
        "-o".into(),
        image.display().to_string(),
    ];
    args.extend(extra.iter().cloned());
    aotlink_ok(&args);
}

/// The source directory of a crate this package depends on (its sources are test inputs),
/// found through cargo's metadata.
pub fn dev_dependency_dir(name: &str) -> PathBuf {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(repo().join("Cargo.toml"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["manifest_path"].as_str())
        .unwrap_or_else(|| panic!("{name} in cargo metadata"));
    Path::new(manifest).parent().unwrap().to_path_buf()
}

/// Recomputes the checksum over what the loader covers (and, when `digest` is set, the tables
/// digest first), as `aotlink`'s sealing does. A mutant the loader cannot parse is left as it
/// is: it is refused whatever its checksum.
pub fn reseal(bytes: &mut [u8], digest: bool) {
    let Ok(file) = aotload::ImageFile::parse(bytes) else {
        return;
    };
    if digest {
        let at = file.checksum_file_offset - aotload::format::CHECKSUM_OFFSET
            + aotload::format::TABLES_DIGEST_OFFSET;
        bytes[at..at + 8].copy_from_slice(&file.computed_tables_digest.to_le_bytes());
    }
    let checksum = file.computed_checksum(bytes);
    let at = file.checksum_file_offset;
    bytes[at..at + 8].copy_from_slice(&checksum.to_le_bytes());
}

/// The source directory of package `name` as cargo resolves it for the manifest in `dir`
/// (`cargo metadata`, with `--offline` when `offline`: the package is already on disk).
pub fn cargo_package_dir(dir: &Path, name: &str, offline: bool) -> PathBuf {
    let mut cmd = Command::new("cargo");
    cmd.args(["metadata", "--format-version", "1", "--quiet"])
        .current_dir(dir);
    if offline {
        cmd.arg("--offline");
    }
    let out = cmd.output().expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = (metadata["packages"].as_array().unwrap().iter())
        .find(|p| p["name"] == name)
        .and_then(|p| p["manifest_path"].as_str())
        .unwrap_or_else(|| panic!("cargo resolved no package {name}"));
    Path::new(manifest).parent().unwrap().to_path_buf()
}

/// A source file's image and its reference: `source` written to `dir/file`, compiled to text
/// IR by `ir_compiler` with `ir_flags`, checked to contain each of `expect` (else the test
/// covers less than it says), built into an image over four shards, and built by
/// `reference_compiler -O2 -fPIC -shared`. Returns (source, image, reference) paths.
pub fn image_and_reference(
    dir: &Path,
    file: &str,
    source: &str,
    (ir_compiler, ir_flags): (&str, &[&str]),
    expect: &[&str],
    reference_compiler: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let path = dir.join(file);
    std::fs::write(&path, source).unwrap();
    let ir = path.with_extension("ll");
    check(
        Command::new(ir_compiler)
            .args(ir_flags)
            .args(["-S", "-emit-llvm", "-o"])
            .arg(&ir)
            .arg(&path),
    );
    let text = std::fs::read_to_string(&ir).unwrap();
    for what in expect {
        assert!(
            text.contains(what),
            "{ir_compiler}'s IR has no {what}: the test covers less"
        );
    }
    let image = path.with_extension("so");
    build_image(&ir, &image, &["--shards".into(), "4".into()]);
    let reference = dir.join(format!("lib{}_ref.so", file.split('.').next().unwrap()));
    check(
        Command::new(reference_compiler)
            .args(["-O2", "-fPIC", "-shared", "-o"])
            .arg(&reference)
            .arg(&path),
    );
    (path, image, reference)
}

/// The address of `name`, an export of `image`.
pub fn export_address(image: &Image, name: &str) -> usize {
    let export = (image.meta().exports.iter().find(|e| e.name == name))
        .unwrap_or_else(|| panic!("{name} is not exported"));
    image.fvars()[export.fvar as usize] as usize
}

/// `source`, a C program that loads the library its argument names, compiled by cc in `dir`:
/// a function that runs it on a library and returns what it printed (the run must succeed).
pub fn c_program_loading(dir: &Path, source: &str) -> impl Fn(&Path) -> String {
    let path = dir.join("caller.c");
    std::fs::write(&path, source).unwrap();
    let exe = dir.join("caller");
    check(
        Command::new("cc")
            .arg(&path)
            .arg("-o")
            .arg(&exe)
            .arg("-ldl"),
    );
    move |library: &Path| {
        let out = Command::new(&exe).arg(library).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{}: {stdout}", library.display());
        stdout
    }
}
