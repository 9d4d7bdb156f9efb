//! `kakin query SQL`: SQL over every lake table by name, with polars' SQL engine. The names
//! are those of `lake.md`: the master tables (`partners`, `stores`, …), `plays`, `purchases`,
//! `quarantine`, every statement table (`billing_details`, `payment_totals`, …) with the
//! closes that are committed, and `provisional_<table>` for the month to date. Events of an
//! ingest run that did not commit are not shown.

use crate::close::{INVOICE_TABLES, STATEMENT_TABLES};
use crate::db::{Database, DbError};
use crate::lake::{scan_table, LakeError, Location};
use polars::prelude::*;
use polars::sql::SQLContext;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] LakeError),
}

const MASTER_TABLES: [&str; 7] = [
    "partners", "stores", "titles", "keychips", "charges", "products", "rates",
];

/// What each query may see: the committed batches and closes.
struct Committed {
    batches: Vec<String>,
    closes: Vec<String>,
    last_close: Option<String>,
}

/// Run `sql` over the lake's tables.
pub async fn query(db: &Database, lake: &Location, sql: &str) -> Result<DataFrame, QueryError> {
    let committed = Committed {
        batches: db
            .committed_batches()
            .await?
            .into_iter()
            .map(|(batch, _)| batch)
            .collect(),
        closes: db
            .closed_months()
            .await?
            .into_iter()
            .map(|m| m.to_string())
            .collect(),
        last_close: db.last_closed_month().await?.map(|m| m.to_string()),
    };
    let local = lake.local_copy(&[""]).await?;
    let sql = sql.to_owned();
    // polars runs its own runtime: it reads on a thread outside ours.
    std::thread::scope(|scope| scope.spawn(|| run(local.root(), &committed, &sql)).join())
        .expect("a query does not panic")
}

fn run(root: &Path, committed: &Committed, sql: &str) -> Result<DataFrame, QueryError> {
    let mut context = SQLContext::new();
    for table in MASTER_TABLES {
        let file = root.join("master").join(format!("{table}.parquet"));
        if file.exists() {
            let path = PlRefPath::new(file.display().to_string());
            context.register(table, LazyFrame::scan_parquet(path, Default::default())?);
        }
    }
    let batches = Series::new("batches".into(), &committed.batches);
    for table in ["plays", "purchases", "quarantine"] {
        if let Some(rows) = scan(root, table)? {
            context.register(
                table,
                rows.filter(col("batch").is_in(lit(batches.clone()).implode(false), false)),
            );
        }
    }
    let closes = Series::new("closes".into(), &committed.closes);
    for table in STATEMENT_TABLES.iter().chain(&INVOICE_TABLES) {
        if let Some(rows) = scan(root, table)? {
            let closed = col("closing_month").is_in(lit(closes.clone()).implode(false), false);
            context.register(table, rows.filter(closed));
        }
        let provisional = format!("provisional/{table}");
        if let Some(rows) = scan(root, &provisional)? {
            let open = match &committed.last_close {
                Some(last) => col("closing_month").gt(lit(last.clone())),
                None => lit(true),
            };
            context.register(&format!("provisional_{table}"), rows.filter(open));
        }
    }
    let plan = context.execute(sql).map_err(|e| {
        // A table with no file yet (no close, no refresh) is not registered: say what is.
        let mut tables = context.get_tables();
        tables.sort();
        polars_err!(SQLInterface: "{e}; the lake's tables now: {}", tables.join(", "))
    })?;
    Ok(plan.collect()?)
}

fn scan(root: &Path, table: &str) -> PolarsResult<Option<LazyFrame>> {
    scan_table(&root.join(table))
}

/// How a query's result is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A table for a terminal.
    Table,
    Csv,
    Parquet,
}

/// The query's result as bytes in the chosen form.
pub fn render(mut frame: DataFrame, output: Output) -> Result<Vec<u8>, QueryError> {
    let mut bytes = Vec::new();
    match output {
        Output::Table => bytes = format!("{frame}\n").into_bytes(),
        Output::Csv => CsvWriter::new(&mut bytes).finish(&mut frame)?,
        Output::Parquet => {
            ParquetWriter::new(&mut bytes).finish(&mut frame)?;
        }
    }
    Ok(bytes)
}
