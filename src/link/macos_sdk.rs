//! A macOS SDK given as `--sysroot`: its own libSystem stub (`usr/lib/libSystem.tbd`, from
//! Apple's SDK or any directory laid out like one) replaces the vendored one, so the image
//! binds to what that SDK says libSystem exports.

use std::path::{Path, PathBuf};

use super::job::{LinkError, LinkJob};
use crate::target::Os;

/// Where an SDK keeps libSystem's stub.
const LIBSYSTEM: &str = "usr/lib/libSystem.tbd";

/// The system libraries to link from the SDK at `sysroot`, for a macOS image; `None` for any
/// other image or without a sysroot.
pub fn sdk_system_libraries(
    job: &LinkJob,
    sysroot: Option<&Path>,
) -> Result<Option<Vec<PathBuf>>, LinkError> {
    let (Os::MacOs, Some(sdk)) = (job.platform.triple().os, sysroot) else {
        return Ok(None);
    };
    let stub = sdk.join(LIBSYSTEM);
    if !stub.is_file() {
        return Err(LinkError::Runtime(format!(
            "--sysroot {}: no {LIBSYSTEM} there (a macOS SDK has one, e.g. MacOSX.sdk)",
            sdk.display()
        )));
    }
    Ok(Some(vec![stub]))
}
