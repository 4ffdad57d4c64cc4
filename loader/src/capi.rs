//! The C ABI (`include/aotload.h`). Errors come back as NULL plus a message that
//! `aotload_last_error` returns, per thread, until the next failing call on that thread.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};

use crate::image::{Image, LoadOptions};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(message: String) {
    let message = CString::new(message.replace('\0', " ")).expect("NULs replaced");
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Opens and verifies an image, choosing the best target for this CPU. NULL on error.
///
/// # Safety
/// `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn aotload_open(path: *const c_char) -> *mut Image {
    aotload_open_target(path, std::ptr::null())
}

/// Like `aotload_open`, but uses the target named `target` (NULL: choose).
///
/// # Safety
/// `path` and `target` (when not NULL) are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn aotload_open_target(
    path: *const c_char,
    target: *const c_char,
) -> *mut Image {
    if path.is_null() {
        set_error("aotload_open: path is NULL".into());
        return std::ptr::null_mut();
    }
    let path = CStr::from_ptr(path).to_string_lossy().into_owned();
    let target = (!target.is_null()).then(|| CStr::from_ptr(target).to_string_lossy().into_owned());
    match Image::open(
        &path,
        &LoadOptions {
            target,
            ..Default::default()
        },
    ) {
        Ok(image) => Box::into_raw(Box::new(image)),
        Err(e) => {
            set_error(e.to_string());
            std::ptr::null_mut()
        }
    }
}

/// Number of functions (fvars) in the image.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_nfvars(image: *const Image) -> u32 {
    image.as_ref().map_or(0, |i| i.fvars().len() as u32)
}

/// Number of globals (gvars) in the image.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_ngvars(image: *const Image) -> u32 {
    image.as_ref().map_or(0, |i| i.gvars().len() as u32)
}

/// The function with fvar index `index` for the chosen target; NULL when out of range.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_fptr(image: *const Image, index: u32) -> *const c_void {
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
}

/// The global with gvar index `index`; NULL when out of range.
///
/// # Safety
/// `image` comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_gvar(image: *const Image, index: u32) -> *mut c_void {
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
}

/// The function named `name` (exported or not); NULL when the image has none.
///
/// # Safety
/// `image` comes from `aotload_open`; `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn aotload_lookup(image: *const Image, name: *const c_char) -> *const c_void {
    let (Some(image), false) = (image.as_ref(), name.is_null()) else {
        return std::ptr::null();
    };
    let name = CStr::from_ptr(name).to_string_lossy();
    image.lookup(&name).unwrap_or_else(|| {
        set_error(format!(
            "aotload_lookup: no function `{name}` in {}",
            image.path().display()
        ));
        std::ptr::null()
    })
}

/// The image data; its length goes to `*len` (when not NULL).
///
/// # Safety
/// `image` comes from `aotload_open`; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn aotload_image_data(image: *const Image, len: *mut usize) -> *const u8 {
    let data = image.as_ref().map_or(&[][..], |i| i.image_data());
    if let Some(len) = len.as_mut() {
        *len = data.len();
    }
    data.as_ptr()
}

/// CPU name of the target the loader chose.
///
/// # Safety
/// `image` comes from `aotload_open`. The string lives as long as the image.
#[no_mangle]
pub unsafe extern "C" fn aotload_target_name(image: *const Image) -> *const c_char {
    thread_local! { static NAME: RefCell<CString> = RefCell::new(CString::default()); }
    let Some(image) = image.as_ref() else {
        return std::ptr::null();
    };
    NAME.with(|n| {
        *n.borrow_mut() = CString::new(image.target_name()).unwrap_or_default();
        n.borrow().as_ptr()
    })
}

/// The message of the last failing call on this thread ("" when none).
#[no_mangle]
pub extern "C" fn aotload_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Closes the image; its function and data pointers become invalid.
///
/// # Safety
/// `image` comes from `aotload_open` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn aotload_close(image: *mut Image) {
    if !image.is_null() {
        drop(Box::from_raw(image));
    }
}
