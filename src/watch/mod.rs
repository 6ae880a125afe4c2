//! `recon watch`'s parts: the schedule (ticks aligned to the interval, the daily summary), the
//! runs' folder (each run's reports whole or not at all, `latest`, retention), the state it
//! serves over HTTP (`/metrics`, `/healthz`, the latest report; with the `monitor` feature), and
//! the stop signals (SIGTERM, SIGINT). The command runs the reconciliation itself on a thread of
//! its own; the runtime here only waits for signals and serves requests.

mod runs;
mod schedule;
#[cfg(feature = "monitor")]
mod server;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};
use crate::gate::Status;

pub use runs::RunFolders;
pub use schedule::{next_daily, next_tick, skipped_ticks};
#[cfg(feature = "monitor")]
pub use server::serve;

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
    /// The latest HTML report.
    pub report_html: Option<PathBuf>,
}

impl Served {
    /// Healthy: a run has completed and its verdict is not `error` (drift is the report's
    /// business, not the watch's health).
    pub fn healthy(&self) -> bool {
        self.verdict.is_some_and(|v| v != Status::Error)
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

/// Calls `stop` once SIGTERM or SIGINT (Ctrl-C) arrives.
pub fn on_stop(rt: &tokio::runtime::Runtime, stop: impl FnOnce() + Send + 'static) -> Result<()> {
    let _guard = rt.enter();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::failed("listening for SIGTERM", e))?;
    rt.spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        stop();
    });
    Ok(())
}
