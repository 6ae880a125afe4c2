//! Notifications after a run: each `[[alerts]]` destination hears when a table's level changes
//! (back below its `min_level` included: resolved) and, with `remind_every`, again while a table
//! stays at `critical` or above. What each destination was last told is kept in the history
//! folder and written only after a successful send. A failed notification is an outcome in the
//! report and a warning; it never changes the verdict.
//!
//! Destinations' URLs are secrets: they come from the environment or a file, and no outcome,
//! error or log line shows them.

pub(crate) mod command;
#[cfg(feature = "monitor")]
pub(crate) mod http;
pub(crate) mod message;
pub(crate) mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::LoadedConfig;
use crate::config::alerts::{AlertConfig, AlertKind, AlertLevel, destination_names};
use crate::error::{Error, Result};
use crate::gate::Status;
use crate::report::{NotificationEvent, NotificationOutcome, Report};

use self::message::Context;
use self::state::{Plan, Rules};

/// How long a `command` may run unless its `timeout` says otherwise.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an Alertmanager alert fires without being posted again, unless `resolve_timeout`
/// says otherwise.
const RESOLVE_TIMEOUT: Duration = Duration::from_hours(1);

/// A destination's URL: never shown, never logged.
pub(crate) struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// The URL, for the request alone.
    #[cfg_attr(not(feature = "monitor"), allow(dead_code))]
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    #[cfg_attr(not(feature = "monitor"), allow(dead_code))]
    /// `text` without the URL, any long part of it, or any other known credential.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.0, "***");
        let parts = url::Url::parse(&self.0).ok().map(|u| {
            let mut p: Vec<String> = u
                .path_segments()
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            p.extend(u.query_pairs().map(|(_, v)| v.into_owned()));
            p.extend(u.password().map(str::to_owned));
            p.push(u.username().to_owned());
            p
        });
        for part in parts.into_iter().flatten().filter(|p| p.len() >= 6) {
            out = out.replace(&part, "***");
        }
        crate::store::scrub(&out)
    }
}

/// One `[[alerts]]` destination, its URL read.
#[derive(Debug)]
struct Destination {
    name: String,
    config: AlertConfig,
    url: Option<Secret>,
}

/// The notifier of a config's `[[alerts]]`: made once, then told about every run.
///
/// ```
/// let loaded = recon::Config::load("fixtures/erp/recon.toml".as_ref())?;
/// let notifier = recon::notify::Notifier::new(&loaded, None)?;
/// assert!(notifier.is_empty(), "the fixture has no [[alerts]]");
/// # Ok::<(), recon::Error>(())
/// ```
#[derive(Debug)]
pub struct Notifier {
    destinations: Vec<Destination>,
    state: Option<PathBuf>,
    memory_note: Option<String>,
    reports: Option<String>,
}

impl Notifier {
    /// From the config's `[[alerts]]`, their URLs read from the environment or files now;
    /// `state_dir` = the history folder (`None`: no memory between runs, so every run notifies
    /// what is at or above `min_level`, and the outcome says so).
    pub fn new(loaded: &LoadedConfig, state_dir: Option<&Path>) -> Result<Self> {
        let alerts = &loaded.config.alerts;
        let names = destination_names(alerts);
        let mut destinations = Vec::with_capacity(alerts.len());
        for (config, name) in alerts.iter().zip(names) {
            let url = secret(config, &name, &loaded.base_dir)?;
            destinations.push(Destination {
                name,
                config: config.clone(),
                url,
            });
        }
        let remote = state_dir.filter(|d| crate::store::is_remote(&d.to_string_lossy()));
        let forgetful = |why: &str| {
            Some(format!(
                "{why}: no memory between runs, so every run notifies what is at or above \
                 min_level"
            ))
        };
        let memory_note = match (state_dir, remote) {
            (None, _) => forgetful("no history folder"),
            (Some(_), Some(_)) => forgetful("the history folder is not local"),
            _ => None,
        };
        Ok(Self {
            destinations,
            state: state_dir.filter(|_| remote.is_none()).map(state::path_in),
            memory_note,
            reports: None,
        })
    }

    /// Where the run's reports can be read (a folder or a URL, shown in messages).
    pub fn with_reports(mut self, location: impl Into<String>) -> Self {
        self.reports = Some(location.into());
        self
    }

