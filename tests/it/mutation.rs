//! The mutation test of issue 12: small images of four kinds (plain, multiversioned, system,
//! package against a method table) with their root, metadata and shard tables mutated, opened
//! through the Rust API, the C API (tests/it/c/open_mutants.c) and `aotlink run`/`inspect`.
//!
//! Two ways of re-sealing each mutant:
//! - **checksum**: the whole-file checksum is recomputed, as anyone can (it is a plain xxh3).
//!   Every outcome must be a clean error or a correct result: the results of every exported
//!   function equal those of the cc-built library of the same C.
//! - **format-aware**: the tables digest is recomputed too, as someone who knows the format
//!   would. Structural checks alone then stand between the mutant and the process: opening it
//!   must be a clean error or a success, never a panic or a signal. Nothing of a mutant that
//!   opens is called: whether such bytes may run is what signatures decide (tests/it/signing.rs).
//!
//! And a third family (issue 27), **relocation**: one dynamic relocation redirected anywhere in
//! the image, re-sealed. Opened (never called) as the format-aware ones; one aimed into what the
//! loader verified (root head, metadata, shard tables) must be refused.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aotload::call::{call, Signature};
use aotload::format::{RootView, CHECKSUM_OFFSET};
use aotload::{Image, ImageFile, LoadOptions, MethodTable};

use crate::common::*;

/// Mutants per subject and way of re-sealing: 4 subjects x 2 ways x 300 = 2,400.
const MUTANTS: usize = 300;
/// One mutant in this many is also run through the CLI.
const CLI_EVERY: usize = 12;

/// An image to mutate and what tells a correct result.
struct Subject {
    name: &'static str,
    image: PathBuf,
    /// The same C built by cc as a shared library.
    reference: PathBuf,
    /// A system image opened first into the method table (for a package image).
    system: Option<PathBuf>,
    /// int64 functions (name, arity) the C harness and `aotlink run` call with 11, 6, 7.
    calls: &'static [(&'static str, usize)],
    /// Exported functions left out of the comparison on awkward arguments: their results
    /// depend on earlier calls, or they recurse as deep as their argument (called with 11 only).
    not_compared: &'static [&'static str],
}

fn subjects() -> Vec<Subject> {
    let kernels = |name, extra: &[&str]| {
        let mut args = vec!["--export-all", "--shards", "3"];
        args.extend(extra);
        Subject {
            name,
            image: example_image(name, &args),
            reference: reference_library().to_path_buf(),
            system: None,
            calls: &[
                ("prime_at", 1),
                ("call_twice", 2),
                ("apply_op", 3),
                ("pow_mod", 3),
                ("collatz_steps", 1),
            ],
            not_compared: &["counter_add", "counter_get"],
        }
    };
    let (system, package) = crate::methods::system_and_package();
    let dir = scratch("mutation-references");
    let methods = repo().join("tests/it/methods");
    let reference = |name: &str, sources: &[&str]| {
        let out = dir.join(format!("lib{name}.so"));
        let mut cc = Command::new("cc");
        cc.args(["-O2", "-fPIC", "-shared", "-o"]).arg(&out);
        cc.args(sources.iter().map(|s| methods.join(s)));
        check(&mut cc);
        out
    };
    let method_calls: &[(&str, usize)] = &[("uses_f", 1), ("via_table", 1), ("ping", 1)];
    vec![
        kernels("mutation-plain", &["--cpu-target", "generic"]),
        kernels("mutation-multiversioned", &[]),
        Subject {
            name: "mutation-system",
            image: system.clone(),
            reference: reference("sys", &["sys.c"]),
            system: None,
            calls: &[("f", 1), ("g", 1), ("sys_only", 1)],
            not_compared: &[],
        },
        Subject {
            name: "mutation-package",
            image: package.clone(),
            reference: reference("sys_pkg", &["sys.c", "pkg.c"]),
            system: Some(system.clone()),
            calls: method_calls,
            not_compared: &["ping", "pong"],
        },
    ]
}

