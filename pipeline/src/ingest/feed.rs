//! The two daily logs, `plays` and `purchases`: their columns, how a row is parsed (the
//! `malformed` and `invalid_value` reasons), and how an accepted event is stored in the lake.

use super::sink::Value;
use crate::domain::*;
use crate::lake::layout::EventTable;
use arrayvec::ArrayVec;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use compact_str::CompactString;
use std::sync::{Arc, LazyLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feed {
    Plays,
    Purchases,
}

/// A row the rules refuse: its reason and the detail for the person who fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: QuarantineReason,
    pub detail: String,
}

pub fn reject(reason: QuarantineReason, detail: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        detail: detail.into(),
    }
}

/// The largest count of a play or quantity of a purchase in one event (`feeds.md`).
pub const MAX_QUANTITY: i64 = 1_000_000;

const PLAYS: &[&str] = &[
    "event_id",
    "keychip_id",
    "played_at",
    "title_code",
    "charge_code",
    "count",
];
const PURCHASES: &[&str] = &[
    "transaction_id",
    "keychip_id",
    "purchased_at",
    "title_code",
    "product_code",
    "payment_method",
    "quantity",
    "unit_price",
];

/// The most columns a feed has.
pub const MOST_COLUMNS: usize = 8;
const _: () = assert!(PLAYS.len() <= MOST_COLUMNS && PURCHASES.len() <= MOST_COLUMNS);

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

static PLAYS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("keychip_id", DataType::Utf8, false),
        Field::new("played_at", timestamp(), false),
        Field::new("title_code", DataType::Utf8, false),
        Field::new("charge_code", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
        Field::new("batch", DataType::Utf8, false),
    ]))
});

static PURCHASES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, false),
        Field::new("keychip_id", DataType::Utf8, false),
        Field::new("purchased_at", timestamp(), false),
        Field::new("title_code", DataType::Utf8, false),
        Field::new("product_code", DataType::Utf8, false),
        Field::new("payment_method", DataType::Utf8, false),
        Field::new("quantity", DataType::Int64, false),
        Field::new("unit_price", DataType::Int64, false),
        Field::new("batch", DataType::Utf8, false),
    ]))
});

impl Feed {
    pub const ALL: [Feed; 2] = [Feed::Plays, Feed::Purchases];

    pub fn name(self) -> &'static str {
        self.table().name()
    }

    pub fn from_name(name: &str) -> Option<Feed> {
        Feed::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The columns of the feed's files, in the order kakin keeps their fields.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Feed::Plays => PLAYS,
            Feed::Purchases => PURCHASES,
        }
    }

    pub fn schema(self) -> &'static SchemaRef {
        match self {
            Feed::Plays => &PLAYS_SCHEMA,
            Feed::Purchases => &PURCHASES_SCHEMA,
        }
    }

    /// The lake's table of the feed's accepted events.
    pub fn table(self) -> EventTable {
        match self {
            Feed::Plays => EventTable::Plays,
            Feed::Purchases => EventTable::Purchases,
        }
    }

    /// The lake path of the accepted events of `date` written by `batch`.
    pub fn partition(self, date: NaiveDate, batch: &str) -> String {
        self.table().path(date, batch)
    }

    /// Parse a row whose fields are in [`Feed::columns`] order.
    pub fn parse(self, fields: &[&str]) -> Result<Event, Rejection> {
        let malformed = |column: &str, e: ParseError| {
            reject(QuarantineReason::Malformed, format!("{column}: {e}"))
        };
        let integer = |column: &str, text: &str| {
            text.parse::<i64>().map_err(|_| {
                reject(
                    QuarantineReason::Malformed,
                    format!("{column}: {text:?} is not a whole number"),
                )
            })
        };
        let (time_column, code_column, quantity_column) = match self {
            Feed::Plays => ("played_at", "charge_code", "count"),
            Feed::Purchases => ("purchased_at", "product_code", "quantity"),
        };
        let at = parse_timestamp(fields[2]).map_err(|e| malformed(time_column, e))?;
        let quantity = integer(quantity_column, fields[self.quantity_index()])?;
        let unit_price = match self {
            Feed::Plays => None,
            Feed::Purchases => Some(integer("unit_price", fields[7])?),
        };

        let invalid = |column: &str, e: ParseError| {
            reject(QuarantineReason::InvalidValue, format!("{column}: {e}"))
        };
        let id = EventId::parse(fields[0]).map_err(|e| invalid(self.columns()[0], e))?;
        let keychip = KeychipId::parse(fields[1]).map_err(|e| invalid("keychip_id", e))?;
        let title = TitleCode::parse(fields[3]).map_err(|e| invalid("title_code", e))?;
        let code_ok = match self {
            Feed::Plays => ChargeCode::parse(fields[4]).map(|_| ()),
            Feed::Purchases => ProductCode::parse(fields[4]).map(|_| ()),
        };
        code_ok.map_err(|e| invalid(code_column, e))?;
        let method = match self {
            Feed::Plays => None,
            Feed::Purchases => {
                Some(PaymentMethod::parse(fields[5]).map_err(|e| invalid("payment_method", e))?)
            }
        };
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            let e = ParseError::new(format!("{quantity} is not from 1 to {MAX_QUANTITY}"));
            return Err(invalid(quantity_column, e));
        }
        if let Some(price) = unit_price.filter(|p| *p < 0) {
            return Err(invalid(
                "unit_price",
                ParseError::new(format!("{price} is negative")),
            ));
        }
        Ok(Event {
            feed: self,
            id: id.as_str().into(),
            keychip: keychip.as_str().into(),
            at_micros: at.timestamp_micros(),
            date: business_date(at),
            title: title.as_str().into(),
            code: fields[4].into(),
            method,
            quantity,
            unit_price: unit_price.unwrap_or(0),
        })
    }

    fn quantity_index(self) -> usize {
        match self {
            Feed::Plays => 5,
            Feed::Purchases => 6,
        }
    }
}

