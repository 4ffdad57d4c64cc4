//! Facts about a toolchain's files that do not change while aotlink runs (where a gcc keeps
//! its runtime, which symbols an archive defines, which DLLs an import library names): found
//! once per process, however many images it links.

use std::convert::Infallible;
use std::sync::Mutex;

/// Values found once per key, for the rest of the process.
pub(super) struct Remembered<K, V>(Mutex<Vec<(K, V)>>);

impl<K: PartialEq, V: Clone> Remembered<K, V> {
    pub(super) const fn new() -> Self {
        Remembered(Mutex::new(Vec::new()))
    }

    /// The value remembered for `key`, else `find(&key)`'s, remembered when it is found.
    /// Holds the lock while finding, so two threads never read the same files at once.
    pub(super) fn get_or_find<E>(
        &self,
        key: K,
        find: impl FnOnce(&K) -> Result<V, E>,
    ) -> Result<V, E> {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, value)) = known.iter().find(|(k, _)| *k == key) {
            return Ok(value.clone());
        }
        let value = find(&key)?;
        known.push((key, value.clone()));
        Ok(value)
    }

    /// [`Remembered::get_or_find`] for a `find` that cannot fail.
    pub(super) fn get_or(&self, key: K, find: impl FnOnce(&K) -> V) -> V {
        match self.get_or_find(key, |key| Ok::<V, Infallible>(find(key))) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }
}
