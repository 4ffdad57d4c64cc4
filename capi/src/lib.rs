//! The C API of aotlink's build (`include/aotlink.h`): a runtime written in C or C++ builds
//! images from its JIT's bitcode in its own process, with the options of `aotlink build`,
//! instead of spawning the command line and writing temp files. Every function catches panics
//! and reports failure as a status (or NULL) plus a per-thread message
//! (`aotlink_last_error`), as libaotload's C API does.

mod checker;
mod error;
mod handle;
mod options;

use std::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;

use checker::Checker;
use error::{guard, set_error, status};
use handle::{CBuild, ProgressFn};

/// The path in the C string at `path`, as the OS spells it (on Unix any bytes; elsewhere
/// UTF-8, since a lossy conversion would name another file).
///
/// # Safety
/// `path` is NULL or NUL-terminated.
unsafe fn c_path(path: *const c_char, what: &str) -> Result<PathBuf, String> {
    if path.is_null() {
        return Err(format!("{what} is NULL"));
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's promise).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::ffi::OsStr::from_bytes(bytes).into())
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(Into::into)
            .map_err(|_| format!("{what} is not UTF-8"))
    }
}

/// The UTF-8 text at `text`, `None` for NULL.
///
/// # Safety
/// `text` is NULL or NUL-terminated, and outlives `'a`.
unsafe fn c_text<'a>(text: *const c_char, what: &str) -> Result<Option<&'a str>, String> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's promise).
    let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| format!("{what} is not UTF-8: {}", String::from_utf8_lossy(bytes)))
}

/// `len` bytes at `data`; NULL is an error unless `len` is 0.
///
/// # Safety
/// `data` is NULL or points at `len` readable bytes that outlive `'a`.
unsafe fn c_bytes<'a>(data: *const c_void, len: usize, what: &str) -> Result<&'a [u8], String> {
    if data.is_null() {
        return match len {
            0 => Ok(&[]),
            _ => Err(format!("{what}: data is NULL")),
        };
    }
    // SAFETY: `len` readable bytes at `data` (the caller's promise).
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// The build behind `build`, or an error naming `function`.
///
/// # Safety
/// `build` is NULL or comes from `aotlink_build_new` and is not freed.
unsafe fn c_build<'a>(build: *mut CBuild, function: &str) -> Result<&'a mut CBuild, String> {
    // SAFETY: NULL or a live build, used by one thread at a time (the caller's promise).
    unsafe { build.as_mut() }.ok_or_else(|| format!("{function}: build is NULL"))
}

/// A new build; NULL only if it could not be made (see `aotlink_last_error`).
#[no_mangle]
pub extern "C" fn aotlink_build_new() -> *mut CBuild {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(CBuild::new()))
    })
}

/// Frees a build (NULL: nothing). The report's string goes with it.
///
/// # Safety
/// `build` is NULL or comes from `aotlink_build_new`, and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_free(build: *mut CBuild) {
    guard((), || {
        if !build.is_null() {
            // SAFETY: from Box::into_raw in aotlink_build_new, freed once (the caller's promise).
            drop(unsafe { Box::from_raw(build) });
        }
    })
}

/// Adds IR in memory, copied. 0, or -1.
///
/// # Safety
/// `build` as for `aotlink_build_free`; `name` is NULL or NUL-terminated; `data` points at
/// `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_add_bitcode(
    build: *mut CBuild,
    name: *const c_char,
    data: *const c_void,
    len: usize,
) -> i32 {
    const FUNCTION: &str = "aotlink_build_add_bitcode";
    status(|| {
        // SAFETY: the caller's promises, passed on.
        let (build, name, bytes) = unsafe {
            (
                c_build(build, FUNCTION)?,
                c_text(name, &format!("{FUNCTION}: name"))?,
                c_bytes(data, len, FUNCTION)?,
            )
        };
        if data.is_null() {
            return Err(format!("{FUNCTION}: data is NULL"));
        }
        build.add_bitcode(name.unwrap_or("bitcode"), bytes);
        Ok(())
    })
}

/// Adds an IR file, read when the build runs. 0, or -1.
///
/// # Safety
/// `build` as for `aotlink_build_free`; `path` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_add_file(build: *mut CBuild, path: *const c_char) -> i32 {
    const FUNCTION: &str = "aotlink_build_add_file";
    status(|| {
        // SAFETY: the caller's promises, passed on.
        let (build, path) = unsafe {
            (
                c_build(build, FUNCTION)?,
                c_path(path, &format!("{FUNCTION}: path"))?,
            )
        };
        build.add_file(path);
        Ok(())
    })
}

