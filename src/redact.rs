//! Redaction: values of `redact` columns never reach a report, a diff file, the history or a
//! log. Wherever such a value would appear, a digest stands in: 64 bits of a keyed BLAKE3, equal
//! for equal values within a key (so samples correlate and nightly runs recognise a key), and not
//! recoverable by trying values without the key.
//!
//! The key comes from `RECON_REDACTION_KEY`, else from the file `[report] redaction_key_file`
//! names, else from `redaction.key` in the history folder (made once, on first use), else it is
//! random for the run, which the report says (`run.redaction_key`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};

/// The environment variable that holds a redaction key (any text; it is hashed into the key).
pub const KEY_ENV: &str = "RECON_REDACTION_KEY";

/// The file in a history folder that keeps its generated key.
pub const HISTORY_KEY_FILE: &str = "redaction.key";

/// Where a run's redaction key came from (shown in the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `RECON_REDACTION_KEY`.
    Env,
    /// The config's `redaction_key_file`.
    File,
    /// `redaction.key` in the history folder.
    History,
    /// Random for this run: digests do not match other runs' digests.
    PerRun,
}

impl KeySource {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Env => "env",
            KeySource::File => "file",
            KeySource::History => "history",
            KeySource::PerRun => "per_run",
        }
    }
}

/// The secret redaction digests are keyed with.
#[derive(Clone)]
pub struct RedactionKey {
    key: [u8; 32],
    source: KeySource,
}

impl std::fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself never reaches a log.
        write!(f, "RedactionKey({})", self.source.as_str())
    }
}

fn derive(material: &[u8]) -> [u8; 32] {
    blake3::derive_key("recon redaction key v1", material)
}

fn random_key() -> Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| Error::failed("no random bytes for a redaction key", e))?;
    Ok(key)
}

impl RedactionKey {
    /// A random key for this run only.
    pub fn per_run() -> Result<Self> {
        Ok(Self {
            key: random_key()?,
            source: KeySource::PerRun,
        })
    }

    /// The key of a run: the environment, the key file, the history folder's key (made on first
    /// use), or a random one, in that order.
    pub fn resolve(key_file: Option<&Path>, history: Option<&Path>) -> Result<Self> {
        if let Ok(text) = std::env::var(KEY_ENV)
            && !text.is_empty()
        {
            return Ok(Self {
                key: derive(text.as_bytes()),
                source: KeySource::Env,
            });
        }
        if let Some(path) = key_file {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::input(format!("redaction_key_file {}", path.display()), e))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(Error::Invalid(format!(
                    "redaction_key_file {}: the file is empty",
                    path.display()
                )));
            }
            return Ok(Self {
                key: derive(&bytes),
                source: KeySource::File,
            });
        }
        if let Some(dir) = history {
            return Ok(Self {
                key: derive(&history_key(dir)?),
                source: KeySource::History,
            });
        }
        Self::per_run()
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// `redacted:` and 16 hex digits (64 bits) of the keyed digest of a value's text.
    pub fn digest(&self, text: &str) -> String {
        let h = blake3::keyed_hash(&self.key, text.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h.as_bytes()[..8]);
        format!("redacted:{:016x}", u64::from_be_bytes(first))
    }
}

/// The history folder's key material, made (32 random bytes, hex, owner-only) on first use.
fn history_key(dir: &Path) -> Result<Vec<u8>> {
    let path: PathBuf = dir.join(HISTORY_KEY_FILE);
    let err = |source| Error::Write {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(err)?;
    let hex: String = random_key()?
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, hex.as_bytes()).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    // Two runs racing to make the key: the first one's key wins, the other reads it.
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(hex.into_bytes()),
        Err(_) => std::fs::read(&path).map_err(err),
    }
}

/// `e` and its causes as one line, masked by [`mask_values`].
pub fn masked(e: &(dyn std::error::Error + 'static)) -> crate::error::Masked {
    crate::error::Masked(mask_values(&crate::error::chain(e)))
}

/// An error message with quoted text and standalone numbers replaced by `…`: what a failed
/// cast or an overflow quotes may be a redacted value.
pub fn mask_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                out.push('…');
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                out.push(c);
            }
            d if d.is_ascii_digit() && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_') => {
                out.push('…');
                while chars.next_if(|n| n.is_ascii_digit() || *n == '.').is_some() {}
            }
            _ => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// The columns to redact (legacy names) and the key their digests use.
#[derive(Debug, Clone)]
pub struct Redactor {
    columns: BTreeSet<String>,
    key: Arc<RedactionKey>,
}

impl Redactor {
    /// Redacts these columns with this key.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(
        columns: I,
        key: Arc<RedactionKey>,
    ) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
            key,
        }
    }

    /// Whether a column is redacted.
    pub fn applies(&self, column: &str) -> bool {
        self.columns.contains(column)
    }

    /// The digest standing in for a value's text.
    pub fn digest(&self, text: &str) -> String {
        self.key.digest(text)
    }

    /// The value to show for `column`.
    pub fn value(&self, column: &str, v: Value) -> Value {
        match v {
            Value::Null => Value::Null,
            Value::String(s) if self.applies(column) => Value::String(self.digest(&s)),
            v if self.applies(column) => Value::String(self.digest(&v.to_string())),
            v => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(material: &str) -> RedactionKey {
        RedactionKey {
            key: derive(material.as_bytes()),
            source: KeySource::Env,
        }
    }

    #[test]
    fn masked_errors_keep_types_and_lose_values() {
        assert_eq!(
            mask_values("Cast error: Cannot cast string '+966 50' to value of Int64 type"),
            "Cast error: Cannot cast string '…' to value of Int64 type"
        );
        assert_eq!(
            mask_values("Overflow happened on: 99999999 * 10 in Decimal128(38, 2)"),
            "Overflow happened on: … * … in Decimal128(…, …)"
        );
    }

    #[test]
    fn digests_are_64_bits_keyed_and_stable_within_a_key() {
        let (a, b) = (key("one"), key("two"));
        let d = a.digest("+966 50 123 4567");
        assert_eq!(d.len(), "redacted:".len() + 16);
        assert_eq!(d, a.digest("+966 50 123 4567"));
        assert_ne!(
            d,
            b.digest("+966 50 123 4567"),
            "another key, another digest"
        );
        assert_ne!(d, a.digest("+966 50 123 4568"));
    }

    #[test]
    fn the_history_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RedactionKey::resolve(None, Some(dir.path())).expect("key");
        let again = RedactionKey::resolve(None, Some(dir.path())).expect("key");
        if std::env::var(KEY_ENV).is_err() {
            assert_eq!(first.source(), KeySource::History);
        }
        assert_eq!(first.digest("x"), again.digest("x"));
    }
}
