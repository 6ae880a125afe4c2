//! Object stores: the one place that turns a root or output URL into a store.
//!
//! `s3://` (and `s3a://`), `gs://`, `az://`/`abfs://`/`azure://` and `http(s)://` go through
//! `object_store`, with credentials from the provider's standard places: the environment
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`), the AWS profile files (`~/.aws/credentials` and
//! `~/.aws/config`, `AWS_PROFILE`), Google's application-default credentials, and the instance
//! metadata services where the provider has one. Every store is wrapped in a limit on concurrent
//! requests.
//!
//! Credentials never reach a report, a log line or an error: URLs are shown without user info or
//! query ([`shown`]), and the texts of store errors have every known secret value replaced
//! ([`StoreError`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use tokio::io::AsyncWriteExt;
use url::Url;

/// Requests in flight per store at most: enough to hide latency, few enough that a store's rate
/// limits and the machine's sockets are not swamped.
pub const MAX_REQUESTS: usize = 16;

/// Bytes per part when a file is uploaded (S3's minimum part is 5 MiB).
const UPLOAD_PART: usize = 8 << 20;

/// An object-store failure, its text already free of credentials.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl StoreError {
    /// Wraps an upstream error, replacing every credential value in its text (the whole chain).
    pub fn new(e: &(dyn std::error::Error + 'static)) -> Self {
        Self(scrub(&crate::error::chain(e)))
    }

    fn text(text: impl Into<String>) -> Self {
        Self(scrub(&text.into()))
    }
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        Self::new(&e)
    }
}

/// Whether a root or output names an object store (a URL other than `file://`).
pub fn is_remote(text: &str) -> bool {
    text.contains("://") && !text.starts_with("file://")
}

/// A folder a config names: an object-store URL as written, or a path relative to `base`.
pub fn resolve(text: &str, base: &Path) -> PathBuf {
    if is_remote(text) {
        PathBuf::from(text)
    } else {
        base.join(text)
    }
}

/// A root or output as it may be shown: a URL without credentials ([`shown`]), or the text
/// (with any URL-like part in it shown the same way).
pub fn shown_text(text: &str) -> String {
    Url::parse(text).map_or_else(|_| shown_urls(text), |u| shown(&u))
}

/// A URL as it may be shown: no user, password, query or fragment.
pub fn shown(url: &Url) -> String {
    let mut u = url.clone();
    // Both fail only for URLs that cannot have them, which then have none.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The store behind a URL and the path within it, credentials from the standard places, with
/// at most [`MAX_REQUESTS`] requests in flight.
pub fn open(url: &Url) -> Result<(Arc<dyn ObjectStore>, StorePath), StoreError> {
    remember_url_secrets(url);
    let (scheme, path) = ObjectStoreScheme::parse(url).map_err(|e| StoreError::new(&e))?;
    let store: Box<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::Local => Box::new(object_store::local::LocalFileSystem::new()),
        ObjectStoreScheme::AmazonS3
        | ObjectStoreScheme::GoogleCloudStorage
        | ObjectStoreScheme::MicrosoftAzure
        | ObjectStoreScheme::Http => cloud(&scheme, url)?,
        other => {
            return Err(StoreError::text(format!(
                "{other:?} URLs are not supported (use s3://, gs://, az://, http(s):// or a path)"
            )));
        }
    };
    let path = StorePath::parse(path).map_err(|e| StoreError::new(&e))?;
    Ok((
        Arc::new(object_store::limit::LimitStore::new(store, MAX_REQUESTS)),
        path,
    ))
}

/// A cloud provider's store for `url`, credentials from the provider's standard places.
#[cfg(feature = "cloud")]
fn cloud(scheme: &ObjectStoreScheme, url: &Url) -> Result<Box<dyn ObjectStore>, StoreError> {
    let text = url.as_str();
    Ok(match scheme {
        ObjectStoreScheme::AmazonS3 => {
            let builder =
                aws_profile(object_store::aws::AmazonS3Builder::from_env()).with_url(text);
            refuse_metadata_lookup(&builder)?;
            Box::new(builder.build()?)
        }
        ObjectStoreScheme::GoogleCloudStorage => Box::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(text)
                .build()?,
        ),
        ObjectStoreScheme::MicrosoftAzure => Box::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(text)
                .build()?,
        ),
        _ => Box::new(
            object_store::http::HttpBuilder::new()
                .with_url(&url[..url::Position::BeforePath])
                .build()?,
        ),
    })
}

