//! Cache keys and the one way they are derived: BLAKE3 over a purpose, this aotlink build, the
//! LLVM it is linked with, then the caller's fields, each length-prefixed so that no two field
//! lists hash alike. The shard key, the dump memo and the record of checked inputs all derive
//! theirs here, so that none can forget the build or LLVM's version (another LLVM may emit
//! other code from the same IR). A leaf: it imports nothing of aotlink's but the build id and
//! LLVM's version.

/// A cache key: the BLAKE3 of everything the cached value depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// A key being derived. Also a plain digest of fields ([`KeyHasher::plain`]) where the
/// purpose, build and LLVM are added by the key that contains it.
pub struct KeyHasher(blake3::Hasher);

impl KeyHasher {
    /// A key for `purpose` (a distinct name per kind of entry), covering this aotlink build
    /// and LLVM's version.
    pub fn new(purpose: &str) -> KeyHasher {
        let mut h = KeyHasher::plain();
        h.field(purpose.as_bytes());
        h.field(crate::BUILD_ID.as_bytes());
        h.field(crate::llvm::version().as_bytes());
        h
    }

    /// Length-prefixed fields and nothing else.
    pub fn plain() -> KeyHasher {
        KeyHasher(blake3::Hasher::new())
    }

    pub fn count(&mut self, n: usize) -> &mut KeyHasher {
        self.0.update(&(n as u64).to_le_bytes());
        self
    }

    pub fn field(&mut self, bytes: &[u8]) -> &mut KeyHasher {
        self.count(bytes.len());
        self.0.update(bytes);
        self
    }

    pub fn finish(&self) -> Key {
        Key(*self.0.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_delimited_and_purposes_apart() {
        let key = |purpose: &str, fields: &[&[u8]]| {
            let mut h = KeyHasher::new(purpose);
            for f in fields {
                h.field(f);
            }
            h.finish()
        };
        assert_eq!(key("a", &[b"xy"]), key("a", &[b"xy"]));
        assert_ne!(key("a", &[b"xy"]), key("a", &[b"x", b"y"]));
        assert_ne!(key("a", &[b"xy"]), key("b", &[b"xy"]));
        let mut plain = KeyHasher::plain();
        plain.field(b"a").field(b"xy");
        assert_ne!(
            plain.finish(),
            key("a", &[b"xy"]),
            "the build and LLVM are in keys"
        );
    }
}
