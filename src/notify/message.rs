//! The messages: the versioned webhook body (also what a `command` reads on stdin), Slack's
//! text and blocks, and Alertmanager's alerts. Built from the report and a destination's plan;
//! none of them holds a destination's URL.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::state::{Change, Failure, Item, Plan};
use crate::gate::Status;
use crate::report::{NotificationEvent, Report, StatusCounts, percent};

/// The webhook body's layout version (`docs/alerts.md`).
pub(crate) const BODY_VERSION: u32 = 1;

/// How many tables a Slack message lists.
const SLACK_TABLES: usize = 10;
/// The longest text of a Slack section (Slack refuses more than 3000 characters).
const SLACK_SECTION: usize = 2900;
/// The longest line of a Slack message's table list.
const SLACK_LINE: usize = 250;
/// The longest reason a Slack message gives for a run that could not decide.
const SLACK_WHY: usize = 1000;

/// What every message is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The destination's name.
    pub destination: &'a str,
    /// Its `min_level`.
    pub min_level: Status,
    /// When the message is sent.
    pub now: DateTime<Utc>,
    /// Where the run's reports are, when known.
    pub reports: Option<&'a str>,
}

/// The webhook body, version 1.
#[derive(Debug, Serialize)]
pub(crate) struct Body<'a> {
    version: u32,
    event: NotificationEvent,
    destination: &'a str,
    sent_at: String,
    min_level: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<RunSummary<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reports: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_failure: Option<FailureEntry>,
    tables: Vec<TableEntry<'a>>,
}

/// The run's own failure: `raised` when it could not decide, `unchanged` while it still cannot
/// (a reminder), `resolved` when it decides again.
#[derive(Debug, Serialize)]
struct FailureEntry {
    change: Change,
    since: String,
}

/// The run a message is about.
#[derive(Debug, Serialize)]
struct RunSummary<'a> {
    started_at: &'a str,
    duration_ms: u64,
    verdict: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    config_digest: &'a str,
    tables: &'a StatusCounts,
    checks: &'a StatusCounts,
}

/// One table of a message.
#[derive(Debug, Serialize)]
struct TableEntry<'a> {
    name: &'a str,
    level: Status,
    previous_level: Status,
    change: Change,
    since: String,
    drift_ratio: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_drift_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    legacy_rows: u64,
    target_rows: u64,
    changed: u64,
    missing: u64,
    extra: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The previous run's drift of a table, from its history trend.
fn previous_drift(item: &Item<'_>) -> Option<f64> {
    let trend = &item.table.history.as_ref()?.trend;
    trend.len().checked_sub(2).map(|i| trend[i].drift_ratio)
}

/// The threshold a table's level crossed (drift's first, else the highest finding's).
fn threshold(item: &Item<'_>) -> Option<f64> {
    let level = item.level?;
    let at_level = item.table.findings.iter().filter(|f| f.level == level);
    at_level
        .clone()
        .find(|f| f.metric == "drift_ratio")
        .or_else(|| at_level.clone().next())
        .map(|f| f.threshold)
}

fn entry<'a>(item: &Item<'a>) -> TableEntry<'a> {
    let t = item.table;
    TableEntry {
        name: &t.name,
        level: item.table.status,
        previous_level: item.previous.unwrap_or(Status::Pass),
        change: item.change,
        since: time(item.since),
        drift_ratio: t.drift_ratio,
        previous_drift_ratio: previous_drift(item),
        threshold: threshold(item),
        legacy_rows: t.legacy_rows,
        target_rows: t.target_rows,
        changed: t.changed,
        missing: t.missing,
        extra: t.extra,
        error: t.error.as_deref(),
    }
}

/// The webhook body of a plan (`report` `None`: a test message).
pub(crate) fn body<'a>(
    cx: &Context<'a>,
    event: NotificationEvent,
    report: Option<&'a Report>,
    plan: Option<&Plan<'a>>,
) -> Body<'a> {
    Body {
        version: BODY_VERSION,
        event,
        destination: cx.destination,
        sent_at: time(cx.now),
        min_level: cx.min_level,
        run: report.map(|r| RunSummary {
            started_at: &r.run.started_at,
            duration_ms: r.run.duration_ms,
            verdict: r.verdict,
            error: r.error.as_deref(),
            config_digest: &r.run.config_digest,
            tables: &r.summary.tables,
            checks: &r.summary.checks,
        }),
        reports: cx.reports,
        run_failure: plan.and_then(|p| p.failure).map(|f| FailureEntry {
            change: f.change,
            since: time(f.since),
        }),
        tables: plan.map_or_else(Vec::new, |p| p.items.iter().map(entry).collect()),
    }
}

