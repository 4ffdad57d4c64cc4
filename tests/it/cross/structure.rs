//! Every target's image: format, architecture, exports, what it needs from its OS.

use std::collections::BTreeSet;
use std::path::Path;

use aotload::ImageFile;
use object::{Object, ObjectSymbol};

use super::*;
use crate::common::*;

#[test]
fn every_target_builds_an_image_of_the_right_format_and_exports() {
    let exports = example_exports();
    for target in targets() {
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
        let found: BTreeSet<String> = aotload::exported_symbols(&bytes)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(found, expected, "{}: exported symbols", target.clang);
        // inspect reads it on this host, whatever its format.
        let report = aotlink_ok(["inspect".as_ref(), path.as_os_str(), "--json".as_ref()]);
        let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        assert_eq!(
            json["fvars"].as_u64().unwrap() as usize,
            image.meta.methods.len()
        );
        let targets = json["targets"].as_array().unwrap().len();
        assert_eq!(
            targets,
            target.cpu_targets.split(';').count(),
            "{}: the platform's default CPU targets apply",
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
    let arch = super::tbd::Arch::of(m.architecture());
    let exported = super::tbd::symbols(&super::tbd::exports(&stub, arch));
    for symbol in file.symbols().filter(|s| s.is_undefined()) {
        let name = symbol.name().unwrap();
        assert!(exported.contains(name), "`{name}` is not in libSystem.tbd");
    }
    if m.architecture() == object::Architecture::Aarch64 {
        assert!(signed, "arm64 images must carry a code signature");
        assert_code_signature_holds(bytes);
    }
}

/// Checks every page hash of an ad-hoc signature (independently of aotlink's own code).
pub(super) fn assert_code_signature_holds(bytes: &[u8]) {
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

/// PE: a DLL for x86_64 that imports only what a MinGW-w64 DLL does: the C runtime
/// (msvcrt.dll) and kernel32 (MinGW's start-up code), each name in the import library MinGW-w64
/// has for that DLL, the authority on what the DLL exports.
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
    let imports = file.imports().unwrap();
    assert!(!imports.is_empty());
    let mingw_lib = mingw_lib_dir();
    let mut listed: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for import in imports {
        let library = String::from_utf8_lossy(import.library()).to_ascii_lowercase();
        assert!(
            ["msvcrt.dll", "kernel32.dll"].contains(&library.as_str()),
            "imports from {library}"
        );
        let Some(dir) = &mingw_lib else { continue };
        let names = listed.entry(library.clone()).or_insert_with(|| {
            let lib = dir.join(format!("lib{}.a", library.trim_end_matches(".dll")));
            import_names(&std::fs::read(&lib).unwrap())
        });
        let name = String::from_utf8_lossy(import.name()).into_owned();
        assert!(
            names.contains(&name),
            "`{name}` is not exported by {library}"
        );
    }
}

/// MinGW-w64's library directory, if it is installed.
fn mingw_lib_dir() -> Option<PathBuf> {
    let out = Command::new("x86_64-w64-mingw32-gcc")
        .arg("-print-file-name=libmsvcrt.a")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    path.is_absolute()
        .then(|| path.parent().unwrap().to_path_buf())
}

/// The names an import library imports from its DLL (as `__imp_<name>` symbols).
fn import_names(archive: &[u8]) -> BTreeSet<String> {
    let ar = object::read::archive::ArchiveFile::parse(archive).unwrap();
    ar.symbols()
        .unwrap()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let name = String::from_utf8_lossy(s.unwrap().name()).into_owned();
            name.strip_prefix("__imp_").map(str::to_string)
        })
        .collect()
}

#[test]
fn target_spellings_and_mismatches() {
    let ir = example_ir(&targets()[1]);
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
    let windows = example_ir(&targets()[4]);
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
    let mac = example_ir(&targets()[3]);
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

/// Two builds of the same input give the same bytes on every target, and the names the
/// images carry are their file names: a DLL's export directory and a Mach-O image's code
/// signature identifier (they used to carry the temporary name the image was linked under).
#[test]
fn every_target_builds_reproducibly_under_its_own_name() {
    for target in targets() {
        let first = cross_image(target, "repro-1", &[]);
        let second = cross_image(target, "repro-2", &[]);
        let (a, b) = (
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap(),
        );
        assert!(a == b, "{}: two builds differ", target.aotlink);
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !a.windows(9).any(|w| w == b".aotlink-"),
            "{}: a temporary name is inside the image",
            target.aotlink
        );
        match target.format {
            object::BinaryFormat::Pe => {
                let pe = goblin::pe::PE::parse(&a).unwrap();
                let export_name = pe.export_data.as_ref().and_then(|e| e.name).unwrap();
                assert_eq!(export_name, name, "the DLL's export directory name");
            }
            object::BinaryFormat::MachO if target.arch == object::Architecture::Aarch64 => {
                // The ad-hoc signature's code directory names the image.
                let needle = format!("{name}\0");
                assert!(
                    a.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "the code signature identifier is not {name}"
                );
            }
            _ => {}
        }
    }
}