    /// Whether the config has no `[[alerts]]`.
    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty()
    }

    /// After a run: sends each destination what changed since it was last told (and reminders
    /// that are due), and records that only once it was sent. One outcome per destination that
    /// had something to send.
    pub fn notify(&self, report: &Report, now: DateTime<Utc>) -> Vec<NotificationOutcome> {
        self.each(report, now, false)
    }

    /// The daily summary: every destination hears of every table in its scope, whatever
    /// changed (Alertmanager destinations are left out: their alerts are levels, not news).
    pub fn summary(&self, report: &Report, now: DateTime<Utc>) -> Vec<NotificationOutcome> {
        self.each(report, now, true)
    }

    /// `recon alert test`: a test message to every destination.
    pub fn test(&self, now: DateTime<Utc>) -> Vec<NotificationOutcome> {
        isolated(|| {
            self.destinations
                .iter()
                .map(|d| {
                    let cx = self.context(d, now);
                    let payload = match d.config.kind {
                        AlertKind::Alertmanager => message::alertmanager_test(&cx),
                        AlertKind::Slack => {
                            let b = message::body(&cx, NotificationEvent::Test, None, None);
                            message::slack(&b, None)
                        }
                        _ => json_value(&message::body(&cx, NotificationEvent::Test, None, None)),
                    };
                    let delivery = deliver(d, &payload);
                    outcome(d, NotificationEvent::Test, Vec::new(), delivery, None)
                })
                .collect()
        })
    }

    fn each(&self, report: &Report, now: DateTime<Utc>, summary: bool) -> Vec<NotificationOutcome> {
        if self.destinations.is_empty() {
            return Vec::new();
        }
        let (mut saved, load_note) = match self.state.as_deref().map(state::load) {
            None => (state::StateFile::default(), None),
            Some(Ok(s)) => (s, None),
            Some(Err(e)) => (
                state::StateFile::default(),
                Some(format!(
                    "alert state unreadable, starting afresh: {}",
                    e.chain()
                )),
            ),
        };
        isolated(|| {
            let mut out = Vec::new();
            for d in &self.destinations {
                if summary && d.config.kind == AlertKind::Alertmanager {
                    continue;
                }
                let last = saved.destinations.remove(&d.name).unwrap_or_default();
                let Some(plan) = state::plan(report, &last, rules(d), now, summary) else {
                    continue;
                };
                let cx = self.context(d, now);
                let delivery = deliver(d, &payload(d, &cx, report, &plan));
                let mut note = self.memory_note.clone().or_else(|| load_note.clone());
                if delivery.error.is_none()
                    && let Some(path) = &self.state
                    && plan.next != last
                    && let Err(e) = state::save(path, &d.name, &plan.next)
                {
                    note = Some(format!(
                        "sent, but the alert state was not saved: {}",
                        e.chain()
                    ));
                }
                let tables = plan.items.iter().map(|i| i.table.name.clone()).collect();
                out.push(outcome(d, plan.event, tables, delivery, note));
            }
            out
        })
    }

    fn context<'a>(&'a self, d: &'a Destination, now: DateTime<Utc>) -> Context<'a> {
        Context {
            destination: &d.name,
            min_level: level(d.config.min_level),
            now,
            reports: self.reports.as_deref(),
        }
    }
}

/// The rules a destination's plan follows.
fn rules(d: &Destination) -> Rules<'_> {
    let every = d.config.remind_every.map(|e| e.0);
    if d.config.kind == AlertKind::Alertmanager {
        // Alertmanager ends an alert nobody posts again: refreshed at half its timeout.
        let refresh = resolve_timeout(&d.config) / 2;
        return Rules {
            min_level: level(d.config.min_level),
            tables: d.config.tables.as_deref(),
            remind_every: Some(every.map_or(refresh, |e| e.min(refresh))),
            remind_from: level(d.config.min_level),
        };
    }
    Rules {
        min_level: level(d.config.min_level),
        tables: d.config.tables.as_deref(),
        remind_every: every,
        remind_from: Status::Critical,
    }
}

/// A destination's `min_level` as a report level.
fn level(min: AlertLevel) -> Status {
    match min {
        AlertLevel::Warning => Status::Warning,
        AlertLevel::Critical => Status::Critical,
        AlertLevel::Rollback => Status::Rollback,
    }
}

fn resolve_timeout(config: &AlertConfig) -> Duration {
    config.resolve_timeout.map_or(RESOLVE_TIMEOUT, |d| d.0)
}