/// A parsed event of either feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub feed: Feed,
    pub id: CompactString,
    pub keychip: CompactString,
    /// The instant, in microseconds since the epoch (UTC).
    pub at_micros: i64,
    /// Its business date (JST).
    pub date: NaiveDate,
    pub title: CompactString,
    /// The charge (plays) or the product (purchases).
    pub code: CompactString,
    pub method: Option<PaymentMethod>,
    /// `count` of a play, `quantity` of a purchase.
    pub quantity: i64,
    /// Purchases only; 0 for plays.
    pub unit_price: i64,
}

/// The bytes of an event's content laid out on the stack, not the heap: room for codes far
/// longer than any the master data holds.
const CONTENT_ON_STACK: usize = 256;

impl Event {
    /// A hash (xxh3, 64 bits) of the event's content as parsed: equal for the same values
    /// however they were written. Two contents of one id that differ are told apart but for a
    /// chance of one in 2^64.
    ///
    /// The content is laid out as bytes (each text followed by a zero byte, then the numbers
    /// little-endian) and hashed at once: the same hash as fed piece by piece to a streaming
    /// hasher, for a fraction of the work.
    pub fn content_hash(&self) -> i64 {
        let [at, quantity, price] =
            [self.at_micros, self.quantity, self.unit_price].map(i64::to_le_bytes);
        let method = self.method.map_or("", PaymentMethod::as_str);
        let pieces: [&[u8]; 11] = [
            self.keychip.as_bytes(),
            &[0],
            self.title.as_bytes(),
            &[0],
            self.code.as_bytes(),
            &[0],
            method.as_bytes(),
            &[0],
            &at,
            &quantity,
            &price,
        ];
        let mut content = ArrayVec::<u8, CONTENT_ON_STACK>::new();
        let hash = if pieces.iter().map(|p| p.len()).sum::<usize>() <= content.capacity() {
            for piece in pieces {
                content.try_extend_from_slice(piece).expect("counted above");
            }
            twox_hash::XxHash3_64::oneshot(&content)
        } else {
            twox_hash::XxHash3_64::oneshot(&pieces.concat())
        };
        hash as i64
    }