/// Byte ranges of the file that hold what the loader reads: root head and pointers,
/// external-slot offsets and metadata, each shard table.
struct Regions {
    root: std::ops::Range<usize>,
    meta: std::ops::Range<usize>,
    tables: Vec<std::ops::Range<usize>>,
}

fn regions(bytes: &[u8]) -> Regions {
    let file = ImageFile::parse(bytes).unwrap();
    let start = file.checksum_file_offset - CHECKSUM_OFFSET;
    let root = RootView::parse(&bytes[start..]).unwrap();
    let meta_start = start + root.encoded_len - root.meta.len();
    let tables = file
        .shards
        .iter()
        .map(|(vaddr, table)| {
            let at = file.segments.file_offset(vaddr).unwrap() as usize;
            at..at + table.encoded_len()
        })
        .collect();
    Regions {
        root: start..meta_start,
        meta: meta_start..start + root.encoded_len,
        tables,
    }
}

/// A deterministic mutation of `bytes` inside `regions`: 1 to 3 edits, each a bit flip, a
/// random byte, an aligned 32-bit word set to an awkward value or nudged, or two words swapped
/// (two function offsets exchanged is the mutation that runs the wrong function).
fn mutate(bytes: &mut [u8], regions: &Regions, rng: &mut Args) {
    let edits = 1 + rng.next_u64() % 3;
    for _ in 0..edits {
        let pick = rng.next_u64();
        let range = match pick % 4 {
            0 => regions.root.clone(),
            1 => regions.meta.clone(),
            _ => regions.tables[(pick >> 8) as usize % regions.tables.len()].clone(),
        };
        let word_at = |r: u64| range.start + (r as usize % range.len()) / 4 * 4;
        let at = word_at(rng.next_u64());
        let word = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        match rng.next_u64() % 6 {
            0 => bytes[at + (pick >> 20) as usize % 4] ^= 1 << ((pick >> 24) % 8),
            1 => bytes[at + (pick >> 20) as usize % 4] = rng.next_u64() as u8,
            2 => {
                let awkward = [
                    0,
                    1,
                    2,
                    3,
                    7,
                    8,
                    63,
                    64,
                    65,
                    0x7fff_ffff,
                    0x8000_0000,
                    u32::MAX,
                ];
                let value = awkward[rng.next_u64() as usize % awkward.len()];
                bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            3 | 4 => {
                let deltas = [1i32, -1, 4, -4, 8, -8, 16, 64, -64, 0x1000, -0x1000];
                let delta = deltas[rng.next_u64() as usize % deltas.len()];
                let value = word(bytes, at).wrapping_add_signed(delta);
                bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            _ => {
                let other = word_at(rng.next_u64());
                let (a, b) = (word(bytes, at), word(bytes, other));
                bytes[at..at + 4].copy_from_slice(&b.to_le_bytes());
                bytes[other..other + 4].copy_from_slice(&a.to_le_bytes());
            }
        }
    }
}

/// Relocation mutants per subject (4 subjects: 240).
const RELOCATION_MUTANTS: usize = 60;

/// The relocations of an image that the relocation family moves, and the places it must not
/// touch: what the platform loader's own start-up and shut-down follow (constructors,
/// destructors, the GOT, `.dynamic`). A relocation moved off or onto those makes `ld.so` call
/// or read garbage, which no check of ours can see (docs/DESIGN.md, "Trust model": only a
/// signature covers the platform loader's structures).
struct RelocationFamily {
    movable: Vec<crate::relocations::Rela>,
    platform: Vec<std::ops::Range<u64>>,
    span: std::ops::Range<u64>,
}

impl RelocationFamily {
    fn of(bytes: &[u8], file: &ImageFile) -> RelocationFamily {
        use object::{Object as _, ObjectSection as _};
        let object = object::File::parse(bytes).unwrap();
        let platform: Vec<std::ops::Range<u64>> = object
            .sections()
            .filter(|s| {
                let name = s.name().unwrap_or_default();
                [".init_array", ".fini_array", ".got", ".got.plt", ".dynamic"].contains(&name)
            })
            .map(|s| s.address()..s.address() + s.size())
            .collect();
        let touches_platform = |at: u64| platform.iter().any(|r| at + 8 > r.start && at < r.end);
        let movable = crate::relocations::rela_entries(bytes)
            .into_iter()
            .filter(|r| [8, 1027].contains(&r.r_type) && !touches_platform(r.target))
            .collect::<Vec<_>>();
        assert!(!movable.is_empty());
        let list = file.segments.list();
        let span = list[0].vaddr.start..list[list.len() - 1].vaddr.end;
        RelocationFamily {
            movable,
            platform,
            span,
        }
    }

    /// One relocation redirected, re-sealed: to a word of what the loader verified (one in
    /// two: it must be refused, the result), or anywhere in the image's address range, at any
    /// alignment (one in four unaligned), but the platform loader's own places.
    fn mutate(
        &self,
        bytes: &mut [u8],
        file: &ImageFile,
        regions: &Regions,
        rng: &mut Args,
    ) -> bool {
        let rela = self.movable[rng.next_u64() as usize % self.movable.len()];
        let verified = rng.next_u64().is_multiple_of(2);
        let target = if verified {
            let range = match rng.next_u64() % 3 {
                0 => regions.root.start..regions.root.start + 56,
                1 => regions.meta.clone(),
                _ => regions.tables[rng.next_u64() as usize % regions.tables.len()].clone(),
            };
            crate::relocations::vaddr_of(file, range.start + rng.next_u64() as usize % range.len())
        } else {
            loop {
                let mut at = self.span.start + rng.next_u64() % (self.span.end - self.span.start);
                if !rng.next_u64().is_multiple_of(4) {
                    at &= !7;
                }
                if !self.platform.iter().any(|r| at + 8 > r.start && at < r.end) {
                    break at;
                }
            }
        };
        crate::relocations::redirect(bytes, file, rela, target);
        verified
    }
}

/// Every exported function's results on a few awkward argument lists, from the reference.
fn reference_results(subject: &Subject, image: &Image) -> Vec<(String, Vec<u64>)> {
    // SAFETY: the reference is cc's build of the image's own C source.
    let library = unsafe { libloading::Library::new(&subject.reference) }.unwrap();
    image
        .meta()
        .exports
        .iter()
        .filter(|e| !subject.not_compared.contains(&e.name.as_str()))
        .map(|export| {
            let sig =
                Signature::parse(&image.meta().methods[export.fvar as usize].signature).unwrap();
            let address = unsafe {
                *library
                    .get::<*const std::ffi::c_void>(export.name.as_bytes())
                    .unwrap()
            };
            let mut args = Args::new(export.fvar as u64 + 3);
            let results = (0..3)
                .map(|_| {
                    let values = args.values(&sig);
                    unsafe { call(address, &sig, &values) }
                        .unwrap()
                        .map_or(0, |v| v.bits())
                })
                .collect();
            (export.name.clone(), results)
        })
        .collect()
}

/// The same calls on an opened mutant; `None` when every result equals the reference's.
fn wrong_result(image: &Image, expected: &[(String, Vec<u64>)]) -> Option<String> {
    for (name, results) in expected {
        let Some(index) = image.fvar_index(name) else {
            return Some(format!("{name} is missing"));
        };
        let sig = Signature::parse(&image.meta().methods[index as usize].signature).unwrap();
        let Some(address) = image.lookup(name) else {
            return Some(format!("{name} has no address"));
        };
        let mut args = Args::new(index as u64 + 3);
        for &want in results {
            let values = args.values(&sig);
            let got = unsafe { call(address, &sig, &values) }
                .unwrap()
                .map_or(0, |v| v.bits());
            if got != want {
                return Some(format!("{name}{values:?} = {got:#x}, reference {want:#x}"));
            }
        }
    }
    None
}

/// The line open_mutants.c prints for an image that computes what the reference does.
fn expected_c_line(subject: &Subject) -> String {
    let library = unsafe { libloading::Library::new(&subject.reference) }.unwrap();
    let mut line = String::from("ok");
    for &(name, arity) in subject.calls {
        let address = unsafe {
            *library
                .get::<*const std::ffi::c_void>(name.as_bytes())
                .unwrap()
        };
        // SAFETY: each named function takes `arity` int64 arguments and returns an int64.
        let value = unsafe {
            match arity {
                1 => std::mem::transmute::<*const std::ffi::c_void, extern "C" fn(i64) -> i64>(
                    address,
                )(11),
                2 => {
                    std::mem::transmute::<*const std::ffi::c_void, extern "C" fn(i64, i64) -> i64>(
                        address,
                    )(11, 6)
                }
                _ => std::mem::transmute::<
                    *const std::ffi::c_void,
                    extern "C" fn(i64, i64, i64) -> i64,
                >(address)(11, 6, 7),
            }
        };
        line += &format!(" {value}");
    }
    line
}

/// A CLI outcome is a success or one `aotlink: error:` line with exit status 1.
fn assert_clean_cli(out: &std::process::Output, what: &str) -> bool {
    if out.status.success() {
        return true;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        out.status.code() == Some(1)
            && lines.len() == 1
            && lines[0].starts_with("aotlink: error: "),
        "{what}: not a clean failure ({}): {stderr}",
        out.status
    );
    false
}

#[derive(Default)]
struct Tally {
    mutants: usize,
    refused: usize,
    opened: usize,
    slowest_open: Duration,
}

#[test]
fn mutated_tables_give_clean_errors_or_correct_results() {
    let harness = scratch("mutation").join("open_mutants");
    cc_with_aotload(&repo().join("tests/it/c/open_mutants.c"), &harness, &[]);
    let mut rng = Args::new(0x12_0000);
    let mut tallies = Vec::new();
    for subject in subjects() {
        let good = std::fs::read(&subject.image).unwrap();
        let regions = regions(&good);
        let open = |path: &Path| {
            let mut table = MethodTable::new();
            let system = subject
                .system
                .as_ref()
                .map(|s| Image::open_in(s, &LoadOptions::default(), &mut table).unwrap());
            let started = Instant::now();
            let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Image::open_in(path, &LoadOptions::default(), &mut table)
            }))
            .unwrap_or_else(|_| panic!("{}: the loader panicked", path.display()));
            (opened, started.elapsed(), system)
        };
        let (reference_image, _, _system) = open(&subject.image);
        let expected = reference_results(&subject, &reference_image.unwrap());
        let c_expected = expected_c_line(&subject);

        for digest in [false, true] {
            let way = if digest { "format-aware" } else { "checksum" };
            let dir = scratch(&format!("{}-{way}", subject.name));
            let mut tally = Tally::default();
            let mut paths = Vec::new();
            for i in 0..MUTANTS {
                let mut bytes = good.clone();
                mutate(&mut bytes, &regions, &mut rng);
                reseal(&mut bytes, digest);
                let path = dir.join(format!("m{i:03}.so"));
                std::fs::write(&path, &bytes).unwrap();
                tally.mutants += 1;
                if std::env::var_os("MUTATION_TRACE").is_some() {
                    eprintln!("{}", path.display());
                }
                let (opened, took, _system) = open(&path);
                tally.slowest_open = tally.slowest_open.max(took);
                match opened {
                    Err(_) => tally.refused += 1,
                    Ok(image) => {
                        tally.opened += 1;
                        if !digest {
                            if let Some(wrong) = wrong_result(&image, &expected) {
                                panic!(
                                    "{}: opened and computes a wrong value: {wrong}",
                                    path.display()
                                );
                            }
                        }
                    }
                }
                paths.push(path);
            }
            check_c_api(&harness, &subject, &paths, digest, &c_expected);
            check_cli(&subject, &paths, digest, &c_expected);
            tallies.push((subject.name, way, tally));
            std::fs::remove_dir_all(&dir).unwrap();
        }

        // The relocation family (issue 27): opened only, like the format-aware way.
        let dir = scratch(&format!("{}-relocation", subject.name));
        let original = ImageFile::parse(&good).unwrap();
        let family = RelocationFamily::of(&good, &original);
        let mut tally = Tally::default();
        let mut paths = Vec::new();
        for i in 0..RELOCATION_MUTANTS {
            let mut bytes = good.clone();
            let must_refuse = family.mutate(&mut bytes, &original, &regions, &mut rng);
            let path = dir.join(format!("r{i:03}.so"));
            std::fs::write(&path, &bytes).unwrap();
            tally.mutants += 1;
            let (opened, took, _system) = open(&path);
            tally.slowest_open = tally.slowest_open.max(took);
            match opened {
                Err(_) => tally.refused += 1,
                Ok(_) if must_refuse => {
                    panic!(
                        "{}: a relocation into verified bytes opened",
                        path.display()
                    )
                }
                Ok(_) => tally.opened += 1,
            }
            paths.push(path);
        }
        check_c_api(&harness, &subject, &paths, true, &c_expected);
        check_cli(&subject, &paths, true, &c_expected);
        tallies.push((subject.name, "relocation", tally));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let mut total = 0;
    for (name, way, t) in &tallies {
        eprintln!(
            "{name:<24} {way:<13} {} mutants: {} refused, {} opened; slowest open {:?}",
            t.mutants, t.refused, t.opened, t.slowest_open
        );
        total += t.mutants;
    }
    assert!(total >= 2000 + 4 * RELOCATION_MUTANTS);
}

