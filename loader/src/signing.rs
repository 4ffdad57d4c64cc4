//! Signed images: the trailer `aotlink sign` appends and the loader verifies. One definition,
//! shared by the writer (`src/sign.rs`) and the loader.
//!
//! A signed image is the sealed file (the *body*) followed by a 104-byte trailer:
//!
//! ```text
//! body  ||  signature (64)  ||  public key (32)  ||  b"AOTSIGN1" (8)
//! ```
//!
//! The signature is ed25519 over [`SIGNATURE_DOMAIN`] followed by the 32-byte BLAKE3 hash of
//! the body (every byte before the trailer, the checksum field included). The platform loaders
//! ignore bytes after the last segment or section, so the trailer changes nothing they map.
//! The loader checks it on the bytes it read, before it parses any structure of the image.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::LoadCause;

/// Last 8 bytes of a signed image.
pub const TRAILER_MAGIC: [u8; 8] = *b"AOTSIGN1";
/// Signature, public key, magic.
pub const TRAILER_SIZE: usize = 64 + 32 + 8;
/// What the signed message starts with, so a signature over an image can never be taken for
/// a signature over anything else made with the same key.
pub const SIGNATURE_DOMAIN: &[u8] = b"aotlink image signature v1\0";

/// First line of a public key file (`aotlink keygen`); the second is the key in hex.
pub const PUBLIC_KEY_HEADER: &str = "aotlink ed25519 public key";

/// The trailer of a signed image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    pub signature: [u8; 64],
    pub public_key: [u8; 32],
}

impl Trailer {
    /// The trailer's bytes, as appended to the body.
    pub fn encode(&self) -> [u8; TRAILER_SIZE] {
        let mut out = [0u8; TRAILER_SIZE];
        out[..64].copy_from_slice(&self.signature);
        out[64..96].copy_from_slice(&self.public_key);
        out[96..].copy_from_slice(&TRAILER_MAGIC);
        out
    }
}

/// The body of a file and its trailer, if it ends with one (the magic decides).
pub fn split_trailer(bytes: &[u8]) -> (&[u8], Option<Trailer>) {
    let Some(start) = bytes.len().checked_sub(TRAILER_SIZE) else {
        return (bytes, None);
    };
    let trailer = &bytes[start..];
    if trailer[96..] != TRAILER_MAGIC {
        return (bytes, None);
    }
    let trailer = Trailer {
        signature: trailer[..64].try_into().expect("64 bytes"),
        public_key: trailer[64..96].try_into().expect("32 bytes"),
    };
    (&bytes[..start], Some(trailer))
}

/// The message an image's signature signs: the domain, then BLAKE3 of the body.
pub fn signed_message(body: &[u8]) -> [u8; SIGNATURE_DOMAIN.len() + 32] {
    let mut message = [0u8; SIGNATURE_DOMAIN.len() + 32];
    message[..SIGNATURE_DOMAIN.len()].copy_from_slice(SIGNATURE_DOMAIN);
    message[SIGNATURE_DOMAIN.len()..].copy_from_slice(body_hash(body).as_bytes());
    message
}

/// Above this size the body is hashed on all cores (BLAKE3 is a tree hash: same result).
/// Measured on the bench's 3.8 MB image, mapped cold, 2 cores: 1.05 ms on one thread, 0.64 ms
/// on two. Below it, a thread pool's hand-off is not worth it.
const PARALLEL_HASH_FROM: usize = 1 << 20;

fn body_hash(body: &[u8]) -> blake3::Hash {
    if body.len() < PARALLEL_HASH_FROM {
        return blake3::hash(body);
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_rayon(body);
    hasher.finalize()
}

/// An ed25519 public key an image may be signed with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// Why the text of a public key file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("not an aotlink public key file (the first line must be `{PUBLIC_KEY_HEADER}`)")]
    Header,
    #[error("unexpected text after the key")]
    TrailingText,
    #[error("the key is not 64 hex digits")]
    NotHex,
    #[error("not a valid ed25519 public key")]
    NotAKey,
}

