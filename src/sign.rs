//! Signing images (`aotlink keygen`, `aotlink sign`, `--sign`): ed25519 over BLAKE3 of the
//! sealed file, in the trailer that `aotload::signing` defines and the loader verifies.
//!
//! Key files are two lines of text: a header line, then the key in hex. The secret key file
//! (`NAME.key`, mode 0600) holds the 32-byte ed25519 seed; the public key file (`NAME.pub`) the
//! 32-byte public key. Both are written to a temp file and renamed.

use std::path::{Path, PathBuf};

use aotload::signing::{
    decode_hex, encode_hex, signed_message, split_trailer, PublicKey, Trailer, PUBLIC_KEY_HEADER,
};
use aotload::ImageFile;
use ed25519_dalek::{Signer as _, SigningKey};

/// First line of a secret key file; the second is the 32-byte seed in hex.
pub const SECRET_KEY_HEADER: &str = "aotlink ed25519 secret key";

/// A key file that cannot be read, written or used; the message names the file when there is
/// one.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {cause}", path.display())]
    InFile { path: PathBuf, cause: Box<KeyError> },
    #[error("cannot read the {what} key: {cause}")]
    Unreadable {
        what: &'static str,
        cause: std::io::Error,
    },
    #[error("this is a public key file; signing needs the secret key (.key)")]
    PublicNotSecret,
    #[error("this is a secret key file; trust its public key (.pub) instead")]
    SecretNotPublic,
    #[error("not an aotlink secret key file (the first line must be `{SECRET_KEY_HEADER}`)")]
    NotSecretKeyFile,
    #[error("the key is not 64 hex digits")]
    NotHex,
    #[error("unexpected text after the key")]
    TrailingText,
    /// The loader's public-key parser says what is wrong.
    #[error("{0}")]
    BadPublicKey(aotload::signing::KeyFileError),
    #[error("{}: already exists (a key file is never overwritten)", path.display())]
    Exists { path: PathBuf },
    #[error("{}: cannot write: {cause}", path.display())]
    Unwritable {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl KeyError {
    fn in_file(self, path: &Path) -> KeyError {
        KeyError::InFile {
            path: path.to_path_buf(),
            cause: Box::new(self),
        }
    }
}

/// Why an image could not be signed (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    /// Only a whole, sealed image is signed.
    #[error("{0}")]
    NotSealed(aotload::LoadCause),
    #[error("cannot write: {0}")]
    Write(std::io::Error),
}

/// An ed25519 key pair that signs images.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> SecretKey {
        SecretKey(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Reads a secret key file; errors name the file.
    pub fn read(path: &Path) -> Result<SecretKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|cause| {
            KeyError::Unreadable {
                what: "secret",
                cause,
            }
            .in_file(path)
        })?;
        SecretKey::parse(&text).map_err(|e| e.in_file(path))
    }

    /// The text of a secret key file.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        match lines.next() {
            Some(SECRET_KEY_HEADER) => {}
            Some(PUBLIC_KEY_HEADER) => return Err(KeyError::PublicNotSecret),
            _ => return Err(KeyError::NotSecretKeyFile),
        }
        let seed = lines
            .next()
            .and_then(decode_hex::<32>)
            .ok_or(KeyError::NotHex)?;
        if lines.next().is_some() {
            return Err(KeyError::TrailingText);
        }
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.0.verifying_key().as_bytes())
            .expect("a generated key is a valid public key")
    }

    fn to_file_text(&self) -> String {
        format!("{SECRET_KEY_HEADER}\n{}\n", encode_hex(self.0.as_bytes()))
    }

    /// The trailer that signs `body` (the sealed image without any trailer).
    pub fn sign(&self, body: &[u8]) -> Trailer {
        Trailer {
            signature: self.0.sign(&signed_message(body)).to_bytes(),
            public_key: *self.0.verifying_key().as_bytes(),
        }
    }
}

/// Names the key by its public fingerprint; the secret never reaches a log.
impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key().fingerprint())
    }
}

/// Reads a public key file (`--trusted-key`); errors name the file.
pub fn read_public_key(path: &Path) -> Result<PublicKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|cause| {
        KeyError::Unreadable {
            what: "public",
            cause,
        }
        .in_file(path)
    })?;
    if text.trim_start().starts_with(SECRET_KEY_HEADER) {
        return Err(KeyError::SecretNotPublic.in_file(path));
    }
    PublicKey::parse(&text).map_err(|e| KeyError::BadPublicKey(e).in_file(path))
}

