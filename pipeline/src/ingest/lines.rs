//! Reading a delivered file line by line (plain or gzip), and splitting one line into its CSV
//! fields with csv-core, so that a bad line is quarantined alone with its raw text.

use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The lines of a file, numbered from 1 (the header).
pub struct Lines {
    reader: Box<dyn BufRead>,
    number: u64,
    buffer: Vec<u8>,
}

impl Lines {
    pub fn open(path: &Path, gzip: bool) -> std::io::Result<Lines> {
        let file = std::fs::File::open(path)?;
        let inner: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(Lines {
            reader: Box::new(BufReader::with_capacity(256 * 1024, inner)),
            number: 0,
            buffer: Vec::new(),
        })
    }

    /// The next line without its line ending, and its number; `None` at the end.
    pub fn next_line(&mut self) -> Option<std::io::Result<(u64, &[u8])>> {
        self.buffer.clear();
        match self.reader.read_until(b'\n', &mut self.buffer) {
            Ok(0) => None,
            Ok(_) => {
                self.number += 1;
                let mut line = self.buffer.as_slice();
                line = line.strip_suffix(b"\n").unwrap_or(line);
                line = line.strip_suffix(b"\r").unwrap_or(line);
                if self.number == 1 {
                    line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
                }
                Some(Ok((self.number, line)))
            }
            Err(e) => Some(Err(e)),
        }
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

    pub fn split<'a>(&'a mut self, line: &str) -> Vec<&'a str> {
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
}
