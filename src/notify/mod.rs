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
pub(crate) mod secret;
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
use self::secret::Secret;
use self::state::{Plan, Rules};

/// How long a `command` may run unless its `timeout` says otherwise.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an Alertmanager alert fires without being posted again, unless `resolve_timeout`
/// says otherwise.
const RESOLVE_TIMEOUT: Duration = Duration::from_hours(1);

/// One `[[alerts]]` destination, its URL read (or why it could not be).
struct Destination {
    name: String,
    config: AlertConfig,
    url: std::result::Result<Option<Secret>, String>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("url", &self.url.as_ref().map(|u| u.as_ref().map(|_| "***")))
            .finish()
    }
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
    /// The `url_env` variables of every destination: no `command` inherits them.
    hidden_env: Vec<String>,
}

impl Notifier {
    /// From the config's `[[alerts]]`, their URLs read from the environment or files now;
    /// `state_dir` = the history folder (`None`: no memory between runs, so every run notifies
    /// what is at or above `min_level`, and the outcome says so).
    ///
    /// Fails only on a URL written in the config that is no http(s) URL. A URL that cannot be
    /// read (a `url_env` not set, a `url_file` not readable) fails that destination's
    /// notifications, every run, with the reason (see [`Notifier::unreadable`]).
    pub fn new(loaded: &LoadedConfig, state_dir: Option<&Path>) -> Result<Self> {
        let alerts = &loaded.config.alerts;
        let names = destination_names(alerts);
        let mut destinations = Vec::with_capacity(alerts.len());
        for (config, name) in alerts.iter().zip(names) {
            let url = secret::read(config, &loaded.base_dir)
                .map_err(|e| Error::Invalid(format!("[[alerts]] `{name}`: {}", e.chain())))?;
            if let Ok(Some(s)) = &url {
                s.remember();
            }
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
            _ if destinations.is_empty() => None,
            (None, _) => forgetful("no history folder"),
            (Some(_), Some(_)) => forgetful("the history folder is not local"),
            _ => None,
        };
        Ok(Self {
            hidden_env: alerts.iter().filter_map(|a| a.url_env.clone()).collect(),
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

    /// Why notifications have no memory between runs (no history folder, or one on an object
    /// store), when they have none: every run then notifies what is at or above `min_level`.
    pub fn memory_note(&self) -> Option<&str> {
        self.memory_note.as_deref()
    }

    /// The destinations whose URL could not be read, each with why (a `url_env` that is not
    /// set, a `url_file` that cannot be read): their notifications fail until it can be.
    pub fn unreadable(&self) -> Vec<(&str, &str)> {
        self.destinations
            .iter()
            .filter_map(|d| d.url.as_ref().err().map(|e| (d.name.as_str(), e.as_str())))
            .collect()
    }

    /// After a run: sends each destination what changed since it was last told (and reminders
    /// that are due), and records that only once it was sent. One outcome per destination that
    /// had something to send, and one for each whose URL cannot be read.
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
                    let delivery = self.deliver(d, &payload);
                    outcome(d, NotificationEvent::Test, Vec::new(), delivery, None)
                })
                .collect()
        })
    }

    fn each(&self, report: &Report, now: DateTime<Utc>, summary: bool) -> Vec<NotificationOutcome> {
        if self.destinations.is_empty() {
            return Vec::new();
        }
        // One run at a time reads, sends and records: another run notifying from the same
        // history folder would send the same news and overwrite what this one records.
        let (lock, lock_note) = match self.state.as_deref().map(state::lock) {
            None => (None, None),
            Some(Ok(state::Locked::Held(l))) => (Some(l), None),
            Some(Ok(state::Locked::Busy(holder))) => {
                return self.skipped(report, now, summary, &holder);
            }
            Some(Err(e)) => (
                None,
                Some(format!(
                    "the alert state could not be locked: {}",
                    e.chain()
                )),
            ),
        };
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
        let outcomes = isolated(|| {
            let mut out = Vec::new();
            for d in &self.destinations {
                if !hears(d, summary) {
                    continue;
                }
                let last = saved.destinations.remove(&d.name).unwrap_or_default();
                let Some(plan) = state::plan(report, &last, rules(d), now, summary) else {
                    if let Err(why) = &d.url {
                        out.push(not_sent(d, NotificationEvent::Change, Vec::new(), why));
                    }
                    continue;
                };
                let cx = self.context(d, now);
                let delivery = self.deliver(d, &payload(d, &cx, report, &plan));
                let mut note = lock_note
                    .clone()
                    .or_else(|| load_note.clone())
                    .or_else(|| self.memory_note.clone());
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
                let tables = plan.table_names();
                out.push(outcome(d, plan.event, tables, delivery, note));
            }
            out
        });
        drop(lock);
        outcomes
    }

    /// Another run holds the alert state: nothing is sent, and each destination that had
    /// something to send has a failed outcome saying so (the next run sends it).
    fn skipped(
        &self,
        report: &Report,
        now: DateTime<Utc>,
        summary: bool,
        holder: &str,
    ) -> Vec<NotificationOutcome> {
        let mut saved = self
            .state
            .as_deref()
            .and_then(|p| state::load(p).ok())
            .unwrap_or_default();
        let why = format!(
            "not sent: another recon run is notifying from this history folder ({holder}); \
             the next run sends what is still news"
        );
        self.destinations
            .iter()
            .filter(|d| hears(d, summary))
            .filter_map(|d| {
                let last = saved.destinations.remove(&d.name).unwrap_or_default();
                let plan = state::plan(report, &last, rules(d), now, summary)?;
                let tables = plan.table_names();
                Some(not_sent(d, plan.event, tables, &why))
            })
            .collect()
    }

    fn context<'a>(&'a self, d: &'a Destination, now: DateTime<Utc>) -> Context<'a> {
        Context {
            destination: &d.name,
            min_level: level(d.config.min_level),
            now,
            reports: self.reports.as_deref(),
        }
    }

    /// `text` without any destination's URL or a part of one, or any other known credential.
    fn scrub(&self, text: &str) -> String {
        let scrubbed = self
            .destinations
            .iter()
            .filter_map(|d| d.url.as_ref().ok().and_then(Option::as_ref))
            .fold(text.to_owned(), |t, s| s.scrub(&t));
        crate::store::scrub(&scrubbed)
    }

    /// Sends a payload to a destination.
    fn deliver(&self, d: &Destination, payload: &serde_json::Value) -> Delivery {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let url = match (&d.url, d.config.kind) {
            (Err(why), _) => {
                return Delivery {
                    attempts: 0,
                    error: Some(why.clone()),
                };
            }
            (Ok(_), AlertKind::Command) => {
                let scrub = |t: &str| self.scrub(t);
                let spec = command::Spec {
                    argv: &d.config.command,
                    timeout: d.config.timeout.map_or(COMMAND_TIMEOUT, |t| t.0),
                    hidden_env: &self.hidden_env,
                    scrub: &scrub,
                };
                return command::run(&spec, &body);
            }
            (Ok(url), _) => url.as_ref(),
        };
        match (d.config.kind, url) {
            #[cfg(feature = "monitor")]
            (AlertKind::Alertmanager, Some(url)) => match alerts_url(url.expose()) {
                Some(target) => http::post(&target, url, &body),
                None => Delivery {
                    attempts: 0,
                    error: Some("its URL cannot take a path (not shown)".into()),
                },
            },
            #[cfg(feature = "monitor")]
            (_, Some(url)) => http::post(url.expose(), url, &body),
            (kind, _) => Delivery {
                attempts: 0,
                error: Some(unavailable(kind)),
            },
        }
    }
}

