//! The C ABI (`include/aotload.h`). Errors come back as NULL plus a message that
//! `aotload_last_error` returns, per thread, until the next failing call on that thread.

mod verdicts;

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};

use crate::load::image::{Image, LoadOptions};
use crate::methods::method_table::MethodTable;

/// The C handle: the image plus C copies of the strings the C ABI hands out.
pub struct CImage {
    image: Image,
    /// (method, reason, culprit) of each invalidation, made on the first `aotload_invalidated`.
    invalidated: std::sync::OnceLock<Vec<[CString; 3]>>,
    target: CString,
}

fn c_string(s: String) -> CString {
    CString::new(s.replace('\0', " ")).expect("NULs replaced")
}

impl CImage {
    fn new(image: Image) -> CImage {
        let target = c_string(image.target_name().to_string());
        CImage {
            image,
            invalidated: std::sync::OnceLock::new(),
            target,
        }
    }

    fn invalidated(&self) -> &[[CString; 3]] {
        self.invalidated.get_or_init(|| {
            (self.image.invalidated().iter())
                .map(|i| {
                    [
                        c_string(i.method.clone()),
                        c_string(i.reason.to_string()),
                        c_string(i.culprit.clone()),
                    ]
                })
                .collect()
        })
    }
}

impl std::ops::Deref for CImage {
    type Target = Image;
    fn deref(&self) -> &Image {
        &self.image
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Runs `f`; a panic inside becomes `fallback` and an error message, since unwinding out of an
/// `extern "C"` function would abort the host process.
fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            set_error(format!("aotload: internal error: {what}"));
            fallback
        }
    }
}

fn set_error(message: String) {
    let message = CString::new(message.replace('\0', " ")).expect("NULs replaced");
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// The path in the C string at `path`, as the OS spells it: on Unix any bytes (a path need not
/// be UTF-8), elsewhere UTF-8 (a lossy conversion would open a different file).
///
/// # Safety
/// `path` is non-NULL and NUL-terminated.
unsafe fn c_path(path: *const c_char) -> Result<std::path::PathBuf, String> {
    let bytes = CStr::from_ptr(path).to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::ffi::OsStr::from_bytes(bytes).into())
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(Into::into)
            .map_err(|_| format!("path is not UTF-8: {}", String::from_utf8_lossy(bytes)))
    }
}

/// The text in the C string at `text` (a name, signature or target; the image stores them as
/// UTF-8, so other bytes cannot match anything and are an error rather than a near miss).
///
/// # Safety
/// `text` is non-NULL and NUL-terminated.
unsafe fn c_text<'a>(text: *const c_char, what: &str) -> Result<&'a str, String> {
    let bytes = CStr::from_ptr(text).to_bytes();
    std::str::from_utf8(bytes)
        .map_err(|_| format!("{what} is not UTF-8: {}", String::from_utf8_lossy(bytes)))
}

/// A method's name and signature from C strings (`function` names the caller in errors).
///
/// # Safety
/// Both are non-NULL and NUL-terminated.
unsafe fn c_name_and_signature<'a>(
    name: *const c_char,
    signature: *const c_char,
    function: &str,
) -> Result<(&'a str, &'a str), String> {
    Ok((
        c_text(name, &format!("{function}: name"))?,
        c_text(signature, &format!("{function}: signature"))?,
    ))
}

/// `result`'s value, or `None` once its error is the thread's last error.
fn or_report<T>(result: Result<T, String>) -> Option<T> {
    result.map_err(set_error).ok()
}

/// `c_text` of a string that may be NULL (absent).
///
/// # Safety
/// `text` is NULL or NUL-terminated.
unsafe fn c_optional_text(text: *const c_char, what: &str) -> Result<Option<String>, String> {
    if text.is_null() {
        return Ok(None);
    }
    c_text(text, what).map(|t| Some(t.to_string()))
}

/// Opens and verifies an image, choosing the best target for this CPU. NULL on error.
///
/// # Safety
/// `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn aotload_open(path: *const c_char) -> *mut CImage {
    guard(std::ptr::null_mut(), || {
        aotload_open_target(path, std::ptr::null())
    })
}

/// Like `aotload_open`, but uses the target named `target` (NULL: choose).
///
/// # Safety
/// `path` and `target` (when not NULL) are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn aotload_open_target(
    path: *const c_char,
    target: *const c_char,
) -> *mut CImage {
    guard(std::ptr::null_mut(), || {
        let mut table = MethodTable::new();
        aotload_open_in(&mut table, path, target)
    })
}

