//! When `recon watch` runs: ticks aligned to whole multiples of the interval since the Unix
//! epoch (so `--every 15m` runs at :00, :15, :30, :45 whenever it was started), and the next
//! daily summary at a time of day in a zone.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};

use crate::config::DailyAt;

/// The first tick strictly after `after`: the next whole multiple of `every` since the epoch.
pub fn next_tick(after: DateTime<Utc>, every: Duration) -> DateTime<Utc> {
    let step = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    let now = after.timestamp_millis();
    let next = (now.div_euclid(step) + 1).saturating_mul(step);
    DateTime::from_timestamp_millis(next).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Ticks that passed while a run took from `started` to `ended`, beyond the one it ran for:
/// how many runs an overrun skipped (0 when it ended before the next tick).
pub fn skipped_ticks(started: DateTime<Utc>, ended: DateTime<Utc>, every: Duration) -> u64 {
    let step = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    let first = started.timestamp_millis().div_euclid(step);
    let last = ended.timestamp_millis().div_euclid(step);
    u64::try_from(last - first).unwrap_or(0)
}

/// When the daily summary is next due strictly after `after`: today's `at` in its zone, or
/// tomorrow's once that has passed. A time the zone skips (a daylight-saving gap) is taken an
/// hour later; a time it repeats, at its first occurrence.
pub fn next_daily(after: DateTime<Utc>, at: &DailyAt) -> DateTime<Utc> {
    let local_day = after.with_timezone(&at.zone).date_naive();
    let mut day = local_day;
    for _ in 0..3 {
        if let Some(t) = occurrence(day, at)
            && t > after
        {
            return t;
        }
        day = day.checked_add_days(Days::new(1)).unwrap_or(day);
    }
    // Unreachable for real zones: three consecutive days hold a later occurrence.
    after + chrono::Duration::days(1)
}

/// Whether the daily summary goes out after a run that ended at `ended`, and when it is due
/// next. It goes with the first run completing at or after its time; a run whose config did not
/// load (`destinations_known` false) leaves it due for the next run.
pub fn summary_after(
    due: Option<DateTime<Utc>>,
    at: Option<&DailyAt>,
    ended: DateTime<Utc>,
    destinations_known: bool,
) -> (bool, Option<DateTime<Utc>>) {
    match (due, at) {
        (Some(d), Some(at)) if ended >= d && destinations_known => {
            (true, Some(next_daily(ended, at)))
        }
        _ => (false, due),
    }
}

/// `at` on the given local day, in UTC.
fn occurrence(day: NaiveDate, at: &DailyAt) -> Option<DateTime<Utc>> {
    let local = day.and_hms_opt(at.hour, at.minute, 0)?;
    let resolved = at.zone.from_local_datetime(&local).earliest().or_else(|| {
        let later = local + chrono::Duration::hours(1);
        at.zone.from_local_datetime(&later).earliest()
    })?;
    Some(resolved.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn ticks_are_whole_multiples_of_the_interval() {
        let quarter = Duration::from_mins(15);
        assert_eq!(
            next_tick(t("2026-03-01T10:07:12Z"), quarter),
            t("2026-03-01T10:15:00Z")
        );
        // Exactly on a tick: the next one, never the same instant twice.
        assert_eq!(
            next_tick(t("2026-03-01T10:15:00Z"), quarter),
            t("2026-03-01T10:30:00Z")
        );
        assert_eq!(
            next_tick(t("2026-03-01T23:59:59.5Z"), Duration::from_secs(2)),
            t("2026-03-02T00:00:00Z")
        );
    }

    #[test]
    fn an_overrun_counts_the_ticks_it_skipped() {
        let quarter = Duration::from_mins(15);
        let start = t("2026-03-01T10:00:00Z");
        assert_eq!(skipped_ticks(start, t("2026-03-01T10:14:59Z"), quarter), 0);
        assert_eq!(skipped_ticks(start, t("2026-03-01T10:15:00Z"), quarter), 1);
        assert_eq!(skipped_ticks(start, t("2026-03-01T10:40:00Z"), quarter), 2);
    }

    #[test]
    fn a_daily_summary_waits_for_a_run_that_knows_its_destinations() {
        let at = DailyAt::parse("08:00").expect("time");
        let due = Some(t("2026-03-01T08:00:00Z"));
        assert_eq!(
            summary_after(due, Some(&at), t("2026-03-01T07:59:00Z"), true),
            (false, due)
        );
        // The config did not load: still due.
        assert_eq!(
            summary_after(due, Some(&at), t("2026-03-01T08:05:00Z"), false),
            (false, due)
        );
        assert_eq!(
            summary_after(due, Some(&at), t("2026-03-01T08:20:00Z"), true),
            (true, Some(t("2026-03-02T08:00:00Z")))
        );
    }

    #[test]
    fn the_daily_summary_is_due_today_or_tomorrow_in_its_zone() {
        let utc = DailyAt::parse("08:00").expect("time");
        assert_eq!(
            next_daily(t("2026-03-01T07:59:00Z"), &utc),
            t("2026-03-01T08:00:00Z")
        );
        assert_eq!(
            next_daily(t("2026-03-01T08:00:00Z"), &utc),
            t("2026-03-02T08:00:00Z")
        );
        let berlin = DailyAt::parse("08:00 Europe/Berlin").expect("zone");
        // Winter: UTC+1.
        assert_eq!(
            next_daily(t("2026-01-10T06:00:00Z"), &berlin),
            t("2026-01-10T07:00:00Z")
        );
        // Summer: UTC+2; after today's, tomorrow's.
        assert_eq!(
            next_daily(t("2026-07-10T06:30:00Z"), &berlin),
            t("2026-07-11T06:00:00Z")
        );
        // 02:30 does not exist on the spring-forward night: an hour later.
        let gap = DailyAt::parse("02:30 Europe/Berlin").expect("zone");
        assert_eq!(
            next_daily(t("2026-03-29T00:00:00Z"), &gap),
            t("2026-03-29T01:30:00Z")
        );
    }
}
