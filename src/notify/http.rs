//! Sending a JSON message: 5 s to connect, 15 s in all, at most three tries, retrying only
//! 429 (after its `Retry-After`, when that is 30 s or less) and 5xx with a growing pause; any
//! other answer fails at once, a redirect included (it is not followed: a redirected POST would
//! arrive as a body-less GET, and the target would learn the URL). Errors never carry the URL
//! (reqwest's are stripped of it, then scrubbed).

use std::io::Read;

use std::time::Duration;

use super::{Delivery, Secret};

/// Tries per message.
pub(crate) const MAX_TRIES: u32 = 3;
/// The connect timeout.
const CONNECT: Duration = Duration::from_secs(5);
/// The whole request's timeout.
const TOTAL: Duration = Duration::from_secs(15);
/// The pause before the second try (doubled before the third).
const BACKOFF: Duration = Duration::from_millis(500);
/// The longest `Retry-After` waited for: a longer one fails the message (the next run sends it).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How much of a refusal's body is read (the error shows at most 200 characters of it).
const ERROR_BODY: u64 = 4096;

/// POSTs `body` (JSON) to `target`, which is `url` or a URL under it; errors are scrubbed of
/// `url` and its parts.
pub(crate) fn post(target: &str, url: &Secret, body: &[u8]) -> Delivery {
    let client = match reqwest::blocking::Client::builder()
        .connect_timeout(CONNECT)
        .timeout(TOTAL)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("recon/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Delivery {
                attempts: 0,
                error: Some(url.scrub(&crate::error::chain(&e.without_url()))),
            };
        }
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = client
            .post(target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send();
        let (error, wait) = match answer {
            Ok(r) if r.status().is_success() => {
                return Delivery {
                    attempts,
                    error: None,
                };
            }
            Ok(r) => refused(r, attempts),
            // Not retried: the request may have arrived, and a second one would be a duplicate.
            Err(e) => (crate::error::chain(&e.without_url()), None),
        };
        match wait {
            Some(pause) if attempts < MAX_TRIES => std::thread::sleep(pause),
            _ => {
                return Delivery {
                    attempts,
                    error: Some(url.scrub(&error)),
                };
            }
        }
    }
}

/// A non-success answer: its description and, for 429 and 5xx, the pause before the next try.
fn refused(r: reqwest::blocking::Response, attempts: u32) -> (String, Option<Duration>) {
    let status = r.status();
    let backoff = BACKOFF * 2u32.pow(attempts.saturating_sub(1));
    let mut error = format!("HTTP {status}");
    let wait = if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let asked = r
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        match asked {
            Some(d) if d > MAX_RETRY_AFTER => {
                error = format!(
                    "{error} (Retry-After {} is longer than recon waits, {}: the next run sends it)",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_RETRY_AFTER)
                );
                None
            }
            Some(d) => Some(d),
            None => Some(backoff),
        }
    } else if status.is_server_error() {
        Some(backoff)
    } else {
        if status.is_redirection() {
            error.push_str(" (a redirect, not followed)");
        }
        None
    };
    let mut bytes = Vec::new();
    let _ = r.take(ERROR_BODY).read_to_end(&mut bytes);
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if !text.trim().is_empty() {
        error.push_str(": ");
        error.push_str(text.trim());
    }
    (error, wait)
}

/// A `Retry-After` value: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }
}