/// Opens an image into a method table (see `Image::open_in`). NULL on error.
///
/// # Safety
/// `table` comes from `aotload_method_table_new`; `path` and `target` (when not NULL) are
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn aotload_open_in(
    table: *mut MethodTable,
    path: *const c_char,
    target: *const c_char,
) -> *mut CImage {
    guard(std::ptr::null_mut(), || {
        let Some(table) = table.as_mut() else {
            set_error("aotload_open_in: method table is NULL".into());
            return std::ptr::null_mut();
        };
        let Some(target) = or_report(c_optional_text(target, "aotload_open_in: target")) else {
            return std::ptr::null_mut();
        };
        let options = LoadOptions {
            target,
            ..Default::default()
        };
        open_with(table, path, &options)
    })
}

/// Opens the image at the C string `path` with `options` into `table`.
///
/// # Safety
/// `path` is NULL or NUL-terminated.
unsafe fn open_with(
    table: &mut MethodTable,
    path: *const c_char,
    options: &LoadOptions,
) -> *mut CImage {
    if path.is_null() {
        set_error("aotload_open: path is NULL".into());
        return std::ptr::null_mut();
    }
    let Some(path) = or_report(c_path(path).map_err(|e| format!("aotload_open: {e}"))) else {
        return std::ptr::null_mut();
    };
    match Image::open_in(&path, options, table) {
        Ok(image) => Box::into_raw(Box::new(CImage::new(image))),
        Err(e) => {
            set_error(e.to_string());
            std::ptr::null_mut()
        }
    }
}

/// How `aotload_open_opts` opens an image (`LoadOptions`), built by the calls below.
pub type COptions = LoadOptions;

/// New load options: choose the target, no signature required, no key trusted.
#[no_mangle]
pub extern "C" fn aotload_options_new() -> *mut COptions {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(LoadOptions::default()))
    })
}

/// Frees load options (images opened with them are not affected).
///
/// # Safety
/// `options` comes from `aotload_options_new` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_free(options: *mut COptions) {
    guard((), || {
        if !options.is_null() {
            drop(Box::from_raw(options));
        }
    })
}

/// Uses the target named `target` (NULL: choose the best one for this CPU). 0, or -1 (and an
/// error message) when `options` is NULL or `target` is not UTF-8.
///
/// # Safety
/// `options` comes from `aotload_options_new`; `target` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_set_target(
    options: *mut COptions,
    target: *const c_char,
) -> i32 {
    guard(-1, || {
        let Some(options) = options.as_mut() else {
            set_error("aotload_options_set_target: options is NULL".into());
            return -1;
        };
        match or_report(c_optional_text(
            target,
            "aotload_options_set_target: target",
        )) {
            Some(target) => {
                options.target = target;
                0
            }
            None => -1,
        }
    })
}

/// Requires (nonzero) or not (0) a valid signature by a trusted key.
///
/// # Safety
/// `options` comes from `aotload_options_new`.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_require_signature(options: *mut COptions, require: i32) {
    guard((), || {
        if let Some(options) = options.as_mut() {
            options.require_signature = require != 0;
        }
    })
}

/// Trusts the ed25519 public key of 32 bytes at `key`. 0, or -1 (and an error message) when
/// the bytes are not a valid public key.
///
/// # Safety
/// `options` comes from `aotload_options_new`; `key` points at 32 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_trust_key(options: *mut COptions, key: *const u8) -> i32 {
    guard(-1, || {
        let (Some(options), false) = (options.as_mut(), key.is_null()) else {
            set_error("aotload_options_trust_key: options or key is NULL".into());
            return -1;
        };
        let bytes: [u8; 32] = std::slice::from_raw_parts(key, 32)
            .try_into()
            .expect("32 bytes");
        match crate::signing::PublicKey::from_bytes(&bytes) {
            Some(key) => {
                options.trusted_keys.push(key);
                0
            }
            None => {
                set_error("aotload_options_trust_key: not a valid ed25519 public key".into());
                -1
            }
        }
    })
}

/// Trusts the public key in the file at `path` (written by `aotlink keygen`). 0, or -1 (and an
/// error message naming the file).
///
/// # Safety
/// `options` comes from `aotload_options_new`; `path` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_trust_key_file(
    options: *mut COptions,
    path: *const c_char,
) -> i32 {
    guard(-1, || {
        let (Some(options), false) = (options.as_mut(), path.is_null()) else {
            set_error("aotload_options_trust_key_file: options or path is NULL".into());
            return -1;
        };
        let path = c_path(path).map_err(|e| format!("aotload_options_trust_key_file: {e}"));
        let Some(path) = or_report(path) else {
            return -1;
        };
        let key = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| crate::signing::PublicKey::parse(&text).map_err(|e| e.to_string()));
        match key {
            Ok(key) => {
                options.trusted_keys.push(key);
                0
            }
            Err(e) => {
                set_error(format!("{}: {e}", path.display()));
                -1
            }
        }
    })
}