    /// The event as a row of its feed's lake table (on the stack: one per accepted row).
    pub fn values<'a>(&'a self, batch: &'a str) -> ArrayVec<Value<'a>, 9> {
        let mut values = ArrayVec::new();
        values.extend([
            Value::Str(&self.id),
            Value::Str(&self.keychip),
            Value::Timestamp(self.at_micros),
            Value::Str(&self.title),
            Value::Str(&self.code),
        ]);
        if let Some(method) = self.method {
            values.push(Value::Str(method.as_str()));
        }
        values.push(Value::Int(self.quantity));
        if self.feed == Feed::Purchases {
            values.push(Value::Int(self.unit_price));
        }
        values.push(Value::Str(batch));
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(fields: &str) -> Result<Event, Rejection> {
        let fields: Vec<&str> = fields.split(',').collect();
        Feed::Plays.parse(&fields)
    }

    #[test]
    fn a_play_parses_to_its_jst_date() {
        let event = play("E1,A72E01A0001,2026-09-30T15:00:30Z,SH4,SH4-STONE,700").unwrap();
        assert_eq!(event.date.to_string(), "2026-10-01");
        let same = play("E1,A72E01A0001,2026-10-01T00:00:30+09:00,SH4,SH4-STONE,700").unwrap();
        assert_eq!(
            event.content_hash(),
            same.content_hash(),
            "the same instant is the same content"
        );
        let later = play("E1,A72E01A0001,2026-10-01T00:00:31+09:00,SH4,SH4-STONE,700").unwrap();
        assert_ne!(event.content_hash(), later.content_hash());
        let more = play("E1,A72E01A0001,2026-10-01T00:00:30+09:00,SH4,SH4-STONE,701").unwrap();
        assert_ne!(event.content_hash(), more.content_hash());
    }

    /// Ledgers hold these hashes: a row ingested again must hash as it did when it was
    /// accepted, whatever computes the hash.
    #[test]
    fn content_hashes_are_those_the_ledgers_hold() {
        let play = play("E1,A72E01A0001,2026-09-30T15:00:30Z,SH4,SH4-STONE,700").unwrap();
        assert_eq!(play.content_hash(), -7517617665378417132);
        let purchase: Vec<&str> =
            "T1,A72E0000024,2026-10-01T03:47:08Z,SH4,SH4-STONE500,EMONEY,1,500"
                .split(',')
                .collect();
        let purchase = Feed::Purchases.parse(&purchase).unwrap();
        assert_eq!(purchase.content_hash(), 8954844961615702428);
    }

    /// Content too long for the stack hashes as the same bytes laid out on the heap.
    #[test]
    fn a_long_contents_hash_is_that_of_its_bytes() {
        let mut event = play("E1,A72E01A0001,2026-09-30T15:00:30Z,SH4,SH4-STONE,700").unwrap();
        event.code = "C".repeat(CONTENT_ON_STACK).into();
        let mut bytes = b"A72E01A0001\0SH4\0".to_vec();
        bytes.extend_from_slice(event.code.as_bytes());
        bytes.extend_from_slice(b"\0\0");
        for number in [event.at_micros, 700, 0] {
            bytes.extend_from_slice(&number.to_le_bytes());
        }
        let expected = twox_hash::XxHash3_64::oneshot(&bytes) as i64;
        assert_eq!(event.content_hash(), expected);
        event.code = "SH4-STONE".into();
        assert_eq!(event.content_hash(), -7517617665378417132);
    }

    #[test]
    fn malformed_comes_before_invalid_value() {
        let reason = |f| play(f).unwrap_err().reason;
        assert_eq!(
            reason("e 1,a,2026-10-01,SH4,X,1"),
            QuarantineReason::Malformed
        );
        assert_eq!(
            reason("E1,a,2026-10-01T00:00:00Z,SH4,X,x"),
            QuarantineReason::Malformed
        );
        assert_eq!(
            reason("E1,a,2026-10-01T00:00:00Z,SH4,X,1"),
            QuarantineReason::InvalidValue
        );
        assert_eq!(
            reason("E1,A1,2026-10-01T00:00:00Z,SH4,X,0"),
            QuarantineReason::InvalidValue
        );
        // A count that would overflow every later close of its month is refused at the door.
        assert!(play("E1,A1,2026-10-01T00:00:00Z,SH4,X,1000000").is_ok());
        let huge = play("E1,A1,2026-10-01T00:00:00Z,SH4,X,9000000000000000000").unwrap_err();
        assert_eq!(huge.reason, QuarantineReason::InvalidValue);
        assert_eq!(
            huge.detail,
            "count: 9000000000000000000 is not from 1 to 1000000"
        );
        assert_eq!(
            reason("E1,A1,2026-10-01T00:00:00Z,SH4,X,1000001"),
            QuarantineReason::InvalidValue
        );
        let purchase: Vec<&str> = "T1,A1,2026-10-01T00:00:00Z,SH4,P,CASH,1,100"
            .split(',')
            .collect();
        let rejection = Feed::Purchases.parse(&purchase).unwrap_err();
        assert_eq!(rejection.reason, QuarantineReason::InvalidValue);
        assert!(
            rejection.detail.starts_with("payment_method: "),
            "{}",
            rejection.detail
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn the_same_instant_in_any_offset_is_the_same_content(
                seconds in 1_500_000_000i64..2_000_000_000, offset_minutes in -(14 * 60)..=(14 * 60),
            ) {
                let utc = chrono::DateTime::from_timestamp(seconds, 0).unwrap();
                let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
                let there = utc.with_timezone(&offset).to_rfc3339();
                let here = utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let play = |at: &str| {
                    let line = format!("E1,A72E01A0001,{at},SH4,SH4-STONE,7");
                    let fields: Vec<&str> = line.split(',').collect();
                    Feed::Plays.parse(&fields).unwrap()
                };
                let (a, b) = (play(&here), play(&there));
                prop_assert_eq!(a.content_hash(), b.content_hash());
                prop_assert_eq!(a.date, b.date, "one business date (JST) whatever the offset");
            }
        }
    }
}