/// Slack's `&`, `<` and `>` escaped.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One table as a Slack line: level, what it was, drift and its change since the last run.
fn slack_line(item: &Item<'_>) -> String {
    let t = item.table;
    let level = match item.change {
        Change::Resolved => format!("resolved ({} now)", t.status.as_str()),
        Change::Unchanged => format!("{}, unchanged", t.status.as_str()),
        Change::Raised | Change::Lowered => format!(
            "{} (was {})",
            t.status.as_str(),
            item.previous.unwrap_or(Status::Pass).as_str()
        ),
    };
    let trend = previous_drift(item).map_or_else(String::new, |p| {
        let points = (t.drift_ratio - p) * 100.0;
        format!(" ({points:+.3} pp since the last run)")
    });
    clip(
        &format!(
            "• *{}*: {level}, drift {}{trend}",
            slack_escape(&t.name),
            percent(t.drift_ratio)
        ),
        SLACK_LINE,
    )
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Lines joined as long as the text stays within a Slack section, then how many were left
/// out (`more`: lines not even offered).
fn join_within(lines: &[String], more: usize) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut len = 0;
    for (i, line) in lines.iter().enumerate() {
        let n = line.chars().count() + 1;
        // Room for this line and, when any follow, for the line that counts them.
        let reserve = if lines.len() - i - 1 + more > 0 {
            24
        } else {
            0
        };
        if len + n + reserve > SLACK_SECTION {
            let left = lines.len() - i + more;
            return format!("{}\n… and {left} more", kept.join("\n"));
        }
        kept.push(line);
        len += n;
    }
    let text = kept.join("\n");
    if more > 0 {
        format!("{text}\n… and {more} more")
    } else {
        text
    }
}

/// The Slack message: a short text (what notifications show) and blocks (verdict, the worst
/// tables with their level and drift, where the reports are).
pub(crate) fn slack(body: &Body<'_>, plan: Option<&Plan<'_>>) -> Value {
    let verdict = body.run.as_ref().map_or("test", |r| r.verdict.as_str());
    let text = match body.event {
        NotificationEvent::Test => format!(
            "recon: test message for `{}`: notifications arrive here",
            slack_escape(body.destination)
        ),
        event => {
            let named: Vec<String> = plan
                .into_iter()
                .flat_map(|p| &p.items)
                .filter(|i| i.change != Change::Unchanged || event != NotificationEvent::Change)
                .take(3)
                .map(|i| format!("{} {}", clip(&i.table.name, 100), change_word(i)))
                .collect();
            format!(
                "recon {}: verdict {verdict}{}{}",
                event.as_str(),
                if named.is_empty() { "" } else { ": " },
                slack_escape(&named.join(", "))
            )
        }
    };
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("*recon {}*: verdict *{verdict}*", body.event.as_str())}
    })];
    let items = plan.map_or(&[][..], |p| &p.items[..]);
    let failure = plan.and_then(|p| p.failure);
    if !items.is_empty() || failure.is_some() {
        let lines: Vec<String> = failure
            .map(|f| failure_line(f, body))
            .into_iter()
            .chain(items.iter().take(SLACK_TABLES).map(slack_line))
            .collect();
        let text = join_within(&lines, items.len().saturating_sub(SLACK_TABLES));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(at) = body.reports {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("Reports: {}", slack_escape(at))}]
        }));
    }
    json!({"text": text, "blocks": blocks})
}

/// The run's failure as a Slack line.
fn failure_line(f: Failure, body: &Body<'_>) -> String {
    let why = body
        .run
        .as_ref()
        .and_then(|r| r.error)
        .filter(|e| !e.trim().is_empty())
        .unwrap_or("no table could be judged");
    match f.change {
        Change::Resolved => "• *the run*: decides again (resolved)".to_owned(),
        _ => format!(
            "• *the run*: could not decide: {}",
            slack_escape(&clip(why, SLACK_WHY))
        ),
    }
}

fn change_word(item: &Item<'_>) -> String {
    match item.change {
        Change::Resolved => "resolved".into(),
        _ => item.table.status.as_str().into(),
    }
}

