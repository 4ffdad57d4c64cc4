//! The C ABI of verdicts (`include/aotload.h`): the verdict cache on disk in load options, and
//! how an opened image's bytes were found whole.

use std::ffi::c_char;

use super::{c_path, guard, set_error, CImage, COptions};
use crate::verdict::{DiskVerdicts, Verification};

/// The verdict cache on disk: `mode` 1 uses it in the default place (`verdicts/` beside the
/// shard cache), 0 does not, -1 does as `AOTLINK_VERDICT_CACHE` says (the default). Returns 0,
/// or -1 when `options` is NULL or `mode` is none of these.
///
/// # Safety
/// `options` comes from `aotload_options_new`.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_disk_verdicts(options: *mut COptions, mode: i32) -> i32 {
    guard(-1, || {
        let Some(options) = options.as_mut() else {
            set_error("aotload_options_disk_verdicts: options is NULL".into());
            return -1;
        };
        options.verdicts.on_disk = match mode {
            1 => DiskVerdicts::DefaultDir,
            0 => DiskVerdicts::Off,
            -1 => DiskVerdicts::FromEnvironment,
            _ => {
                set_error(format!(
                    "aotload_options_disk_verdicts: mode {mode} is not 1, 0 or -1"
                ));
                return -1;
            }
        };
        0
    })
}

/// The verdict cache on disk in the directory `dir` (created, mode 0700, when missing). Returns
/// 0, or -1 when `options` or `dir` is NULL.
///
/// # Safety
/// `options` comes from `aotload_options_new`; `dir` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn aotload_options_disk_verdicts_dir(
    options: *mut COptions,
    dir: *const c_char,
) -> i32 {
    guard(-1, || {
        let (Some(options), false) = (options.as_mut(), dir.is_null()) else {
            set_error("aotload_options_disk_verdicts_dir: options or dir is NULL".into());
            return -1;
        };
        match c_path(dir) {
            Ok(dir) => {
                options.verdicts.on_disk = DiskVerdicts::Dir(dir);
                0
            }
            Err(e) => {
                set_error(format!("aotload_options_disk_verdicts_dir: {e}"));
                -1
            }
        }
    })
}

/// How the image's bytes were found whole: 0 hashed on this open, 1 a trusted signature, 2 a
/// verdict this process remembered, 3 a verdict from the cache on disk; -1 for NULL.
///
/// # Safety
/// `image` is NULL or comes from `aotload_open`.
#[no_mangle]
pub unsafe extern "C" fn aotload_verification(image: *const CImage) -> i32 {
    guard(-1, || match image.as_ref().map(|i| i.verification()) {
        None => -1,
        Some(Verification::Hashed) => 0,
        Some(Verification::Signature) => 1,
        Some(Verification::RememberedInProcess) => 2,
        Some(Verification::RememberedOnDisk) => 3,
    })
}
