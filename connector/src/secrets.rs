//! Encryption at rest for secrets billbridge must store (webhook source secrets, Qonto OAuth
//! tokens and API credentials): XChaCha20-Poly1305 with a 32-byte master key.
//!
//! # The master key
//!
//! [`SecretBox::load`] takes the key from the environment variable `BILLBRIDGE_SECRET_KEY`
//! ([`KEY_ENV`]) when it is set: 32 bytes written as standard base64 (44 characters with `=`
//! padding, or 43 without; `openssl rand -base64 32`) or as hex (64 characters;
//! `openssl rand -hex 32`), surrounding whitespace ignored. A variable that is set but empty or
//! malformed is an error (naming the variable, never echoing its value); it never silently falls
//! back to the file.
//!
//! When the variable is absent, the key lives in a key file whose path the caller gives (e.g.
//! `./billbridge.key`). On first use the file is created with mode `0600` holding the key as base64
//! and a newline (the same text the variable accepts, so it can be moved into a secret manager);
//! creation is atomic (temporary file + hard link), so instances starting together agree on one
//! key. An existing key file readable or writable by group or others is refused with an error
//! telling to `chmod 600` it.
//!
//! Losing the key makes every stored secret unreadable: back it up with the database.
//!
//! # Sealed format
//!
//! `v1:` + standard base64 of `nonce (24 bytes) || ciphertext || tag (16 bytes)`, with a fresh
//! random nonce per encryption. The associated data (e.g. `"qonto_oauth:<org id>"`) is not stored:
//! it binds a sealed value to its row so it cannot be copied into another one; pass the same bytes
//! to [`SecretBox::decrypt`].
//!
//! This type is unrelated to `secrecy::SecretBox` (which only hides a value in memory).

use std::fmt;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use chacha20poly1305::{AeadInOut as _, KeyInit as _, XChaCha20Poly1305, XNonce};
use secrecy::zeroize::Zeroizing;
use secrecy::{SecretSlice, SecretString};

/// Environment variable that holds the master key (base64 or hex of 32 bytes).
pub const KEY_ENV: &str = "BILLBRIDGE_SECRET_KEY";

/// Length of the master key in bytes.
pub const KEY_LEN: usize = 32;

const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Standard base64 that accepts input with or without `=` padding (we always write padding).
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What went wrong loading the key or sealing/opening a value. Never contains key material
/// or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// `BILLBRIDGE_SECRET_KEY` is set but is not a 32-byte key in base64 or hex.
    #[error("{var} is set but is not a 32-byte key: {reason} (expected 44 base64 characters, e.g. `openssl rand -base64 32`, or 64 hex characters)")]
    BadEnvKey {
        /// The variable's name ([`KEY_ENV`]).
        var: &'static str,
        /// What is wrong with the value (never the value itself).
        reason: &'static str,
    },
    /// The key file exists but does not hold a 32-byte key in base64 or hex.
    #[error("key file {path} does not hold a 32-byte key: {reason}", path = .path.display())]
    BadKeyFile {
        /// Path of the key file.
        path: PathBuf,
        /// What is wrong with the content (never the content itself).
        reason: &'static str,
    },
    /// The key file can be read or written by group or others.
    #[error("key file {path} has mode {mode:04o}, readable or writable by group or others; run `chmod 600 {path}`", path = .path.display())]
    KeyFilePermissions {
        /// Path of the key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or creating the key file failed.
    #[error("key file {path}: {source}", path = .path.display())]
    KeyFileIo {
        /// Path of the key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),
    /// The sealed text does not start with a version billbridge knows.
    #[error("sealed secret has an unknown format version")]
    UnknownVersion,
    /// The sealed text is not valid base64 or is too short to hold a nonce and tag.
    #[error("sealed secret is malformed")]
    Malformed,
    /// Authentication failed: wrong key, wrong associated data, or the value was altered.
    #[error(
        "sealed secret could not be decrypted (wrong key, wrong associated data, or tampered)"
    )]
    Decrypt,
    /// Decrypted bytes are not UTF-8 where a string was expected.
    #[error("decrypted secret is not UTF-8")]
    NotUtf8,
}

