//! When the unattended jobs are due (`cli.md`: `schedule.ingest`, `schedule.close`, cron
//! expressions with seconds, Asia/Tokyo). Pure rules over the clock and the job ledger, so
//! that `kakin serve` on any number of machines decides alike, and a decision is checked again
//! under the writer lease before a job runs.
//!
//! Catch-up, as systemd's `Persistent=true`: a job whose schedule fired while nobody ran it
//! runs once, not once per missed tick. The nightly ingest is due when its schedule fired after
//! the last ingest run started (or, when it never ran, after the daemon started). The close of
//! month M (the month after the last one closed, or last month when none is) is due once M is
//! over, the close schedule has fired since, and an ingest run that started after M ended has
//! succeeded: the month's last night of ingest comes before its close. A close that fails stays
//! due and is tried again at the next tick.

use crate::domain::{Month, Parse};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Tokyo;
use chrono_tz::Tz;
use std::str::FromStr;

/// A time in Asia/Tokyo.
pub type Jst = DateTime<Tz>;

#[derive(Debug, thiserror::Error)]
#[error("schedule.{job}: {expression:?} is not a cron expression with seconds: {reason}")]
pub struct ScheduleError {
    job: &'static str,
    expression: String,
    reason: String,
}

/// The two schedules.
#[derive(Debug, Clone)]
pub struct Schedules {
    pub ingest: cron::Schedule,
    pub close: cron::Schedule,
}

impl Schedules {
    pub fn parse(ingest: &str, close: &str) -> Result<Schedules, ScheduleError> {
        let parse = |job, expression: &str| {
            cron::Schedule::from_str(expression).map_err(|e| ScheduleError {
                job,
                expression: expression.to_owned(),
                reason: e.to_string(),
            })
        };
        Ok(Schedules {
            ingest: parse("ingest", ingest)?,
            close: parse("close", close)?,
        })
    }

    /// The next time either schedule fires after `now`.
    pub fn next_after(&self, now: &Jst) -> Option<Jst> {
        [&self.ingest, &self.close]
            .into_iter()
            .filter_map(|s| s.after(now).next())
            .min()
    }
}

/// The first time `schedule` fired after `since` and at or before `now`: a firing nobody ran.
pub fn missed(schedule: &cron::Schedule, since: &Jst, now: &Jst) -> Option<Jst> {
    schedule.after(since).next().filter(|fired| fired <= now)
}

/// What the ledger says, as the rules read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// When the last ingest run started (by hand or by schedule).
    pub last_ingest: Option<Jst>,
    /// When the last ingest run that succeeded started.
    pub last_good_ingest: Option<Jst>,
    pub last_closed: Option<Month>,
}

/// When the nightly ingest is due: the firing it catches up, if any.
pub fn ingest_due(schedules: &Schedules, ledger: &Ledger, started: &Jst, now: &Jst) -> Option<Jst> {
    let since = ledger.last_ingest.as_ref().unwrap_or(started);
    missed(&schedules.ingest, since, now)
}

/// The month whose close is due, if any.
pub fn close_due(schedules: &Schedules, ledger: &Ledger, now: &Jst) -> Option<Month> {
    let current = Month::of(now.date_naive());
    let month = ledger.last_closed.map_or(current.previous(), Month::next);
    if month >= current {
        return None;
    }
    let over = midnight(month.next().first_day());
    let fired = missed(
        &schedules.close,
        &(over - chrono::Duration::seconds(1)),
        now,
    );
    let ingested = ledger.last_good_ingest.is_some_and(|at| at >= over);
    (fired.is_some() && ingested).then_some(month)
}

/// 00:00 of `day` in Asia/Tokyo.
pub fn midnight(day: NaiveDate) -> Jst {
    Tokyo
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("Tokyo has no daylight saving time")
}

/// Now, in Asia/Tokyo.
pub fn now() -> Jst {
    Utc::now().with_timezone(&Tokyo)
}

/// The daemon's clock: the real one, or one that starts at a given instant and runs `speed`
/// times as fast — a rehearsal of a month end in minutes, and the tests'. Everything the daemon
/// decides and records (the ledger's times, "yesterday") reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// The real instant the clock started and the time it showed then.
    origin: Option<(DateTime<Utc>, Jst)>,
    speed: u32,
}

impl Clock {
    pub fn real() -> Clock {
        Clock {
            origin: None,
            speed: 1,
        }
    }