/// Without the `cloud` feature, an object-store URL is refused naming what the build lacks.
#[cfg(not(feature = "cloud"))]
fn cloud(_: &ObjectStoreScheme, url: &Url) -> Result<Box<dyn ObjectStore>, StoreError> {
    Err(StoreError::text(format!(
        "{}: this build of recon reads and writes local folders only: it was built without the \
         `cloud` feature (the default builds have it; or build with `--features cloud`)",
        shown(url)
    )))
}

/// The AWS profile files fill in what the environment leaves out: the access key of
/// `AWS_PROFILE` (or `default`) from the credentials file, and its region and endpoint from the
/// config file. Without a key anywhere, `object_store` goes on to web identity, the container
/// credentials and instance metadata.
#[cfg(feature = "cloud")]
fn aws_profile(builder: object_store::aws::AmazonS3Builder) -> object_store::aws::AmazonS3Builder {
    use object_store::aws::AmazonS3ConfigKey as K;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let home = env("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| {
        env(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let mut builder = builder;
    let keyed = ["AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE"]
        .iter()
        .any(|k| env(k).is_some());
    if !keyed
        && let Some(section) = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| ini_section(&p, &profile))
        && let (Some(id), Some(secret)) = (
            section.get("aws_access_key_id"),
            section.get("aws_secret_access_key"),
        )
    {
        remember_secret(id);
        remember_secret(secret);
        builder = builder
            .with_config(K::AccessKeyId, id)
            .with_config(K::SecretAccessKey, secret);
        if let Some(token) = section.get("aws_session_token") {
            remember_secret(token);
            builder = builder.with_config(K::Token, token);
        }
    }
    let config_name = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    if let Some(section) =
        file("AWS_CONFIG_FILE", "config").and_then(|p| ini_section(&p, &config_name))
    {
        if env("AWS_REGION").is_none()
            && env("AWS_DEFAULT_REGION").is_none()
            && let Some(region) = section.get("region")
        {
            builder = builder.with_config(K::Region, region);
        }
        if env("AWS_ENDPOINT").is_none()
            && env("AWS_ENDPOINT_URL").is_none()
            && let Some(endpoint) = section.get("endpoint_url")
        {
            builder = builder.with_config(K::Endpoint, endpoint);
        }
    }
    builder
}

/// Honors `AWS_EC2_METADATA_DISABLED=true`, the AWS SDKs' switch that `object_store` does not
/// know: with it, an S3 store with no credentials from the environment, a profile, web identity
/// or the container is refused with a clear error instead of asking the cloud's instance metadata
/// address (which is off this machine wherever that address is not a cloud's).
#[cfg(feature = "cloud")]
fn refuse_metadata_lookup(builder: &object_store::aws::AmazonS3Builder) -> Result<(), StoreError> {
    use object_store::aws::AmazonS3ConfigKey as K;
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let set = |k: K| builder.get_config_value(&k).is_some_and(|v| !v.is_empty());
    let unsigned = builder
        .get_config_value(&K::SkipSignature)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !disabled
        || unsigned
        || set(K::AccessKeyId)
        || set(K::WebIdentityTokenFile)
        || set(K::ContainerCredentialsRelativeUri)
        || set(K::ContainerCredentialsFullUri)
    {
        return Ok(());
    }
    Err(StoreError::text(
        "no AWS credentials (AWS_ACCESS_KEY_ID, a profile in ~/.aws, web identity or container \
         credentials), and AWS_EC2_METADATA_DISABLED forbids asking the instance metadata service",
    ))
}

/// The `key = value` lines of one `[section]` of an INI file (keys lower-cased), or `None` when
/// the file or the section is not there.
#[cfg(feature = "cloud")]
fn ini_section(path: &Path, section: &str) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_ini_section(&text, section)
}

#[cfg(feature = "cloud")]
fn parse_ini_section(text: &str, section: &str) -> Option<BTreeMap<String, String>> {
    let mut inside = false;
    let mut found = false;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            found |= inside;
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            out.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    found.then_some(out)
}

/// Secret values read from files, to be scrubbed from error texts like those in the environment.
static FILE_SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers a secret value so that [`scrub`] replaces it (values shorter than 8 characters
/// are not replaced there: they would replace ordinary words).
pub(crate) fn remember_secret(value: &str) {
    if let Ok(mut s) = FILE_SECRETS.lock()
        && !s.iter().any(|v| v == value)
    {
        s.push(value.to_owned());
    }
}

/// The environment variables whose values are secrets (or identify one).
const SECRET_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
];