/// Seals and opens secrets with XChaCha20-Poly1305 under the master key (see the module
/// documentation for where the key comes from). The key is zeroized when this is dropped;
/// `Debug` prints nothing of it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    /// Loads the master key from `BILLBRIDGE_SECRET_KEY` when set, otherwise from `key_file`,
    /// creating that file (mode 0600, fresh random key) if it does not exist.
    ///
    /// # Errors
    /// [`SecretsError::BadEnvKey`] if the variable is set but not a valid key (including empty
    /// or not Unicode); otherwise the errors of [`SecretBox::load_or_create_key_file`].
    pub fn load(key_file: &Path) -> Result<Self, SecretsError> {
        match std::env::var(KEY_ENV) {
            Ok(value) => Self::from_env_value(&value),
            Err(std::env::VarError::NotPresent) => Self::load_or_create_key_file(key_file),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretsError::BadEnvKey {
                var: KEY_ENV,
                reason: "not valid Unicode",
            }),
        }
    }

    /// Builds a box from the text of `BILLBRIDGE_SECRET_KEY` (base64 or hex of 32 bytes).
    ///
    /// # Errors
    /// [`SecretsError::BadEnvKey`] naming the variable.
    pub fn from_env_value(value: &str) -> Result<Self, SecretsError> {
        let key = parse_key(value).map_err(|reason| SecretsError::BadEnvKey {
            var: KEY_ENV,
            reason,
        })?;
        Ok(Self::from_key(&key))
    }

    /// Reads the key file at `path`, or creates it with a fresh random key and mode 0600 when it
    /// does not exist. Several processes racing to create it end up with the same key.
    ///
    /// # Errors
    /// [`SecretsError::KeyFilePermissions`] if an existing file is accessible by group/others,
    /// [`SecretsError::BadKeyFile`] if its content is not a key, [`SecretsError::KeyFileIo`] on
    /// I/O failure, [`SecretsError::Random`] if no random bytes could be had.
    pub fn load_or_create_key_file(path: &Path) -> Result<Self, SecretsError> {
        match read_key_file(path) {
            Ok(key) => return Ok(Self::from_key(&key)),
            Err(SecretsError::KeyFileIo { source, .. })
                if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        create_key_file(path)?;
        let key = read_key_file(path)?;
        Ok(Self::from_key(&key))
    }

    /// Builds a box from raw key bytes (tests, or a key from a secret manager).
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&(*key).into()),
        }
    }

    /// Makes a fresh random 32-byte key.
    ///
    /// # Errors
    /// [`SecretsError::Random`] if the operating system cannot provide random bytes.
    pub fn generate_key() -> Result<Zeroizing<[u8; KEY_LEN]>, SecretsError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(key.as_mut()).map_err(|e| SecretsError::Random(e.to_string()))?;
        Ok(key)
    }

    /// Seals `plaintext`, bound to `associated_data`, as `v1:` + base64(nonce || ciphertext),
    /// with a fresh random nonce.
    ///
    /// # Errors
    /// [`SecretsError::Random`] if no nonce could be drawn (the OS random generator failed).
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<String, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SecretsError::Random(e.to_string()))?;
        // Capacity for the tag up front so the plaintext is never left behind by a reallocation.
        let mut buffer = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN));
        buffer.extend_from_slice(plaintext);
        self.cipher
            .encrypt_in_place(&XNonce::from(nonce), associated_data, &mut *buffer)
            .map_err(|_| SecretsError::Malformed)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + buffer.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&buffer);
        let mut out = String::with_capacity(VERSION_PREFIX.len() + sealed.len().div_ceil(3) * 4);
        out.push_str(VERSION_PREFIX);
        STANDARD.encode_string(&sealed, &mut out);
        Ok(out)
    }

    /// Opens a value made by [`SecretBox::encrypt`] with the same `associated_data`.
    ///
    /// # Errors
    /// [`SecretsError::UnknownVersion`], [`SecretsError::Malformed`], or
    /// [`SecretsError::Decrypt`] (wrong key, wrong associated data, or altered value).
    pub fn decrypt(
        &self,
        sealed: &str,
        associated_data: &[u8],
    ) -> Result<SecretSlice<u8>, SecretsError> {
        let plain = self.open(sealed, associated_data)?;
        Ok(SecretSlice::from(plain.to_vec()))
    }

    /// Like [`SecretBox::decrypt`] for values that were UTF-8 text (tokens, passwords).
    ///
    /// # Errors
    /// Those of [`SecretBox::decrypt`], and [`SecretsError::NotUtf8`].
    pub fn decrypt_string(
        &self,
        sealed: &str,
        associated_data: &[u8],
    ) -> Result<SecretString, SecretsError> {
        let plain = self.open(sealed, associated_data)?;
        let text = std::str::from_utf8(&plain).map_err(|_| SecretsError::NotUtf8)?;
        Ok(SecretString::from(text))
    }

    fn open(
        &self,
        sealed: &str,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let encoded = sealed
            .trim()
            .strip_prefix(VERSION_PREFIX)
            .ok_or(SecretsError::UnknownVersion)?;
        let raw = STANDARD_LENIENT
            .decode(encoded)
            .map_err(|_| SecretsError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretsError::Malformed)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_in_place(&XNonce::from(nonce), associated_data, &mut *buffer)
            .map_err(|_| SecretsError::Decrypt)?;
        Ok(buffer)
    }
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(XChaCha20-Poly1305, key redacted)")
    }
}

