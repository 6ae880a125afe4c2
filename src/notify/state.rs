//! What each destination was last told, kept in the history folder (`alerts-state.json`), and
//! what a new run has to tell it: the tables whose level changed since then (resolved
//! included) and the reminders that are due. The file is written atomically and only after a
//! successful send, so a failed send is tried again by the next run and a retried success is
//! never sent twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gate::Status;
use crate::report::{NotificationEvent, Report, TableReport};

/// The state file's name inside the history folder.
pub(crate) const STATE_FILE: &str = "alerts-state.json";

/// The layout version of the state file.
const STATE_VERSION: u32 = 1;

/// Every destination's last sent state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StateFile {
    /// Layout version.
    pub version: u32,
    /// Destination name → what it was last told.
    pub destinations: BTreeMap<String, DestinationState>,
}

/// What one destination was last told: each table it heard about at or above its
/// `min_level` (a table not listed is below it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DestinationState {
    /// Table → its last sent level.
    pub tables: BTreeMap<String, TableState>,
    /// The run itself could not decide (no table could be judged), when that was last told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_error: Option<TableState>,
}

/// A table's last sent level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TableState {
    /// The level.
    pub level: Status,
    /// Since when it holds (RFC 3339).
    pub since: DateTime<Utc>,
    /// When a message last named it (RFC 3339).
    pub sent_at: DateTime<Utc>,
}

/// How a table's level moved since the destination last heard of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Change {
    /// Higher than before (or newly at or above `min_level`).
    Raised,
    /// Lower than before, still at or above `min_level`.
    Lowered,
    /// Back below `min_level`.
    Resolved,
    /// As before.
    Unchanged,
}

/// One table of a message.
#[derive(Debug, Clone)]
pub(crate) struct Item<'a> {
    /// The table's report.
    pub table: &'a TableReport,
    /// Its level now, `None` when below `min_level`.
    pub level: Option<Status>,
    /// The level the destination last heard, `None` when below `min_level`.
    pub previous: Option<Status>,
    /// How it moved.
    pub change: Change,
    /// Since when the level holds.
    pub since: DateTime<Utc>,
}

/// The run itself could not decide (a snapshot could not be read, say): no table was judged,
/// so this is what a destination hears instead, and when it decides again, that it is resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    /// Raised (it failed), resolved (it decides again) or unchanged (a reminder).
    pub change: Change,
    /// Since when it fails.
    pub since: DateTime<Utc>,
}

/// What a run has to tell one destination.
#[derive(Debug, Clone)]
pub(crate) struct Plan<'a> {
    /// Why.
    pub event: NotificationEvent,
    /// Every table at or above `min_level`, and those just resolved, worst first.
    pub items: Vec<Item<'a>>,
    /// The run's own failure, when it failed or just stopped failing.
    pub failure: Option<Failure>,
    /// The state to keep once the message is sent.
    pub next: DestinationState,
}

impl Plan<'_> {
    /// The names of the tables the message is about, in its order.
    pub fn table_names(&self) -> Vec<String> {
        self.items.iter().map(|i| i.table.name.clone()).collect()
    }
}

/// The rules a destination's plan follows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules<'a> {
    /// The lowest level it hears about.
    pub min_level: Status,
    /// Only these tables, when given.
    pub tables: Option<&'a [String]>,
    /// How long a level may go unmentioned before a reminder.
    pub remind_every: Option<Duration>,
    /// The lowest level reminders are for (`critical`; every level for Alertmanager, whose
    /// alerts end unless they are posted again).
    pub remind_from: Status,
}

