//! Timing opens of an image (the load and validate sections): each open gets a fresh copy of
//! the file, because dlopen of a path that is already open only bumps a reference count.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use aotload::format::ROOT_SYMBOL;

use crate::timing::min_reported;
use crate::Config;

/// Fresh copies of the image opened per repeat: dlopen of an open path is only a refcount bump.
pub const LOAD_COPIES: usize = 20;

/// Mean bare dlopen + lookup of the root symbol; the close is not timed.
pub fn time_dlopen(config: &Config, image: &Path, copies: &Path) -> Result<Duration> {
    min_reported(config.repeat, || {
        per_open_on_copies(image, copies, dlopen_and_lookup)
    })
}

/// A bare dlopen + dlsym of the root, timed (the close is not).
pub fn dlopen_and_lookup(path: &Path) -> Result<Duration> {
    let start = Instant::now();
    // SAFETY: our own image; its initializers are its own code.
    let library = unsafe { libloading::Library::new(path)? };
    let root = *unsafe { library.get::<*const u8>(ROOT_SYMBOL.as_bytes())? };
    let elapsed = start.elapsed();
    std::hint::black_box(root);
    drop(library);
    Ok(elapsed)
}

// The C ABI as a C host calls it (the symbols are in the aotload rlib this bench links).
extern "C" {
    fn aotload_open(path: *const std::ffi::c_char) -> *mut std::ffi::c_void;
    fn aotload_verification(image: *const std::ffi::c_void) -> i32;
    fn aotload_close(image: *mut std::ffi::c_void);
}

/// `aotload_open` of `path`, timed (the close is not), and how it verified the bytes.
pub fn c_open(path: &Path) -> Result<(Duration, i32)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let start = Instant::now();
    // SAFETY: a NUL-terminated path; the handle is closed once, below.
    let handle = unsafe { aotload_open(c_path.as_ptr()) };
    let elapsed = start.elapsed();
    if handle.is_null() {
        anyhow::bail!("aotload_open failed on {}", path.display());
    }
    // SAFETY: a handle aotload_open returned, closed once and not used afterwards.
    let verification = unsafe { aotload_verification(handle) };
    // SAFETY: as above.
    unsafe { aotload_close(handle) };
    Ok((elapsed, verification))
}

/// Copies `image` to `LOAD_COPIES` new paths, runs `open` once on each, and returns the mean
/// of the durations it reports. The copies are deleted afterwards so each repeat gets new ones.
pub fn per_open_on_copies(
    image: &Path,
    dir: &Path,
    open: impl FnMut(&Path) -> Result<Duration>,
) -> Result<Duration> {
    per_open_on_n_copies(image, dir, LOAD_COPIES, open)
}

/// How the fresh copies are made. The page cache holds a file as the writes that made it left
/// it, and mapping it costs accordingly: `std::fs::copy` (`copy_file_range`, as `cp` and
/// `install` copy) leaves small folios, mapped a page-table entry at a time (touching every
/// page of SQLite's 5.5 MB image: 0.22–0.28 ms on this machine), while one `write` of the
/// whole file, as `aotlink` writes an image, leaves large folios (0.03–0.04 ms).
#[derive(Clone, Copy)]
pub enum CopiedBy {
    /// `std::fs::copy`, as `cp` and `install` copy.
    CopyFileRange,
    /// One `write` of the whole file, as `aotlink` writes an image.
    OneWrite,
}

/// [`per_open_on_copies`] with `count` copies (large images: fewer).
pub fn per_open_on_n_copies(
    image: &Path,
    dir: &Path,
    count: usize,
    open: impl FnMut(&Path) -> Result<Duration>,
) -> Result<Duration> {
    per_open_on_n_copies_by(image, dir, count, CopiedBy::CopyFileRange, open)
}

/// [`per_open_on_n_copies`] with the copies made as `how` says.
pub fn per_open_on_n_copies_by(
    image: &Path,
    dir: &Path,
    count: usize,
    how: CopiedBy,
    mut open: impl FnMut(&Path) -> Result<Duration>,
) -> Result<Duration> {
    std::fs::create_dir_all(dir)?;
    let contents = match how {
        CopiedBy::CopyFileRange => None,
        CopiedBy::OneWrite => Some(std::fs::read(image)?),
    };
    let paths = (0..count)
        .map(|k| {
            let path = dir.join(format!("image-{}-{k}.so", fresh_id()));
            match &contents {
                None => {
                    std::fs::copy(image, &path)?;
                }
                Some(bytes) => std::fs::write(&path, bytes)?,
            }
            Ok(path)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut total = Duration::ZERO;
    for path in &paths {
        total += open(path)?;
    }
    for path in &paths {
        std::fs::remove_file(path)?;
    }
    Ok(total / count as u32)
}

/// A number never handed out before in this process, so no copy path is ever reused.
fn fresh_id() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The minimum over `repeat` runs of the mean of `LOAD_COPIES` calls of `f`.
pub fn min_mean(repeat: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    min_reported(repeat, || mean_of(LOAD_COPIES, &mut f))
}

/// Mean wall time of `count` calls of `f`.
fn mean_of(count: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..count {
        f()?;
    }
    Ok(start.elapsed() / count as u32)
}
