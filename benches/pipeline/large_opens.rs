//! Part of the `load` section: opening large images (issue 30). For SQLite with the default
//! CPU targets (about 7 MB), the generated module at `AOTLINK_BENCH_LARGE_FUNCTIONS` functions
//! (default 50,000, about 68 MB; 0 skips it) and SQLite with 128 MiB of image data (about
//! 141 MB, a serialized heap as a runtime's system image carries), in one run:
//! - a bare dlopen + dlsym of a fresh copy of the file (the ratios' denominator);
//! - the first open through the C ABI (`aotload_open`), on fresh copies: nothing remembered;
//! - the same two on fresh copies written with one `write`, as `aotlink` writes an image: the
//!   page cache then holds them in large folios, which map far faster than the small ones
//!   `std::fs::copy` leaves (`per_open.rs`, [`CopiedBy`]); both are ways an image arrives (a
//!   build's output; a copy made with `cp` or `install`), so both are shown;
//! - the re-open of the same unchanged, settled file through the C ABI: the in-process verdict;
//! - the re-open with in-process verdicts off and the verdict cache on disk: what the next
//!   process pays.
//!
//! The builds use the default shard cache (they are not timed), two emission threads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use aotload::{DiskVerdicts, Image, LoadOptions, VerdictOptions, Verification};

use crate::per_open::{c_open, dlopen_and_lookup, per_open_on_n_copies_by, CopiedBy};
use crate::report::Table;
use crate::timing::{millis, min_reported, ratio};
use crate::Config;

const DEFAULT_LARGE_FUNCTIONS: usize = 50_000;
/// Bytes of image data of the largest image.
const HEAP_BYTES: usize = 128 << 20;
/// Copies written per repeat are bounded by this many bytes (and by 3..=20 copies).
const COPY_BUDGET: u64 = 600 << 20;
/// Longer than the loader waits before a file's verdict may be remembered (100 ms).
const SETTLE: Duration = Duration::from_millis(300);

/// One image's figures.
struct Opens {
    name: String,
    size: u64,
    dlopen: Duration,
    first: Duration,
    /// The same two on copies written with one `write`.
    dlopen_written: Duration,
    first_written: Duration,
    reopen: Duration,
    reopen_disk: Duration,
}

pub fn bench_large_opens(config: &Config, dir: &Path, table: &mut Table) -> Result<()> {
    println!("\n[load] large images: first open and re-open (verdicts), vs dlopen + dlsym");
    let dir = dir.join("large-opens");
    std::fs::create_dir_all(&dir)?;
    let mut md = String::from(
        "Opening large images (C ABI `aotload_open`; re-open: the same unchanged file again; \
         ratio to a bare dlopen + dlsym of a fresh copy, in the same run; fresh copies made \
         with `std::fs::copy`, as `cp` copies, and in the columns so marked written with one \
         `write`, as aotlink writes an image, with the dlopen of such copies as the ratio's \
         denominator):\n\n\
         | Image | Size | dlopen + dlsym | First open | dlopen + dlsym, written | \
         First open, written | Re-open (in-process verdict) | \
         Re-open (disk verdict cache) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let images = match build_images(&dir) {
        Ok(images) => images,
        Err(e) => {
            println!("  skipped: {e:#}");
            let _ = writeln!(md, "Skipped: {e:#}.");
            table.sections.push(md);
            return Ok(());
        }
    };
    for (name, image) in images {
        let opens = time_opens(config, &name, &image, &dir)?;
        let r = |d: Duration| ratio(d, opens.dlopen);
        let rw = ratio(opens.first_written, opens.dlopen_written);
        println!(
            "  {name} ({:.1} MB): dlopen {:.3} ms; first open {:.3} ms ({:.1}x); written copies: \
             dlopen {:.3} ms, first open {:.3} ms ({:.1}x); re-open {:.3} ms ({:.2}x); re-open \
             from the disk cache {:.3} ms ({:.2}x)",
            opens.size as f64 / 1e6,
            millis(opens.dlopen),
            millis(opens.first),
            r(opens.first),
            millis(opens.dlopen_written),
            millis(opens.first_written),
            rw,
            millis(opens.reopen),
            r(opens.reopen),
            millis(opens.reopen_disk),
            r(opens.reopen_disk),
        );
        let _ = writeln!(
            md,
            "| {} | {:.1} MB | {:.3} ms | {:.3} ms, **{:.1}x** | {:.3} ms | {:.3} ms, **{:.1}x** \
             | {:.3} ms, **{:.2}x** | {:.3} ms, **{:.2}x** |",
            opens.name,
            opens.size as f64 / 1e6,
            millis(opens.dlopen),
            millis(opens.first),
            r(opens.first),
            millis(opens.dlopen_written),
            millis(opens.first_written),
            rw,
            millis(opens.reopen),
            r(opens.reopen),
            millis(opens.reopen_disk),
            r(opens.reopen_disk),
        );
    }
    table.sections.push(md);
    Ok(())
}