    /// A clock showing `start` now and running `speed` times as fast as the real one.
    pub fn accelerated(start: Jst, speed: u32) -> Clock {
        Clock {
            origin: Some((Utc::now(), start)),
            speed: speed.max(1),
        }
    }

    pub fn now(&self) -> Jst {
        match self.origin {
            None => now(),
            Some((real, shown)) => shown + (Utc::now() - real) * self.speed as i32,
        }
    }

    /// When a daemon on this clock started: an accelerated clock's start, however long the
    /// daemon then took to begin scheduling (at thousands of times the real speed, a few
    /// milliseconds of a loaded machine are a firing missed); the real clock's now.
    pub fn started(&self) -> Jst {
        match self.origin {
            None => now(),
            Some((_, shown)) => shown,
        }
    }

    /// How long to wait, really, for `span` of this clock's time to pass.
    pub fn real_wait(&self, span: chrono::Duration) -> std::time::Duration {
        (span / self.speed as i32).to_std().unwrap_or_default()
    }
}

/// A ledger timestamp (RFC 3339) in Asia/Tokyo.
pub fn parse_timestamp(text: &str) -> Option<Jst> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Tokyo))
}

/// Yesterday in Asia/Tokyo: the last delivery day a nightly ingest takes (today's folder may
/// still be being written by the collectors).
pub fn yesterday(now: &Jst) -> NaiveDate {
    now.date_naive().pred_opt().expect("a day before today")
}

