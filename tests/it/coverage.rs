//! What the image checksum covers (`loader/src/coverage.rs`): everything a loader maps or
//! reads, and not the ELF sections nothing loads, such as the static symbol table.

use std::ops::Range;

use aotload::{Image, ImageFile, LoadCause, LoadOptions};
use object::{Object, ObjectSection};

use crate::common::*;

fn good_image() -> Vec<u8> {
    std::fs::read(example_image("for-damage", &["--export-all"])).unwrap()
}

/// The file range and section header offset of the section `name` of an ELF64 image.
fn section(bytes: &[u8], name: &str) -> (Range<usize>, usize) {
    let file = object::File::parse(bytes).unwrap();
    let section = file.section_by_name(name).unwrap();
    let (offset, size) = section.file_range().unwrap();
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    let shentsize = u16::from_le_bytes(bytes[0x3a..0x3c].try_into().unwrap()) as usize;
    let header = shoff + section.index().0 * shentsize;
    (offset as usize..(offset + size) as usize, header)
}

fn run_prime_at(path: &std::path::Path) -> std::process::Output {
    run_aotlink(["run", path.to_str().unwrap(), "prime_at", "25"])
}

#[test]
fn a_damaged_symbol_table_still_loads_and_runs_the_same_code() {
    let dir = scratch("coverage-symtab");
    let good = good_image();
    let good_path = dir.join("good.so");
    std::fs::write(&good_path, &good).unwrap();
    let mut bytes = good.clone();
    for name in [".symtab", ".strtab"] {
        let (range, _) = section(&bytes, name);
        let middle = range.start + range.len() / 2;
        for b in &mut bytes[middle - 128..middle + 128] {
            *b ^= 0x5a;
        }
    }
    let path = dir.join("damaged-symtab.so");
    std::fs::write(&path, &bytes).unwrap();
    let file = ImageFile::parse(&bytes).unwrap();
    file.verify_checksum(&bytes).unwrap();
    Image::open(&path, &LoadOptions::default()).unwrap();
    let (expected, got) = (run_prime_at(&good_path), run_prime_at(&path));
    assert!(expected.status.success(), "{expected:?}");
    assert_eq!(got.stdout, expected.stdout);
    // The code section is still covered, byte by byte at its ends and middle.
    let (text, _) = section(&bytes, ".text");
    for at in [text.start, text.start + text.len() / 2, text.end - 1] {
        assert!(file.checksum_coverage.covers(at), "{at}");
    }
}

#[test]
fn the_section_headers_are_covered() {
    let dir = scratch("coverage-headers");
    let mut bytes = good_image();
    // Shrinking the symbol table's size would leave more of the file covered, and change a
    // covered byte: the checksum catches it.
    let (_, header) = section(&bytes, ".symtab");
    bytes[header + 32] = bytes[header + 32].wrapping_sub(24);
    let path = dir.join("shrunk-symtab.so");
    std::fs::write(&path, &bytes).unwrap();
    match Image::open(&path, &LoadOptions::default()) {
        Err(e) => assert!(matches!(e.cause, LoadCause::Checksum { .. }), "{e}"),
        Ok(_) => panic!("an image with a changed section header opened"),
    }
    assert_clean_failure(&run_prime_at(&path), "checksum mismatch");
}

#[test]
fn a_section_left_out_may_not_overlap_code() {
    let dir = scratch("coverage-overlap");
    let mut bytes = good_image();
    // The symbol table's header made to name the code's bytes: those would go unchecked.
    let (text, _) = section(&bytes, ".text");
    let (_, header) = section(&bytes, ".symtab");
    bytes[header + 24..header + 32].copy_from_slice(&(text.start as u64).to_le_bytes());
    let path = dir.join("symtab-over-text.so");
    std::fs::write(&path, &bytes).unwrap();
    let reason = "a section that is not loaded overlaps the headers or a segment";
    match ImageFile::parse(&bytes) {
        Err(e) => assert!(e.to_string().contains(reason), "{e}"),
        Ok(_) => panic!("a left-out section over the code parsed"),
    }
    assert_clean_failure(&run_prime_at(&path), reason);
}

