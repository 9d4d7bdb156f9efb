//! The business calendar: Japan's. Dates and months of events are those of their timestamps in
//! Asia/Tokyo; validity intervals include both their ends.

use super::{Parse, ParseError};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use std::fmt;

/// A calendar date written `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, ParseError> {
    let shaped = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| ParseError::new(format!("{text:?} is not a date YYYY-MM-DD")))
}

/// An RFC 3339 timestamp with its offset (`Z` or `±hh:mm`).
pub fn parse_timestamp(text: &str) -> Result<DateTime<FixedOffset>, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .map_err(|_| ParseError::new(format!("{text:?} is not an RFC 3339 timestamp")))
}

/// The JST date of an instant: the date an event belongs to.
pub fn business_date(at: DateTime<FixedOffset>) -> NaiveDate {
    at.with_timezone(&chrono_tz::Asia::Tokyo).date_naive()
}

/// A calendar month, `YYYY-MM`: a play month, a closing month, an adjusted month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Parse for Month {
    fn parse(text: &str) -> Result<Self, ParseError> {
        let err = || ParseError::new(format!("{text:?} is not a month YYYY-MM"));
        let (year, month) = text.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(err());
        }
        let (year, month) = (
            year.parse().map_err(|_| err())?,
            month.parse().map_err(|_| err())?,
        );
        NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(err)?;
        Ok(Month { year, month })
    }
}

impl Month {
    pub fn of(date: NaiveDate) -> Self {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a parsed month has a first day")
    }

    pub fn next(self) -> Self {
        Month::of(self.last_day().succ_opt().expect("dates do not run out"))
    }

    pub fn previous(self) -> Self {
        Month::of(self.first_day().pred_opt().expect("dates do not run out"))
    }

    pub fn last_day(self) -> NaiveDate {
        let first_of_next = if self.month == 12 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, self.month + 1, 1)
        };
        first_of_next
            .and_then(|d| d.pred_opt())
            .expect("dates do not run out")
    }

    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.first_day()
            .iter_days()
            .take_while(move |d| Month::of(*d) == self)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A validity interval: from `from` to `to`, both days included; no `to` means open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Validity {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Validity {
    /// An interval, if `to` (when given) is not before `from`.
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<Self, ParseError> {
        match to {
            Some(to) if to < from => Err(ParseError::new(format!(
                "valid_to {to} is before valid_from {from}"
            ))),
            _ => Ok(Validity { from, to }),
        }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date <= to)
    }

    pub fn overlaps(&self, other: &Validity) -> bool {
        let ends_before = |a: &Validity, b: &Validity| a.to.is_some_and(|to| to < b.from);
        !ends_before(self, other) && !ends_before(other, self)
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to {
            Some(to) => write!(f, "{} to {}", self.from, to),
            None => write!(f, "{} on", self.from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn the_business_date_is_japans() {
        let at = parse_timestamp("2026-09-30T15:00:30Z").unwrap();
        assert_eq!(business_date(at), date("2026-10-01"));
        let at = parse_timestamp("2026-10-01T00:00:30+09:00").unwrap();
        assert_eq!(business_date(at), date("2026-10-01"));
        let at = parse_timestamp("2026-09-30T14:59:59Z").unwrap();
        assert_eq!(business_date(at), date("2026-09-30"));
    }

    #[test]
    fn months_parse_and_step() {
        let may = Month::parse("2023-05").unwrap();
        assert_eq!(may.to_string(), "2023-05");
        assert_eq!(may.last_day(), date("2023-05-31"));
        assert_eq!(
            Month::parse("2023-12").unwrap().next().to_string(),
            "2024-01"
        );
        assert_eq!(
            Month::parse("2024-01").unwrap().previous().to_string(),
            "2023-12"
        );
        assert_eq!(Month::parse("2024-02").unwrap().days().count(), 29);
        assert!(Month::parse("2023-13").is_err());
        assert!(Month::parse("2023-5").is_err());
    }

    #[test]
    fn validity_includes_both_ends() {
        let a = Validity::new(date("2023-05-01"), Some(date("2023-05-15"))).unwrap();
        let b = Validity::new(date("2023-05-15"), None).unwrap();
        let c = Validity::new(date("2023-05-16"), None).unwrap();
        assert!(a.contains(date("2023-05-15")));
        assert!(!a.contains(date("2023-05-16")));
        assert!(a.overlaps(&b), "sharing the 15th is an overlap");
        assert!(!a.overlaps(&c));
        assert!(b.overlaps(&c), "two open intervals always overlap");
        assert!(Validity::new(date("2023-05-02"), Some(date("2023-05-01"))).is_err());
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2023-5-1").is_err());
        assert!(parse_timestamp("2023-05-01 10:00:00").is_err());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn month() -> impl Strategy<Value = Month> {
            (1900i32..2200, 1u32..=12)
                .prop_map(|(y, m)| Month::parse(&format!("{y:04}-{m:02}")).expect("a month"))
        }

        proptest! {
            #[test]
            fn month_arithmetic_goes_both_ways(m in month()) {
                prop_assert_eq!(m.next().previous(), m);
                prop_assert_eq!(m.previous().next(), m);
                prop_assert!(m.next() > m);
                prop_assert_eq!(Month::parse(&m.to_string()).unwrap(), m);
                prop_assert_eq!(Month::of(m.last_day()), m);
                prop_assert_eq!(m.last_day().succ_opt().unwrap(), m.next().first_day());
                prop_assert_eq!(m.days().count() as u32, chrono::Datelike::day(&m.last_day()));
            }

            #[test]
            fn validity_overlap_is_symmetric(a in 0i64..400, b in 0i64..400, c in 0i64..400, d in 0i64..400,
                                             open_a: bool, open_b: bool) {
                let day = |n: i64| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n as u64);
                let (a, b) = (a.min(b), a.max(b));
                let (c, d) = (c.min(d), c.max(d));
                let first = Validity::new(day(a), (!open_a).then(|| day(b))).unwrap();
                let second = Validity::new(day(c), (!open_b).then(|| day(d))).unwrap();
                prop_assert_eq!(first.overlaps(&second), second.overlaps(&first));
                let shared = (a..=400).any(|n| first.contains(day(n)) && second.contains(day(n)));
                prop_assert_eq!(first.overlaps(&second), shared);
            }
        }
    }
}
