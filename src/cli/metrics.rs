//! `--metrics FILE` and `--pushgateway URL`: a finished run's Prometheus metrics, written for
//! `node_exporter`'s textfile collector and pushed to a Pushgateway. A failure here is a
//! `warning:` on stderr: it never changes the run's verdict or exit code.

use std::path::{Path, PathBuf};

use clap::Args;

use recon::report::Report;
use recon::{Status, Workers};

/// Where a run's metrics go.
#[derive(Debug, Args, Clone, Default)]
pub struct MetricsArgs {
    /// Write the run's Prometheus metrics to FILE (atomically; for `node_exporter`'s textfile
    /// collector, name it `*.prom`).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Push the run's metrics to this Prometheus Pushgateway (`http://host:9091`), grouping key
    /// `job="recon"` and `instance` (see `--pushgateway-instance`).
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
    /// The `instance` of the Pushgateway grouping key (default: the config file's path, as
    /// given).
    #[arg(long, value_name = "NAME", requires = "pushgateway")]
    pub pushgateway_instance: Option<String>,
}

impl MetricsArgs {
    /// Refuses what this build cannot do, before anything runs.
    pub fn check_build(&self) -> anyhow::Result<()> {
        if self.pushgateway.is_some() && !cfg!(feature = "monitor") {
            anyhow::bail!(
                "--pushgateway: this build of recon was built without the `monitor` feature \
                 (the default builds have it; or build with `--features monitor`)"
            );
        }
        Ok(())
    }
}

/// Renders the run's metrics, writes and pushes them where asked, and returns the text and
/// the last successful run's time it carries. Failures are printed as warnings.
/// `known_success`: the last successful run's time the caller already knows (`recon watch`
/// keeps it between runs); otherwise it is read from the earlier metrics file, then from the
/// Pushgateway (a push replaces the whole group, so a value left out would be lost there), then
/// the history.
pub fn publish(
    report: &Report,
    args: &MetricsArgs,
    history: Option<&Path>,
    known_success: Option<i64>,
    workers: &Workers,
) -> (String, Option<i64>) {
    let instance = args
        .pushgateway_instance
        .clone()
        .or_else(|| report.run.config_path.clone())
        .unwrap_or_else(|| report.run.config_digest.clone());
    let last_success = if report.verdict == Status::Error {
        known_success
            .or_else(|| {
                args.metrics
                    .as_deref()
                    .and_then(recon::metrics::previous_last_success)
            })
            .or_else(|| {
                let url = args.pushgateway.as_deref()?;
                pushed_success(url, &instance)
                    .inspect_err(|e| eprintln!("warning: --pushgateway: {}", e.chain()))
                    .ok()
                    .flatten()
            })
            .or_else(|| history.and_then(|h| success_in_history(h, workers)))
    } else {
        run_end(report)
    };
    let text = recon::metrics::render(report, last_success);
    if let Some(path) = &args.metrics
        && let Err(e) = recon::metrics::write_file(path, &text)
    {
        eprintln!("warning: --metrics {}: {}", path.display(), e.chain());
    }
    if let Some(url) = &args.pushgateway
        && let Err(e) = push(url, &instance, &text)
    {
        eprintln!("warning: --pushgateway: {}", e.chain());
    }
    (text, last_success)
}

/// The Pushgateway job of every push.
#[cfg(feature = "monitor")]
const JOB: &str = "recon";

#[cfg(feature = "monitor")]
fn push(url: &str, instance: &str, text: &str) -> recon::Result<()> {
    recon::metrics::push(url, JOB, &grouping(instance), text)
}

/// The last successful run's time the gateway holds for this grouping key.
#[cfg(feature = "monitor")]
fn pushed_success(url: &str, instance: &str) -> recon::Result<Option<i64>> {
    let value =
        recon::metrics::pushed_value(url, JOB, &grouping(instance), recon::metrics::LAST_SUCCESS)?;
    // Unix seconds, as rendered; a value past i64 is not one recon wrote.
    #[allow(clippy::cast_possible_truncation)]
    Ok(value.filter(|v| v.is_finite()).map(|v| v.round() as i64))
}

#[cfg(feature = "monitor")]
fn grouping(instance: &str) -> [(String, String); 1] {
    [("instance".to_owned(), instance.to_owned())]
}

#[cfg(not(feature = "monitor"))]
fn push(_: &str, _: &str, _: &str) -> recon::Result<()> {
    Err(recon::Error::Invalid(
        "this build of recon was built without the `monitor` feature".into(),
    ))
}

#[cfg(not(feature = "monitor"))]
fn pushed_success(_: &str, _: &str) -> recon::Result<Option<i64>> {
    Ok(None)
}

/// When the run ended, in unix seconds.
fn run_end(report: &Report) -> Option<i64> {
    let start = chrono::DateTime::parse_from_rfc3339(&report.run.started_at).ok()?;
    let ms = i64::try_from(report.run.duration_ms).ok()?;
    Some((start.timestamp_millis() + ms).div_euclid(1000))
}

/// The start of the history's last run whose verdict was not `error` (the history keeps no
/// end times).
fn success_in_history(dir: &Path, workers: &Workers) -> Option<i64> {
    let listing = recon::history::list(dir, workers).ok()?;
    listing
        .runs
        .iter()
        .rev()
        .find(|r| r.verdict != Status::Error.as_str())
        .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.started_at).ok())
        .map(|t| t.timestamp())
}
