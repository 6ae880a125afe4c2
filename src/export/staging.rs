//! The whole snapshot appears at once: it is written into a hidden folder beside the root and
//! renamed into place when every table and the manifest are written. A failed or killed export
//! leaves no snapshot that a later `recon run` would read (at worst a hidden `.…recon-tmp…`
//! folder, removed on the way out when the process lives to do it).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A staging folder for a snapshot root.
pub(crate) struct Staging {
    dir: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl Staging {
    /// Stages a snapshot for `out`; refuses a root that already holds anything unless `force`.
    pub(crate) fn new(out: &Path, force: bool) -> Result<Self> {
        if out.exists() {
            let occupied = std::fs::read_dir(out)
                .map_err(|source| Error::Write {
                    path: out.to_owned(),
                    source,
                })?
                .next()
                .is_some();
            if occupied && !force {
                let what = if out.join(super::manifest::FILE).exists() {
                    "already holds a snapshot"
                } else {
                    "is not empty"
                };
                return Err(Error::Invalid(format!(
                    "--out {}: {what}; pass --force to replace it",
                    out.display()
                )));
            }
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|source| Error::Write {
            path: parent.clone(),
            source,
        })?;
        let name = out
            .file_name()
            .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.recon-tmp-"))
            .tempdir_in(&parent)
            .map_err(|source| Error::Write {
                path: parent.clone(),
                source,
            })?
            .keep();
        Ok(Self {
            dir,
            out: out.to_owned(),
            committed: false,
        })
    }

    /// The folder to write into.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves the staged snapshot to its root, replacing what was there.
    pub(crate) fn commit(mut self) -> Result<()> {
        let write_err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Write { path, source }
        };
        let old = self.dir.with_file_name(format!(
            "{}.old",
            self.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let had_old = self.out.exists();
        if had_old {
            std::fs::rename(&self.out, &old).map_err(write_err(&self.out))?;
        }
        std::fs::rename(&self.dir, &self.out).map_err(write_err(&self.out))?;
        self.committed = true;
        if had_old {
            std::fs::remove_dir_all(&old).map_err(write_err(&old))?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