/// Opens an image with `options` (NULL: the defaults) into `table` (NULL: a table of its own,
/// as `aotload_open`). NULL on error.
///
/// # Safety
/// `table` is NULL or comes from `aotload_method_table_new`; `path` is NUL-terminated;
/// `options` is NULL or comes from `aotload_options_new`.
#[no_mangle]
pub unsafe extern "C" fn aotload_open_opts(
    table: *mut MethodTable,
    path: *const c_char,
    options: *const COptions,
) -> *mut CImage {
    guard(std::ptr::null_mut(), || {
        let mut own = MethodTable::new();
        let table = table.as_mut().unwrap_or(&mut own);
        let defaults = LoadOptions::default();
        let options = options.as_ref().unwrap_or(&defaults);
        open_with(table, path, options)
    })
}

/// A new, empty method table.
#[no_mangle]
pub extern "C" fn aotload_method_table_new() -> *mut MethodTable {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(MethodTable::new()))
    })
}

/// Frees a method table (images opened into it stay usable).
///
/// # Safety
/// `table` comes from `aotload_method_table_new` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn aotload_method_table_free(table: *mut MethodTable) {
    guard((), || {
        if !table.is_null() {
            drop(Box::from_raw(table));
        }
    })
}

/// Adds a method the runtime provides; -1 (and an error message) when the table already has
/// one with this name and signature.
///
/// # Safety
/// `table` comes from `aotload_method_table_new`; `name` and `signature` are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotload_method_table_define(
    table: *mut MethodTable,
    name: *const c_char,
    signature: *const c_char,
    hash: u64,
    address: *const c_void,
) -> i32 {
    guard(-1, || {
        let (Some(table), false, false) = (table.as_mut(), name.is_null(), signature.is_null())
        else {
            return -1;
        };
        let names = c_name_and_signature(name, signature, "aotload_method_table_define");
        let Some((name, signature)) = or_report(names) else {
            return -1;
        };
        match table.define(name, signature, hash, address) {
            Ok(()) => 0,
            Err(e) => {
                set_error(e.to_string());
                -1
            }
        }
    })
}

/// Adds or replaces a method (the runtime redefined it): package images opened afterwards
/// validate against the new hash.
///
/// # Safety
/// As `aotload_method_table_define`.
#[no_mangle]
pub unsafe extern "C" fn aotload_method_table_redefine(
    table: *mut MethodTable,
    name: *const c_char,
    signature: *const c_char,
    hash: u64,
    address: *const c_void,
) {
    guard((), || {
        let (Some(table), false, false) = (table.as_mut(), name.is_null(), signature.is_null())
        else {
            return;
        };
        let names = c_name_and_signature(name, signature, "aotload_method_table_redefine");
        let Some((name, signature)) = or_report(names) else {
            return;
        };
        table.redefine(name, signature, hash, address);
    })
}

/// What invalid methods of package images point at (NULL: nothing).
///
/// # Safety
/// `table` comes from `aotload_method_table_new`.
#[no_mangle]
pub unsafe extern "C" fn aotload_method_table_set_recompile_stub(
    table: *mut MethodTable,
    stub: *const c_void,
) {
    guard((), || {
        if let Some(table) = table.as_mut() {
            table.set_recompile_stub((!stub.is_null()).then_some(stub));
        }
    })
}

/// Number of methods of the image that did not validate.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_ninvalidated(image: *const CImage) -> u32 {
    guard(0, || image.as_ref().map_or(0, |i| i.invalid_count() as u32))
}

/// The `index`-th invalid method: its name, why, and the external method at the root of it
/// (strings live as long as the image). Returns 0, or -1 when `index` is out of range.
///
/// # Safety
/// `image` comes from `aotload_open`; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn aotload_invalidated(
    image: *const CImage,
    index: u32,
    method: *mut *const c_char,
    reason: *mut *const c_char,
    culprit: *mut *const c_char,
) -> i32 {
    guard(-1, || {
        let Some(entry) = image
            .as_ref()
            .and_then(|i| i.invalidated().get(index as usize))
        else {
            return -1;
        };
        for (out, s) in [
            (method, &entry[0]),
            (reason, &entry[1]),
            (culprit, &entry[2]),
        ] {
            if let Some(out) = out.as_mut() {
                *out = s.as_ptr();
            }
        }
        0
    })
}

