//! Every differing key of a table, for the run history, kept in a temporary file rather than in
//! memory: a table that lost half its rows has as many keys as rows.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// A differing row's key, as the run history stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffKey {
    /// `changed`, `missing` or `extra`.
    pub category: String,
    /// The key's identity (hex of the exact key or of its 128-bit digest).
    pub digest: String,
    /// The key's values as JSON text (redacted columns digested).
    pub key: String,
}

#[derive(Debug)]
struct Log {
    file: BufWriter<File>,
    keys: u64,
}

/// A table's differing keys in a temporary file (empty until the first key).
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    log: Option<Arc<Mutex<Log>>>,
    dir: Option<std::path::PathBuf>,
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("key log lock poisoned".into())
}

impl KeyLog {
    /// A log whose file goes under `dir` (the system temp folder when `None`).
    pub fn new(dir: Option<&std::path::Path>) -> Self {
        Self {
            log: None,
            dir: dir.map(std::path::Path::to_path_buf),
        }
    }

    /// Appends keys.
    pub fn extend(&mut self, keys: impl IntoIterator<Item = DiffKey>) -> Result<()> {
        let log = if let Some(l) = &self.log {
            l
        } else {
            let file = match &self.dir {
                Some(d) => tempfile::tempfile_in(d),
                None => tempfile::tempfile(),
            }
            .map_err(Error::Spill)?;
            self.log.insert(Arc::new(Mutex::new(Log {
                file: BufWriter::with_capacity(1 << 16, file),
                keys: 0,
            })))
        };
        let mut log = log.lock().map_err(poisoned)?;
        let mut buf = Vec::new();
        for k in keys {
            for text in [&k.category, &k.digest, &k.key] {
                let n = u32::try_from(text.len())
                    .map_err(|_| Error::Internal("key text too long".into()))?;
                buf.extend_from_slice(&n.to_le_bytes());
                buf.extend_from_slice(text.as_bytes());
            }
            log.keys += 1;
        }
        log.file.write_all(&buf).map_err(Error::Spill)
    }

    /// Keys logged.
    pub fn len(&self) -> u64 {
        self.log
            .as_ref()
            .and_then(|l| l.lock().ok().map(|l| l.keys))
            .unwrap_or(0)
    }

    /// Whether no key was logged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands every key to `each`, in the order logged.
    pub fn for_each(&self, mut each: impl FnMut(DiffKey) -> Result<()>) -> Result<()> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let mut log = log.lock().map_err(poisoned)?;
        log.file.flush().map_err(Error::Spill)?;
        let keys = log.keys;
        let mut file = log.file.get_ref();
        file.rewind().map_err(Error::Spill)?;
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut text = || -> Result<String> {
            let mut n = [0u8; 4];
            r.read_exact(&mut n).map_err(Error::Spill)?;
            let mut b = vec![0u8; u32::from_le_bytes(n) as usize];
            r.read_exact(&mut b).map_err(Error::Spill)?;
            String::from_utf8(b).map_err(|e| Error::failed("key log", e))
        };
        for _ in 0..keys {
            let category = text()?;
            let digest = text()?;
            let key = text()?;
            each(DiffKey {
                category,
                digest,
                key,
            })?;
        }
        drop(r);
        // Later appends go to the end.
        log.file
            .get_ref()
            .seek(std::io::SeekFrom::End(0))
            .map_err(Error::Spill)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_back_in_order_and_appends_continue() {
        let key = |i: usize| DiffKey {
            category: ["changed", "missing", "extra"][i % 3].to_owned(),
            digest: format!("{i:016x}"),
            key: format!("{{\"id\":{i}, \"name\":\"ü{}\"}}", "x".repeat(i % 7)),
        };
        let mut log = KeyLog::new(None);
        assert!(log.is_empty());
        log.extend((0..1000).map(key)).expect("extend");
        let mut back = Vec::new();
        log.for_each(|k| {
            back.push(k);
            Ok(())
        })
        .expect("read");
        log.extend((1000..1010).map(key)).expect("extend");
        let mut again = Vec::new();
        log.clone()
            .for_each(|k| {
                again.push(k);
                Ok(())
            })
            .expect("read");
        assert_eq!(back, (0..1000).map(key).collect::<Vec<_>>());
        assert_eq!(again, (0..1010).map(key).collect::<Vec<_>>());
        assert_eq!(log.len(), 1010);
    }
}