impl PublicKey {
    /// The key from its 32 bytes; `None` when they are not a valid ed25519 public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<PublicKey> {
        let key = VerifyingKey::from_bytes(bytes).ok()?;
        // A small-order key would let one signature match many messages.
        (!key.is_weak()).then_some(PublicKey(key))
    }

    /// Reads the text of a public key file: the line [`PUBLIC_KEY_HEADER`], then 64 hex digits.
    pub fn parse(text: &str) -> Result<PublicKey, KeyFileError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(PUBLIC_KEY_HEADER) {
            return Err(KeyFileError::Header);
        }
        let hex = lines.next().unwrap_or("");
        if lines.next().is_some() {
            return Err(KeyFileError::TrailingText);
        }
        let bytes = decode_hex::<32>(hex).ok_or(KeyFileError::NotHex)?;
        PublicKey::from_bytes(&bytes).ok_or(KeyFileError::NotAKey)
    }

    /// The text of its public key file.
    pub fn to_file_text(&self) -> String {
        format!("{PUBLIC_KEY_HEADER}\n{}\n", encode_hex(self.as_bytes()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The first 16 hex digits of the key: how errors and `aotlink keygen` name it (a key
    /// file's second line starts with them).
    pub fn fingerprint(&self) -> String {
        fingerprint(self.as_bytes())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// The first 16 hex digits of a key's bytes.
pub fn fingerprint(key: &[u8; 32]) -> String {
    encode_hex(&key[..8])
}

/// What [`check`] found.
#[derive(Clone, Copy, Debug)]
pub struct Checked<'a> {
    /// The image without its signature trailer.
    pub body: &'a [u8],
    /// A trusted key's signature verified over the body.
    pub verified: bool,
}

/// Checks the signature of the image `bytes` when `require` is set or `trusted` names any key:
/// the trailer must name a trusted key and its signature verify over the body. An unsigned
/// image is refused only when `require` is set. With neither, nothing is checked (the checksum
/// still covers the body).
pub fn check<'a>(
    bytes: &'a [u8],
    trusted: &[PublicKey],
    require: bool,
) -> Result<Checked<'a>, LoadCause> {
    let (body, trailer) = split_trailer(bytes);
    let unverified = Checked {
        body,
        verified: false,
    };
    if !require && trusted.is_empty() {
        return Ok(unverified);
    }
    let Some(trailer) = trailer else {
        return match require {
            true => Err(LoadCause::NotSigned),
            false => Ok(unverified),
        };
    };
    verify(body, &trailer, trusted)?;
    Ok(Checked {
        body,
        verified: true,
    })
}

/// Verifies `trailer` over `body`: its key must be one of `trusted`, its signature valid.
pub fn verify(body: &[u8], trailer: &Trailer, trusted: &[PublicKey]) -> Result<(), LoadCause> {
    let Some(key) = trusted.iter().find(|k| k.as_bytes() == &trailer.public_key) else {
        return Err(LoadCause::UntrustedKey(fingerprint(&trailer.public_key)));
    };
    let signature = Signature::from_bytes(&trailer.signature);
    key.0
        .verify_strict(&signed_message(body), &signature)
        .map_err(|_| LoadCause::BadSignature)
}

pub fn encode_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// `N` bytes from exactly `2N` hex digits (either case).
pub fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_large_body_hashed_on_all_cores_has_the_one_thread_hash() {
        let body: Vec<u8> = (0..3 * PARALLEL_HASH_FROM + 17)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        assert_eq!(body_hash(&body), blake3::hash(&body));
        assert_eq!(body_hash(&body[..100]), blake3::hash(&body[..100]));
    }

    use super::*;

    // RFC 8032 test 1's public key (the secret key is not needed to check parsing).
    const KEY_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn key() -> PublicKey {
        PublicKey::parse(&format!("{PUBLIC_KEY_HEADER}\n{KEY_HEX}\n")).unwrap()
    }

    #[test]
    fn key_files_round_trip() {
        let key = key();
        assert_eq!(PublicKey::parse(&key.to_file_text()).unwrap(), key);
        assert_eq!(key.fingerprint(), &KEY_HEX[..16]);
        assert_eq!(
            PublicKey::parse(&key.to_file_text().to_uppercase())
                .unwrap_err()
                .to_string(),
            format!(
                "not an aotlink public key file (the first line must be `{PUBLIC_KEY_HEADER}`)"
            )
        );
        for bad in ["", "zz", &KEY_HEX[..62], &format!("{KEY_HEX}00")] {
            let text = format!("{PUBLIC_KEY_HEADER}\n{bad}\n");
            assert!(PublicKey::parse(&text).is_err(), "{bad}");
        }
        let text = format!("{PUBLIC_KEY_HEADER}\n{KEY_HEX}\nmore\n");
        assert_eq!(
            PublicKey::parse(&text).unwrap_err().to_string(),
            "unexpected text after the key"
        );
        // The identity point is a weak (small-order) key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_bytes(&identity).is_none());
    }

    #[test]
    fn trailers_split_only_with_their_magic() {
        let trailer = Trailer {
            signature: [7; 64],
            public_key: [9; 32],
        };
        let mut bytes = b"body bytes".to_vec();
        assert_eq!(split_trailer(&bytes), (&bytes[..], None));
        bytes.extend_from_slice(&trailer.encode());
        assert_eq!(split_trailer(&bytes), (&b"body bytes"[..], Some(trailer)));
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        assert_eq!(split_trailer(&bytes).1, None);
        assert_eq!(split_trailer(&bytes[..50]).1, None);
    }

    #[test]
    fn a_real_signature_verifies_and_any_changed_byte_breaks_it() {
        use ed25519_dalek::Signer as _;
        let secret = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let public = PublicKey::from_bytes(secret.verifying_key().as_bytes()).unwrap();
        let body = b"the sealed image".to_vec();
        let trailer = Trailer {
            signature: secret.sign(&signed_message(&body)).to_bytes(),
            public_key: *public.as_bytes(),
        };
        let mut signed = body.clone();
        signed.extend_from_slice(&trailer.encode());
        let checked = check(&signed, &[public], true).unwrap();
        assert_eq!((checked.body, checked.verified), (&body[..], true));
        for i in 0..signed.len() {
            let mut damaged = signed.clone();
            damaged[i] ^= 0x20;
            let err = check(&damaged, &[public], true).unwrap_err();
            let expected = match () {
                _ if i < body.len() + 64 => "signature does not match the file's contents",
                _ if i < body.len() + 96 => "signed by a key that is not trusted",
                _ => "not signed (a signature is required)",
            };
            assert!(err.to_string().starts_with(expected), "byte {i}: {err}");
        }
    }

    #[test]
    fn what_is_checked_depends_on_the_options() {
        let unsigned = b"an unsigned image".to_vec();
        assert!(check(&unsigned, &[], false).is_ok());
        assert!(check(&unsigned, &[key()], false).is_ok());
        assert!(matches!(
            check(&unsigned, &[key()], true),
            Err(LoadCause::NotSigned)
        ));
        let mut signed = unsigned.clone();
        signed.extend_from_slice(
            &Trailer {
                signature: [0; 64],
                public_key: [3; 32],
            }
            .encode(),
        );
        let checked = check(&signed, &[], false).unwrap();
        assert_eq!((checked.body, checked.verified), (&unsigned[..], false));
        let err = check(&signed, &[key()], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signed by a key that is not trusted (key 0303030303030303)"
        );
        signed[unsigned.len() + 64..][..32].copy_from_slice(key().as_bytes());
        assert!(matches!(
            check(&signed, &[key()], true),
            Err(LoadCause::BadSignature)
        ));
    }
}
