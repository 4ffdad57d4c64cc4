//! Issue 27: a dynamic relocation pointed into what the loader verified in the file (the
//! root, the metadata, a shard table), in an image re-sealed as anyone can (checksum and
//! tables digest recomputed). The dynamic loader would apply it after the checks, so the loader
//! refuses it before `dlopen`: through the Rust API, the C API and the CLI.

use std::path::PathBuf;
use std::process::Command;

use aotload::format::CHECKSUM_OFFSET;
use aotload::relocations::{Protected, RelocationError};
use aotload::{Image, ImageFile, LoadCause, LoadOptions};

use crate::common::*;

/// `R_X86_64_RELATIVE` and `R_AARCH64_RELATIVE`.
const RELATIVE: [u32; 2] = [8, 1027];
/// Bytes of an ELF64 RELA entry: `r_offset`, `r_info`, `r_addend`.
const RELA_SIZE: usize = 24;

/// One entry of the image's dynamic RELA tables, where it lies in the file.
#[derive(Clone, Copy, Debug)]
pub struct Rela {
    /// File offset of the entry (its `r_offset` is the first 8 bytes).
    pub at: usize,
    pub target: u64,
    pub r_type: u32,
}

/// The entries of `.rela.dyn` and `.rela.plt`, read independently of the loader.
pub fn rela_entries(bytes: &[u8]) -> Vec<Rela> {
    use object::{Object as _, ObjectSection as _};
    let file = object::File::parse(bytes).unwrap();
    let mut entries = Vec::new();
    for name in [".rela.dyn", ".rela.plt"] {
        let Some((start, len)) = file.section_by_name(name).and_then(|s| s.file_range()) else {
            continue;
        };
        for at in (start as usize..(start + len) as usize).step_by(RELA_SIZE) {
            let word = |k: usize| u64::from_le_bytes(bytes[at + k..at + k + 8].try_into().unwrap());
            entries.push(Rela {
                at,
                target: word(0),
                r_type: word(8) as u32,
            });
        }
    }
    entries
}

/// Sets the entry's target and re-seals as sealing does, with the coverage of the image it was
/// made from (a relocation moved changes neither which bytes the checksum covers nor the
/// tables): a loader that did not check relocations would open the result.
pub fn redirect(bytes: &mut [u8], original: &ImageFile, rela: Rela, target: u64) {
    bytes[rela.at..rela.at + 8].copy_from_slice(&target.to_le_bytes());
    let checksum = original.computed_checksum(bytes);
    let at = original.checksum_file_offset;
    bytes[at..at + 8].copy_from_slice(&checksum.to_le_bytes());
}

/// A RELATIVE relocation of `file` that is not a shard pointer's (those the loader resolves
/// from the relocations themselves).
fn movable_relative(bytes: &[u8], file: &ImageFile) -> Rela {
    let pointers = file.root_vaddr + 56..file.root_vaddr + 56 + 8 * file.shards.len() as u64;
    *rela_entries(bytes)
        .iter()
        .find(|r| RELATIVE.contains(&r.r_type) && !pointers.contains(&r.target))
        .expect("the example image has relative relocations besides the shard pointers")
}

/// Where the file offset `offset` is in memory.
pub fn vaddr_of(file: &ImageFile, offset: usize) -> u64 {
    let s = (file.segments.list().iter())
        .find(|s| s.file.contains(&(offset as u64)))
        .unwrap();
    s.vaddr.start + (offset as u64 - s.file.start)
}

#[test]
fn relocations_into_what_the_loader_verified_are_refused_before_dlopen() {
    let image = example_image(
        "relocations",
        &["--export-all", "--shards", "3", "--cpu-target", "generic"],
    );
    let good = std::fs::read(&image).unwrap();
    let file = ImageFile::parse(&good).unwrap();
    let rela = movable_relative(&good, &file);
    // The first method's callee range (start and length, 8 bytes), as the probe found it.
    let meta_vaddr = vaddr_of(&file, file.meta_file_range.start);
    let first_method = 48 + 32 * file.meta.targets.len() as u64;
    let cases = [
        (file.root_vaddr + 16, Protected::RootHead),
        (meta_vaddr + first_method + 24, Protected::Metadata),
        (file.shards.get(1).unwrap().0 + 8, Protected::ShardTable(1)),
    ];
    let dir = scratch("relocations-into-verified");
    let mut paths: Vec<PathBuf> = Vec::new();
    for (i, &(target, into)) in cases.iter().enumerate() {
        let mut bytes = good.clone();
        redirect(&mut bytes, &file, rela, target);
        let path = dir.join(format!("into-{i}.so"));
        std::fs::write(&path, &bytes).unwrap();
        // Rust API: the typed cause, naming what the relocation would change.
        let err = Image::open(&path, &LoadOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{into:?}: opened"));
        assert!(
            matches!(err.cause, LoadCause::Relocation(RelocationError::Into { at, into: what })
                if at == target && what == into),
            "{into:?}: {err}"
        );
        // CLI: one clean line, naming the file and the part.
        let out = run_aotlink([
            "run".as_ref(),
            path.as_os_str(),
            "prime_at".as_ref(),
            "11".as_ref(),
        ]);
        assert_clean_failure(&out, &format!("writes into the {into}"));
        assert_clean_failure(&out, &path.display().to_string());
        paths.push(path);
    }
    // C API: refused with the same message.
    let lines = open_through_c_api(&paths);
    for ((line, path), (_, into)) in lines.iter().zip(&paths).zip(cases) {
        let expected = format!(
            "refused {}: damaged image: a dynamic relocation",
            path.display()
        );
        assert!(
            line.starts_with(&expected) && line.contains(&format!("writes into the {into}")),
            "C API: {line}"
        );
    }
    // The image they were made from opens.
    open(&image);
}

/// Each image through tests/it/c/open_mutants.c (open only): its line of output each.
fn open_through_c_api(paths: &[PathBuf]) -> Vec<String> {
    let harness = scratch("relocations-c").join("open_mutants");
    cc_with_aotload(&repo().join("tests/it/c/open_mutants.c"), &harness, &[]);
    let list = harness.with_file_name("list.txt");
    let text: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
    std::fs::write(&list, text).unwrap();
    let out = Command::new(&harness)
        .arg(&list)
        .arg("--open-only")
        .output()
        .unwrap();
    assert!(out.status.success(), "the C harness died: {}", out.status);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), paths.len(), "{lines:?}");
    lines
}

/// Sanity of the independent reader: the example image's shard pointers are relocated, and
/// only they of what the loader verified.
#[test]
fn the_writer_relocates_only_the_shard_pointers_of_the_root() {
    let image = example_image(
        "relocations",
        &["--export-all", "--shards", "3", "--cpu-target", "generic"],
    );
    let bytes = std::fs::read(&image).unwrap();
    let file = ImageFile::parse(&bytes).unwrap();
    let root = file.checksum_file_offset - CHECKSUM_OFFSET;
    let root_vaddr = vaddr_of(&file, root);
    let root_end = vaddr_of(&file, file.meta_file_range.end - 1) + 1;
    let into_root: Vec<u64> = (rela_entries(&bytes).iter())
        .map(|r| r.target)
        .filter(|t| (root_vaddr..root_end).contains(t))
        .collect();
    let pointers: Vec<u64> = (0..file.shards.len() as u64)
        .map(|i| root_vaddr + 56 + 8 * i)
        .collect();
    assert_eq!(into_root, pointers);
}
