//! Reading a delivered file against its feed's header, a chunk of lines at a time: each line
//! parsed as far as it goes (`malformed`, `invalid_value`), its raw text kept for the
//! quarantine.

use super::feed::{reject, Event, Feed, Rejection, MOST_COLUMNS};
use super::lines::{join_fields, FieldSplitter, Line as FileLine, Lines, MAX_LINE};
use crate::domain::QuarantineReason;
use arrayvec::ArrayVec;

/// Lines read per round trip to the database for earlier ids.
pub(super) const CHUNK: usize = 8 * 1024;

/// Bytes of a typical line, to size a chunk's text once (a longer chunk grows it).
const TYPICAL_LINE: usize = 96;

/// A line of a delivered file, parsed as far as it goes.
pub(super) struct Line {
    pub(super) number: u64,
    /// Where the line's text is in its chunk's text.
    pub(super) raw: std::ops::Range<usize>,
    pub(super) parsed: Result<(Event, i64), Rejection>,
}

/// Lines of one file read together, their texts in one buffer.
pub(super) struct Chunk {
    /// The feed of the chunk's file.
    pub(super) feed: Feed,
    /// Whether the chunk is its file's last.
    pub(super) last: bool,
    pub(super) lines: Vec<Line>,
    /// Blank lines read (not rows, but reported).
    pub(super) blank: u64,
    pub(super) text: String,
    /// Where the feed's columns are in the file's lines, when its header is right.
    pub(super) positions: Option<Vec<usize>>,
}

/// Reads a delivered file's lines against its header.
pub(super) struct FileReader {
    feed: Feed,
    /// For each of the feed's columns, its position in the file; `Err` with the reason when
    /// the header is wrong (then every data line is malformed).
    positions: Result<Vec<usize>, String>,
    width: usize,
    splitter: FieldSplitter,
    header_read: bool,
}

impl FileReader {
    pub(super) fn new(feed: Feed) -> Self {
        FileReader {
            feed,
            positions: Err("no header".into()),
            width: 0,
            splitter: FieldSplitter::new(),
            header_read: false,
        }
    }

    fn read_header(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            self.positions = Err("the header is not UTF-8 text".into());
            return;
        };
        let names: Vec<String> = self
            .splitter
            .split(text)
            .iter()
            .map(|n| n.trim().to_owned())
            .collect();
        self.width = names.len();
        let columns = self.feed.columns();
        let positions: Option<Vec<usize>> = columns
            .iter()
            .map(|c| names.iter().position(|n| n == c))
            .collect();
        self.positions = match positions {
            Some(p) if names.len() == columns.len() => Ok(p),
            _ => Err(format!(
                "wrong header {:?}: expected the columns {}",
                names.join(","),
                columns.join(",")
            )),
        };
    }

    /// Read up to a chunk of data lines.
    pub(super) fn read_chunk(&mut self, lines: &mut Lines) -> Chunk {
        let mut chunk = Chunk {
            feed: self.feed,
            last: false,
            lines: Vec::with_capacity(CHUNK),
            blank: 0,
            text: String::with_capacity(CHUNK * TYPICAL_LINE),
            positions: None,
        };
        chunk.last = self.fill(lines, &mut chunk);
        chunk.positions = self.positions.as_ref().ok().cloned();
        chunk
    }

    fn fill(&mut self, lines: &mut Lines, chunk: &mut Chunk) -> bool {
        while chunk.lines.len() < CHUNK {
            let (number, bytes) = match lines.next_line() {
                None => return true,
                Some(Ok(line)) => line,
                Some(Err(e)) => {
                    let number = 0;
                    let parsed = Err(reject(
                        QuarantineReason::Malformed,
                        format!("the rest of the file is unreadable: {e}"),
                    ));
                    chunk.lines.push(Line {
                        number,
                        raw: 0..0,
                        parsed,
                    });
                    return true;
                }
            };
            let bytes = match bytes {
                FileLine::Text(bytes) => bytes,
                FileLine::TooLong(..) if !self.header_read => {
                    self.header_read = true;
                    self.positions = Err("the header line is too long".into());
                    continue;
                }
                FileLine::TooLong(length, start) => {
                    let raw = chunk.text.len();
                    chunk.text.push_str(&String::from_utf8_lossy(start));
                    let detail = format!(
                        "the line is {length} bytes long, over the limit of {MAX_LINE} \
                         (its first {MAX_LINE} bytes are kept)"
                    );
                    chunk.lines.push(Line {
                        number,
                        raw: raw..chunk.text.len(),
                        parsed: Err(reject(QuarantineReason::Malformed, detail)),
                    });
                    continue;
                }
            };
            if !self.header_read {
                self.header_read = true;
                self.read_header(bytes);
                continue;
            }
            if bytes.is_empty() {
                chunk.blank += 1;
                continue;
            }
            let start = chunk.text.len();
            let parsed = match std::str::from_utf8(bytes) {
                Err(_) => {
                    chunk.text.push_str(&String::from_utf8_lossy(bytes));
                    Err(reject(
                        QuarantineReason::Malformed,
                        "the line is not UTF-8 text",
                    ))
                }
                Ok(text) => {
                    chunk.text.push_str(text);
                    self.parse(text)
                }
            };
            let raw = start..chunk.text.len();
            chunk.lines.push(Line {
                number,
                raw,
                parsed,
            });
        }
        false
    }

    fn parse(&mut self, text: &str) -> Result<(Event, i64), Rejection> {
        let positions = self
            .positions
            .as_ref()
            .map_err(|e| reject(QuarantineReason::Malformed, e.clone()))?;
        let fields = self.splitter.split(text);
        if fields.len() != self.width {
            let detail = format!("has {} fields, the header has {}", fields.len(), self.width);
            return Err(reject(QuarantineReason::Malformed, detail));
        }
        let ordered: ArrayVec<&str, MOST_COLUMNS> = positions.iter().map(|&p| fields[p]).collect();
        let event = self.feed.parse(&ordered)?;
        let content = event.content_hash();
        Ok((event, content))
    }
}

/// A line's fields in the feed's column order (`positions`), as one CSV line (kept for retries).
pub(super) fn canonical_fields(positions: &[usize], raw: &str) -> String {
    let mut splitter = FieldSplitter::new();
    let fields = splitter.split(raw);
    let ordered: Vec<&str> = positions.iter().map(|&p| fields[p]).collect();
    join_fields(&ordered)
}