/// `NAME.key` and `NAME.pub` for `--out NAME`.
pub fn key_file_paths(name: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut path = name.as_os_str().to_owned();
        path.push(ext);
        PathBuf::from(path)
    };
    (with(".key"), with(".pub"))
}

/// Makes a key pair: `NAME.key` (mode 0600) and `NAME.pub`. An existing key file, secret or
/// public (a key someone else's images are trusted by), is never overwritten. Returns the
/// public key.
pub fn keygen(name: &Path) -> Result<PublicKey, KeyError> {
    let (secret_path, public_path) = key_file_paths(name);
    let exists = |path: &Path| KeyError::Exists {
        path: path.to_path_buf(),
    };
    for path in [&secret_path, &public_path] {
        // symlink_metadata: a dangling link counts too (renaming over it would replace it).
        if path.symlink_metadata().is_ok() {
            return Err(exists(path));
        }
    }
    let key = SecretKey::generate();
    let write_new = |path: &Path, text: String, mode: u32| {
        write_atomically(path, text.as_bytes(), mode, false).map_err(|e| match e.kind() {
            // Created by someone else since the check above.
            std::io::ErrorKind::AlreadyExists => exists(path),
            _ => KeyError::Unwritable {
                path: path.to_path_buf(),
                cause: e,
            },
        })
    };
    write_new(&secret_path, key.to_file_text(), 0o600)?;
    let public = key.public_key();
    if let Err(e) = write_new(&public_path, public.to_file_text(), 0o644) {
        // A secret key without its public key is of no use: it was this call's, remove it.
        let _ = std::fs::remove_file(&secret_path);
        return Err(e);
    }
    Ok(public)
}

/// Signs the image at `path` in place (temp file and rename, mode kept): a valid, sealed image
/// gets a trailer, a signed one a new trailer. Deterministic: the same image and key give the
/// same bytes. Errors do not name the file (the caller knows it by its final name).
pub fn sign_image(path: &Path, key: &SecretKey) -> Result<(), SignError> {
    let bytes = aotload::read_image_file(path).map_err(SignError::Read)?;
    // Only a whole, sealed image is signed: a signature over damaged bytes would vouch for them.
    let image = ImageFile::parse_in_place(&bytes).map_err(SignError::NotSealed)?;
    image
        .verify_checksum(&bytes)
        .map_err(SignError::NotSealed)?;
    let body = split_trailer(&bytes).0;
    let mut signed = Vec::with_capacity(body.len() + aotload::signing::TRAILER_SIZE);
    signed.extend_from_slice(body);
    signed.extend_from_slice(&key.sign(body).encode());
    let mode = file_mode(path).map_err(SignError::Read)?;
    write_atomically(path, &signed, mode, true).map_err(SignError::Write)
}

#[cfg(unix)]
fn file_mode(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> std::io::Result<u32> {
    Ok(0o644)
}

/// Writes `bytes` to a temp file beside `path` with permissions `mode` (on Unix), then renames
/// it over `path` (with `replace`; otherwise it is moved there only if `path` does not exist,
/// an `AlreadyExists` error if it does). The temp file is created 0600, so a secret key is
/// never readable by others.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".aotlink-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.as_file().sync_all()?;
    match replace {
        true => temp.persist(path).map_err(|e| e.error)?,
        false => temp.persist_noclobber(path).map_err(|e| e.error)?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_files_round_trip_and_name_their_mistakes() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&key.to_file_text()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public_text = key.public_key().to_file_text();
        assert!(SecretKey::parse(&public_text)
            .unwrap_err()
            .to_string()
            .contains("public key file"));
        assert!(SecretKey::parse("hello\n")
            .unwrap_err()
            .to_string()
            .contains("not an aotlink secret key file"));
        let short = format!("{SECRET_KEY_HEADER}\nabcd\n");
        assert_eq!(
            SecretKey::parse(&short).unwrap_err().to_string(),
            "the key is not 64 hex digits"
        );
    }

    #[test]
    fn signatures_are_deterministic() {
        let key = SecretKey::parse(&format!("{SECRET_KEY_HEADER}\n{}\n", "11".repeat(32))).unwrap();
        assert_eq!(key.sign(b"image"), key.sign(b"image"));
        assert_ne!(key.sign(b"image"), key.sign(b"imagf"));
    }
}