/// The images, smallest first: (name, path).
fn build_images(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let bitcode = crate::sqlite::sqlite_bitcode(&dir.join("sqlite"), None)?;
    let mut images = Vec::new();
    let sqlite = dir.join("sqlite.so");
    build(aotlink::Build::new().input(&bitcode), &sqlite)?;
    images.push(("SQLite, default targets".to_string(), sqlite));
    let functions = match std::env::var("AOTLINK_BENCH_LARGE_FUNCTIONS") {
        Ok(text) => text
            .trim()
            .parse()
            .context("AOTLINK_BENCH_LARGE_FUNCTIONS")?,
        Err(_) => DEFAULT_LARGE_FUNCTIONS,
    };
    if functions > 0 {
        let ir = dir.join("module.ll");
        std::fs::write(&ir, crate::ir::generate_ir(functions))?;
        let module = dir.join("module.so");
        let mut build_module = aotlink::Build::new().input(&ir);
        for name in crate::ir::export_names(functions) {
            build_module = build_module.export(name);
        }
        let start = Instant::now();
        build(build_module, &module)?;
        println!(
            "  built the {functions}-function module in {:.0} s (not timed below)",
            start.elapsed().as_secs_f64()
        );
        images.push((
            format!("module, {functions} functions, default targets"),
            module,
        ));
    }
    let heap = dir.join("sqlite-heap.so");
    build(
        aotlink::Build::new()
            .input(&bitcode)
            .image_data(heap_bytes()),
        &heap,
    )?;
    images.push(("SQLite + 128 MiB image data".to_string(), heap));
    Ok(images)
}

fn build(build: aotlink::Build, out: &Path) -> Result<()> {
    build
        .export_all(true)
        .threads(2)
        .cache(aotlink::CacheLocation::Default)
        .build(out)
        .with_context(|| format!("building {}", out.display()))?;
    Ok(())
}

/// Deterministic bytes that do not repeat (a serialized heap does not compress to nothing).
fn heap_bytes() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = Vec::with_capacity(HEAP_BYTES);
    while bytes.len() < HEAP_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

fn time_opens(config: &Config, name: &str, image: &Path, dir: &Path) -> Result<Opens> {
    let size = std::fs::metadata(image)?.len();
    let copies = (COPY_BUDGET / size.max(1)).clamp(3, 20) as usize;
    let work = dir.join("copies");
    let first_opens = |how: CopiedBy| -> Result<(Duration, Duration)> {
        let dlopen = min_reported(config.repeat, || {
            per_open_on_n_copies_by(image, &work, copies, how, dlopen_and_lookup)
        })?;
        let first = min_reported(config.repeat, || {
            per_open_on_n_copies_by(image, &work, copies, how, |path| {
                let (elapsed, verification) = c_open(path)?;
                expect(verification, 0, "a first open hashes")?;
                Ok(elapsed)
            })
        })?;
        Ok((dlopen, first))
    };
    let (dlopen, first) = first_opens(CopiedBy::CopyFileRange)?;
    let (dlopen_written, first_written) = first_opens(CopiedBy::OneWrite)?;

    // One settled copy, opened again and again.
    let settled = work.join("settled.so");
    std::fs::create_dir_all(&work)?;
    std::fs::copy(image, &settled)?;
    std::thread::sleep(SETTLE);
    expect(
        c_open(&settled)?.1,
        0,
        "the settled copy's first open hashes",
    )?;
    let reopen = min_reported(config.repeat, || {
        mean_of(copies, || {
            let (elapsed, verification) = c_open(&settled)?;
            expect(verification, 2, "a re-open uses the in-process verdict")?;
            Ok(elapsed)
        })
    })?;
    let on_disk = LoadOptions {
        verdicts: VerdictOptions {
            in_process: false,
            on_disk: DiskVerdicts::Dir(dir.join("verdicts")),
        },
        ..Default::default()
    };
    Image::open(&settled, &on_disk)?; // writes the entry (if it was not there yet)
    let reopen_disk = min_reported(config.repeat, || {
        mean_of(copies, || {
            let start = Instant::now();
            let image = Image::open(&settled, &on_disk)?;
            let elapsed = start.elapsed();
            if image.verification() != Verification::RememberedOnDisk {
                bail!(
                    "{name}: a re-open from the disk cache {:?}",
                    image.verification()
                );
            }
            Ok(elapsed)
        })
    })?;
    std::fs::remove_file(&settled)?;
    Ok(Opens {
        name: name.to_string(),
        size,
        dlopen,
        first,
        dlopen_written,
        first_written,
        reopen,
        reopen_disk,
    })
}

fn expect(verification: i32, expected: i32, what: &str) -> Result<()> {
    match verification == expected {
        true => Ok(()),
        false => bail!("{what}, but aotload_verification says {verification}"),
    }
}

/// The mean of `count` calls of `f`'s reported durations.
fn mean_of(count: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for _ in 0..count {
        total += f()?;
    }
    Ok(total / count as u32)
}