/// Parses 32 key bytes from hex (64 characters) or standard base64 (padding optional).
fn parse_key(text: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty");
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (slot, pair) in key.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let hex = std::str::from_utf8(pair).map_err(|_| "not hex")?;
            *slot = u8::from_str_radix(hex, 16).map_err(|_| "not hex")?;
        }
        return Ok(key);
    }
    let bytes = Zeroizing::new(
        STANDARD_LENIENT
            .decode(text)
            .map_err(|_| "neither 64 hex characters nor valid base64")?,
    );
    if bytes.len() != KEY_LEN {
        return Err("decodes to a length other than 32 bytes");
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn io_error(path: &Path, source: io::Error) -> SecretsError {
    SecretsError::KeyFileIo {
        path: path.to_path_buf(),
        source,
    }
}

fn read_key_file(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, SecretsError> {
    let file = fs::File::open(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(SecretsError::BadKeyFile {
            path: path.to_path_buf(),
            reason: "not a regular file",
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = Zeroizing::new(String::with_capacity(128));
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(|e| io_error(path, e))?;
    parse_key(&text).map_err(|reason| SecretsError::BadKeyFile {
        path: path.to_path_buf(),
        reason,
    })
}

/// Writes a new key to a private temporary file beside `path`, then hard-links it into place,
/// which fails if `path` already exists: a concurrent creator wins and both read its key.
fn create_key_file(path: &Path) -> Result<(), SecretsError> {
    let key = SecretBox::generate_key()?;
    let mut text = Zeroizing::new(STANDARD.encode(key.as_ref()));
    text.push('\n');

    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| SecretsError::Random(e.to_string()))?;
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(format!(".tmp-{}", u64::from_le_bytes(suffix)));
    let tmp = path.with_file_name(tmp_name);

    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    // Best effort: the temporary name is random, a leftover is harmless but untidy.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(dir) = fs::File::open(dir) {
                    let _ = dir.sync_all();
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn temp_dir(name: &str) -> PathBuf {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "billbridge-secrets-{name}-{}",
            u64::from_le_bytes(suffix)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn test_box() -> SecretBox {
        SecretBox::from_key(&SecretBox::generate_key().unwrap())
    }

    #[test]
    fn round_trip() {
        let sb = test_box();
        let sealed = sb.encrypt(b"qonto-secret-key", b"org:1").unwrap();
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert!(!sealed.contains("qonto"));
        let plain = sb.decrypt(&sealed, b"org:1").unwrap();
        assert_eq!(plain.expose_secret(), b"qonto-secret-key");
        let text = sb.decrypt_string(&sealed, b"org:1").unwrap();
        assert_eq!(text.expose_secret(), "qonto-secret-key");
        // Empty plaintext works too.
        let sealed = sb.encrypt(b"", b"").unwrap();
        assert_eq!(sb.decrypt(&sealed, b"").unwrap().expose_secret(), b"");
    }

    #[test]
    fn nonce_is_fresh_each_time() {
        let sb = test_box();
        let a = sb.encrypt(b"same", b"ad").unwrap();
        let b = sb.encrypt(b"same", b"ad").unwrap();
        assert_ne!(a, b);
        // 24-byte nonce + 4-byte plaintext + 16-byte tag.
        assert_eq!(STANDARD.decode(&a[3..]).unwrap().len(), 24 + 4 + 16);
    }

    #[test]
    fn wrong_associated_data_fails() {
        let sb = test_box();
        let sealed = sb.encrypt(b"token", b"org:1").unwrap();
        assert!(matches!(
            sb.decrypt(&sealed, b"org:2"),
            Err(SecretsError::Decrypt)
        ));
        assert!(matches!(
            sb.decrypt(&sealed, b""),
            Err(SecretsError::Decrypt)
        ));
    }

    #[test]
    fn tampering_fails() {
        let sb = test_box();
        let sealed = sb.encrypt(b"token", b"ad").unwrap();
        let raw = STANDARD.decode(&sealed[3..]).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let bad = format!("v1:{}", STANDARD.encode(&bad));
            assert!(
                matches!(sb.decrypt(&bad, b"ad"), Err(SecretsError::Decrypt)),
                "byte {i}"
            );
        }
        let truncated = format!("v1:{}", STANDARD.encode(&raw[..raw.len() - 1]));
        assert!(matches!(
            sb.decrypt(&truncated, b"ad"),
            Err(SecretsError::Decrypt)
        ));
        let short = format!("v1:{}", STANDARD.encode(&raw[..NONCE_LEN + TAG_LEN - 1]));
        assert!(matches!(
            sb.decrypt(&short, b"ad"),
            Err(SecretsError::Malformed)
        ));
        assert!(matches!(
            sb.decrypt("v1:!!!", b"ad"),
            Err(SecretsError::Malformed)
        ));
        assert!(matches!(
            sb.decrypt(&sealed[3..], b"ad"),
            Err(SecretsError::UnknownVersion)
        ));
        let v2 = sealed.replacen("v1:", "v2:", 1);
        assert!(matches!(
            sb.decrypt(&v2, b"ad"),
            Err(SecretsError::UnknownVersion)
        ));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = test_box().encrypt(b"token", b"ad").unwrap();
        assert!(matches!(
            test_box().decrypt(&sealed, b"ad"),
            Err(SecretsError::Decrypt)
        ));
    }

    #[test]
    fn not_utf8_is_reported() {
        let sb = test_box();
        let sealed = sb.encrypt(&[0xff, 0xfe], b"").unwrap();
        assert!(matches!(
            sb.decrypt_string(&sealed, b""),
            Err(SecretsError::NotUtf8)
        ));
    }

    #[test]
    fn env_key_accepts_base64_and_hex() {
        let key = [7u8; 32];
        let b64 = STANDARD.encode(key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let sealed = SecretBox::from_key(&key).encrypt(b"x", b"").unwrap();
        for text in [
            b64.clone(),
            b64.trim_end_matches('=').to_owned(),
            format!("{b64}\n"),
            hex.clone(),
            hex.to_uppercase(),
        ] {
            let sb = SecretBox::from_env_value(&text).unwrap();
            assert_eq!(
                sb.decrypt(&sealed, b"").unwrap().expose_secret(),
                b"x",
                "{text:?}"
            );
        }
    }

    #[test]
    fn env_key_errors_name_the_variable_and_hide_the_value() {
        let short = STANDARD.encode([9u8; 16]);
        let long_hex = "ab".repeat(31);
        for text in [
            "",
            "   ",
            "not base64 at all!",
            short.as_str(),
            long_hex.as_str(),
        ] {
            let err = SecretBox::from_env_value(text).unwrap_err();
            assert!(
                matches!(err, SecretsError::BadEnvKey { var: KEY_ENV, .. }),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains("BILLBRIDGE_SECRET_KEY"), "{msg}");
            if !text.trim().is_empty() {
                assert!(!msg.contains(text.trim()), "{msg}");
            }
        }
    }

    #[test]
    fn key_file_is_created_0600_and_reused() {
        let dir = temp_dir("create");
        let path = dir.join("billbridge.key");
        let first = SecretBox::load_or_create_key_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The file holds the key as base64, the same text BILLBRIDGE_SECRET_KEY accepts.
        let text = fs::read_to_string(&path).unwrap();
        let from_env = SecretBox::from_env_value(&text).unwrap();
        let sealed = first.encrypt(b"token", b"ad").unwrap();
        assert_eq!(
            from_env.decrypt(&sealed, b"ad").unwrap().expose_secret(),
            b"token"
        );
        // A second load reads the same key.
        let second = SecretBox::load_or_create_key_file(&path).unwrap();
        assert_eq!(
            second.decrypt(&sealed, b"ad").unwrap().expose_secret(),
            b"token"
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = temp_dir("race");
        let path = dir.join("billbridge.key");
        let boxes: Vec<SecretBox> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| SecretBox::load_or_create_key_file(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let sealed = boxes[0].encrypt(b"token", b"").unwrap();
        for sb in &boxes {
            assert_eq!(sb.decrypt(&sealed, b"").unwrap().expose_secret(), b"token");
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = temp_dir("perms");
        let path = dir.join("billbridge.key");
        SecretBox::load_or_create_key_file(&path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = SecretBox::load_or_create_key_file(&path).unwrap_err();
            assert!(
                matches!(err, SecretsError::KeyFilePermissions { mode: m, .. } if m == mode),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("chmod 600") && msg.contains("billbridge.key"),
                "{msg}"
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        SecretBox::load_or_create_key_file(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_key_file_content_is_refused() {
        let dir = temp_dir("content");
        let path = dir.join("billbridge.key");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(b"hello\n")
            .unwrap();
        let err = SecretBox::load_or_create_key_file(&path).unwrap_err();
        assert!(matches!(err, SecretsError::BadKeyFile { .. }), "{err:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", SecretBox::from_key(&[0x41; 32]));
        assert!(!shown.contains("AAAA") && !shown.contains("65"), "{shown}");
    }
}
