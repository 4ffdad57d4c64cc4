//! Opening an image: verify the file, pick the CPU target, dlopen, merge the shard tables.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{LoadCause, LoadError};
use crate::file::early_checksum::Outline;
use crate::file::{ImageFile, ImageFileInPlace};
use crate::format::meta::{Meta, MetaView, SymbolKind};
use crate::format::{ImageKind, ROOT_HEAD_SIZE, ROOT_SYMBOL};
use crate::host::HostCpu;
use crate::load::library::{LoadedImage, MappedLibrary};
use crate::methods::invalidation::{validate, Invalidation, Resolution};
use crate::methods::method_table::MethodTable;
use crate::select::{self, choose_target};
use crate::verdict::{VerdictOptions, Verdicts, Verification};

/// How to open an image.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Use the target with this CPU name instead of choosing one (it must still be usable).
    pub target: Option<String>,
    /// Pretend to be this CPU instead of detecting the host (tests, reproducible runs).
    pub host: Option<HostCpu>,
    /// Keys whose signatures are accepted. When not empty, a signed image must be signed by
    /// one of them (an unsigned one still opens unless `require_signature`).
    pub trusted_keys: Vec<crate::signing::PublicKey>,
    /// Refuse an image without a valid signature by one of `trusted_keys`. Checked on the
    /// bytes read, before any of the image's structures is parsed or the dynamic loader runs.
    pub require_signature: bool,
    /// Whether verdicts (this unchanged file was hashed and found whole) are remembered and
    /// used: in this process by default, on disk when asked for (`verdict/mod.rs`). Not used
    /// when a signature is checked.
    pub verdicts: VerdictOptions,
}

/// A loaded image: its functions and globals as flat tables indexed by fvar / gvar index.
pub struct Image {
    path: PathBuf,
    kind: ImageKind,
    /// The metadata as verified, read in place in the file's mapping. `'static` stands for "as
    /// long as `_loaded`", which this struct holds; nothing hands out more than a borrow of
    /// `self`.
    meta: MetaView<'static>,
    /// Owned copies of the metadata, made on the first call of [`Image::meta`].
    owned_meta: std::sync::OnceLock<Meta>,
    target: usize,
    verification: Verification,
    fvars: Vec<*const c_void>,
    gvars: Vec<*mut c_void>,
    image_data: (*const u8, usize),
    /// Which methods are invalid and why, compact.
    resolution: Resolution,
    /// The same spelled out, on the first call of [`Image::invalidated`].
    invalidated: std::sync::OnceLock<Vec<Invalidation>>,
    _loaded: Arc<LoadedImage>,
}

// The tables are written once in `open` and only read afterwards.
unsafe impl Send for Image {}
unsafe impl Sync for Image {}

