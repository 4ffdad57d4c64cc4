//! Section `load`: `aotload::Image::open` vs a bare dlopen of the sealed module image, each on
//! fresh copies (see `per_open`), then `Image::open`'s steps before dlopen, each on its own.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aotlink::link::{self, Lld};
use aotlink::target::{Platform, Triple};
use aotload::format::ROOT_SYMBOL;
use aotload::{Image, ImageFile, LoadOptions, MetaView};

use crate::per_open::{c_open, min_mean, per_open_on_copies, time_dlopen, LOAD_COPIES};
use crate::report::Table;
use crate::timing::{millis, min_reported, ratio};
use crate::Config;

pub fn bench_load(config: &Config, archive: &Path, dir: &Path, table: &mut Table) -> Result<()> {
    println!("\n[load] sealed image (embedded LLD), {LOAD_COPIES} fresh copies per repeat");
    let platform = Platform::for_triple(&Triple::host());
    let image = dir.join("image.so");
    link::link_image(&Lld::new(), archive, &image, &platform)?;
    let size = std::fs::metadata(&image)?.len();
    println!("  image size            : {size} bytes");
    let target = check_image_loads(&image, config.functions)?;
    println!("  target chosen on load : {target}");

    let copies = dir.join("copies");
    let key = aotlink::sign::SecretKey::generate();
    let signed_image = dir.join("image-signed.so");
    std::fs::copy(&image, &signed_image)?;
    aotlink::sign::sign_image(&signed_image, &key)?;
    let signed_options = LoadOptions {
        trusted_keys: vec![key.public_key()],
        require_signature: true,
        ..Default::default()
    };
    let open = time_image_open(config, &image, &copies, &Default::default())?;
    let open_signed = time_image_open(config, &signed_image, &copies, &signed_options)?;
    let open_c = time_c_open(config, &image, &copies)?;
    let dlopen = time_dlopen(config, &image, &copies)?;
    let dlopen_fd = time_dlopen_by_descriptor(config, &image, &copies, false)?;
    let dlopen_memfd = time_dlopen_by_descriptor(config, &image, &copies, true)?;
    let steps = time_open_steps(config, &image)?;
    let signed_bytes = std::fs::read(&signed_image)?;
    let verify_signature = min_mean(config.repeat, || {
        aotload::signing::check(&signed_bytes, &signed_options.trusted_keys, true)?;
        Ok(())
    })?;
    let blake3 = min_mean(config.repeat, || {
        std::hint::black_box(blake3::hash(&signed_bytes));
        Ok(())
    })?;

    let r = ratio(open, dlopen);
    let verify = steps.parse + steps.checksum;
    let share = 100.0 * ratio(verify, open);
    println!("  Image::open           : {:.3} ms per open", millis(open));
    println!(
        "  dlopen + dlsym        : {:.3} ms per open",
        millis(dlopen)
    );
    println!("  ratio Image::open / dlopen: {r:.2}");
    println!(
        "  Image::open, signature required: {:.3} ms per open ({:.2} of unsigned; the \
         signature check alone {:.3} ms; BLAKE3 of the file on one thread {:.3} ms)",
        millis(open_signed),
        ratio(open_signed, open),
        millis(verify_signature),
        millis(blake3)
    );
    println!(
        "  dlopen of /proc/self/fd/N: {:.3} ms per open ({:.2} of dlopen by path); of a sealed \
         memfd copy: {:.3} ms ({:.2})",
        millis(dlopen_fd),
        ratio(dlopen_fd, dlopen),
        millis(dlopen_memfd),
        ratio(dlopen_memfd, dlopen)
    );
    println!(
        "  aotload_open (C ABI)  : {:.3} ms per open ({:.2} of dlopen)",
        millis(open_c),
        ratio(open_c, dlopen)
    );
    println!(
        "  in memory: parse {:.3} ms (of which MetaView::parse {:.3} ms) + checksum {:.3} ms \
         = {:.3} ms ({share:.0}% of Image::open)",
        millis(steps.parse),
        millis(steps.meta_decode),
        millis(steps.checksum),
        millis(verify)
    );
    println!(
        "  reading the file (page cache): {:.3} ms per read",
        millis(steps.read)
    );
    table.row("load (per open)", "Image::open", open, format!("{r:.2}"));
    table.row(
        "load (per open)",
        "Image::open, signature required",
        open_signed,
        format!("{:.2}", ratio(open_signed, dlopen)),
    );
    table.row(
        "load (per open)",
        "of which the signature check (BLAKE3 + ed25519)",
        verify_signature,
        format!("{:.2}", ratio(verify_signature, dlopen)),
    );
    table.row(
        "load (per open)",
        "aotload_open (C ABI)",
        open_c,
        format!("{:.2}", ratio(open_c, dlopen)),
    );
    table.row("load (per open)", "dlopen + dlsym", dlopen, "1.00".into());
    table.row(
        "load (per open)",
        "dlopen + dlsym of /proc/self/fd/N (how Image::open maps)",
        dlopen_fd,
        format!("{:.2}", ratio(dlopen_fd, dlopen)),
    );
    table.row(
        "load (per open)",
        "dlopen + dlsym of a sealed memfd copy (the alternative)",
        dlopen_memfd,
        format!("{:.2}", ratio(dlopen_memfd, dlopen)),
    );
    table.row(
        "load (per open)",
        &format!("of which parse + checksum ({share:.0}% of Image::open)"),
        verify,
        format!("{:.2}", ratio(verify, dlopen)),
    );
    table.image_size = Some(size);
    Ok(())
}

