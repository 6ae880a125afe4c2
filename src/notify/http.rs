//! Sending a JSON message: 5 s to connect, 15 s in all, at most three tries, retrying only
//! 429 (after its `Retry-After`, capped) and 5xx with a growing pause; any other answer fails at
//! once. Errors never carry the URL (reqwest's are stripped of it, then scrubbed).

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
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// POSTs `body` (JSON) to `url`.
pub(crate) fn post(url: &Secret, body: &[u8]) -> Delivery {
    let client = match reqwest::blocking::Client::builder()
        .connect_timeout(CONNECT)
        .timeout(TOTAL)
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
            .post(url.expose())
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
    let wait = if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Some(
            r.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after)
                .map_or(backoff, |d| d.min(MAX_RETRY_AFTER)),
        )
    } else if status.is_server_error() {
        Some(backoff)
    } else {
        None
    };
    let text: String = r
        .text()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mut error = format!("HTTP {status}");
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