impl Image {
    /// Opens the image at `path` on its own, with an empty method table: a package image that
    /// calls methods of other images then has those methods, and what reaches them, invalid.
    /// Nothing in the image runs (not even its initializers) unless its checksum, tables and
    /// target all check out.
    pub fn open(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Image, LoadError> {
        Image::open_in(path, options, &mut MethodTable::new())
    }

    /// Opens the image at `path` into `table`: its external methods resolve through the table,
    /// a package image is validated against it (system images are trusted), and its exported
    /// methods that are valid enter the table. A name and signature the table already has is
    /// an error, before anything of the image runs.
    pub fn open_in(
        path: impl AsRef<Path>,
        options: &LoadOptions,
        table: &mut MethodTable,
    ) -> Result<Image, LoadError> {
        let path = path.as_ref();
        let fail = |cause: LoadCause| cause.at(path);
        // An absolute path: dlopen would search the library path for a bare file name.
        let path = std::fs::canonicalize(path).map_err(|e| fail(e.into()))?;
        // Opened once: these bytes are verified, and the dynamic loader maps this open file.
        let (opened, bytes) = crate::file::map_image_file(&path).map_err(|e| fail(e.into()))?;
        // Before parsing: with signatures required, bytes an untrusted party made are not read.
        let signature =
            crate::signing::check(&bytes, &options.trusted_keys, options.require_signature)
                .map_err(fail)?;
        let checking_signature = options.require_signature || !options.trusted_keys.is_empty();
        // Who the file is, read before its bytes are hashed: a later write changes it.
        let verdicts = Verdicts::for_open(&opened, &options.verdicts, checking_signature);
        let (file, verification) = match verdicts.recall_in_process(&bytes) {
            Some(file) => (file, Some(Verification::RememberedInProcess)),
            None => {
                let (file, early) =
                    decode_while_hashing(&bytes, &verdicts, signature.verified).map_err(fail)?;
                let verification = match signature.verified {
                    true => Some(Verification::Signature),
                    false => verdicts.recall_on_disk(&file),
                };
                // Hashed beside the decoding, over what the decoding says the checksum covers.
                let hashed = early.filter(|(outline, sum)| {
                    outline.matches(&file) && *sum == file.checksum && verification.is_none()
                });
                (file, verification.or(hashed.map(|_| Verification::Hashed)))
            }
        };
        file.verify(&bytes, verification.is_some()).map_err(fail)?;
        // Hashed on this open (above, or in `verify`): remembered.
        let verification = verification.filter(|&v| v != Verification::Hashed);
        let verification = verification.unwrap_or_else(|| {
            verdicts.remember(&file);
            Verification::Hashed
        });
        select::check_native(&file).map_err(fail)?;
        let host = match &options.host {
            Some(host) => host.clone(),
            None => HostCpu::detect(),
        };
        let target = choose_target(&file.meta, &host, options.target.as_deref()).map_err(fail)?;
        let resolution = validate(&file.meta, table, file.kind == ImageKind::Sysimg);
        let valid_exports: Vec<u32> = (file.meta.export_fvars())
            .filter(|&fvar| resolution.is_valid(fvar))
            .collect();
        check_resolution(&file, &resolution, &valid_exports, table).map_err(fail)?;
        // The metadata is read from the verified file after dlopen, never from the loaded
        // copy: the relocation check (`relocations.rs`) covers ELF, this every format.
        let verified_meta = crate::file::map_file_range(&opened, file.meta_file_range.clone())
            .map_err(|e| fail(e.into()))?;

        // SAFETY: the file was verified above; its initializers are the image's own code.
        let library = unsafe { MappedLibrary::open(&path, opened) }
            .map_err(|e| fail(LoadCause::Dlopen(e)))?;
        let root = library
            .data_symbol(ROOT_SYMBOL)
            .map_err(|e| fail(LoadCause::Dlopen(e)))?;
        if !same_root_as_file(root, &file, &bytes) {
            return Err(fail(LoadCause::Stale));
        }
        let loaded = Arc::new(LoadedImage {
            _library: library,
            verified_meta,
        });
        // SAFETY: the bytes are mapped as long as `loaded`, which the image and the method
        // table hold wherever they keep this view.
        let meta_bytes: &'static [u8] = unsafe {
            std::slice::from_raw_parts(loaded.verified_meta.as_ptr(), loaded.verified_meta.len())
        };
        let meta = file.meta.rebased(meta_bytes).map_err(|e| fail(e.into()))?;
        let bias = (root as u64).wrapping_sub(file.root_vaddr);
        let (mut fvars, gvars) = merge_shard_tables(&file, target, bias);
        fill_dispatch_slots(&file, &fvars, bias);
        fill_external_slots(&file, &resolution.externals, bias);
        let invalid_address = table.recompile_stub().unwrap_or(std::ptr::null());
        for fvar in resolution.invalid_fvars() {
            fvars[fvar as usize] = invalid_address;
        }
        // check_resolution found each of these free, and MetaView::parse keeps exports unique
        // (sorted names, each its own method's name). The table keeps the image mapped only
        // if it holds some of its methods.
        if !valid_exports.is_empty() {
            let exports = (valid_exports.iter())
                .map(|&fvar| (fvar, fvars[fvar as usize]))
                .collect();
            let provider: Arc<str> = path.display().to_string().into();
            table.add_image(meta.clone(), exports, provider, loaded.clone());
        }
        let data_addr = file.image_data_vaddr.wrapping_add(bias) as *const u8;
        let image_data = (data_addr, file.image_data_file_range.len());
        let image = Image {
            path,
            kind: file.kind,
            meta,
            owned_meta: std::sync::OnceLock::new(),
            target,
            verification,
            fvars,
            gvars,
            image_data,
            resolution,
            invalidated: std::sync::OnceLock::new(),
            _loaded: loaded,
        };
        drop(file);
        let hashed = matches!(verification, Verification::Hashed | Verification::Signature);
        bytes.release(hashed);
        Ok(image)
    }

    /// The methods of a package image that did not validate, with why.
    pub fn invalidated(&self) -> &[Invalidation] {
        self.invalidated
            .get_or_init(|| self.resolution.invalidations(&self.meta))
    }