/// What to tell a destination after a run (`None`: nothing changed and no reminder is due).
/// `summary`: every table in scope whatever changed.
pub(crate) fn plan<'a>(
    report: &'a Report,
    last: &DestinationState,
    rules: Rules<'_>,
    now: DateTime<Utc>,
    summary: bool,
) -> Option<Plan<'a>> {
    let mut items = Vec::new();
    let mut next = last.clone();
    let mut due = false;
    for t in report
        .tables
        .iter()
        .filter(|t| rules.tables.is_none_or(|only| only.contains(&t.name)))
    {
        let level = (t.status >= rules.min_level).then_some(t.status);
        let before = last.tables.get(&t.name);
        let previous = before.map(|s| s.level);
        let change = match (previous, level) {
            (None, None) => {
                if summary {
                    items.push(item(t, None, None, Change::Unchanged, now));
                }
                continue;
            }
            (None, Some(_)) => Change::Raised,
            (Some(_), None) => Change::Resolved,
            (Some(a), Some(b)) if a < b => Change::Raised,
            (Some(a), Some(b)) if a > b => Change::Lowered,
            _ => Change::Unchanged,
        };
        let since = match (change, before) {
            (Change::Unchanged, Some(s)) => s.since,
            _ => now,
        };
        if change == Change::Unchanged
            && let (Some(every), Some(s), Some(l)) = (rules.remind_every, before, level)
        {
            let elapsed = (now - s.sent_at).to_std().unwrap_or_default();
            due |= l >= rules.remind_from && elapsed >= every;
        }
        match level {
            Some(l) => {
                let sent_at = before.map_or(now, |s| s.sent_at);
                next.tables.insert(
                    t.name.clone(),
                    TableState {
                        level: l,
                        since,
                        sent_at,
                    },
                );
            }
            None => {
                next.tables.remove(&t.name);
            }
        }
        items.push(item(t, level, previous, change, since));
    }
    let failure = run_failure(report, last, &mut next, now);
    if let (Some(f), Some(every), Some(s)) = (failure, rules.remind_every, &last.run_error)
        && f.change == Change::Unchanged
    {
        due |= now
            .signed_duration_since(s.sent_at)
            .to_std()
            .unwrap_or_default()
            >= every;
    }
    let changed = items.iter().any(|i| i.change != Change::Unchanged)
        || failure.is_some_and(|f| f.change != Change::Unchanged);
    let event = if summary {
        NotificationEvent::Summary
    } else if changed {
        NotificationEvent::Change
    } else if due {
        NotificationEvent::Reminder
    } else {
        return None;
    };
    if event != NotificationEvent::Summary || changed {
        for s in next.tables.values_mut().chain(next.run_error.as_mut()) {
            s.sent_at = now;
        }
    }
    // Worst first, then by name: the order every message shows.
    items.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.previous.cmp(&a.previous))
            .then(a.table.name.cmp(&b.table.name))
    });
    Some(Plan {
        event,
        items,
        failure,
        next,
    })
}

/// Whether the run itself failed (verdict `error` and no table judged: a check that could not
/// decide while the tables were judged is no run failure), against what the destination was
/// last told; records it in `next`.
fn run_failure(
    report: &Report,
    last: &DestinationState,
    next: &mut DestinationState,
    now: DateTime<Utc>,
) -> Option<Failure> {
    let failed = report.verdict == Status::Error && report.tables.is_empty();
    let failure = match (&last.run_error, failed) {
        (None, false) => return None,
        (None, true) => Failure {
            change: Change::Raised,
            since: now,
        },
        (Some(s), true) => Failure {
            change: Change::Unchanged,
            since: s.since,
        },
        (Some(s), false) => Failure {
            change: Change::Resolved,
            since: s.since,
        },
    };
    next.run_error = failed.then(|| TableState {
        level: Status::Error,
        since: failure.since,
        sent_at: last.run_error.as_ref().map_or(now, |s| s.sent_at),
    });
    Some(failure)
}

fn item(
    table: &TableReport,
    level: Option<Status>,
    previous: Option<Status>,
    change: Change,
    since: DateTime<Utc>,
) -> Item<'_> {
    Item {
        table,
        level,
        previous,
        change,
        since,
    }
}

/// The state file of a history folder.
pub(crate) fn path_in(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// The lock file beside the state file: held from reading the state to recording what was sent.
pub(crate) const LOCK_FILE: &str = "alerts-state.lock";

/// The alert state of a history folder, locked or not.
#[derive(Debug)]
pub(crate) enum Locked {
    /// This run holds it until the lock is dropped (or the process ends).
    Held(crate::atomic::FileLock),
    /// Another run holds it: who (its process id and start time, as it wrote them).
    Busy(String),
}

/// Takes the lock on the alert state whose file is `state` (`<history>/alerts-state.lock`),
/// without waiting.
pub(crate) fn lock(state: &Path) -> Result<Locked> {
    Ok(
        match crate::atomic::try_lock(&state.with_file_name(LOCK_FILE))? {
            crate::atomic::TryLock::Held(lock) => Locked::Held(lock),
            crate::atomic::TryLock::Busy(holder) => Locked::Busy(holder),
        },
    )
}

/// What is in the state file.
enum Read {
    /// No file yet.
    Missing,
    /// A state of this layout or an older one.
    Parsed(StateFile),
    /// Not a state file (damaged): why.
    Damaged(String),
}

/// Reads the state file; an I/O error and a newer layout are errors.
fn read(path: &Path) -> Result<Read> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(e) => return Err(Error::input(format!("reading {}", path.display()), e)),
    };
    let state: StateFile = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => return Ok(Read::Damaged(e.to_string())),
    };
    if state.version > STATE_VERSION {
        return Err(Error::Invalid(format!(
            "{}: state version {} is newer than this recon's ({STATE_VERSION}); it is left as it is",
            path.display(),
            state.version
        )));
    }
    Ok(Read::Parsed(state))
}