/// Alertmanager's alerts endpoint under its base URL (query kept): `{base}/api/v2/alerts`.
#[cfg(feature = "monitor")]
fn alerts_url(base: &str) -> Option<String> {
    let mut u = url::Url::parse(base).ok()?;
    u.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(["api", "v2", "alerts"]);
    Some(u.into())
}

/// Whether a destination hears of this run: Alertmanager's alerts are levels, not news, so it
/// has no daily summary.
fn hears(d: &Destination, summary: bool) -> bool {
    !(summary && d.config.kind == AlertKind::Alertmanager)
}

/// The rules a destination's plan follows.
fn rules(d: &Destination) -> Rules<'_> {
    let min_level = level(d.config.min_level);
    let every = d.config.remind_every.map(|e| e.0);
    let (remind_every, remind_from) = if d.config.kind == AlertKind::Alertmanager {
        // Alertmanager ends an alert nobody posts again: refreshed at half its timeout.
        let refresh = resolve_timeout(&d.config) / 2;
        (Some(every.map_or(refresh, |e| e.min(refresh))), min_level)
    } else {
        (every, Status::Critical)
    };
    Rules {
        min_level,
        tables: d.config.tables.as_deref(),
        remind_every,
        remind_from,
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

/// An outcome of a message that was not even tried, and why.
fn not_sent(
    d: &Destination,
    event: NotificationEvent,
    tables: Vec<String>,
    why: &str,
) -> NotificationOutcome {
    let delivery = Delivery {
        attempts: 0,
        error: Some(why.to_owned()),
    };
    outcome(d, event, tables, delivery, None)
}