    /// How many methods of a package image did not validate (without spelling out why).
    pub fn invalid_count(&self) -> usize {
        self.resolution.invalid_count()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// The metadata as owned values, copied out of the image on the first call (tools and
    /// tests; [`Image::meta_view`] reads it in place).
    pub fn meta(&self) -> &Meta {
        self.owned_meta.get_or_init(|| self.meta.to_meta())
    }

    /// The metadata read in place in the mapped image.
    pub fn meta_view(&self) -> &MetaView<'_> {
        &self.meta
    }

    /// Index of the chosen target in `meta().targets`.
    pub fn target_index(&self) -> usize {
        self.target
    }

    /// How the image's bytes were found whole: hashed on this open, or vouched for by a
    /// signature or an earlier verdict about this unchanged file.
    pub fn verification(&self) -> Verification {
        self.verification
    }

    /// CPU name of the chosen target.
    pub fn target_name(&self) -> &str {
        &self.meta.targets[self.target].name
    }

    /// Function pointers by fvar index, for the chosen target.
    pub fn fvars(&self) -> &[*const c_void] {
        &self.fvars
    }

    /// Global addresses by gvar index.
    pub fn gvars(&self) -> &[*mut c_void] {
        &self.gvars
    }

    /// The function named `name` (any kept function, exported or not), or an exported alias
    /// of one (the same address: the chosen target's version) or ifunc; `None` for an invalid
    /// method, unless the method table has a recompile stub, and for data.
    pub fn lookup(&self, name: &str) -> Option<*const c_void> {
        let fvar = match self.fvar_index(name) {
            Some(fvar) => fvar,
            None => match self.meta.symbol_export(name)? {
                SymbolKind::Function { fvar } => fvar,
                // Its resolver picks the address, when the dynamic loader asks it to.
                SymbolKind::IFunc => return self.dynamic_symbol(name).map(|p| p.cast_const()),
                SymbolKind::Data => return None,
            },
        };
        (self.fvars.get(fvar as usize).copied()).filter(|p| !p.is_null())
    }

    /// The exported variable (or alias of one) named `name`; for a thread-local variable, the
    /// calling thread's copy. `None` for anything else, exported or not (unexported variables
    /// are in [`Image::gvars`], by gvar index).
    ///
    /// The address is the dynamic loader's (`dlsym`, `GetProcAddress` on this image's handle),
    /// read from the image's symbol table, which the checksum covers: only it knows where a
    /// thread's copy of a thread-local variable is, and it is also what a program that links
    /// against the image gets.
    pub fn lookup_data(&self, name: &str) -> Option<*mut c_void> {
        match self.meta.symbol_export(name)? {
            SymbolKind::Data => self.dynamic_symbol(name),
            SymbolKind::Function { .. } | SymbolKind::IFunc => None,
        }
    }

    /// What the dynamic loader finds for `name` in this image.
    fn dynamic_symbol(&self, name: &str) -> Option<*mut c_void> {
        let address = self._loaded._library.data_symbol(name).ok()?;
        Some(address.cast_mut().cast())
    }

    /// fvar index of the function named `name` (methods are sorted by name: a binary search).
    pub fn fvar_index(&self, name: &str) -> Option<u32> {
        self.meta.fvar_index(name)
    }

    /// The opaque bytes given at build time (`--image-data`), as mapped in memory.
    pub fn image_data(&self) -> &[u8] {
        match self.image_data {
            (_, 0) => &[],
            // SAFETY: verified in the file to lie inside a loaded segment, alive as long as self.
            (ptr, len) => unsafe { std::slice::from_raw_parts(ptr, len) },
        }
    }
}

/// Decodes the file; on a first open (no signature held, no verdict on disk for it) hashes it
/// on the pool at the same time (`early_checksum.rs`): the outline and the checksum over it.
fn decode_while_hashing<'b>(
    bytes: &'b [u8],
    verdicts: &Verdicts,
    signature_verified: bool,
) -> Result<(ImageFileInPlace<'b>, Option<EarlyHash>), LoadCause> {
    // With an entry on disk for this file the hash is most likely skipped: not started early.
    let outline = match signature_verified || verdicts.on_disk_has_entry() {
        true => None,
        false => Outline::of(bytes),
    };
    match outline {
        None => Ok((ImageFile::parse_in_place(bytes)?, None)),
        Some(outline) => {
            let (file, sum) = outline.checksum_beside(bytes, || ImageFile::parse_in_place(bytes));
            Ok((file?, Some((outline, sum))))
        }
    }
}

/// An outline and the checksum computed over it.
type EarlyHash = (Outline, u64);

