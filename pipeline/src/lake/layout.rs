//! The lake's layout (`lake.md`, "The lake"): which tables there are and where each lives. Every
//! path kakin writes or reads is built here, and the partitions (`play_date=`,
//! `closing_month=`) are parsed here only, so that the stages that write tables (ingest, the
//! close, master import) and those that read them (exports, SQL, the close reading events)
//! agree without knowing each other.
//!
//! ```text
//! master/<table>.parquet
//! plays/play_date=YYYY-MM-DD/<batch>.parquet
//! purchases/purchase_date=YYYY-MM-DD/<batch>.parquet
//! quarantine/feed=<plays|purchases>/delivery_date=YYYY-MM-DD/<batch>.parquet
//! <statement table>/closing_month=YYYY-MM/part-0.parquet
//! provisional/<statement table>/closing_month=YYYY-MM/part-0.parquet
//! provisional/daily/<plays|purchases>/<date column>=YYYY-MM-DD/<batch>.parquet
//! documents/closing_month=YYYY-MM/<partner_code>/<document>.pdf
//! ```

use crate::domain::{parse_date, Month, Parse};
use chrono::NaiveDate;

/// The master tables, as the last import left them.
pub const MASTER_TABLES: [&str; 7] = [
    "partners", "stores", "titles", "keychips", "charges", "products", "rates",
];

/// `master/<table>.parquet`.
pub fn master_path(table: &str) -> String {
    format!("master/{table}.parquet")
}

/// The two tables of accepted events, partitioned by the event's JST date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventTable {
    Plays,
    Purchases,
}

impl EventTable {
    pub const ALL: [EventTable; 2] = [EventTable::Plays, EventTable::Purchases];

    pub fn name(self) -> &'static str {
        match self {
            EventTable::Plays => "plays",
            EventTable::Purchases => "purchases",
        }
    }

    /// The partition column: the event's JST date.
    pub fn date_column(self) -> &'static str {
        match self {
            EventTable::Plays => "play_date",
            EventTable::Purchases => "purchase_date",
        }
    }

    /// The file of the events of `date` accepted by `batch`.
    pub fn path(self, date: NaiveDate, batch: &str) -> String {
        format!(
            "{}/{}={date}/{batch}.parquet",
            self.name(),
            self.date_column()
        )
    }
}

/// A file of accepted events: `<table>/<date column>=<date>/<batch>.parquet`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventFile {
    pub table: EventTable,
    pub date: NaiveDate,
    pub batch: String,
}

impl EventFile {
    /// The event file at `path`, or none when `path` is another file of the lake.
    pub fn parse(path: &str) -> Option<EventFile> {
        let mut parts = path.split('/');
        let (name, folder, file) = (parts.next()?, parts.next()?, parts.next()?);
        let table = EventTable::ALL.into_iter().find(|t| t.name() == name)?;
        let (column, _) = folder.split_once('=')?;
        let batch = file.strip_suffix(".parquet")?;
        let parsed = EventFile {
            table,
            date: partition_date(folder)?,
            batch: batch.to_owned(),
        };
        (column == table.date_column() && parts.next().is_none()).then_some(parsed)
    }

    pub fn path(&self) -> String {
        self.table.path(self.date, &self.batch)
    }

    /// Where the month to date keeps this file's daily sums: its own path under
    /// [`DAILY_SUMS`].
    pub fn sums_path(&self) -> String {
        format!("{DAILY_SUMS}{}", self.path())
    }
}

/// The month to date's daily sums of the event files it bills, one file each (derived data:
/// any of them can be deleted, the next refresh sums its event file again).
pub const DAILY_SUMS: &str = "provisional/daily/";

/// The lake's quarantine: each rejected line once, in the batch that first rejected it.
pub const QUARANTINE: &str = "quarantine";

/// The file of the lines of `feed` delivered on `delivery` that `batch` quarantined.
pub fn quarantine_path(feed: EventTable, delivery: NaiveDate, batch: &str) -> String {
    format!(
        "{QUARANTINE}/feed={}/delivery_date={delivery}/{batch}.parquet",
        feed.name()
    )
}

/// The date of a `<column>=YYYY-MM-DD` partition folder's name.
pub fn partition_date(folder: &str) -> Option<NaiveDate> {
    let (_, date) = folder.split_once('=')?;
    parse_date(date).ok()
}

/// The tables of a close (`lake.md`, "Statement tables"), in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatementTable {
    BillingDetails,
    BillingDaily,
    Adjustments,
    PaymentDetails,
    PaymentDaily,
    ReferenceInfo,
    ReferenceDaily,
    PaymentTotals,
    Invoices,
    InvoiceTaxes,
}