/// The month `text` names (for the ledger's `closes`).
pub fn month(text: &str) -> Option<Month> {
    Month::parse(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Jst {
        parse_timestamp(text).unwrap()
    }

    #[test]
    fn an_accelerated_clock_started_at_its_start_however_late_it_is_read() {
        let start = at("2026-10-30T01:59:30+09:00");
        let clock = Clock::accelerated(start, 7200);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(clock.now() >= start + chrono::Duration::seconds(140));
        assert_eq!(clock.started(), start);
    }

    fn nightly() -> Schedules {
        Schedules::parse("0 0 2 * * *", "0 0 4 1 * *").unwrap()
    }

    #[test]
    fn a_missed_night_runs_once_on_start_not_once_per_missed_tick() {
        let schedules = nightly();
        let ledger = Ledger {
            last_ingest: Some(at("2026-10-28T02:00:00+09:00")),
            ..Ledger::default()
        };
        let started = at("2026-11-03T09:00:00+09:00");
        // Down from the 28th to the 3rd: five nights missed, one run due.
        let due = ingest_due(&schedules, &ledger, &started, &started);
        assert_eq!(due, Some(at("2026-10-29T02:00:00+09:00")));
        let ran = Ledger {
            last_ingest: Some(started),
            ..ledger
        };
        assert_eq!(ingest_due(&schedules, &ran, &started, &started), None);
        let next_night = at("2026-11-04T02:00:00+09:00");
        assert_eq!(
            ingest_due(&schedules, &ran, &started, &next_night),
            Some(next_night)
        );
    }

    #[test]
    fn a_job_that_never_ran_waits_for_its_schedule() {
        let started = at("2026-11-03T09:00:00+09:00");
        let due = ingest_due(&nightly(), &Ledger::default(), &started, &started);
        assert_eq!(due, None);
    }

    #[test]
    fn a_close_waits_for_its_months_last_night_of_ingest() {
        let schedules = nightly();
        let october_closed_before = Ledger {
            last_closed: Some(month("2026-09").unwrap()),
            last_ingest: Some(at("2026-10-31T02:00:00+09:00")),
            last_good_ingest: Some(at("2026-10-31T02:00:00+09:00")),
        };
        let after_close_time = at("2026-11-01T05:00:00+09:00");
        assert_eq!(
            close_due(&schedules, &october_closed_before, &after_close_time),
            None,
            "the night of the 31st is not ingested yet"
        );
        let ingested = Ledger {
            last_good_ingest: Some(at("2026-11-01T02:00:00+09:00")),
            ..october_closed_before.clone()
        };
        assert_eq!(
            close_due(&schedules, &ingested, &at("2026-11-01T03:59:59+09:00")),
            None,
            "before the close's time"
        );
        assert_eq!(
            close_due(&schedules, &ingested, &after_close_time),
            month("2026-10")
        );
        // A failed close stays due; once October is closed, nothing is until December.
        assert_eq!(
            close_due(&schedules, &ingested, &at("2026-11-20T02:00:00+09:00")),
            month("2026-10")
        );
        let closed = Ledger {
            last_closed: month("2026-10"),
            ..ingested
        };
        assert_eq!(
            close_due(&schedules, &closed, &at("2026-11-30T23:59:59+09:00")),
            None
        );
    }

    #[test]
    fn months_missed_while_down_close_one_after_the_other() {
        let ledger = Ledger {
            last_closed: month("2026-07"),
            last_ingest: Some(at("2026-11-03T02:00:00+09:00")),
            last_good_ingest: Some(at("2026-11-03T02:00:00+09:00")),
        };
        let now = at("2026-11-03T09:00:00+09:00");
        assert_eq!(close_due(&nightly(), &ledger, &now), month("2026-08"));
        let next = Ledger {
            last_closed: month("2026-08"),
            ..ledger
        };
        assert_eq!(close_due(&nightly(), &next, &now), month("2026-09"));
    }

    #[test]
    fn firings_fall_on_the_right_jst_instants_across_a_year_end_and_a_leap_day() {
        let schedules = nightly();
        let fires = |from: &str, n: usize| -> Vec<String> {
            schedules
                .close
                .after(&at(from))
                .take(n)
                .map(|t| t.to_rfc3339())
                .collect()
        };
        assert_eq!(
            fires("2026-11-15T00:00:00+09:00", 3),
            [
                "2026-12-01T04:00:00+09:00",
                "2027-01-01T04:00:00+09:00",
                "2027-02-01T04:00:00+09:00"
            ]
        );
        let nights: Vec<String> = schedules
            .ingest
            .after(&at("2028-02-28T03:00:00+09:00"))
            .take(2)
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(
            nights,
            ["2028-02-29T02:00:00+09:00", "2028-03-01T02:00:00+09:00"]
        );
        // 02:00 JST is 17:00 UTC the day before: the schedule is Tokyo's, not the machine's.
        assert_eq!(
            schedules
                .ingest
                .after(&at("2026-12-31T12:00:00Z"))
                .next()
                .unwrap()
                .to_rfc3339(),
            "2027-01-01T02:00:00+09:00"
        );
    }

    #[test]
    fn three_days_down_across_a_month_end_catch_up_the_ingest_once_then_the_close() {
        let schedules = nightly();
        let mut ledger = Ledger {
            last_closed: month("2026-10"),
            last_ingest: Some(at("2026-11-29T02:00:00+09:00")),
            last_good_ingest: Some(at("2026-11-29T02:00:00+09:00")),
        };
        let started = at("2026-12-02T08:00:00+09:00");
        assert_eq!(
            close_due(&schedules, &ledger, &started),
            None,
            "not before the ingest"
        );
        assert!(ingest_due(&schedules, &ledger, &started, &started).is_some());
        ledger.last_ingest = Some(started);
        ledger.last_good_ingest = Some(started);
        assert_eq!(
            ingest_due(&schedules, &ledger, &started, &started),
            None,
            "once"
        );
        assert_eq!(close_due(&schedules, &ledger, &started), month("2026-11"));
    }

    #[test]
    fn an_accelerated_clock_runs_from_its_start_at_its_speed() {
        let start = at("2026-10-31T23:00:00+09:00");
        let clock = Clock::accelerated(start, 3600);
        let shown = clock.now();
        assert!(
            shown >= start && shown < start + chrono::Duration::minutes(10),
            "{shown}"
        );
        let hour = clock.real_wait(chrono::Duration::hours(1));
        assert_eq!(hour, std::time::Duration::from_secs(1));
        assert_eq!(
            Clock::real()
                .real_wait(chrono::Duration::seconds(3))
                .as_secs(),
            3
        );
    }

    #[test]
    fn schedules_are_cron_with_seconds_in_tokyo() {
        assert!(
            Schedules::parse("0 2 * * *", "0 0 4 1 * *").is_err(),
            "no seconds field"
        );
        let schedules = nightly();
        let next = schedules.next_after(&at("2026-11-30T03:00:00+09:00"));
        assert_eq!(next, Some(at("2026-12-01T02:00:00+09:00")));
        assert_eq!(
            yesterday(&at("2026-12-01T00:30:00+09:00")).to_string(),
            "2026-11-30"
        );
    }
}
