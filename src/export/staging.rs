//! The whole snapshot appears at once: it is written into a hidden folder beside the root and
//! renamed into place when every table and the manifest are written. A failed or killed export
//! leaves no snapshot that a later `recon run` would read (at worst a hidden `.…recon-tmp…`
//! folder, removed on the way out when the process lives to do it).

use std::path::{Path, PathBuf};

use super::Replace;
use super::manifest::{FILE, Manifest};
use crate::error::{Error, Result};

/// A staging folder for a snapshot root.
pub(crate) struct Staging {
    dir: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl Staging {
    /// Stages a snapshot for `out`, refusing a root that `replace` does not allow to replace
    /// (see [`check_root`]).
    pub(crate) fn new(out: &Path, replace: Replace) -> Result<Self> {
        check_root(out, replace)?;
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
        let staging = Self {
            dir,
            out: out.to_owned(),
            committed: false,
        };
        // Owner only, as every file recon writes (the data is financial).
        #[cfg(unix)]
        std::fs::set_permissions(
            &staging.dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(|source| Error::Write {
            path: staging.dir.clone(),
            source,
        })?;
        Ok(staging)
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

/// Refuses a snapshot root that is a URL, lies inside another snapshot, is not a folder, or
/// holds what `replace` does not allow to replace: an empty or absent root is always fine; a
/// recon snapshot (its manifest and the folders it lists, nothing else) only from
/// [`Replace::Snapshot`] on; anything else only with [`Replace::Anything`] (`--force`).
pub(crate) fn check_root(out: &Path, replace: Replace) -> Result<()> {
    let shown = out.display();
    if out.to_string_lossy().contains("://") {
        return Err(Error::Invalid(format!(
            "{}: a snapshot is written to a local folder, not a URL; export to a folder, \
             then copy it to the store",
            crate::store::shown_text(&out.to_string_lossy())
        )));
    }
    let resolved = crate::atomic::resolved(out);
    if let Some(outer) = resolved
        .ancestors()
        .skip(1)
        .find(|a| a.join(FILE).is_file())
    {
        return Err(Error::Invalid(format!(
            "{shown}: inside the snapshot {}; a snapshot is never written into another",
            outer.display()
        )));
    }
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(Error::Invalid(format!("{shown}: not a folder")));
    }
    let listed = |source| Error::Write {
        path: out.to_owned(),
        source,
    };
    let mut entries = Vec::new();
    for e in std::fs::read_dir(out).map_err(listed)? {
        entries.push(
            e.map_err(listed)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    entries.sort();
    if entries.is_empty() || replace == Replace::Anything {
        return Ok(());
    }
    let manifest = Manifest::read(out).ok().flatten();
    let foreign: Vec<&String> = match &manifest {
        Some(m) => {
            let ours = m.entries();
            entries
                .iter()
                .filter(|e| !ours.contains(e.as_str()))
                .collect()
        }
        None => entries.iter().collect(),
    };
    if manifest.is_some() && foreign.is_empty() {
        return if replace == Replace::Snapshot {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{shown}: already holds a snapshot; pass --force to replace it"
            )))
        };
    }
    let mut list: Vec<String> = foreign.iter().take(5).map(|e| format!("`{e}`")).collect();
    if foreign.len() > 5 {
        list.push(format!("and {} more", foreign.len() - 5));
    }
    Err(Error::Invalid(format!(
        "{shown}: holds files that are not part of a recon snapshot ({}); recon replaces only a \
         snapshot it wrote: pass --force to replace the folder and everything in it",
        list.join(", ")
    )))
}