/// Sets an option of `aotlink build` by its long name. 0, or -1 (nothing changed).
///
/// # Safety
/// `build` as for `aotlink_build_free`; `option` is NUL-terminated; `value` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_set(
    build: *mut CBuild,
    option: *const c_char,
    value: *const c_char,
) -> i32 {
    const FUNCTION: &str = "aotlink_build_set";
    status(|| {
        // SAFETY: the caller's promises, passed on.
        let (build, option, value) = unsafe {
            (
                c_build(build, FUNCTION)?,
                c_text(option, &format!("{FUNCTION}: option"))?,
                c_text(value, &format!("{FUNCTION}: value"))?,
            )
        };
        let option = option.ok_or_else(|| format!("{FUNCTION}: option is NULL"))?;
        build.set(option, value)
    })
}

/// Sets the image data, copied. 0, or -1.
///
/// # Safety
/// `build` as for `aotlink_build_free`; `data` points at `len` readable bytes (or is NULL
/// with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_set_image_data(
    build: *mut CBuild,
    data: *const c_void,
    len: usize,
) -> i32 {
    const FUNCTION: &str = "aotlink_build_set_image_data";
    status(|| {
        // SAFETY: the caller's promises, passed on.
        let (build, bytes) = unsafe { (c_build(build, FUNCTION)?, c_bytes(data, len, FUNCTION)?) };
        build.set_image_data(bytes);
        Ok(())
    })
}

/// Sets (or with NULL, clears) the progress callback. 0, or -1.
///
/// # Safety
/// `build` as for `aotlink_build_free`; `callback` is NULL or may be called from another
/// thread with `user` while a run lasts.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_set_progress(
    build: *mut CBuild,
    callback: Option<ProgressFn>,
    user: *mut c_void,
) -> i32 {
    status(|| {
        // SAFETY: the caller's promise, passed on.
        let build = unsafe { c_build(build, "aotlink_build_set_progress")? };
        build.set_progress(callback, user);
        Ok(())
    })
}

/// Names the aotlink executable that checks the inputs in a child process; NULL: no check,
/// the inputs are trusted. 0, or -1.
///
/// # Safety
/// `build` as for `aotlink_build_free`; `executable` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_set_checker(
    build: *mut CBuild,
    executable: *const c_char,
) -> i32 {
    const FUNCTION: &str = "aotlink_build_set_checker";
    status(|| {
        // SAFETY: the caller's promise, passed on.
        let build = unsafe { c_build(build, FUNCTION)? };
        let checker = match executable.is_null() {
            true => Checker::Trusted,
            // SAFETY: non-NULL and NUL-terminated (the caller's promise).
            false => Checker::Executable(unsafe { c_path(executable, FUNCTION)? }),
        };
        build.set_checker(checker);
        Ok(())
    })
}

/// Runs the build into `output_path`. 0, or -1.
///
/// # Safety
/// `build` as for `aotlink_build_free`; `output_path` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_run(build: *mut CBuild, output_path: *const c_char) -> i32 {
    const FUNCTION: &str = "aotlink_build_run";
    status(|| {
        // SAFETY: the caller's promises, passed on.
        let (build, output) = unsafe {
            (
                c_build(build, FUNCTION)?,
                c_path(output_path, &format!("{FUNCTION}: output path"))?,
            )
        };
        build.run(&output)
    })
}

/// The last successful run's report (JSON), or NULL.
///
/// # Safety
/// `build` is NULL or comes from `aotlink_build_new` and is not freed.
#[no_mangle]
pub unsafe extern "C" fn aotlink_build_report_json(build: *const CBuild) -> *const c_char {
    const FUNCTION: &str = "aotlink_build_report_json";
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live build (the caller's promise); only read.
        let Some(build) = (unsafe { build.as_ref() }) else {
            set_error(format!("{FUNCTION}: build is NULL"));
            return std::ptr::null();
        };
        match build.report_json() {
            Some(json) => json.as_ptr(),
            None => {
                set_error(format!("{FUNCTION}: no run of this build has succeeded"));
                std::ptr::null()
            }
        }
    })
}

/// The message of the last failing call on this thread ("" if none).
#[no_mangle]
pub extern "C" fn aotlink_last_error() -> *const c_char {
    guard(c"".as_ptr(), error::last_error)
}