/// Julia's array-of-arrays merge: every shard lists its functions and globals with their global
/// indices; flatten them into one table each, taking the chosen target's clones where they exist.
fn merge_shard_tables(
    file: &ImageFileInPlace,
    target: usize,
    bias: u64,
) -> (Vec<*const c_void>, Vec<*mut c_void>) {
    let mut fvars = vec![std::ptr::null(); file.meta.method_count()];
    let mut gvars = vec![std::ptr::null_mut(); file.meta.gvar_count()];
    let versions = select::version_chain(&file.meta, target);
    for (table_vaddr, table) in file.shards.iter() {
        let at = |off: i32| {
            table_vaddr
                .wrapping_add_signed(off as i64)
                .wrapping_add(bias)
        };
        let fvar_idxs = table.fvar_idxs();
        for (idx, off) in fvar_idxs.iter().zip(table.fvar_offsets().iter()) {
            fvars[idx as usize] = at(off) as *const c_void;
        }
        // Each target of the chain, from the base up, overrides the versions it has.
        for &t in versions.iter().filter(|&&t| t > 0) {
            let Some((positions, offsets)) = table.clones_of(t) else {
                continue;
            };
            for (p, off) in positions.iter().zip(offsets.iter()) {
                // Parsing checked that each position is below the shard's fvar count.
                if let Some(idx) = fvar_idxs.get(p as usize) {
                    fvars[idx as usize] = at(off) as *const c_void;
                }
            }
        }
        for (idx, off) in table.gvar_idxs().iter().zip(table.gvar_offsets().iter()) {
            gvars[idx as usize] = at(off) as *mut c_void;
        }
    }
    (fvars, gvars)
}

/// Refuses what cannot load: a system image whose external methods do not resolve (it is not
/// validated, so nothing would keep its callers from the trap), or exports the table already has.
fn check_resolution(
    file: &ImageFileInPlace,
    resolution: &Resolution,
    valid_exports: &[u32],
    table: &MethodTable,
) -> Result<(), LoadCause> {
    if file.kind == ImageKind::Sysimg {
        let unresolved = resolution.externals.iter().position(Option::is_none);
        if let Some(x) = unresolved {
            let edge = file.meta.external(x);
            let reason = match table.signatures(edge.name) {
                now if now.is_empty() => "it is missing".to_string(),
                now => format!("it is defined as {}", now.join(", ")),
            };
            return Err(LoadCause::Unresolved {
                name: edge.name.to_string(),
                signature: edge.signature.to_string(),
                reason,
            });
        }
    }
    table.check_all_free(&file.meta, valid_exports)?;
    Ok(())
}

/// Writes the resolved address of each external method into its slot; unresolved ones keep
/// the trap they were linked with.
fn fill_external_slots(file: &ImageFileInPlace, addresses: &[Option<*const c_void>], bias: u64) {
    for (&slot, address) in file.external_slots.iter().zip(addresses) {
        if let Some(address) = address {
            let slot = slot.wrapping_add(bias) as *mut *const c_void;
            // SAFETY: the slot is a pointer-sized writable global of the verified image.
            unsafe { slot.write(*address) };
        }
    }
}

/// Points every dispatch slot at the chosen version of its function.
fn fill_dispatch_slots(file: &ImageFileInPlace, fvars: &[*const c_void], bias: u64) {
    for (table_vaddr, table) in file.shards.iter() {
        for (fvar, off) in table.slot_fvars().iter().zip(table.slot_offsets().iter()) {
            let slot = table_vaddr
                .wrapping_add_signed(off as i64)
                .wrapping_add(bias) as *mut *const c_void;
            // SAFETY: the slot is a pointer-sized writable global of the verified image.
            unsafe { slot.write(fvars[fvar as usize]) };
        }
    }
}

/// Whether the root the dynamic loader mapped is the verified file's: the same head, whose
/// checksum and tables digest stand for every byte of the file that was verified. A different
/// head means dlopen returned another object it had loaded earlier (glibc knows a file by
/// device and inode: an older version of the same file, changed in place since). The rest of
/// the root is not compared: the loader reads the metadata from the verified file, not from
/// this mapping, and a forged checksum would get past any comparison that leaves the code out.
fn same_root_as_file(root: *const u8, file: &ImageFileInPlace, bytes: &[u8]) -> bool {
    let start = file.checksum_file_offset - crate::format::CHECKSUM_OFFSET;
    // SAFETY: the mapped root is the same symbol of a file whose root has at least this head
    // (parsing the file checked that the whole root lies in one segment's file contents).
    let in_memory = unsafe { std::slice::from_raw_parts(root, ROOT_HEAD_SIZE) };
    bytes.get(start..start + ROOT_HEAD_SIZE) == Some(in_memory)
}