/// Mean `aotload::Image::open` time (verify, dlopen, merge tables); the close is not timed.
fn time_image_open(
    config: &Config,
    image: &Path,
    copies: &Path,
    options: &LoadOptions,
) -> Result<Duration> {
    min_reported(config.repeat, || {
        per_open_on_copies(image, copies, |path| {
            let start = Instant::now();
            let loaded = Image::open(path, options)?;
            let elapsed = start.elapsed();
            drop(loaded);
            Ok(elapsed)
        })
    })
}

/// Mean dlopen + dlsym of the root through `/proc/self/fd/N`: of the opened file (as
/// `Image::open` maps it), or with `copy` of a sealed memfd holding the file's bytes (what
/// would also exclude in-place writes, at the cost of a copy per open). Opening the file and
/// making the copy are timed; the close is not.
fn time_dlopen_by_descriptor(
    config: &Config,
    image: &Path,
    copies: &Path,
    copy: bool,
) -> Result<Duration> {
    use std::io::Write as _;
    use std::os::fd::{AsRawFd as _, FromRawFd as _};
    min_reported(config.repeat, || {
        per_open_on_copies(image, copies, |path| {
            let start = Instant::now();
            let file = if copy {
                let bytes = std::fs::read(path)?;
                // SAFETY: a NUL-terminated name; the descriptor is owned by the File below.
                let fd = unsafe {
                    libc::memfd_create(c"aotlink-image".as_ptr(), libc::MFD_ALLOW_SEALING)
                };
                if fd < 0 {
                    bail!("memfd_create: {}", std::io::Error::last_os_error());
                }
                // SAFETY: fd is a fresh descriptor nobody else owns.
                let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
                file.write_all(&bytes)?;
                let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK;
                // SAFETY: fcntl on a descriptor this function owns.
                if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
                    bail!("F_ADD_SEALS: {}", std::io::Error::last_os_error());
                }
                file
            } else {
                std::fs::File::open(path)?
            };
            let name = format!("/proc/self/fd/{}", file.as_raw_fd());
            // SAFETY: our own image; its initializers are its own code.
            let library = unsafe { libloading::Library::new(&name)? };
            let root = *unsafe { library.get::<*const u8>(ROOT_SYMBOL.as_bytes())? };
            let elapsed = start.elapsed();
            std::hint::black_box(root);
            drop(library);
            drop(file);
            Ok(elapsed)
        })
    })
}

/// Mean `aotload_open` time from a C string path; the close is not timed.
fn time_c_open(config: &Config, image: &Path, copies: &Path) -> Result<Duration> {
    min_reported(config.repeat, || {
        per_open_on_copies(image, copies, |path| Ok(c_open(path)?.0))
    })
}

/// The image opens and has every function (the generated ones plus the dispatcher); returns
/// the CPU target the loader chose for this machine.
fn check_image_loads(image: &Path, functions: usize) -> Result<String> {
    let loaded = Image::open(image, &Default::default())?;
    let expected = functions + 1;
    if loaded.fvars().len() != expected {
        bail!(
            "the image has {} functions, expected {expected}",
            loaded.fvars().len()
        );
    }
    Ok(loaded.target_name().to_string())
}

/// Mean times of the steps `Image::open` runs before dlopen, each on its own.
struct OpenSteps {
    /// `std::fs::read` of the file (from the page cache, as for the fresh copies).
    read: Duration,
    /// `ImageFile::parse_in_place` (what `Image::open` runs) on the bytes in memory...
    parse: Duration,
    /// ...of which reading and checking the metadata in place (`MetaView::parse`).
    meta_decode: Duration,
    /// `verify_checksum` on the bytes in memory.
    checksum: Duration,
}

fn time_open_steps(config: &Config, image: &Path) -> Result<OpenSteps> {
    let read = min_mean(config.repeat, || {
        std::hint::black_box(std::fs::read(image)?);
        Ok(())
    })?;
    let bytes = std::fs::read(image)?;
    let parse = min_mean(config.repeat, || {
        std::hint::black_box(ImageFile::parse_in_place(&bytes)?);
        Ok(())
    })?;
    let file = ImageFile::parse(&bytes)?;
    let encoded_meta = file.meta.encode();
    let meta_decode = min_mean(config.repeat, || {
        std::hint::black_box(MetaView::parse(&encoded_meta)?);
        Ok(())
    })?;
    let checksum = min_mean(config.repeat, || Ok(file.verify_checksum(&bytes)?))?;
    Ok(OpenSteps {
        read,
        parse,
        meta_decode,
        checksum,
    })
}