/// Reads the state file (empty when there is none yet; an error when it is damaged, newer or
/// cannot be read).
pub(crate) fn load(path: &Path) -> Result<StateFile> {
    match read(path)? {
        Read::Missing => Ok(StateFile::default()),
        Read::Parsed(s) => Ok(s),
        Read::Damaged(why) => Err(Error::Invalid(format!("{}: {why}", path.display()))),
    }
}

/// Records what one destination was told: the file is read again and only that destination's
/// entry replaced, then written atomically. A damaged file is kept as
/// `alerts-state.json.corrupt` and replaced; one that cannot be read, or of a newer layout, is
/// left alone and the save fails.
pub(crate) fn save(path: &Path, destination: &str, told: &DestinationState) -> Result<()> {
    let mut state = match read(path)? {
        Read::Missing => StateFile::default(),
        Read::Parsed(s) => s,
        Read::Damaged(_) => {
            let kept = path.with_extension("json.corrupt");
            std::fs::copy(path, &kept).map_err(|source| Error::Write { path: kept, source })?;
            StateFile::default()
        }
    };
    state.version = STATE_VERSION;
    state
        .destinations
        .insert(destination.to_owned(), told.clone());
    let mut text = serde_json::to_vec_pretty(&state)
        .map_err(|e| Error::failed("serializing the alert state", e))?;
    text.push(b'\n');
    crate::atomic::write_bytes(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::side::PerSide;

    fn report(levels: &[(&str, Status)]) -> Report {
        let failed = crate::error::Error::Invalid("unused".into());
        let mut r =
            crate::reconciler::Reconciler::failed(&failed, &crate::settings::Overrides::default());
        r.error = None;
        r.verdict = levels.iter().map(|l| l.1).max().unwrap_or(Status::Pass);
        let sides = PerSide {
            legacy: "l".to_owned(),
            target: "t".to_owned(),
        };
        r.tables = levels
            .iter()
            .map(|(name, status)| {
                let mut t = crate::report::build::errored_table(
                    name,
                    &["id".into()],
                    &sides,
                    None,
                    String::new(),
                );
                t.error = None;
                t.status = *status;
                t
            })
            .collect();
        r
    }

    fn rules(min_level: Status, remind_every: Option<Duration>) -> Rules<'static> {
        Rules {
            min_level,
            tables: None,
            remind_every,
            remind_from: Status::Critical,
        }
    }

    /// Runs the levels of one table through `plan`, keeping the state a successful send
    /// leaves; returns each run's event and change.
    fn walk(
        rules: Rules<'_>,
        levels: &[(Status, i64)],
    ) -> Vec<Option<(NotificationEvent, Change)>> {
        let start = DateTime::parse_from_rfc3339("2026-03-02T02:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let mut state = DestinationState::default();
        let mut out = Vec::new();
        for &(level, minutes) in levels {
            let r = report(&[("orders", level)]);
            let now = start + chrono::Duration::minutes(minutes);
            let planned = plan(&r, &state, rules, now, false);
            out.push(planned.as_ref().map(|p| (p.event, p.items[0].change)));
            if let Some(p) = planned {
                state = p.next;
            }
        }
        out
    }

    #[test]
    fn only_changes_are_news_and_falling_below_min_level_resolves() {
        use Change::*;
        use NotificationEvent::Change as C;
        use Status::*;
        let seen = walk(
            rules(Warning, None),
            &[
                (Pass, 0),
                (Warning, 1),
                (Warning, 2),
                (Critical, 3),
                (Warning, 4),
                (Pass, 5),
            ],
        );
        assert_eq!(
            seen,
            [
                None,
                Some((C, Raised)),
                None,
                Some((C, Raised)),
                Some((C, Lowered)),
                Some((C, Resolved))
            ]
        );
        // With min_level critical a warning is nobody's business: critical → warning resolves.
        let seen = walk(
            rules(Critical, None),
            &[(Warning, 0), (Critical, 1), (Warning, 2)],
        );
        assert_eq!(seen, [None, Some((C, Raised)), Some((C, Resolved))]);
    }

    #[test]
    fn reminders_come_after_remind_every_and_only_at_critical_or_above() {
        use NotificationEvent::{Change as C, Reminder as R};
        use Status::*;
        let every = Some(Duration::from_mins(15));
        let seen = walk(
            rules(Warning, every),
            &[
                (Critical, 0),
                (Critical, 10),
                (Critical, 15),
                (Critical, 20),
                (Critical, 31),
                (Warning, 32),
                (Warning, 60),
            ],
        );
        let events: Vec<Option<NotificationEvent>> =
            seen.iter().map(|s| s.map(|(e, _)| e)).collect();
        assert_eq!(
            events,
            [Some(C), None, Some(R), None, Some(R), Some(C), None]
        );
    }

    #[test]
    fn tables_outside_the_scope_are_ignored_and_a_summary_names_every_one() {
        let r = report(&[("a", Status::Rollback), ("b", Status::Pass)]);
        let only = ["b".to_owned()];
        let scoped = Rules {
            tables: Some(&only),
            ..rules(Status::Warning, None)
        };
        let now = Utc::now();
        assert!(plan(&r, &DestinationState::default(), scoped, now, false).is_none());
        let summary = plan(
            &r,
            &DestinationState::default(),
            rules(Status::Critical, None),
            now,
            true,
        )
        .expect("a summary always sends");
        assert_eq!(summary.event, NotificationEvent::Summary);
        let names: Vec<&str> = summary
            .items
            .iter()
            .map(|i| i.table.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"], "worst first");
    }

    fn told(level: Status) -> DestinationState {
        let now = Utc::now();
        let mut d = DestinationState::default();
        d.tables.insert(
            "orders".into(),
            TableState {
                level,
                since: now,
                sent_at: now,
            },
        );
        d
    }

    #[test]
    fn a_damaged_state_file_is_kept_aside_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_in(dir.path());
        std::fs::write(&path, "{ not json").expect("write");
        assert!(load(&path).is_err());
        let critical = told(Status::Critical);
        save(&path, "hook", &critical).expect("replaced");
        let kept = std::fs::read_to_string(dir.path().join("alerts-state.json.corrupt"))
            .expect("kept aside");
        assert_eq!(kept, "{ not json");
        let state = load(&path).expect("readable again");
        assert_eq!(state.destinations["hook"], critical);
    }

    #[test]
    fn a_newer_or_unreadable_state_file_is_left_alone_and_unknown_fields_are_kept_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_in(dir.path());
        let newer = r#"{"version": 2, "destinations": {"other": {"tables": {}}}}"#;
        std::fs::write(&path, newer).expect("write");
        let e = save(&path, "hook", &told(Status::Critical)).expect_err("a newer layout");
        assert!(e.chain().contains("newer"), "{}", e.chain());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), newer);
        // A field a later recon added within version 1 does not make this one start afresh.
        std::fs::write(
            &path,
            r#"{"version": 1, "written_by": "later", "destinations": {"other": {"tables": {}, "muted": true}}}"#,
        )
        .expect("write");
        save(&path, "hook", &told(Status::Critical)).expect("saved");
        let state = load(&path).expect("load");
        assert!(state.destinations.contains_key("other"), "{state:?}");
        assert!(state.destinations.contains_key("hook"), "{state:?}");
        // A state file that cannot be read fails the save instead of wiping it.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(path_in(&blocked)).expect("a folder in its place");
        assert!(save(&path_in(&blocked), "hook", &told(Status::Critical)).is_err());
    }

    #[test]
    fn a_check_that_errored_while_the_tables_were_judged_is_no_run_failure() {
        let mut r = report(&[("orders", Status::Pass)]);
        r.verdict = Status::Error;
        r.error = Some("check `sum`: could not run".into());
        let rules = rules(Status::Warning, None);
        assert!(plan(&r, &DestinationState::default(), rules, Utc::now(), false).is_none());
        let mut failed = report(&[]);
        failed.verdict = Status::Error;
        failed.error = Some("reading target: no such folder".into());
        let p = plan(
            &failed,
            &DestinationState::default(),
            rules,
            Utc::now(),
            false,
        )
        .expect("a run failure is news");
        assert_eq!(p.failure.map(|f| f.change), Some(Change::Raised));
    }

    #[test]
    fn one_run_at_a_time_holds_the_alert_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_in(dir.path());
        let first = lock(&path).expect("lock");
        assert!(matches!(first, Locked::Held(_)));
        match lock(&path).expect("lock") {
            Locked::Busy(holder) => assert!(
                holder.contains(&format!("process {}", std::process::id())),
                "{holder}"
            ),
            Locked::Held(_) => panic!("locked twice"),
        }
        drop(first);
        assert!(matches!(lock(&path).expect("lock"), Locked::Held(_)));
    }
}