#[test]
fn inspect_says_how_much_the_checksum_covers() {
    let path = example_image("for-damage", &["--export-all"]);
    let bytes = std::fs::read(&path).unwrap();
    // Independently: the file less the contents of the sections that are not loaded, other
    // than the section names.
    let file = object::File::parse(&*bytes).unwrap();
    let left_out: u64 = (file.sections())
        .filter(|s| s.name() != Ok(".shstrtab"))
        .filter(|s| match s.flags() {
            object::SectionFlags::Elf { sh_flags } => sh_flags & object::elf::SHF_ALLOC as u64 == 0,
            _ => false,
        })
        .filter_map(|s| s.file_range())
        .map(|(_, size)| size)
        .sum();
    assert!(left_out > 0, "the image has a symbol table");
    let covered = bytes.len() - left_out as usize;
    let report = aotlink_ok(["inspect".as_ref(), path.as_os_str(), "--json".as_ref()]);
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["checksum_covered_bytes"], covered);
    assert_eq!(json["file_bytes"], bytes.len());
    let text = aotlink_ok(["inspect".as_ref(), path.as_os_str()]);
    let expected = format!(
        "(verified, over {covered} of the file's {} bytes)",
        bytes.len()
    );
    assert!(String::from_utf8_lossy(&text.stdout).contains(&expected));
}

/// A real code base with debug information: Lua compiled by `clang -g`, built into an image
/// linked by the embedded LLD (`pkg`) and by the C compiler driver (`sysimg`, GNU ld's
/// layout). Its debug sections and symbol table are what the checksum leaves out; with all of
/// them damaged the image still opens through the loader and runs Lua's test script exactly
/// as gcc's build of the same sources does.
#[test]
fn lua_with_debug_information_runs_like_gcc_with_its_debug_sections_damaged() {
    use crate::lua::*;
    let dir = scratch("coverage-lua-debug");
    let sources = library_sources(&lua_sources());
    let bitcode = lua_bitcode(&sources, &dir.join("ir"), &["-g"]);
    let reference = dir.join("liblua-ref.so");
    gcc_lua(&sources, &reference);
    let expected = run_script(
        &direct_harness(&reference, &dir.join("ref")),
        &reference,
        None,
    );
    assert!(expected.trim_end().ends_with("end"), "{expected}");
    let loader = loader_harness(&dir);
    for kind in ["pkg", "sysimg"] {
        let image = dir.join(format!("lua-{kind}.so"));
        let mut args: Vec<String> = ["build", "--export-all", "--cpu-target", "generic"]
            .map(String::from)
            .to_vec();
        args.extend(["--kind".into(), kind.into(), "-o".into()]);
        args.push(image.display().to_string());
        args.extend(bitcode.iter().map(|p| p.display().to_string()));
        aotlink_ok(&args);
        let mut bytes = std::fs::read(&image).unwrap();
        let file = ImageFile::parse(&bytes).unwrap();
        for name in [
            ".debug_info",
            ".debug_line",
            ".debug_str",
            ".symtab",
            ".strtab",
        ] {
            let (range, _) = section(&bytes, name);
            assert!(range.len() > 64, "{kind}: {name} is {} bytes", range.len());
            assert!(
                !file.checksum_coverage.covers(range.start),
                "{kind}: {name}"
            );
            // A quarter of the section from its middle on, inverted.
            let from = range.start + range.len() / 2;
            for b in &mut bytes[from..from + range.len() / 4] {
                *b = !*b;
            }
        }
        let damaged = dir.join(format!("lua-{kind}-damaged.so"));
        std::fs::write(&damaged, &bytes).unwrap();
        assert_eq!(run_script(&loader, &damaged, None), expected, "{kind}");
    }
}