/// Number of functions (fvars) in the image.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_nfvars(image: *const CImage) -> u32 {
    guard(0, || image.as_ref().map_or(0, |i| i.fvars().len() as u32))
}

/// Number of globals (gvars) in the image.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_ngvars(image: *const CImage) -> u32 {
    guard(0, || image.as_ref().map_or(0, |i| i.gvars().len() as u32))
}

/// The function with fvar index `index` for the chosen target; NULL when out of range.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_fptr(image: *const CImage, index: u32) -> *const c_void {
    guard(std::ptr::null(), || {
        let Some(image) = image.as_ref() else {
            return std::ptr::null();
        };
        image
            .fvars()
            .get(index as usize)
            .copied()
            .unwrap_or_else(|| {
                set_error(format!(
                    "aotload_fptr: fvar {index} out of range ({} functions)",
                    image.fvars().len()
                ));
                std::ptr::null()
            })
    })
}

/// The global with gvar index `index`; NULL when out of range.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_gvar(image: *const CImage, index: u32) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(image) = image.as_ref() else {
            return std::ptr::null_mut();
        };
        image
            .gvars()
            .get(index as usize)
            .copied()
            .unwrap_or_else(|| {
                set_error(format!(
                    "aotload_gvar: gvar {index} out of range ({} globals)",
                    image.gvars().len()
                ));
                std::ptr::null_mut()
            })
    })
}

/// The function named `name` (exported or not); NULL when the image has none.
///
/// # Safety
/// `image` comes from `aotload_open`; `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn aotload_lookup(
    image: *const CImage,
    name: *const c_char,
) -> *const c_void {
    guard(std::ptr::null(), || {
        let (Some(image), false) = (image.as_ref(), name.is_null()) else {
            return std::ptr::null();
        };
        let Some(name) = or_report(c_text(name, "aotload_lookup: name")) else {
            return std::ptr::null();
        };
        image.lookup(name).unwrap_or_else(|| {
            set_error(format!(
                "aotload_lookup: no function `{name}` in {}",
                image.path().display()
            ));
            std::ptr::null()
        })
    })
}

/// The exported variable named `name` (for a thread-local one, the calling thread's copy); NULL
/// when the image exports none.
///
/// # Safety
/// `image` comes from `aotload_open`; `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn aotload_lookup_data(
    image: *const CImage,
    name: *const c_char,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let (Some(image), false) = (image.as_ref(), name.is_null()) else {
            return std::ptr::null_mut();
        };
        let Some(name) = or_report(c_text(name, "aotload_lookup_data: name")) else {
            return std::ptr::null_mut();
        };
        image.lookup_data(name).unwrap_or_else(|| {
            set_error(format!(
                "aotload_lookup_data: no exported variable `{name}` in {}",
                image.path().display()
            ));
            std::ptr::null_mut()
        })
    })
}

/// The image data; its length goes to `*len` (when not NULL).
///
/// # Safety
/// `image` comes from `aotload_open`; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn aotload_image_data(image: *const CImage, len: *mut usize) -> *const u8 {
    guard(std::ptr::null(), || {
        let data = image.as_ref().map_or(&[][..], |i| i.image_data());
        if let Some(len) = len.as_mut() {
            *len = data.len();
        }
        data.as_ptr()
    })
}

/// CPU name of the target the loader chose.
///
/// # Safety
/// `image` comes from `aotload_open`. The string lives as long as the image.
#[no_mangle]
pub unsafe extern "C" fn aotload_target_name(image: *const CImage) -> *const c_char {
    guard(std::ptr::null(), || {
        image
            .as_ref()
            .map_or(std::ptr::null(), |i| i.target.as_ptr())
    })
}

/// The message of the last failing call on this thread ("" when none).
#[no_mangle]
pub extern "C" fn aotload_last_error() -> *const c_char {
    guard(std::ptr::null(), || {
        LAST_ERROR.with(|e| e.borrow().as_ptr())
    })
}

/// Closes the image; its function and data pointers become invalid.
///
/// # Safety
/// `image` comes from `aotload_open` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn aotload_close(image: *mut CImage) {
    guard((), || {
        if !image.is_null() {
            drop(Box::from_raw(image));
        }
    })
}
