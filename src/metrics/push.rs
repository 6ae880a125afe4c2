//! Pushes a run's metrics to a Prometheus Pushgateway: `PUT {url}/metrics/job/<job>{/<label>/
//! <value>}`, which replaces every metric of that grouping key, so a table that left the config
//! leaves the gateway too. Label values that are not plain URL path segments use the
//! `<label>@base64/<value>` form the Pushgateway documents. The URL's userinfo becomes basic
//! auth and is never shown.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

/// Connecting may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole request may take this long.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);

/// Pushes `text` (the text exposition format) to the Pushgateway at `url` under the grouping
/// key `job` plus `grouping` (label, value pairs, in that order). Errors show the URL without
/// its userinfo or query.
pub fn push(url: &str, job: &str, grouping: &[(String, String)], text: &str) -> Result<()> {
    let invalid = |what: String| Error::Pushgateway {
        url: crate::store::shown_text(url),
        message: what,
    };
    let mut target = Url::parse(url).map_err(|e| invalid(format!("not a URL: {e}")))?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(invalid("a Pushgateway URL is http:// or https://".into()));
    }
    let user = target.username().to_owned();
    let password = target.password().map(str::to_owned);
    let _ = target.set_username("");
    let _ = target.set_password(None);
    let shown = crate::store::shown(&target);
    let path = grouping_path(job, grouping);
    let base = target.path().trim_end_matches('/').to_owned();
    target.set_path(&format!("{base}{path}"));
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .build()
        .map_err(|e| Error::failed("building the HTTP client", e.without_url()))?;
    let mut request = client
        .put(target)
        .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .body(text.to_owned());
    if !user.is_empty() || password.is_some() {
        let user = percent_encoding::percent_decode_str(&user).decode_utf8_lossy();
        let password = password.map(|p| {
            percent_encoding::percent_decode_str(&p)
                .decode_utf8_lossy()
                .into_owned()
        });
        request = request.basic_auth(user, password);
    }
    let failed = |message: String| Error::Pushgateway {
        url: shown.clone(),
        message,
    };
    let response = request.send().map_err(|e| {
        failed(format!(
            "push failed: {}",
            crate::error::chain(&e.without_url())
        ))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().unwrap_or_default();
    let body: String = body.trim().chars().take(200).collect();
    Err(failed(format!("push refused: HTTP {status}: {body}")))
}

/// The path of a grouping key: `/metrics/job/<job>` then `/<label>/<value>` per pair.
fn grouping_path(job: &str, grouping: &[(String, String)]) -> String {
    let mut path = format!("/metrics/{}", segment("job", job));
    for (label, value) in grouping {
        path.push('/');
        path.push_str(&segment(label, value));
    }
    path
}

/// `label/value`, or `label@base64/<base64url(value)>` when the value is empty or holds
/// anything but unreserved URL characters.
fn segment(label: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if plain {
        format!("{label}/{value}")
    } else if value.is_empty() {
        // The Pushgateway's documented spelling of an empty value.
        format!("{label}@base64/=")
    } else {
        format!("{label}@base64/{}", base64url(value.as_bytes()))
    }
}

/// Base64 with the URL-safe alphabet (RFC 4648 §5) and padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64url(plain.as_bytes()), encoded, "{plain}");
        }
        // The URL-safe alphabet: no `/` or `+` in a path segment.
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8=");
    }

    #[test]
    fn grouping_values_that_are_not_plain_segments_are_base64() {
        let grouping = vec![
            ("instance".to_owned(), "configs/erp recon.toml".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
            ("empty".to_owned(), String::new()),
        ];
        assert_eq!(
            grouping_path("recon", &grouping),
            "/metrics/job/recon/instance@base64/Y29uZmlncy9lcnAgcmVjb24udG9tbA==/env/prod/empty@base64/="
        );
    }

    #[test]
    fn a_refused_push_never_shows_the_password() {
        let err = push(
            "http://user:s3cr3t-token@127.0.0.1:1/gw?key=s3cr3t-query",
            "recon",
            &[],
            "",
        )
        .expect_err("nothing listens on port 1");
        let text = err.chain();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("127.0.0.1:1"), "{text}");
    }
}
