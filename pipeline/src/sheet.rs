//! Sheets: the CSV files that people and collectors hand to kakin.
//!
//! Files edited in spreadsheet programs arrive as UTF-8 (with or without a BOM) or as CP932,
//! with no flag to say which; columns may come in any order, optional ones may be missing,
//! unknown ones are an error. A [`Sheet`] decodes the text, checks the header against the
//! columns a feed expects and hands out rows that know their line, so that every problem is
//! reported as `file:line: column: reason`.

use crate::domain::{Parse, ParseError, Problem};
use std::collections::HashMap;

/// The columns a feed expects: required ones and optional ones.
pub struct Columns {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

/// A decoded CSV file whose header matched its [`Columns`].
pub struct Sheet {
    file: String,
    index: HashMap<String, usize>,
    rows: Vec<(u64, csv::StringRecord)>,
}

/// A file whose header or encoding is wrong, as problems.
pub type SheetResult<T> = Result<T, Vec<Problem>>;

impl Sheet {
    /// Decode `bytes` (named `file` in problems) and check the header against `columns`.
    pub fn read(file: &str, bytes: &[u8], columns: &Columns) -> SheetResult<Sheet> {
        let whole_file = |column: &str, reason: String| Problem {
            file: file.to_owned(),
            line: 1,
            column: column.to_owned(),
            reason,
        };
        let text = decode(bytes).ok_or_else(|| {
            vec![whole_file(
                "-",
                "the file is neither UTF-8 nor CP932 text".into(),
            )]
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            Some(Ok(header)) => header,
            _ => return Err(vec![whole_file("-", "the file has no header row".into())]),
        };
        let index = check_header(&header, columns).map_err(|reasons| {
            reasons
                .into_iter()
                .map(|(c, r)| whole_file(&c, r))
                .collect::<Vec<_>>()
        })?;
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        for record in records {
            match record {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line());
                    rows.push((line, record));
                }
                Err(err) => problems.push(Problem {
                    file: file.to_owned(),
                    line: err.position().map_or(0, |p| p.line()),
                    column: "-".into(),
                    reason: format!("unreadable CSV: {err}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Sheet {
            file: file.to_owned(),
            index,
            rows,
        })
    }

    /// The data rows, in line order, each checked to have as many fields as the header.
    pub fn rows(&self) -> impl Iterator<Item = Result<Row<'_>, Problem>> {
        self.rows.iter().map(move |(line, record)| {
            if record.len() != self.index.len() {
                return Err(Problem {
                    file: self.file.clone(),
                    line: *line,
                    column: "-".into(),
                    reason: format!(
                        "has {} fields, the header has {}",
                        record.len(),
                        self.index.len()
                    ),
                });
            }
            Ok(Row {
                sheet: self,
                line: *line,
                record,
            })
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }
}

/// UTF-8 (a BOM allowed) or else CP932; `None` when the bytes are neither.
pub fn decode(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_owned());
    }
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    (!had_errors).then(|| text.into_owned())
}

fn check_header(
    header: &csv::StringRecord,
    columns: &Columns,
) -> Result<HashMap<String, usize>, Vec<(String, String)>> {
    let mut index = HashMap::new();
    let mut reasons = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim();
        let known = columns.required.contains(&name) || columns.optional.contains(&name);
        if !known {
            reasons.push((name.to_owned(), "unknown column".to_owned()));
        } else if index.insert(name.to_owned(), i).is_some() {
            reasons.push((name.to_owned(), "column appears twice".to_owned()));
        }
    }
    for required in columns.required {
        if !index.contains_key(*required) {
            reasons.push(((*required).to_owned(), "missing column".to_owned()));
        }
    }
    if reasons.is_empty() {
        Ok(index)
    } else {
        Err(reasons)
    }
}

/// One data row of a [`Sheet`]: its fields by column name, parsed into domain types.
pub struct Row<'a> {
    sheet: &'a Sheet,
    line: u64,
    record: &'a csv::StringRecord,
}

impl<'a> Row<'a> {
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The raw text of a column; empty when an optional column is missing.
    pub fn text(&self, column: &str) -> &'a str {
        self.sheet
            .index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }

    /// A problem at this row and `column`.
    pub fn problem(&self, column: &str, reason: impl Into<String>) -> Problem {
        Problem {
            file: self.sheet.file.clone(),
            line: self.line,
            column: column.to_owned(),
            reason: reason.into(),
        }
    }

    /// A column parsed with `parse`, its error located here.
    pub fn with<T>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<T, Problem> {
        parse(self.text(column)).map_err(|e| self.problem(column, e.0))
    }

    /// A required column parsed into `T`.
    pub fn get<T: Parse>(&self, column: &str) -> Result<T, Problem> {
        self.with(column, T::parse)
    }

    /// An optional column: empty means none.
    pub fn optional<T: Parse>(&self, column: &str) -> Result<Option<T>, Problem> {
        match self.text(column) {
            "" => Ok(None),
            text => T::parse(text)
                .map(Some)
                .map_err(|e| self.problem(column, e.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: Columns = Columns {
        required: &["code", "name"],
        optional: &["note"],
    };

    #[test]
    fn cp932_and_bom_are_decoded() {
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode("code,name\nA,株式会社テスト\n");
        let sheet = Sheet::read("t.csv", &cp932, &COLUMNS).unwrap();
        let row = sheet.rows().next().unwrap().unwrap();
        assert_eq!(row.text("name"), "株式会社テスト");
        assert_eq!(row.line(), 2);
        let bom = "\u{feff}name,code\n株式会社,B\n".as_bytes();
        let sheet = Sheet::read("t.csv", bom, &COLUMNS).unwrap();
        let row = sheet.rows().next().unwrap().unwrap();
        assert_eq!((row.text("code"), row.text("note")), ("B", ""));
    }

    #[test]
    fn headers_are_checked() {
        let problems = Sheet::read("t.csv", b"code,extra\n", &COLUMNS)
            .err()
            .unwrap();
        let said: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            said,
            [
                "t.csv:1: extra: unknown column",
                "t.csv:1: name: missing column"
            ]
        );
    }

    #[test]
    fn a_short_row_is_a_problem_of_its_line() {
        let sheet = Sheet::read("t.csv", b"code,name\nA,x\nB\n", &COLUMNS).unwrap();
        let rows: Vec<_> = sheet.rows().collect();
        assert!(rows[0].is_ok());
        assert_eq!(rows[1].as_ref().err().unwrap().line, 3);
    }
}
