//! Reading a delivered file line by line (plain or gzip), and splitting one line into its CSV
//! fields with csv-core, so that a bad line is quarantined alone with its raw text.

use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The longest line kept: a longer one is one `malformed` row, and only its length is kept,
/// so that memory stays flat whatever a file holds (a gzip of one endless line included).
pub const MAX_LINE: usize = 64 * 1024;

/// A line of a file, without its line ending.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Text(&'a [u8]),
    /// Longer than [`MAX_LINE`]: its length in bytes, and its first bytes.
    TooLong(u64, &'a [u8]),
}

/// The lines of a file, numbered from 1 (the header). A line ends at LF, CRLF or a lone CR
/// (old spreadsheet exports), so no line is ever swallowed by another.
pub struct Lines {
    reader: Box<dyn BufRead>,
    number: u64,
    buffer: Vec<u8>,
    /// The last line ended with CR: an LF right after it belongs to that line ending.
    after_cr: bool,
}

impl Lines {
    pub fn open(path: &Path, gzip: bool) -> std::io::Result<Lines> {
        let file = std::fs::File::open(path)?;
        let inner: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(Lines::new(Box::new(BufReader::with_capacity(
            256 * 1024,
            inner,
        ))))
    }

    fn new(reader: Box<dyn BufRead>) -> Lines {
        Lines {
            reader,
            number: 0,
            buffer: Vec::new(),
            after_cr: false,
        }
    }

    /// The next line and its number; `None` at the end.
    pub fn next_line(&mut self) -> Option<std::io::Result<(u64, Line<'_>)>> {
        self.buffer.clear();
        let mut length: u64 = 0;
        let mut ended = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if available.is_empty() {
                break;
            }
            if self.after_cr {
                self.after_cr = false;
                if available[0] == b'\n' {
                    self.reader.consume(1);
                    continue;
                }
            }
            let end = memchr::memchr2(b'\n', b'\r', available);
            let taken = end.unwrap_or(available.len());
            let room = MAX_LINE.saturating_sub(self.buffer.len());
            self.buffer.extend_from_slice(&available[..taken.min(room)]);
            length += taken as u64;
            match end {
                Some(at) => {
                    self.after_cr = available[at] == b'\r';
                    self.reader.consume(at + 1);
                    ended = true;
                    break;
                }
                None => self.reader.consume(taken),
            }
        }
        if !ended && length == 0 {
            return None;
        }
        self.number += 1;
        let mut line = self.buffer.as_slice();
        if self.number == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let line = if length > MAX_LINE as u64 {
            Line::TooLong(length, line)
        } else {
            Line::Text(line)
        };
        Some(Ok((self.number, line)))
    }
}

/// Splits one line into CSV fields (quotes as RFC 4180).
pub struct FieldSplitter {
    reader: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl FieldSplitter {
    pub fn new() -> Self {
        FieldSplitter {
            reader: csv_core::Reader::new(),
            output: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// The fields of `line` (a line holds no line ending). Without quotes they are the text
    /// between its commas, taken where they lie; with quotes, they are unquoted by `csv_core`
    /// into the splitter's buffer.
    pub fn split<'a>(&'a mut self, line: &'a str) -> Vec<&'a str> {
        let bytes = line.as_bytes();
        if bytes.is_empty() || memchr::memchr(b'"', bytes).is_some() {
            return self.unquote(line);
        }
        // Room for a feed's columns made once; a longer line grows it.
        let mut fields = Vec::with_capacity(super::feed::MOST_COLUMNS);
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', bytes) {
            fields.push(&line[start..comma]);
            start = comma + 1;
        }
        fields.push(&line[start..]);
        fields
    }

    fn unquote<'a>(&'a mut self, line: &str) -> Vec<&'a str> {
        self.reader.reset();
        self.output.resize(line.len() + 1, 0);
        self.ends.resize(line.len() + 2, 0);
        let (mut input, mut out, mut ends) = (line.as_bytes(), 0, 0);
        loop {
            let (result, read, written, ended) =
                self.reader
                    .read_record(input, &mut self.output[out..], &mut self.ends[ends..]);
            input = &input[read..];
            out += written;
            ends += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => continue,
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
                full => unreachable!("the buffers fit the line: {full:?}"),
            }
        }
        let mut start = 0;
        self.ends[..ends]
            .iter()
            .map(|&end| {
                let field = std::str::from_utf8(&self.output[start..end])
                    .expect("fields of a UTF-8 line are UTF-8");
                start = end;
                field
            })
            .collect()
    }
}

/// Fields written back as one CSV line, every field quoted.
pub fn join_fields(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    quoted.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(bytes: &'static [u8]) -> Vec<String> {
        let mut lines = Lines::new(Box::new(BufReader::with_capacity(16, bytes)));
        let mut all = Vec::new();
        while let Some(line) = lines.next_line() {
            let (number, line) = line.unwrap();
            all.push(match line {
                Line::Text(text) => format!("{number}:{}", String::from_utf8_lossy(text)),
                Line::TooLong(length, _) => format!("{number}:too long ({length})"),
            });
        }
        all
    }

    #[test]
    fn lf_crlf_and_a_lone_cr_each_end_a_line() {
        assert_eq!(
            lines_of(b"h\na\r\nb\rc\n\nd"),
            ["1:h", "2:a", "3:b", "4:c", "5:", "6:d"]
        );
        // A CRLF split across two reads of the buffer is still one line ending.
        assert_eq!(
            lines_of(b"0123456789abcde\r\nx\r"),
            ["1:0123456789abcde", "2:x"]
        );
        assert_eq!(lines_of(b"\xEF\xBB\xBFh\n"), ["1:h"], "a BOM is not text");
    }

    #[test]
    fn a_line_longer_than_the_limit_is_kept_as_its_length_only() {
        let long: &'static [u8] = Box::leak(
            [b"h\n".as_slice(), &vec![b'x'; MAX_LINE + 10], b"\nnext\n"]
                .concat()
                .into_boxed_slice(),
        );
        assert_eq!(
            lines_of(long),
            [
                "1:h".to_owned(),
                format!("2:too long ({})", MAX_LINE + 10),
                "3:next".into()
            ]
        );
    }

    #[test]
    fn fields_split_as_csv_and_join_back() {
        let mut splitter = FieldSplitter::new();
        assert_eq!(
            splitter.split("a,\"b,c\",,d\"\""),
            ["a", "b,c", "", "d\"\""]
        );
        assert_eq!(splitter.split("メダル,1"), ["メダル", "1"]);
        let joined = join_fields(&["x", "say \"hi\"", ""]);
        assert_eq!(splitter.split(&joined), ["x", "say \"hi\"", ""]);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn a_line_splits_as_csv_core_splits_it(line in "[a,\"メ ]{0,16}") {
                let mut splitter = FieldSplitter::new();
                let split: Vec<String> = splitter.split(&line).iter().map(|f| f.to_string()).collect();
                prop_assert_eq!(split, splitter.unquote(&line));
            }

            #[test]
            fn fields_joined_split_back_to_themselves(fields in prop::collection::vec("[^\r\n]{0,12}", 1..8)) {
                let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                let mut splitter = FieldSplitter::new();
                let line = join_fields(&fields);
                prop_assert_eq!(splitter.split(&line), fields);
            }
        }
    }
}
