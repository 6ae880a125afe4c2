//! How long a table has held its level: the run of consecutive runs at the same level that ends
//! with this one, when it began, what the level was before it, and whether the drift is rising.

use super::{PastRun, TableRecord};
use crate::gate::Status;

/// A table's current level over the runs of the history.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Streak {
    /// Consecutive runs at this level, this one included.
    pub runs: u64,
    /// Start time of the first run of the streak (RFC 3339).
    pub since: String,
    /// The level of the run before the streak, when there was one.
    pub previous: Option<Status>,
    /// The drift of this run against the run before it.
    pub direction: Option<Direction>,
}

/// Which way the drift went since the previous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Higher than in the previous run.
    Rising,
    /// Lower than in the previous run.
    Falling,
    /// The same.
    Steady,
}

/// A level as the history stores it: its name, or an older run's `warn`/`fail`.
pub fn stored_level(name: &str) -> Status {
    match name {
        "pass" => Status::Pass,
        "warn" | "warning" => Status::Warning,
        "fail" | "critical" => Status::Critical,
        "rollback" => Status::Rollback,
        _ => Status::Error,
    }
}

/// The streak of `t` ending with this run (started at `started_at`), over `past` (oldest first).
pub(crate) fn streak(past: &[PastRun], started_at: &str, t: &TableRecord<'_>) -> Streak {
    let earlier: Vec<(&str, Status, f64)> = super::table_runs(past, t.name).collect();
    let held = earlier
        .iter()
        .rev()
        .take_while(|(_, level, _)| *level == t.status)
        .count();
    let since = held
        .checked_sub(1)
        .and_then(|first| earlier.iter().rev().nth(first))
        .map_or(started_at, |(at, _, _)| at);
    let previous = earlier.iter().rev().nth(held).map(|(_, level, _)| *level);
    let direction = earlier.last().map(|(_, _, drift)| {
        if t.drift_ratio > *drift {
            Direction::Rising
        } else if t.drift_ratio < *drift {
            Direction::Falling
        } else {
            Direction::Steady
        }
    });
    Streak {
        runs: u64::try_from(held).unwrap_or(u64::MAX).saturating_add(1),
        since: since.to_owned(),
        previous,
        direction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spill::KeyLog;

    fn run(at: &str, status: &str, drift: f64) -> PastRun {
        PastRun {
            id: at.to_owned(),
            started_at: at.to_owned(),
            verdict: status.to_owned(),
            tables: vec![("t".to_owned(), status.to_owned(), drift)],
            checks: Vec::new(),
        }
    }

    fn now(status: Status, drift: f64, keys: &KeyLog) -> TableRecord<'_> {
        TableRecord {
            name: "t",
            status,
            drift_ratio: drift,
            counts: [0; 6],
            keys,
        }
    }

    #[test]
    fn counts_the_runs_at_this_level_and_names_the_one_before() {
        let keys = KeyLog::default();
        let past = [
            run("01:45", "warning", 0.0006),
            run("02:00", "pass", 0.0),
            run("02:15", "critical", 0.002),
            run("02:30", "fail", 0.003),
        ];
        let s = streak(&past, "02:45", &now(Status::Critical, 0.004, &keys));
        assert_eq!(s.runs, 3);
        assert_eq!(s.since, "02:15");
        assert_eq!(s.previous, Some(Status::Pass));
        assert_eq!(s.direction, Some(Direction::Rising));
    }

    #[test]
    fn a_new_level_holds_since_this_run() {
        let keys = KeyLog::default();
        let past = [run("02:00", "critical", 0.002)];
        let s = streak(&past, "02:15", &now(Status::Pass, 0.0, &keys));
        assert_eq!((s.runs, s.since.as_str()), (1, "02:15"));
        assert_eq!(s.previous, Some(Status::Critical));
        assert_eq!(s.direction, Some(Direction::Falling));
        let first = streak(&[], "02:15", &now(Status::Pass, 0.0, &keys));
        assert_eq!(
            (first.runs, first.previous, first.direction),
            (1, None, None)
        );
    }
}