/// The message a destination's kind takes for a plan.
fn payload(
    d: &Destination,
    cx: &Context<'_>,
    report: &Report,
    plan: &Plan<'_>,
) -> serde_json::Value {
    match d.config.kind {
        AlertKind::Alertmanager => message::alertmanager(cx, plan, resolve_timeout(&d.config)),
        AlertKind::Slack => message::slack(
            &message::body(cx, plan.event, Some(report), Some(plan)),
            Some(plan),
        ),
        AlertKind::Webhook | AlertKind::Command => {
            json_value(&message::body(cx, plan.event, Some(report), Some(plan)))
        }
    }
}

fn json_value(body: &message::Body<'_>) -> serde_json::Value {
    serde_json::to_value(body).unwrap_or_default()
}

/// Runs `f` on a thread of its own: the blocking HTTP client may not run inside an async
/// runtime, and the caller may be in one.
fn isolated<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join())
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Sends a payload to a destination.
fn deliver(d: &Destination, payload: &serde_json::Value) -> Delivery {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    match (d.config.kind, &d.url) {
        (AlertKind::Command, _) => command::run(
            &d.config.command,
            &body,
            d.config.timeout.map_or(COMMAND_TIMEOUT, |t| t.0),
        ),
        #[cfg(feature = "monitor")]
        (AlertKind::Alertmanager, Some(url)) => {
            let base = url.expose().trim_end_matches('/');
            let alerts = Secret(format!("{base}/api/v2/alerts"));
            let mut delivery = http::post(&alerts, &body);
            delivery.error = delivery.error.map(|e| url.scrub(&e));
            delivery
        }
        #[cfg(feature = "monitor")]
        (_, Some(url)) => http::post(url, &body),
        (kind, _) => Delivery {
            attempts: 0,
            error: Some(unavailable(kind)),
        },
    }
}

/// Why a destination cannot send from this build.
fn unavailable(kind: AlertKind) -> String {
    format!(
        "kind `{}` needs the `monitor` feature, which this build of recon lacks",
        kind.as_str()
    )
}

/// How a delivery went.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Tries made.
    pub attempts: u32,
    /// Why it failed, scrubbed.
    pub error: Option<String>,
}

fn outcome(
    d: &Destination,
    event: NotificationEvent,
    tables: Vec<String>,
    delivery: Delivery,
    note: Option<String>,
) -> NotificationOutcome {
    let sent = delivery.error.is_none();
    NotificationOutcome {
        destination: d.name.clone(),
        kind: d.config.kind,
        event,
        tables,
        sent,
        attempts: delivery.attempts,
        error: delivery.error,
        note: if sent { note } else { None },
    }
}

/// A destination's URL, from the environment, a file or the config; `None` for `command`.
fn secret(config: &AlertConfig, name: &str, base: &Path) -> Result<Option<Secret>> {
    let at = format!("[[alerts]] `{name}`");
    let text = if let Some(var) = &config.url_env {
        let value = std::env::var(var).unwrap_or_default();
        if value.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "{at}: the environment variable `{var}` (url_env) is not set"
            )));
        }
        value
    } else if let Some(file) = &config.url_file {
        let path = base.join(file);
        std::fs::read_to_string(&path)
            .map_err(|e| Error::input(format!("{at}: url_file {}", path.display()), e))?
    } else if let Some(url) = &config.url {
        url.clone()
    } else {
        return Ok(None);
    };
    let text = text.trim().to_owned();
    match url::Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(Secret(text))),
        _ => Err(Error::Invalid(format!(
            "{at}: its URL is not an http(s) URL (not shown: it may hold a token)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_removes_the_url_and_its_long_parts() {
        let secret = Secret(
            "https://user:pa55word@hooks.example/services/T0/B0/XYZSECRET?sig=abcdefgh".into(),
        );
        let text = "error sending request for url (https://user:pa55word@hooks.example/services/T0/B0/XYZSECRET?sig=abcdefgh): \
                    /services/T0/B0/XYZSECRET said no; sig abcdefgh";
        let shown = secret.scrub(text);
        for part in ["pa55word", "XYZSECRET", "abcdefgh", "services/T0"] {
            assert!(!shown.contains(part), "{part} in {shown}");
        }
        assert!(shown.contains("said no"), "{shown}");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }
}