impl StatementTable {
    pub const ALL: [StatementTable; 10] = [
        StatementTable::BillingDetails,
        StatementTable::BillingDaily,
        StatementTable::Adjustments,
        StatementTable::PaymentDetails,
        StatementTable::PaymentDaily,
        StatementTable::ReferenceInfo,
        StatementTable::ReferenceDaily,
        StatementTable::PaymentTotals,
        StatementTable::Invoices,
        StatementTable::InvoiceTaxes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StatementTable::BillingDetails => "billing_details",
            StatementTable::BillingDaily => "billing_daily",
            StatementTable::Adjustments => "adjustments",
            StatementTable::PaymentDetails => "payment_details",
            StatementTable::PaymentDaily => "payment_daily",
            StatementTable::ReferenceInfo => "reference_info",
            StatementTable::ReferenceDaily => "reference_daily",
            StatementTable::PaymentTotals => "payment_totals",
            StatementTable::Invoices => "invoices",
            StatementTable::InvoiceTaxes => "invoice_taxes",
        }
    }

    /// The invoice tables are a close's alone: the month to date has no invoice.
    pub fn in_area(self, area: Area) -> bool {
        area == Area::Closed
            || !matches!(
                self,
                StatementTable::Invoices | StatementTable::InvoiceTaxes
            )
    }

    /// The file of this table of the close (or month to date) of `month`.
    pub fn path(self, area: Area, month: Month) -> String {
        format!(
            "{}{}/closing_month={month}/part-0.parquet",
            area.prefix(),
            self.name()
        )
    }

    /// Where all months of this table are, for a reader of the whole table.
    pub fn folder(self, area: Area) -> String {
        format!("{}{}", area.prefix(), self.name())
    }
}

/// Where a close's tables go: the close itself, or the month to date (`provisional/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Closed,
    Provisional,
}

impl Area {
    fn prefix(self) -> &'static str {
        match self {
            Area::Closed => "",
            Area::Provisional => PROVISIONAL,
        }
    }
}

/// The month to date's area.
pub const PROVISIONAL: &str = "provisional/";

/// Where a close's documents are.
pub const DOCUMENTS: &str = "documents";

/// The file of a document of `partner` in the close of `month` (`invoice-1700000.pdf`, …).
pub fn document_path(month: Month, partner: &str, file_name: &str) -> String {
    format!("{DOCUMENTS}/closing_month={month}/{partner}/{file_name}")
}

/// The closing month of a statement table's path (`…/closing_month=YYYY-MM/…`).
pub fn closing_month_of(path: &str) -> Option<Month> {
    let (_, rest) = path.split_once("closing_month=")?;
    Month::parse(rest.split('/').next()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_files_parse_back_and_nothing_else_is_one() {
        let date = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        for table in EventTable::ALL {
            let path = table.path(date, "0a1b2c");
            let file = EventFile::parse(&path).expect("an event file");
            assert_eq!(
                (file.table, file.date, file.batch.as_str()),
                (table, date, "0a1b2c")
            );
            assert_eq!(file.path(), path);
        }
        for other in [
            quarantine_path(EventTable::Plays, date, "0a1b2c"),
            "plays/purchase_date=2026-10-31/b.parquet".to_owned(),
            "plays/play_date=2026-10-31/b.csv".to_owned(),
            "plays/play_date=2026-10-31/x/b.parquet".to_owned(),
            "plays/play_date=2026-13-01/b.parquet".to_owned(),
            "master/partners.parquet".to_owned(),
        ] {
            assert_eq!(EventFile::parse(&other), None, "{other}");
        }
    }

    #[test]
    fn paths_are_those_of_lake_md_and_parse_back() {
        let month = Month::parse("2026-10").unwrap();
        let date = parse_date("2026-10-02").unwrap();
        assert_eq!(
            StatementTable::PaymentTotals.path(Area::Provisional, month),
            "provisional/payment_totals/closing_month=2026-10/part-0.parquet"
        );
        let path = StatementTable::Invoices.path(Area::Closed, month);
        assert_eq!(path, "invoices/closing_month=2026-10/part-0.parquet");
        assert_eq!(closing_month_of(&path), Some(month));
        assert_eq!(
            EventTable::Purchases.path(date, "b1"),
            "purchases/purchase_date=2026-10-02/b1.parquet"
        );
        assert_eq!(partition_date("play_date=2026-10-02"), Some(date));
        assert_eq!(
            quarantine_path(EventTable::Plays, date, "b1"),
            "quarantine/feed=plays/delivery_date=2026-10-02/b1.parquet"
        );
        assert!(!StatementTable::Invoices.in_area(Area::Provisional));
        let document = document_path(month, "229999000", "invoice-1700000.pdf");
        assert_eq!(
            document,
            "documents/closing_month=2026-10/229999000/invoice-1700000.pdf"
        );
        assert_eq!(closing_month_of(&document), Some(month));
    }
}
