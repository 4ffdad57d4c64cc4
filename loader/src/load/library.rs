//! Handing a verified image file to the platform's dynamic loader so that it maps the file
//! that was verified, not whatever the path names a moment later.
//!
//! - Linux: `dlopen("/proc/self/fd/N")` on the descriptor the bytes were mapped from. That path
//!   names the open file itself, so renaming another file over the image's path in between
//!   changes nothing. (What remains: a process allowed to write the file can change its bytes
//!   in place; a sealed private copy would exclude that too, at the cost of a copy of the file
//!   and of sharing its pages between processes, which a system image of hundreds of
//!   megabytes needs.) glibc knows a loaded object by that name, and descriptor numbers are
//!   reused: so the descriptor stays open while the object is loaded, and forever if
//!   `dlclose` did not unload it.
//! - Windows: the file was opened without sharing write or delete access (`map_image_file`),
//!   so while it is held nobody can change, replace or rename it; `LoadLibrary` then maps that
//!   file by its path.
//! - macOS and others: `dlopen` by path, after checking that the path still names the opened
//!   file (device and inode). A swap between that check and `dlopen` is not excluded; the root
//!   compared after `dlopen` catches a different image, not different code behind the same
//!   root. Keep images where only trusted users can write.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;

/// An open image as the loader keeps it: the library the dynamic loader mapped (code, slots,
/// image data) and the metadata as verified in the file, which the loader reads instead of the
/// loaded copy (a dynamic relocation could have changed that one after the checks). What
/// borrows from either holds this.
#[derive(Debug)]
pub struct LoadedImage {
    pub _library: MappedLibrary,
    pub verified_meta: crate::file::FileBytes,
}

/// An image mapped by the dynamic loader, with the open file it was verified from.
pub struct MappedLibrary {
    library: Option<libloading::Library>,
    file: Option<File>,
    /// The name the dynamic loader knows the library by.
    name: OsString,
}

impl MappedLibrary {
    /// Has the dynamic loader map `file`, opened at `path` and verified (its initializers run).
    ///
    /// # Safety
    /// The file's initializers run: it must be a verified image.
    pub unsafe fn open(path: &Path, file: File) -> Result<MappedLibrary, String> {
        let name = loader_name(path, &file)?;
        let library = libloading::Library::new(&name).map_err(|e| error_chain(&e))?;
        Ok(MappedLibrary {
            library: Some(library),
            file: Some(file),
            name,
        })
    }

    /// The address of the data symbol `name`.
    pub fn data_symbol(&self, name: &str) -> Result<*const u8, String> {
        let library = self.library.as_ref().expect("present until drop");
        // SAFETY: the symbol is looked up as a data address, not called.
        let symbol = unsafe { library.get::<*const u8>(name.as_bytes()) };
        symbol.map(|s| *s).map_err(|e| error_chain(&e))
    }
}

impl std::fmt::Debug for MappedLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedLibrary")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for MappedLibrary {
    fn drop(&mut self) {
        drop(self.library.take());
        if still_loaded(&self.name) {
            // The loader still knows an object by this descriptor's name: closing it would let
            // a later image get the same number, and dlopen would return this one.
            std::mem::forget(self.file.take());
        }
    }
}

/// The name to give the dynamic loader for `file`, opened at `path`.
fn loader_name(path: &Path, file: &File) -> Result<OsString, String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let by_descriptor = format!("/proc/self/fd/{}", file.as_raw_fd());
        if Path::new(&by_descriptor).exists() {
            return Ok(by_descriptor.into());
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let opened = file.metadata().map_err(|e| e.to_string())?;
        let named = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if (opened.dev(), opened.ino()) != (named.dev(), named.ino()) {
            return Err("the file was replaced while it was being verified".into());
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(path.as_os_str().to_os_string())
}

/// Whether the dynamic loader still holds an object loaded as `name`.
fn still_loaded(name: &OsString) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c_name) = std::ffi::CString::new(name.as_bytes()) else {
            return false;
        };
        // SAFETY: RTLD_NOLOAD loads nothing and runs nothing; a handle it returns is closed.
        unsafe {
            let handle = libc::dlopen(c_name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
            if handle.is_null() {
                return false;
            }
            libc::dlclose(handle);
            true
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        false
    }
}

/// An error and its sources as one line: libloading's `dlopen failed` carries dlerror()'s
/// (or LoadLibrary's) text as its source, which says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(e.to_string().trim());
        source = e.source();
    }
    text
}
