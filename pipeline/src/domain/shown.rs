//! How people read figures and dates (`lake.md`): yen with separators on documents
//! (`¥37,642`, `12,345`), months `2026年10月` and days `2026年11月01日`. Exports, documents
//! and emails format through these and nothing else.

use super::{Month, Yen};
use chrono::{Datelike, NaiveDate};

impl Yen {
    /// `12,345`, `-1,234`, `0`.
    pub fn grouped(self) -> String {
        grouped(self.0)
    }

    /// `¥37,642`, `-¥1,234`.
    pub fn with_mark(self) -> String {
        let digits = grouped(self.0.unsigned_abs() as i128);
        let sign = if self.0 < 0 { "-" } else { "" };
        format!("{sign}¥{digits}")
    }
}

impl super::UnitPrice {
    /// `0.4`, `20`, `25,000`, `-1,234.5`: as written, the whole part grouped.
    pub fn grouped(self) -> String {
        let written = self.to_string();
        let (sign, unsigned) = match written.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", written.as_str()),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, format!(".{fraction}")),
            None => (unsigned, String::new()),
        };
        let whole: i128 = whole.parse().expect("a decimal's whole part is digits");
        format!("{sign}{}{fraction}", grouped(whole))
    }
}

/// A count or an amount with thousands separators.
pub fn grouped(value: impl Into<i128>) -> String {
    let value: i128 = value.into();
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `2019年12月`.
pub fn japanese_month(month: Month) -> String {
    let first = month.first_day();
    format!("{}年{:02}月", first.year(), first.month())
}

/// `2019年12月01日`.
pub fn japanese_date(date: NaiveDate) -> String {
    format!("{}年{:02}月{:02}日", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Parse;

    #[test]
    fn figures_and_dates_as_the_guide_writes_them() {
        assert_eq!(Yen(83_188).grouped(), "83,188");
        assert_eq!(Yen(-1_234_567).grouped(), "-1,234,567");
        assert_eq!(Yen(605).grouped(), "605");
        assert_eq!(Yen(0).with_mark(), "¥0");
        assert_eq!(Yen(37_642).with_mark(), "¥37,642");
        assert_eq!(Yen(-1_000).with_mark(), "-¥1,000");
        assert_eq!(Yen(i64::MIN).grouped(), "-9,223,372,036,854,775,808");
        let price = |text: &str| crate::domain::UnitPrice::parse(text).unwrap().grouped();
        assert_eq!(price("0.4"), "0.4");
        assert_eq!(price("25000"), "25,000");
        assert_eq!(price("-1234.50"), "-1,234.5");
        assert_eq!(price("100.00"), "100");
        assert_eq!(
            japanese_month(Month::parse("2019-12").unwrap()),
            "2019年12月"
        );
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(japanese_date(day), "2026年11月01日");
    }
}
