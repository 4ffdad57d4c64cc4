//! The method table: which method (name + signature) lives where, with the content hash it was
//! compiled from. Images add their exported methods as they load; package images resolve their
//! external methods through it and are validated against it; a runtime can redefine a method
//! so that the next package image sees the change.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::Arc;

/// One method as the table knows it.
#[derive(Clone, Debug)]
pub struct MethodEntry {
    pub signature: String,
    pub hash: u64,
    pub address: *const c_void,
    /// Who defined it: an image's path, or "runtime".
    pub provider: String,
    /// Keeps the providing image's code mapped while the table points into it.
    _keep_alive: Option<Arc<crate::library::MappedLibrary>>,
}

/// Name + signature -> method. Not thread-safe by itself: wrap it in a lock to share it.
#[derive(Default)]
pub struct MethodTable {
    methods: BTreeMap<String, Vec<MethodEntry>>,
    recompile_stub: Option<*const c_void>,
}

// Addresses are plain values here; the code they point at is kept alive by the entries.
unsafe impl Send for MethodTable {}
unsafe impl Sync for MethodTable {}

/// A method is already defined (same name and signature).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("method `{name}` ({signature}) is already defined by {provider}")]
pub struct Conflict {
    pub name: String,
    pub signature: String,
    pub provider: String,
}

impl MethodTable {
    pub fn new() -> MethodTable {
        MethodTable::default()
    }

    /// The method `name` with exactly this signature.
    pub fn get(&self, name: &str, signature: &str) -> Option<&MethodEntry> {
        self.methods
            .get(name)?
            .iter()
            .find(|e| e.signature == signature)
    }

    /// The signatures under which `name` is defined (to explain a signature change).
    pub fn signatures(&self, name: &str) -> Vec<&str> {
        self.methods.get(name).map_or(Vec::new(), |v| {
            v.iter().map(|e| e.signature.as_str()).collect()
        })
    }

    /// Adds a method; an existing one with the same name and signature is an error.
    pub fn define(
        &mut self,
        name: &str,
        signature: &str,
        hash: u64,
        address: *const c_void,
    ) -> Result<(), Conflict> {
        self.insert(name, signature, hash, address, "runtime".into(), None)
    }

    /// Adds or replaces a method (a runtime recompiled it): package images loaded afterwards
    /// validate against the new hash and call the new address.
    pub fn redefine(&mut self, name: &str, signature: &str, hash: u64, address: *const c_void) {
        self.remove(name, signature);
        self.insert(name, signature, hash, address, "runtime".into(), None)
            .expect("removed above");
    }

    /// Removes a method; `false` when there was none.
    pub fn remove(&mut self, name: &str, signature: &str) -> bool {
        let Some(entries) = self.methods.get_mut(name) else {
            return false;
        };
        let before = entries.len();
        entries.retain(|e| e.signature != signature);
        before != entries.len()
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
        self.methods.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every method, sorted by name then signature.
    pub fn entries(&self) -> Vec<(&str, &MethodEntry)> {
        let mut all: Vec<(&str, &MethodEntry)> = self
            .methods
            .iter()
            .flat_map(|(n, v)| v.iter().map(move |e| (n.as_str(), e)))
            .collect();
        all.sort_by(|a, b| (a.0, &a.1.signature).cmp(&(b.0, &b.1.signature)));
        all
    }

    pub(crate) fn check_free(&self, name: &str, signature: &str) -> Result<(), Conflict> {
        match self.get(name, signature) {
            Some(e) => Err(Conflict {
                name: name.into(),
                signature: signature.into(),
                provider: e.provider.clone(),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn insert(
        &mut self,
        name: &str,
        signature: &str,
        hash: u64,
        address: *const c_void,
        provider: String,
        keep_alive: Option<Arc<crate::library::MappedLibrary>>,
    ) -> Result<(), Conflict> {
        self.check_free(name, signature)?;
        let entry = MethodEntry {
            signature: signature.into(),
            hash,
            address,
            provider,
            _keep_alive: keep_alive,
        };
        self.methods
            .entry(name.to_string())
            .or_default()
            .push(entry);
        Ok(())
    }
}
