//! The method table as a file (JSON): the methods other images provide, which a package image
//! is compiled against (`--method-table`). `aotlink inspect --method-table IMAGE` writes one.
//!
//! ```json
//! { "format": "aotlink-method-table", "version": 1,
//!   "methods": [ { "name": "f", "signature": "i64 (i64)", "hash": "5be0...", "image": "sys.so" } ] }
//! ```
//! `hash` is 16 hex digits (a u64 does not survive every JSON reader as a number).

use std::path::Path;

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "aotlink-method-table";
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodTableFile {
    pub format: String,
    pub version: u32,
    pub methods: Vec<MethodRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodRecord {
    pub name: String,
    pub signature: String,
    pub hash: String,
    /// The image that provides it (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl MethodRecord {
    pub fn hash_value(&self) -> Option<u64> {
        u64::from_str_radix(&self.hash, 16)
            .ok()
            .filter(|_| self.hash.len() == 16)
    }
}

/// A method table file that cannot be used (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum MethodTableError {
    #[error("cannot read: {0}")]
    Unreadable(std::io::Error),
    #[error("not a method table: {0}")]
    NotJson(serde_json::Error),
    #[error("not a {FORMAT} version {VERSION} file")]
    Version,
    #[error("method `{name}`: hash `{hash}` is not 16 hex digits")]
    BadHash { name: String, hash: String },
    #[error("method `{name}` with signature `{signature}` is listed twice")]
    Twice { name: String, signature: String },
}

impl MethodTableFile {
    /// The exported methods of an image, as other images see them.
    pub fn from_image(meta: &aotload::Meta, image: &str) -> MethodTableFile {
        let methods = meta
            .exports
            .iter()
            .map(|e| {
                let m = &meta.methods[e.fvar as usize];
                MethodRecord {
                    name: m.name.clone(),
                    signature: m.signature.clone(),
                    hash: format!("{:016x}", m.hash),
                    image: Some(image.to_string()),
                }
            })
            .collect();
        MethodTableFile {
            format: FORMAT.into(),
            version: VERSION,
            methods,
        }
    }

    /// Reads and checks a method table file; the error says what is wrong, without the path.
    pub fn read(path: &Path) -> Result<MethodTableFile, MethodTableError> {
        let text = std::fs::read_to_string(path).map_err(MethodTableError::Unreadable)?;
        let file: MethodTableFile =
            serde_json::from_str(&text).map_err(MethodTableError::NotJson)?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(MethodTableError::Version);
        }
        if let Some(bad) = file.methods.iter().find(|m| m.hash_value().is_none()) {
            return Err(MethodTableError::BadHash {
                name: bad.name.clone(),
                hash: bad.hash.clone(),
            });
        }
        // A method is one (name, signature); a second entry would silently win over the first
        // at build time and fail to define at load time, so the file is refused instead.
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = file
            .methods
            .iter()
            .find(|m| !seen.insert((m.name.as_str(), m.signature.as_str())))
        {
            return Err(MethodTableError::Twice {
                name: twice.name.clone(),
                signature: twice.signature.clone(),
            });
        }
        Ok(file)
    }
}
