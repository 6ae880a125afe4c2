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
    let gateway = Gateway::parse(url, &grouping_path(job, grouping))?;
    let request = Gateway::client()?
        .put(gateway.target.clone())
        .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .body(text.to_owned());
    let response = gateway.send(request, "push")?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(gateway.failed(format!(
        "push refused: HTTP {status}: {}",
        excerpt(response)
    )))
}

/// The value the Pushgateway at `url` holds for the gauge `metric` in the group `job` plus
/// `grouping` (read from its `GET /api/v1/metrics`), or `None` when it holds no such group or
/// gauge. A push replaces its whole group, so a value that must outlive a push that leaves it
/// out is read back first.
pub fn pushed_value(
    url: &str,
    job: &str,
    grouping: &[(String, String)],
    metric: &str,
) -> Result<Option<f64>> {
    let gateway = Gateway::parse(url, "/api/v1/metrics")?;
    let request = Gateway::client()?.get(gateway.target.clone());
    let response = gateway.send(request, "reading the gateway")?;
    let status = response.status();
    if !status.is_success() {
        return Err(gateway.failed(format!(
            "reading the gateway refused: HTTP {status}: {}",
            excerpt(response)
        )));
    }
    let text = response
        .text()
        .map_err(|e| gateway.failed(format!("reading the gateway failed: {}", e.without_url())))?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| gateway.failed(format!("the gateway's answer is not JSON: {e}")))?;
    Ok(value_in_group(&body, job, grouping, metric))
}

/// In a `GET /api/v1/metrics` answer: the first sample of `metric` in the group whose labels
/// are exactly `job` plus `grouping`.
fn value_in_group(
    body: &serde_json::Value,
    job: &str,
    grouping: &[(String, String)],
    metric: &str,
) -> Option<f64> {
    let mut wanted = serde_json::Map::new();
    wanted.insert("job".to_owned(), job.into());
    for (label, value) in grouping {
        wanted.insert(label.clone(), value.as_str().into());
    }
    body["data"]
        .as_array()?
        .iter()
        .find(|group| group["labels"].as_object() == Some(&wanted))?[metric]["metrics"][0]["value"]
        .as_str()?
        .parse()
        .ok()
}

/// A Pushgateway's address: the request's URL without userinfo, the userinfo as basic auth,
/// and the URL as messages show it.
struct Gateway {
    target: Url,
    auth: Option<(String, Option<String>)>,
    shown: String,
}

impl Gateway {
    /// `url` with `path` appended to its own path.
    fn parse(url: &str, path: &str) -> Result<Self> {
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
        let base = target.path().trim_end_matches('/').to_owned();
        target.set_path(&format!("{base}{path}"));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let auth = (!user.is_empty() || password.is_some())
            .then(|| (decode(&user), password.as_deref().map(decode)));
        Ok(Self {
            target,
            auth,
            shown,
        })
    }

    /// The HTTP client: the timeouts above, and redirects not followed (a redirected PUT would
    /// turn into a GET, and credentials must not travel on).
    fn client() -> Result<reqwest::blocking::Client> {
        reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| Error::failed("building the HTTP client", e.without_url()))
    }

    /// Sends `request` with the basic auth, if any.
    fn send(
        &self,
        mut request: reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::blocking::Response> {
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, password.as_ref());
        }
        request.send().map_err(|e| {
            self.failed(format!(
                "{what} failed: {}",
                crate::error::chain(&e.without_url())
            ))
        })
    }

    fn failed(&self, message: String) -> Error {
        Error::Pushgateway {
            url: self.shown.clone(),
            message,
        }
    }
}

/// The start of a refusal's body, for its message.
fn excerpt(response: reqwest::blocking::Response) -> String {
    let body = response.text().unwrap_or_default();
    body.trim().chars().take(200).collect()
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

/// Base64 with the URL-safe alphabet (RFC 4648 §5) and padding, as Pushgateway reads it.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
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
    fn a_value_is_read_back_only_from_its_own_group() {
        let body = serde_json::json!({"status": "success", "data": [
            {"labels": {"job": "recon", "instance": "other"},
             "recon_last_success_timestamp_seconds": {"metrics": [{"value": "1"}]}},
            {"labels": {"job": "recon", "instance": "erp", "env": "prod"},
             "recon_last_success_timestamp_seconds": {"metrics": [{"value": "2"}]}},
            {"labels": {"job": "recon", "instance": "erp"},
             "recon_last_success_timestamp_seconds": {"metrics": [{"value": "1.765000123e+09"}]}},
        ]});
        let erp = [("instance".to_owned(), "erp".to_owned())];
        let metric = "recon_last_success_timestamp_seconds";
        assert_eq!(
            value_in_group(&body, "recon", &erp, metric),
            Some(1_765_000_123.0)
        );
        assert_eq!(
            value_in_group(&body, "recon", &erp, "recon_run_level"),
            None
        );
        let none = [("instance".to_owned(), "gone".to_owned())];
        assert_eq!(value_in_group(&body, "recon", &none, metric), None);
    }

    #[test]
    fn a_redirect_is_not_followed() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        });
        let err =
            push(&format!("http://{addr}"), "recon", &[], "").expect_err("a redirect is a refusal");
        server.join().expect("server");
        assert!(err.chain().contains("HTTP 302"), "{}", err.chain());
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
