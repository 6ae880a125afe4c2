//! `recon watch`'s parts: the schedule (ticks aligned to the interval, the daily summary), the
//! runs' folder (each run's reports whole or not at all, `latest`, retention), what a stop does
//! to the run in progress, the state it
//! serves over HTTP (`/metrics`, `/healthz`, the latest report; with the `monitor` feature), and
//! the stop signals (SIGTERM, SIGINT). The command runs the reconciliation itself on a thread of
//! its own; the runtime here only waits for signals and serves requests.

mod progress;
mod runs;
mod schedule;
#[cfg(feature = "monitor")]
mod server;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::gate::Status;

pub use crate::pool::on_stop;
pub use progress::{Progress, Step, Stop};
pub use runs::{Committed, RunFolders};
pub use schedule::{next_daily, next_tick, skipped_ticks, summary_after};
#[cfg(feature = "monitor")]
pub use server::{Limits, serve, serve_within};

/// What a watch serves: the last complete run and when the next is due.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// The last run's metrics text.
    pub metrics: Option<String>,
    /// When the last complete run started (RFC 3339).
    pub last_run: Option<String>,
    /// Its verdict.
    pub verdict: Option<Status>,
    /// When the next run is due (RFC 3339).
    pub next_run: Option<String>,
    /// After this instant the served run is stale: the next one was due an interval ago and
    /// has not completed (the watch is stuck or overrunning badly).
    pub stale_after: Option<DateTime<Utc>>,
    /// The latest HTML report.
    pub report_html: Option<PathBuf>,
}

impl Served {
    /// Healthy at `now`: a run has completed, its verdict is not `error` and it is not stale
    /// (drift is the report's business, not the watch's health).
    pub fn healthy(&self, now: DateTime<Utc>) -> bool {
        self.verdict.is_some_and(|v| v != Status::Error)
            && self.stale_after.is_none_or(|limit| now <= limit)
    }

    /// `{"last_run": .., "verdict": .., "next_run": ..}` (nulls before the first run).
    pub fn health_json(&self) -> String {
        serde_json::json!({
            "last_run": self.last_run,
            "verdict": self.verdict.map(Status::as_str),
            "next_run": self.next_run,
        })
        .to_string()
    }
}

/// The state a watch shares with its server: written by the watch, read by every request.
#[derive(Debug, Clone, Default)]
pub struct WatchState(Arc<RwLock<Served>>);

impl WatchState {
    /// A copy of what is served now.
    pub fn get(&self) -> Served {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Changes what is served.
    pub fn update(&self, change: impl FnOnce(&mut Served)) {
        if let Ok(mut s) = self.0.write() {
            change(&mut s);
        }
    }
}

/// The watch's runtime: one worker for the signals and the server (the reconciliation runs on
/// threads of its own).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("recon-watch")
        .enable_all()
        .build()
        .map_err(|e| Error::failed("starting the watch's runtime", e))
}

/// Runs `work`, turning a panic into an error carrying the panic's message, so that a bug in
/// one run ends that run, not the watch.
///
/// ```
/// assert_eq!(recon::watch::guarded(|| 2 + 2).ok(), Some(4));
/// let err = recon::watch::guarded(|| -> u8 { panic!("broken") }).expect_err("panicked");
/// assert!(err.to_string().contains("broken"));
/// ```
pub fn guarded<T>(work: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Error::Invalid(format!("the run panicked: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_served_run_turns_unhealthy_when_it_is_stale_or_an_error() {
        let mut served = Served::default();
        assert!(!served.healthy(at("2026-03-01T10:00:00Z")), "no run yet");
        served.verdict = Some(Status::Critical);
        served.stale_after = Some(at("2026-03-01T10:30:00Z"));
        assert!(
            served.healthy(at("2026-03-01T10:30:00Z")),
            "drift is not ill health"
        );
        assert!(!served.healthy(at("2026-03-01T10:30:01Z")), "stale");
        served.verdict = Some(Status::Error);
        assert!(!served.healthy(at("2026-03-01T10:00:00Z")));
    }

    #[test]
    fn a_panicking_run_is_an_error_with_its_message() {
        let owned = guarded(|| -> u8 { panic!("table {} broke", "orders") });
        assert!(
            owned
                .expect_err("panicked")
                .to_string()
                .contains("table orders broke")
        );
        assert_eq!(guarded(|| "fine").ok(), Some("fine"));
    }
}