/// Remembers the secrets a URL carries (its password and query values) so that [`scrub`]
/// replaces them wherever an upstream error quotes them.
fn remember_url_secrets(url: &Url) {
    if let Some(p) = url.password() {
        remember_secret(p);
        let decoded = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
        remember_secret(&decoded);
    }
    for (_, v) in url.query_pairs() {
        remember_secret(&v);
    }
}

/// Every URL in a free text (an error message, a log line) shown without user info, query or
/// fragment: `https://user:pw@host/p?sig=x` becomes `https://host/p`.
pub fn shown_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` just before `://`.
        let scheme_len = rest[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .count();
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')'))
            .unwrap_or(after.len());
        let token = &after[..end];
        if scheme_len == 0 {
            out.push_str(&rest[..at + 3]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..at + 3]);
        let authority_end = token.find(['/', '?', '#']).unwrap_or(token.len());
        let host_start = token[..authority_end].rfind('@').map_or(0, |i| i + 1);
        let kept_end = token.find(['?', '#']).unwrap_or(token.len());
        out.push_str(&token[host_start..kept_end.max(host_start)]);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A text with every known credential value replaced by `***`, and every URL in it shown
/// without user info or query.
pub fn scrub(text: &str) -> String {
    let mut secrets: Vec<String> = SECRET_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .collect();
    if let Ok(s) = FILE_SECRETS.lock() {
        secrets.extend(s.iter().cloned());
    }
    let mut out = text.to_owned();
    // Short values would replace ordinary words; real keys are long.
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(s.as_str(), "***");
    }
    shown_urls(&out)
}

/// Uploads one local file to `location` through `object_store`'s buffered writer: one PUT when
/// the file fits in [`UPLOAD_PART`] bytes, else a multipart upload streamed from the file, so no
/// file is held in memory whole.
async fn upload_file(
    store: &Arc<dyn ObjectStore>,
    location: &StorePath,
    path: &Path,
) -> Result<(), StoreError> {
    let failed = |e: std::io::Error| {
        StoreError::text(format!(
            "uploading {}: {}",
            path.display(),
            crate::error::chain(&e)
        ))
    };
    let mut file = tokio::fs::File::open(path).await.map_err(failed)?;
    let mut writer = object_store::buffered::BufWriter::with_capacity(
        Arc::clone(store),
        location.clone(),
        UPLOAD_PART,
    );
    tokio::io::copy(&mut file, &mut writer)
        .await
        .map_err(failed)?;
    writer.shutdown().await.map_err(failed)
}