/// Every mutant through open_mutants.c: refused, or (re-sealed by checksum only) computing the
/// reference's values.
fn check_c_api(harness: &Path, subject: &Subject, paths: &[PathBuf], digest: bool, expected: &str) {
    let list = paths[0].with_file_name("list.txt");
    let mut file = std::fs::File::create(&list).unwrap();
    for path in paths {
        writeln!(file, "{}", path.display()).unwrap();
    }
    drop(file);
    let mut cmd = Command::new(harness);
    cmd.arg(&list);
    if digest {
        cmd.arg("--open-only");
    }
    if let Some(system) = &subject.system {
        cmd.arg("--sys").arg(system);
    }
    cmd.args(
        subject
            .calls
            .iter()
            .map(|(name, arity)| format!("{name}:{arity}")),
    );
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: the C harness died ({}) after {} images; last line: {:?}",
        subject.name,
        out.status,
        stdout.lines().count(),
        stdout.lines().last()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), paths.len(), "{stdout}");
    for (line, path) in lines.iter().zip(paths) {
        let fine = line.starts_with("refused ")
            || if digest {
                *line == "ok"
            } else {
                *line == expected
            };
        assert!(
            fine,
            "{}: C API: {line} (reference: {expected})",
            path.display()
        );
    }
}

/// One mutant in [`CLI_EVERY`] through the CLI: `aotlink run` of the first call for mutants
/// re-sealed by checksum (a clean error, or the reference's value), `aotlink inspect --edges`
/// for the others (a clean error or a report; inspect never loads).
fn check_cli(subject: &Subject, paths: &[PathBuf], digest: bool, expected: &str) {
    let (name, arity) = subject.calls[0];
    let want = expected.split(' ').nth(1).unwrap();
    for path in paths.iter().step_by(CLI_EVERY) {
        let mut cmd = Command::new(aotlink());
        if digest {
            cmd.args(["inspect", "--edges"]).arg(path);
        } else {
            cmd.arg("run");
            if let Some(system) = &subject.system {
                cmd.arg("--load").arg(system);
            }
            cmd.arg(path)
                .arg(name)
                .args(["11", "6", "7"].iter().take(arity));
        }
        let out = cmd.output().unwrap();
        if assert_clean_cli(&out, &path.display().to_string()) && !digest {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                want,
                "{}",
                path.display()
            );
        }
    }
}