/// Alertmanager's alerts for a plan: one firing alert per table at or above `min_level`
/// (labels `alertname`, `job`, `table`, `level`), and one with `endsAt` = now for every level a
/// table left, which resolves it.
pub(crate) fn alertmanager(
    cx: &Context<'_>,
    plan: &Plan<'_>,
    keep_firing: std::time::Duration,
) -> Value {
    // However long `resolve_timeout` is, the time stays one Alertmanager reads (a year 9999 at
    // most).
    let latest = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(cx.now);
    let until = chrono::Duration::from_std(keep_firing)
        .ok()
        .and_then(|d| cx.now.checked_add_signed(d))
        .map_or(latest, |t| t.min(latest));
    let mut alerts = Vec::new();
    for item in &plan.items {
        let t = item.table;
        let annotations = json!({
            "summary": format!("recon: table {} is at {}", t.name, t.status.as_str()),
            "description": format!(
                "drift {} ({} changed, {} missing, {} extra of {} legacy rows)",
                percent(t.drift_ratio), t.changed, t.missing, t.extra, t.legacy_rows
            ),
            "drift_ratio": t.drift_ratio.to_string(),
        });
        if let Some(level) = item.level {
            alerts.push(alert(
                t.name.as_str(),
                level,
                &annotations,
                item.since,
                until,
            ));
        }
        if let Some(previous) = item.previous
            && item.level != Some(previous)
        {
            alerts.push(alert(
                t.name.as_str(),
                previous,
                &annotations,
                item.since,
                cx.now,
            ));
        }
    }
    if let Some(f) = plan.failure {
        let ends = if f.change == Change::Resolved {
            cx.now
        } else {
            until
        };
        alerts.push(json!({
            "labels": {"alertname": "ReconRunError", "job": "recon", "level": "error"},
            "annotations": {"summary": "recon: the run could not decide"},
            "startsAt": time(f.since.min(ends)),
            "endsAt": time(ends),
        }));
    }
    Value::Array(alerts)
}

fn alert(
    table: &str,
    level: Status,
    annotations: &Value,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
) -> Value {
    json!({
        "labels": {"alertname": "ReconTableLevel", "job": "recon", "table": table, "level": level.as_str()},
        "annotations": annotations,
        "startsAt": time(starts.min(ends)),
        "endsAt": time(ends),
    })
}

/// Alertmanager's test alert: it ends by itself five minutes later.
pub(crate) fn alertmanager_test(cx: &Context<'_>) -> Value {
    json!([{
        "labels": {"alertname": "ReconTest", "job": "recon", "destination": cx.destination},
        "annotations": {"summary": "recon: test alert; notifications arrive here"},
        "startsAt": time(cx.now),
        "endsAt": time(cx.now + chrono::Duration::minutes(5)),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::state::DestinationState;

    fn failed_plan(now: DateTime<Utc>) -> Plan<'static> {
        Plan {
            event: NotificationEvent::Change,
            items: Vec::new(),
            failure: Some(Failure {
                change: Change::Raised,
                since: now,
            }),
            next: DestinationState::default(),
        }
    }

    fn context(now: DateTime<Utc>) -> Context<'static> {
        Context {
            destination: "slack",
            min_level: Status::Warning,
            now,
            reports: None,
        }
    }

    #[test]
    fn slack_sections_stay_within_slacks_limit() {
        let now = Utc::now();
        let why = "x".repeat(10_000);
        let report = crate::reconciler::Reconciler::failed(
            &crate::error::Error::Invalid(why),
            &crate::settings::Overrides::default(),
        );
        let plan = failed_plan(now);
        let cx = context(now);
        let msg = slack(
            &body(&cx, plan.event, Some(&report), Some(&plan)),
            Some(&plan),
        );
        for block in msg["blocks"].as_array().expect("blocks") {
            let text = block["text"]["text"].as_str().unwrap_or("");
            assert!(text.chars().count() <= 3000, "{} chars", text.len());
        }
        assert!(msg["blocks"].to_string().contains("could not decide: xxx"));
        let lines: Vec<String> = (0..11)
            .map(|i| format!("{i}: {}", "y".repeat(400)))
            .collect();
        let joined = join_within(&lines, 5);
        assert!(joined.chars().count() <= SLACK_SECTION, "{}", joined.len());
        assert!(joined.ends_with("more"), "{joined}");
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn a_run_failure_without_a_reason_says_why_and_a_huge_resolve_timeout_does_not_overflow() {
        let now = Utc::now();
        let mut report = crate::reconciler::Reconciler::failed(
            &crate::error::Error::Invalid("x".into()),
            &crate::settings::Overrides::default(),
        );
        report.error = None;
        let plan = failed_plan(now);
        let cx = context(now);
        let b = body(&cx, plan.event, Some(&report), Some(&plan));
        let line = failure_line(
            Failure {
                change: Change::Raised,
                since: now,
            },
            &b,
        );
        assert!(
            line.ends_with("could not decide: no table could be judged"),
            "{line}"
        );
        let forever = std::time::Duration::from_hours(300_000 * 365 * 24);
        let alerts = alertmanager(&cx, &plan, forever);
        let ends = alerts[0]["endsAt"].as_str().expect("endsAt");
        assert!(ends.starts_with("9999-"), "{ends}");
    }
}
