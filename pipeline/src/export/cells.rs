//! The cells of an export as the guide shows them, and the file they make: months
//! `2019年12月`, days `2019年12月01日`, dates `2016/11/7`, amounts without separators, `-`
//! where the guide shows it; UTF-8 with a BOM or CP932; a text a spreadsheet would run as a
//! formula prefixed with `'`.

use crate::domain::Month;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// One cell of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Number(String),
    /// The guide's `-` (no value).
    Dash,
}

impl Cell {
    pub fn text(value: impl ToString) -> Cell {
        Cell::Text(value.to_string())
    }

    /// A text that may be absent (`-`).
    pub fn text_or_dash(value: Option<impl ToString>) -> Cell {
        value.map_or(Cell::Dash, Cell::text)
    }

    pub fn int(value: i64) -> Cell {
        Cell::Number(value.to_string())
    }

    pub fn int_or_dash(value: Option<i64>) -> Cell {
        value.map_or(Cell::Dash, Cell::int)
    }

    /// A unit price or rate: as many decimals as it has (`0.4`, `4850`, `104.5`).
    pub fn decimal(value: Decimal) -> Cell {
        Cell::Number(value.normalize().to_string())
    }

    pub fn decimal_or_dash(value: Option<Decimal>) -> Cell {
        value.map_or(Cell::Dash, Cell::decimal)
    }

    /// `2019年12月`.
    pub fn month(month: Month) -> Cell {
        Cell::Text(crate::domain::japanese_month(month))
    }

    /// `2019年12月01日`.
    pub fn day(date: NaiveDate) -> Cell {
        Cell::Text(crate::domain::japanese_date(date))
    }

    /// `2016/11/7`.
    pub fn date(date: NaiveDate) -> Cell {
        Cell::Text(format!("{}/{}/{}", date.year(), date.month(), date.day()))
    }

    /// The cell as the guide shows it (before neutralising).
    pub fn shown(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Number(s) => s,
            Cell::Dash => "-",
        }
    }

    /// The cell as written: a text a spreadsheet would run as a formula gets a leading `'`.
    fn written(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
                format!("'{s}").into()
            }
            other => other.shown().into(),
        }
    }
}

/// The file's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 with a byte-order mark, which spreadsheet programs take as UTF-8.
    #[default]
    Utf8,
    /// Windows' Japanese code page (Shift_JIS with its extensions).
    Cp932,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("row {row}: {text:?} has a character that CP932 cannot hold")]
    NotInCp932 { row: usize, text: String },
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// The CSV file of `rows` (the first is the header), CRLF-terminated as spreadsheets write it.
pub fn encode(rows: &[Vec<Cell>], encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(row.iter().map(|c| c.written().into_owned()))?;
    }
    let utf8 = writer
        .into_inner()
        .map_err(|e| EncodeError::Csv(e.into_error().into()))?;
    let text = String::from_utf8(utf8).expect("cells are text");
    match encoding {
        Encoding::Utf8 => {
            let mut bytes = "\u{feff}".as_bytes().to_vec();
            bytes.extend_from_slice(text.as_bytes());
            Ok(bytes)
        }
        Encoding::Cp932 => {
            for (row, line) in text.split("\r\n").enumerate() {
                let (_, _, unmappable) = encoding_rs::SHIFT_JIS.encode(line);
                if unmappable {
                    return Err(EncodeError::NotInCp932 {
                        row: row + 1,
                        text: line.to_owned(),
                    });
                }
            }
            Ok(encoding_rs::SHIFT_JIS.encode(&text).0.into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_guide() {
        let month = <Month as crate::domain::Parse>::parse("2019-12").unwrap();
        assert_eq!(Cell::month(month).shown(), "2019年12月");
        let day = NaiveDate::from_ymd_opt(2019, 12, 1).unwrap();
        assert_eq!(Cell::day(day).shown(), "2019年12月01日");
        let date = NaiveDate::from_ymd_opt(2016, 11, 7).unwrap();
        assert_eq!(Cell::date(date).shown(), "2016/11/7");
        assert_eq!(Cell::decimal(Decimal::new(48_500_000, 4)).shown(), "4850");
        assert_eq!(Cell::decimal(Decimal::new(4_000, 4)).shown(), "0.4");
        assert_eq!(Cell::int(-25_000).shown(), "-25000");
    }

    #[test]
    fn formulas_are_neutralised_and_numbers_left_alone() {
        let rows = vec![vec![
            Cell::text("=HYPERLINK(\"x\")"),
            Cell::text("@SUM(A1)"),
            Cell::text("+1"),
            Cell::text("-1"),
            Cell::int(-50),
            Cell::Dash,
            Cell::text("馬蹄石"),
        ]];
        let bytes = encode(&rows, Encoding::Utf8).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\u{feff}\"'=HYPERLINK(\"\"x\"\")\",'@SUM(A1),'+1,'-1,-50,-,馬蹄石\r\n"
        );
    }

    #[test]
    fn cp932_round_trips_and_refuses_what_it_cannot_hold() {
        let rows = vec![vec![Cell::text("取引先名"), Cell::text("株式会社セガ①")]];
        let bytes = encode(&rows, Encoding::Cp932).unwrap();
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        assert_eq!(decoded, "取引先名,株式会社セガ①\r\n");
        let emoji = vec![vec![Cell::text("🎮")]];
        assert!(matches!(
            encode(&emoji, Encoding::Cp932),
            Err(EncodeError::NotInCp932 { row: 1, .. })
        ));
    }
}
