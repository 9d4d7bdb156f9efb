//! The reading commands: `export` (the site's CSV downloads, for finance and support) and
//! `query` (SQL over the lake, for analysts). They change nothing and are not in the ledger.

use crate::app::{Context, Failure};
use pipeline::export::{
    self, Encoding, ExportError, ExportRequest, Filter, Issuer, SlipKinds, View,
};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// invoices, billing, billing-daily, adjustments, payments, payments-daily, reference,
    /// reference-daily or totals.
    #[arg(value_parser = View::parse)]
    view: View,
    /// Partial match on a column, by its header: --match 店舗名=渋谷 (repeatable).
    #[arg(long = "match", value_name = "HEADER=TEXT", value_parser = Filter::contains)]
    matches: Vec<Filter>,
    /// Exact choice on a column: --exact ALL.Net区分=P-ras (repeatable).
    #[arg(long, value_name = "HEADER=TEXT", value_parser = Filter::equals)]
    exact: Vec<Filter>,
    /// From–to on a month, date or number column, either end open: --range プレイ年月=2019-10..2019-12.
    #[arg(long, value_name = "HEADER=FROM..TO", value_parser = Filter::range)]
    range: Vec<Filter>,
    /// Every closed month, not only the latest 12.
    #[arg(long)]
    all: bool,
    /// The open months' month-to-date figures (kakin refresh) instead of the closes'.
    #[arg(long)]
    provisional: bool,
    /// adjustments: which slips (default the invoice's BILLING slips).
    #[arg(long, value_enum, default_value_t = Kind::Billing)]
    kind: Kind,
    /// totals: one store, by name or code (default all stores).
    #[arg(long)]
    store: Option<String>,
    /// totals: one title, by name or code (default all titles).
    #[arg(long)]
    title: Option<String>,
    /// UTF-8 with a byte-order mark, or CP932, as spreadsheet programs open them.
    #[arg(long, value_enum, default_value_t = Charset::Utf8)]
    encoding: Charset,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    Billing,
    Payment,
    Refund,
    All,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Charset {
    Utf8,
    Cp932,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Parquet,
}

/// Write `bytes` to the file, or to standard output.
fn emit(bytes: &[u8], output: Option<&Path>) -> Result<(), Failure> {
    match output {
        Some(path) => std::fs::write(path, bytes)
            .map_err(|e| Failure::Failed(anyhow::anyhow!("writing {}: {e}", path.display()))),
        None => std::io::stdout()
            .write_all(bytes)
            .map_err(|e| Failure::Failed(e.into())),
    }
}

/// `kakin export VIEW`.
pub async fn export(context: &Context, args: ExportArgs) -> Result<(), Failure> {
    let request = ExportRequest {
        filters: [args.matches, args.exact, args.range].concat(),
        all_months: args.all,
        provisional: args.provisional,
        slip_kinds: match args.kind {
            Kind::Billing => SlipKinds::Billing,
            Kind::Payment => SlipKinds::Payment,
            Kind::Refund => SlipKinds::Refund,
            Kind::All => SlipKinds::All,
        },
        selection: export::Selection {
            store: args.store,
            title: args.title,
        },
    };
    let issuer = Issuer {
        name: context.settings.issuer_name.clone(),
        registration_number: context.settings.issuer_registration_number.clone(),
    };
    let rows = export::export(&context.db, &context.lake, args.view, &request, &issuer)
        .await
        .map_err(|e| match e {
            ExportError::Invalid(message) => Failure::Invalid(message),
            e => Failure::Failed(e.into()),
        })?;
    let encoding = match args.encoding {
        Charset::Utf8 => Encoding::Utf8,
        Charset::Cp932 => Encoding::Cp932,
    };
    let bytes = export::encode(&rows, encoding).map_err(|e| Failure::Failed(e.into()))?;
    emit(&bytes, args.output.as_deref())
}

/// `kakin query SQL`.
pub async fn query(
    context: &Context,
    sql: &str,
    format: Format,
    output: Option<&Path>,
) -> Result<(), Failure> {
    let frame = pipeline::query::query(&context.db, &context.lake, sql)
        .await
        .map_err(|e| match e {
            pipeline::query::QueryError::Polars(e) => Failure::Invalid(format!("query: {e}")),
            e @ pipeline::query::QueryError::ReadsFiles(_) => {
                Failure::Invalid(format!("query: {e}"))
            }
            e => Failure::Failed(e.into()),
        })?;
    let format = match format {
        Format::Table => pipeline::query::Output::Table,
        Format::Csv => pipeline::query::Output::Csv,
        Format::Parquet => pipeline::query::Output::Parquet,
    };
    let bytes = pipeline::query::render(frame, format).map_err(|e| Failure::Failed(e.into()))?;
    emit(&bytes, output)
}
