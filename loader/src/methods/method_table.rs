//! The method table: which method (name + signature) lives where, with the content hash it was
//! compiled from. Images add their exported methods as they load; package images resolve their
//! external methods through it and are validated against it; a runtime can redefine a method
//! so that the next package image sees the change.
//!
//! An image's methods are not copied in: the table keeps the image's metadata, read in place
//! in the mapped image, with the address of each valid export in name order (one allocation
//! per image, not three per method). A lookup binary-searches each image. Methods the runtime
//! defines are kept by name in a hash map.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;

pub use crate::error::Conflict;
use crate::format::meta::MetaView;
use crate::load::library::LoadedImage;

/// One method as the table knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodEntry<'a> {
    pub signature: &'a str,
    pub hash: u64,
    pub address: *const c_void,
    /// Who defined it: an image's path, or "runtime".
    pub provider: &'a str,
}

/// A method the runtime defined.
struct Defined {
    signature: Box<str>,
    hash: u64,
    address: *const c_void,
}

impl Defined {
    fn entry(&self) -> MethodEntry<'_> {
        MethodEntry {
            signature: &self.signature,
            hash: self.hash,
            address: self.address,
            provider: RUNTIME,
        }
    }
}

/// The exported methods of one loaded image.
struct ImageMethods {
    /// The image's metadata as verified in its file. `'static` stands for "as long as
    /// `_loaded`", which this struct holds; no borrow of it outlives a borrow of the table.
    meta: MetaView<'static>,
    /// (fvar index, address) of each valid export, sorted by name (the metadata's order).
    exports: Vec<(u32, *const c_void)>,
    /// Positions in `exports` removed since (empty until the first removal).
    removed: Vec<bool>,
    provider: Arc<str>,
    /// Keeps the image and its verified metadata mapped (`None` only in this module's tests, which have no image).
    _loaded: Option<Arc<LoadedImage>>,
}

impl ImageMethods {
    fn name(&self, k: usize) -> &str {
        self.meta.method_name(self.exports[k].0 as usize)
    }

    /// Position of the live export `name`, if the image has one.
    fn find(&self, name: &str) -> Option<usize> {
        let k = (self.exports)
            .binary_search_by(|&(fvar, _)| self.meta.method_name(fvar as usize).cmp(name))
            .ok()?;
        self.is_live(k).then_some(k)
    }

    fn signature(&self, k: usize) -> &str {
        self.meta.method(self.exports[k].0 as usize).signature
    }

    fn entry(&self, k: usize) -> MethodEntry<'_> {
        let (fvar, address) = self.exports[k];
        let method = self.meta.method(fvar as usize);
        MethodEntry {
            signature: method.signature,
            hash: method.hash,
            address,
            provider: &self.provider,
        }
    }

    /// Whether export `k` has not been removed (`removed` stays empty until a removal).
    fn is_live(&self, k: usize) -> bool {
        !self.removed.get(k).copied().unwrap_or(false)
    }

    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.exports.len()).filter(|&k| self.is_live(k))
    }
}

/// Name + signature -> method. Not thread-safe by itself: wrap it in a lock to share it.
#[derive(Default)]
pub struct MethodTable {
    defined: HashMap<Box<str>, Vec<Defined>>,
    images: Vec<ImageMethods>,
    recompile_stub: Option<*const c_void>,
}

// Addresses are plain values here; the code they point at is kept alive by the table.
unsafe impl Send for MethodTable {}
unsafe impl Sync for MethodTable {}

const RUNTIME: &str = "runtime";

impl MethodTable {
    pub fn new() -> MethodTable {
        MethodTable::default()
    }

