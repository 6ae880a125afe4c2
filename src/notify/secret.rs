//! Destinations' URLs: secrets read from the environment or a file when a notifier is made,
//! never shown, and scrubbed from every text recon shows.

use std::path::Path;

use crate::config::alerts::AlertConfig;
use crate::error::{Error, Result};

/// A destination's URL: never shown, never logged.
pub(crate) struct Secret {
    url: String,
    /// The parts of the URL that may be (or hold) a token, longest first.
    parts: Vec<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    fn new(url: String) -> Self {
        let parts = parts(&url);
        Self { url, parts }
    }

    /// The URL, for the request alone.
    #[cfg_attr(not(feature = "monitor"), allow(dead_code))]
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    /// Tells the crate's scrubber ([`crate::store::scrub`]) about the URL and its parts, so that
    /// no error text anywhere in recon shows them.
    pub(crate) fn remember(&self) {
        crate::store::remember_secret(&self.url);
        for part in &self.parts {
            crate::store::remember_secret(part);
        }
    }

    /// `text` without the URL, any part of it that may be a token, or any other known
    /// credential.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.url, "***");
        for part in &self.parts {
            out = out.replace(part, "***");
        }
        crate::store::scrub(&out)
    }
}

/// The parts of the URL that may be (or hold) a token: its password, its query values, and
/// each path segment of 6 characters or more but for short lowercase words (`services`,
/// `hooks`), longest first.
fn parts(url: &str) -> Vec<String> {
    let Ok(u) = url::Url::parse(url) else {
        return Vec::new();
    };
    let word = |p: &str| {
        p.len() < 16
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
    };
    let mut parts: Vec<String> = u
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|p| !word(p))
        .map(str::to_owned)
        .collect();
    parts.extend(u.query_pairs().map(|(_, v)| v.into_owned()));
    parts.extend(u.password().map(str::to_owned));
    parts.retain(|p| p.len() >= 6);
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    parts
}

/// A destination's URL: from the environment, a file or the config; `Ok(None)` for `command`.
/// The outer error is a config error (a `url` in the config that is no http(s) URL); the inner
/// one says why a secret cannot be read now (a variable not set, a file not readable, a value
/// that is no http(s) URL), which fails that destination's notifications, not the run.
pub(crate) fn read(
    config: &AlertConfig,
    base: &Path,
) -> Result<std::result::Result<Option<Secret>, String>> {
    let text = if let Some(var) = &config.url_env {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => v,
            _ => return Ok(Err(format!("url_env `{var}` is not set"))),
        }
    } else if let Some(file) = &config.url_file {
        let path = base.join(file);
        match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                return Ok(Err(format!(
                    "url_file {} cannot be read: {e}",
                    path.display()
                )));
            }
        }
    } else if let Some(url) = &config.url {
        return if is_http(url.trim()) {
            Ok(Ok(Some(Secret::new(url.trim().to_owned()))))
        } else {
            Err(Error::Invalid(
                "its `url` is not an http(s) URL (not shown: it may hold a token)".into(),
            ))
        };
    } else {
        return Ok(Ok(None));
    };
    let text = text.trim().to_owned();
    if is_http(&text) {
        Ok(Ok(Some(Secret::new(text))))
    } else {
        let source = if config.url_env.is_some() {
            "url_env"
        } else {
            "url_file"
        };
        Ok(Err(format!(
            "the URL from its {source} is not an http(s) URL (not shown: it may hold a token)"
        )))
    }
}

fn is_http(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_removes_the_url_and_the_parts_that_may_be_tokens() {
        let secret = Secret::new(
            "https://user:pa55word@hooks.example/services/T0/B0/XYZSECRET?sig=abcdefgh".into(),
        );
        let text = "error sending request for url (https://user:pa55word@hooks.example/services/T0/B0/XYZSECRET?sig=abcdefgh): \
                    /services/T0/B0/XYZSECRET said no; sig abcdefgh; see /api/v2/alerts";
        let shown = secret.scrub(text);
        for part in ["pa55word", "XYZSECRET", "abcdefgh"] {
            assert!(!shown.contains(part), "{part} in {shown}");
        }
        assert!(shown.contains("said no"), "{shown}");
        assert!(shown.contains("/services/T0/B0/***"), "{shown}");
        assert!(shown.contains("/api/v2/alerts"), "{shown}");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn a_secret_that_cannot_be_read_fails_the_destination_not_the_config() {
        let mut config: AlertConfig =
            toml::from_str("kind = \"webhook\"\nurl_env = \"RECON_UNIT_TEST_UNSET_URL\"\n")
                .expect("config");
        let why = read(&config, Path::new(".")).expect("no config error");
        assert_eq!(
            why.expect_err("unset").as_str(),
            "url_env `RECON_UNIT_TEST_UNSET_URL` is not set"
        );
        config.url_env = None;
        config.url_file = Some("/nonexistent/recon-url".into());
        let why = read(&config, Path::new(".")).expect("no config error");
        assert!(
            why.expect_err("unreadable")
                .contains("/nonexistent/recon-url")
        );
        config.url_file = None;
        config.url = Some("ftp://host/x".into());
        assert!(read(&config, Path::new(".")).is_err(), "a config error");
    }
}