/// Downloads every object under `prefix` into `dir` (same relative paths), streamed to disk.
async fn download_dir(
    store: &Arc<dyn ObjectStore>,
    prefix: &StorePath,
    dir: &Path,
) -> Result<(), StoreError> {
    let objects: Vec<object_store::ObjectMeta> = store.list(Some(prefix)).try_collect().await?;
    for meta in &objects {
        let Some(parts) = meta.location.prefix_match(prefix) else {
            continue;
        };
        let path = parts.fold(dir.to_path_buf(), |p, part| p.join(part.as_ref()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::text(format!("creating {}: {e}", parent.display())))?;
        }
        let io = |e: std::io::Error| StoreError::text(format!("writing {}: {e}", path.display()));
        let mut out = tokio::fs::File::create(&path).await.map_err(io)?;
        let mut stream = store.get(&meta.location).await?.into_stream();
        while let Some(chunk) = stream.try_next().await? {
            out.write_all(&chunk).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
    }
    Ok(())
}

/// An output folder (`--out`, `--diff-out`, a history folder) that may be an object-store URL:
/// recon writes into a local folder, and [`Staged::publish`] uploads what changed there to the
/// URL. A history folder is downloaded first, so runs append to it as they do locally.
pub struct Staged {
    local: PathBuf,
    remote: Option<RemoteOutput>,
}

struct RemoteOutput {
    url: Url,
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    // Kept until the upload: the local copy lives in it.
    _dir: tempfile::TempDir,
    // Size and modification time of every downloaded file: only files that differ go back up.
    before: BTreeMap<PathBuf, (u64, std::time::SystemTime)>,
}

impl Staged {
    /// Stages `path` when it is an object-store URL (downloading what is there when `download`),
    /// or takes it as the local folder it is.
    pub fn new(
        path: &Path,
        download: bool,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Self, StoreError> {
        let text = path.to_string_lossy();
        if !is_remote(&text) {
            return Ok(Self {
                local: path.to_path_buf(),
                remote: None,
            });
        }
        let url = Url::parse(&text).map_err(|e| StoreError::text(format!("`{text}`: {e}")))?;
        let (store, prefix) = open(&url)?;
        let dir = tempfile::Builder::new()
            .prefix("recon-output-")
            .tempdir()
            .map_err(|e| StoreError::text(format!("a local staging folder: {e}")))?;
        let local = dir.path().join("out");
        std::fs::create_dir_all(&local)
            .map_err(|e| StoreError::text(format!("a local staging folder: {e}")))?;
        if download {
            rt.block_on(download_dir(&store, &prefix, &local))?;
        }
        let before = file_states(&local);
        Ok(Self {
            local,
            remote: Some(RemoteOutput {
                url,
                store,
                prefix,
                _dir: dir,
                before,
            }),
        })
    }

    /// The folder recon writes into.
    pub fn local(&self) -> &Path {
        &self.local
    }

    /// The output as it may be shown (a URL without credentials, or the local path).
    pub fn shown(&self) -> String {
        self.remote
            .as_ref()
            .map_or_else(|| self.local.display().to_string(), |r| shown(&r.url))
    }

    /// Uploads every file written or changed since staging; nothing to do for a local folder.
    /// Returns how many files went up.
    pub fn publish(&self, rt: &tokio::runtime::Runtime) -> Result<usize, StoreError> {
        let Some(r) = &self.remote else {
            return Ok(0);
        };
        let changed: Vec<PathBuf> = file_states(&self.local)
            .into_iter()
            .filter(|(p, state)| r.before.get(p) != Some(state))
            .map(|(p, _)| p)
            .collect();
        rt.block_on(async {
            for path in &changed {
                let rel = path.strip_prefix(&self.local).unwrap_or(path);
                let location = rel.components().fold(r.prefix.clone(), |p, c| {
                    p.join(c.as_os_str().to_string_lossy().as_ref())
                });
                upload_file(&r.store, &location, path).await?;
            }
            Ok(changed.len())
        })
    }
}

/// Every file under `dir` with its size and modification time.
fn file_states(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) => {
                    let modified = m.modified().unwrap_or(std::time::UNIX_EPOCH);
                    out.insert(path, (m.len(), modified));
                }
                Err(_) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "cloud")]
    #[test]
    fn profile_sections_are_read_by_name() {
        let text = "[default]\naws_access_key_id = A\n\n[profile dev]\nregion=eu-west-1\n# c\n";
        assert_eq!(
            parse_ini_section(text, "profile dev"),
            Some(BTreeMap::from([("region".into(), "eu-west-1".into())]))
        );
        assert_eq!(
            parse_ini_section(text, "default"),
            Some(BTreeMap::from([("aws_access_key_id".into(), "A".into())]))
        );
        assert_eq!(parse_ini_section(text, "other"), None);
    }

    #[test]
    fn urls_in_texts_are_shown_without_credentials() {
        assert_eq!(
            shown_urls("GET http://u:pw@127.0.0.1:9/x?sig=abc failed (https://h/p#f)"),
            "GET http://127.0.0.1:9/x failed (https://h/p)"
        );
        assert_eq!(
            shown_urls("s3://b/p?X-Amz-Signature=s,t then"),
            "s3://b/p then"
        );
        assert_eq!(shown_urls("no url: a://"), "no url: a://");
        assert_eq!(shown_urls("://x@y"), "://x@y");
        assert_eq!(shown_text("/tmp/a b"), "/tmp/a b");
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        let url = Url::parse("https://user:pw@host.example/a/b?sig=secret#x").expect("url");
        assert_eq!(shown(&url), "https://host.example/a/b");
        assert!(is_remote("s3://bucket/x"));
        assert!(!is_remote("file:///tmp/x"));
        assert!(!is_remote("snapshots/legacy"));
    }

    #[test]
    fn remembered_secrets_are_scrubbed() {
        remember_secret("sekret-value-1234");
        assert_eq!(scrub("denied for sekret-value-1234!"), "denied for ***!");
    }
}