    /// The method `name` with exactly this signature.
    pub fn get(&self, name: &str, signature: &str) -> Option<MethodEntry<'_>> {
        if let Some(entry) = self.defined_entry(name, || signature) {
            return Some(entry);
        }
        (self.images.iter())
            .filter_map(|image| image.find(name).map(|k| image.entry(k)))
            .find(|e| e.signature == signature)
    }

    /// The signatures under which `name` is defined (to explain a signature change).
    pub fn signatures(&self, name: &str) -> Vec<&str> {
        let defined = self.defined.get(name).into_iter().flatten();
        let defined = defined.map(|d| &*d.signature);
        let loaded = (self.images.iter())
            .filter_map(|image| image.find(name).map(|k| image.entry(k).signature));
        defined.chain(loaded).collect()
    }

    /// Adds a method; an existing one with the same name and signature is an error.
    pub fn define(
        &mut self,
        name: &str,
        signature: &str,
        hash: u64,
        address: *const c_void,
    ) -> Result<(), Conflict> {
        self.check_free(name, signature)?;
        self.defined.entry(name.into()).or_default().push(Defined {
            signature: signature.into(),
            hash,
            address,
        });
        Ok(())
    }

    /// Adds or replaces a method (a runtime recompiled it): package images loaded afterwards
    /// validate against the new hash and call the new address.
    pub fn redefine(&mut self, name: &str, signature: &str, hash: u64, address: *const c_void) {
        self.remove(name, signature);
        self.define(name, signature, hash, address)
            .expect("removed above");
    }

    /// Removes a method; `false` when there was none.
    pub fn remove(&mut self, name: &str, signature: &str) -> bool {
        if let Some(entries) = self.defined.get_mut(name) {
            let before = entries.len();
            entries.retain(|d| &*d.signature != signature);
            if entries.len() != before {
                if entries.is_empty() {
                    self.defined.remove(name);
                }
                return true;
            }
        }
        for image in &mut self.images {
            if let Some(k) = image
                .find(name)
                .filter(|&k| image.entry(k).signature == signature)
            {
                image.removed.resize(image.exports.len(), false);
                image.removed[k] = true;
                return true;
            }
        }
        false
    }

    /// What invalid methods of package images point at instead of nothing (the runtime's
    /// "compile this on first call" entry).
    pub fn set_recompile_stub(&mut self, stub: Option<*const c_void>) {
        self.recompile_stub = stub;
    }

    pub fn recompile_stub(&self) -> Option<*const c_void> {
        self.recompile_stub
    }

    /// Number of methods.
    pub fn len(&self) -> usize {
        let defined: usize = self.defined.values().map(Vec::len).sum();
        defined + self.images.iter().map(|i| i.live().count()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every method, sorted by name then signature.
    pub fn entries(&self) -> Vec<(&str, MethodEntry<'_>)> {
        let defined = self
            .defined
            .iter()
            .flat_map(|(name, v)| v.iter().map(move |d| (&**name, d.entry())));
        let loaded = (self.images.iter())
            .flat_map(|image| image.live().map(move |k| (image.name(k), image.entry(k))));
        let mut all: Vec<(&str, MethodEntry)> = defined.chain(loaded).collect();
        all.sort_by(|a, b| (a.0, a.1.signature).cmp(&(b.0, b.1.signature)));
        all
    }

    pub(crate) fn check_free(&self, name: &str, signature: &str) -> Result<(), Conflict> {
        match self.get(name, signature) {
            Some(e) => Err(Conflict {
                name: name.into(),
                signature: signature.into(),
                provider: e.provider.into(),
            }),
            None => Ok(()),
        }
    }

    /// The first of `fvars` (exports of `meta`, in name order) that the table already has.
    pub(crate) fn check_all_free(&self, meta: &MetaView, fvars: &[u32]) -> Result<(), Conflict> {
        // The name alone until it matches: most exports of a package clash with nothing.
        let name = |i: usize| meta.method_name(fvars[i] as usize);
        let signature = |i: usize| meta.method(fvars[i] as usize).signature;
        let conflict = |i: usize, provider: &str| {
            Err(Conflict {
                name: name(i).into(),
                signature: signature(i).into(),
                provider: provider.into(),
            })
        };
        let mut first = None;
        self.defined_matches(fvars.len(), name, signature, |i, _| {
            first = Some(first.map_or(i, |f: usize| f.min(i)));
        });
        if let Some(i) = first {
            return conflict(i, RUNTIME);
        }
        for image in &self.images {
            let mut clash = None;
            matches(image, fvars.len(), name, signature, |i, _| {
                clash = Some(i);
                true
            });
            if let Some(i) = clash {
                return conflict(i, &image.provider);
            }
        }
        Ok(())
    }

    /// The entry of each external method of `meta` (sorted by name, `MetaView::parse` checks),
    /// `None` where the table has no method of that name and signature.
    pub(crate) fn find_externals(&self, meta: &MetaView) -> Vec<Option<MethodEntry<'_>>> {
        let name = |x: usize| meta.external_name(x);
        let signature = |x: usize| meta.external(x).signature;
        let n = meta.external_count();
        let mut found: Vec<Option<MethodEntry>> = vec![None; n];
        self.defined_matches(n, name, signature, |x, entry| found[x] = Some(entry));
        for image in &self.images {
            matches(image, n, name, signature, |x, k| {
                found[x] = Some(image.entry(k));
                false
            });
        }
        found
    }

    /// Calls `found(i, entry)` for each of `n` keys (as for [`matches`]: `name_of(i)` sorted)
    /// that the runtime defined. A runtime defines few methods: each is looked up among the
    /// keys by binary search, instead of hashing every key's name (5,000 names of a package
    /// cost about 0.1 ms); with about as many defined methods as keys, each key is looked up.
    fn defined_matches<'t, 'k>(
        &'t self,
        n: usize,
        name_of: impl Fn(usize) -> &'k str,
        signature_of: impl Fn(usize) -> &'k str,
        mut found: impl FnMut(usize, MethodEntry<'t>),
    ) {
        let d = self.defined.len();
        if d.saturating_mul(n.max(2).ilog2() as usize) >= n {
            for i in 0..n {
                if let Some(entry) = self.defined_entry(name_of(i), || signature_of(i)) {
                    found(i, entry);
                }
            }
            return;
        }
        for (name, defined) in &self.defined {
            let start = first_index(n, |i| name_of(i) >= &**name);
            for i in (start..n).take_while(|&i| name_of(i) == &**name) {
                let signature = signature_of(i);
                if let Some(d) = defined.iter().find(|d| &*d.signature == signature) {
                    found(i, d.entry());
                }
            }
        }
    }

    /// The method the runtime defined with this name and signature; the signature is read
    /// only when the runtime defined a method of that name.
    fn defined_entry<'s>(
        &self,
        name: &str,
        signature: impl FnOnce() -> &'s str,
    ) -> Option<MethodEntry<'_>> {
        if self.defined.is_empty() {
            return None;
        }
        let defined = self.defined.get(name)?;
        let signature = signature();
        defined
            .iter()
            .find(|d| &*d.signature == signature)
            .map(Defined::entry)
    }

    /// Adds the valid exports of a loaded image: `exports` are (fvar, address) in name order,
    /// checked free with [`MethodTable::check_all_free`].
    pub(crate) fn add_image(
        &mut self,
        meta: MetaView<'static>,
        exports: Vec<(u32, *const c_void)>,
        provider: Arc<str>,
        loaded: Arc<LoadedImage>,
    ) {
        self.images.push(ImageMethods {
            meta,
            exports,
            removed: Vec::new(),
            provider,
            _loaded: Some(loaded),
        });
    }
}

/// The first of `0..n` where `at_or_after` holds, given that it holds from some index on.
fn first_index(n: usize, at_or_after: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, n);
    while low < high {
        let mid = low + (high - low) / 2;
        match at_or_after(mid) {
            true => high = mid,
            false => low = mid + 1,
        }
    }
    low
}

/// Calls `found(i, k)` for each of `n` keys (`name_of(i)`, sorted, and `signature_of(i)`, read
/// only when the name matches) that live export `k` of `image` has, until it returns `true`.
/// One pass over both sorted lists, or a binary search per key when the image is much larger
/// than the keys.
fn matches<'k>(
    image: &ImageMethods,
    n: usize,
    name_of: impl Fn(usize) -> &'k str,
    signature_of: impl Fn(usize) -> &'k str,
    mut found: impl FnMut(usize, usize) -> bool,
) {
    let m = image.exports.len();
    let search = n.saturating_mul(m.max(2).ilog2() as usize) < n + m;
    let mut k = 0;
    for i in 0..n {
        let name = name_of(i);
        let at = match search {
            true => image.find(name),
            false => {
                while k < m && image.name(k) < name {
                    k += 1;
                }
                let live = k < m && image.is_live(k);
                (live && image.name(k) == name).then_some(k)
            }
        };
        if let Some(at) = at.filter(|&at| image.signature(at) == signature_of(i)) {
            if found(i, at) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::meta::{Export, Meta, Method, TargetRecord};

    /// An image exporting `names` (sorted), each with signature "s" and hash = its position,
    /// at address 0x1000 + position; its metadata leaked (a test's lifetime).
    fn image(names: &[String], removed: &[usize]) -> ImageMethods {
        let meta = Meta {
            targets: vec![TargetRecord::default()],
            methods: (names.iter().enumerate())
                .map(|(i, n)| Method {
                    name: n.clone(),
                    signature: "s".into(),
                    hash: i as u64,
                    ..Default::default()
                })
                .collect(),
            exports: (names.iter().enumerate())
                .map(|(i, n)| Export {
                    name: n.clone(),
                    fvar: i as u32,
                })
                .collect(),
            ..Default::default()
        };
        let meta = crate::format::meta::leaked_view(&meta);
        let mut removed_flags = vec![false; names.len()];
        removed.iter().for_each(|&k| removed_flags[k] = true);
        ImageMethods {
            meta,
            exports: (0..names.len())
                .map(|i| (i as u32, (0x1000 + i) as _))
                .collect(),
            removed: removed_flags,
            provider: "image".into(),
            _loaded: None,
        }
    }

    fn names(prefix: &str, n: usize, step: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{:05}", i * step)).collect()
    }

    /// Both strategies of `matches` (merge and binary search) find exactly what a linear scan
    /// finds, removed exports and other signatures excluded.
    #[test]
    fn matches_agrees_with_a_linear_scan_whichever_way_it_goes() {
        // (image size, keys, key step): similar sizes merge, a large image is searched.
        for (m, n, step) in [(8, 8, 1), (100, 90, 2), (4096, 3, 7), (5, 40, 1), (1, 1, 1)] {
            let exported = names("f", m, 1);
            let image = image(&exported, &[0, m / 2]);
            let keys: Vec<(String, &str)> = (names("f", n, step).into_iter())
                .enumerate()
                .map(|(i, k)| (k, if i % 5 == 4 { "other" } else { "s" }))
                .collect();
            let mut found = Vec::new();
            matches(
                &image,
                n,
                |i| &keys[i].0,
                |i| keys[i].1,
                |i, k| {
                    found.push((i, k));
                    false
                },
            );
            let expected: Vec<(usize, usize)> = (keys.iter().enumerate())
                .filter_map(|(i, (name, sig))| {
                    let k = exported.iter().position(|e| e == name)?;
                    (*sig == "s" && !image.removed[k]).then_some((i, k))
                })
                .collect();
            assert_eq!(found, expected, "m {m}, n {n}, step {step}");
        }
    }

    #[test]
    fn defined_matches_agrees_with_a_lookup_per_key_whichever_way_it_goes() {
        // Sorted keys, each name twice with two signatures (as externals may have).
        let names = names("f", 60, 1);
        let keys: Vec<(String, &str)> = (names.iter())
            .flat_map(|n| [(n.clone(), "s"), (n.clone(), "t")])
            .collect();
        // 1 and 3 defined methods are looked up among the keys, 60 key by key.
        for count in [1usize, 3, 60] {
            let mut table = MethodTable::new();
            for j in 0..count {
                let signature = if j % 2 == 0 { "s" } else { "t" };
                let address = (0x100 + j) as *const c_void;
                table
                    .define(&names[(j * 7) % 60], signature, 0, address)
                    .unwrap();
            }
            let mut found = Vec::new();
            let (name, signature) = (|i: usize| keys[i].0.as_str(), |i: usize| keys[i].1);
            table.defined_matches(keys.len(), name, signature, |i, e| {
                found.push((i, e.address))
            });
            found.sort();
            let expected: Vec<(usize, *const c_void)> = (0..keys.len())
                .filter_map(|i| Some((i, table.get(&keys[i].0, keys[i].1)?.address)))
                .collect();
            assert_eq!(found.len(), count);
            assert_eq!(found, expected, "{count} defined");
        }
    }

    #[test]
    fn a_table_of_images_resolves_and_refuses_like_a_map() {
        let mut table = MethodTable::new();
        table.images.push(image(&names("f", 300, 1), &[7]));
        table.define("f00003", "other", 9, 0x9 as _).unwrap();
        // An export the image has, one it removed, one the runtime defined.
        assert_eq!(table.get("f00005", "s").unwrap().address, 0x1005 as _);
        assert!(table.get("f00007", "s").is_none());
        assert_eq!(table.signatures("f00003"), ["other", "s"]);
        assert_eq!(table.len(), 300);
        let package = image(&names("f", 300, 2), &[]);
        let conflict = table.check_all_free(&package.meta, &[0, 1, 2]).unwrap_err();
        assert_eq!(
            (conflict.name.as_str(), conflict.provider.as_str()),
            ("f00000", "image")
        );
        // f00007 was removed from the image: free again.
        let fresh = image(&["f00007".to_string()], &[]);
        table.check_all_free(&fresh.meta, &[0]).unwrap();
        assert!(table.remove("f00005", "s") && !table.remove("f00005", "s"));
        assert!(table.remove("f00003", "other"));
        assert_eq!(table.len(), 298);
    }
}
