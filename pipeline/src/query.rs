//! `kakin query SQL`: SQL over every lake table by name, with polars' SQL engine. The names
//! are those of `lake.md`: the master tables (`partners`, `stores`, …), `plays`, `purchases`,
//! `quarantine`, every statement table (`billing_details`, `payment_totals`, …) with the
//! closes that are committed, and `provisional_<table>` for the month to date. Events of an
//! ingest run that did not commit are not shown.

use crate::db::{Database, DbError};
use crate::lake::layout::{
    master_path, Area, EventTable, StatementTable, MASTER_TABLES, QUARANTINE,
};
use crate::lake::{scan_table, LakeError, Location};
use polars::prelude::*;
use polars::sql::SQLContext;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}() reads files: a query reads the lake's tables by name and nothing else")]
    ReadsFiles(String),
    #[error("{0}")]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] LakeError),
}

/// What each query may see: the committed batches and closes.
struct Committed {
    batches: Vec<String>,
    closes: Vec<String>,
    last_close: Option<String>,
}

/// The words of `sql` (names, keywords, quoted names; lowercased), each with whether it is
/// called (followed by `(`). String literals and comments are skipped.
fn words(sql: &str) -> Vec<(String, bool)> {
    let bytes = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        let (word, next) = if rest.starts_with("--") {
            (None, rest.find('\n').map_or(sql.len(), |e| i + e))
        } else if rest.starts_with("/*") {
            (None, rest.find("*/").map_or(sql.len(), |e| i + e + 2))
        } else if let Some(literal) = rest.strip_prefix('\'') {
            (None, literal.find('\'').map_or(sql.len(), |e| i + e + 2))
        } else if let Some(quoted) = rest.strip_prefix('"').or(rest.strip_prefix('`')) {
            let end = quoted.find(['"', '`']).unwrap_or(quoted.len());
            (Some(&quoted[..end]), i + end + 2)
        } else if bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (Some(&rest[..end]), i + end)
        } else {
            (None, i + rest.chars().next().map_or(1, char::len_utf8))
        };
        if let Some(word) = word {
            let called = sql[next.min(sql.len())..].trim_start().starts_with('(');
            words.push((word.to_ascii_lowercase(), called));
        }
        i = next.max(i + 1);
    }
    words
}

/// The first call in `sql` of a function that reads files (`read_csv`, `read_parquet`,
/// `scan_ipc`, …): polars SQL would read any path with them (`kakin.toml`, a credentials
/// file), so a query may not call them. A quoted function name is caught like a plain one.
fn file_function(sql: &str) -> Option<String> {
    words(sql)
        .into_iter()
        .find(|(name, called)| *called && (name.starts_with("read_") || name.starts_with("scan_")))
        .map(|(name, _)| name)
}

/// The lake folders and files of the tables `sql` names: all a query needs from the lake (on
/// S3, nothing else is fetched). A word that only looks like a table name fetches a table
/// the query does not read, never the other way round.
fn named_tables(sql: &str) -> Vec<String> {
    let named: std::collections::BTreeSet<String> =
        words(sql).into_iter().map(|(word, _)| word).collect();
    let mut prefixes: Vec<String> = MASTER_TABLES
        .iter()
        .filter(|t| named.contains(**t))
        .map(|t| master_path(t))
        .collect();
    let events = EventTable::ALL.map(EventTable::name);
    for table in events.into_iter().chain([QUARANTINE]) {
        if named.contains(table) {
            prefixes.push(format!("{table}/"));
        }
    }
    for table in StatementTable::ALL {
        if named.contains(table.name()) {
            prefixes.push(format!("{}/", table.folder(Area::Closed)));
        }
        if named.contains(&format!("provisional_{}", table.name())) {
            prefixes.push(format!("{}/", table.folder(Area::Provisional)));
        }
    }
    prefixes
}

/// Run `sql` over the lake's tables.
pub async fn query(db: &Database, lake: &Location, sql: &str) -> Result<DataFrame, QueryError> {
    if let Some(function) = file_function(sql) {
        return Err(QueryError::ReadsFiles(function));
    }
    let committed = Committed {
        batches: db
            .committed_batches()
            .await?
            .into_iter()
            .map(|b| b.batch)
            .collect(),
        closes: db
            .closed_months()
            .await?
            .into_iter()
            .map(|m| m.to_string())
            .collect(),
        last_close: db.last_closed_month().await?.map(|m| m.to_string()),
    };
    let tables = named_tables(sql);
    let local = lake
        .local_copy(&tables.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    let sql = sql.to_owned();
    // polars runs its own runtime: it reads on a thread outside ours.
    std::thread::scope(|scope| scope.spawn(|| run(local.root(), &committed, &sql)).join())
        .expect("a query does not panic")
}

fn run(root: &Path, committed: &Committed, sql: &str) -> Result<DataFrame, QueryError> {
    let mut context = SQLContext::new();
    for table in MASTER_TABLES {
        let file = root.join(master_path(table));
        if file.exists() {
            let path = PlRefPath::new(file.display().to_string());
            context.register(table, LazyFrame::scan_parquet(path, Default::default())?);
        }
    }
    let batches = Series::new("batches".into(), &committed.batches);
    let events = EventTable::ALL.map(EventTable::name);
    for table in events.into_iter().chain([QUARANTINE]) {
        if let Some(rows) = scan(root, table)? {
            context.register(
                table,
                rows.filter(col("batch").is_in(lit(batches.clone()).implode(false), false)),
            );
        }
    }
    let closes = Series::new("closes".into(), &committed.closes);
    for table in StatementTable::ALL {
        let name = table.name();
        if let Some(rows) = scan(root, &table.folder(Area::Closed))? {
            let closed = col("closing_month").is_in(lit(closes.clone()).implode(false), false);
            context.register(name, rows.filter(closed));
        }
        if let Some(rows) = scan(root, &table.folder(Area::Provisional))? {
            let open = match &committed.last_close {
                Some(last) => col("closing_month").gt(lit(last.clone())),
                None => lit(true),
            };
            context.register(&format!("provisional_{name}"), rows.filter(open));
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

#[cfg(test)]
mod tests {
    use super::{file_function, named_tables};

    #[test]
    fn a_query_fetches_the_tables_it_names_and_no_other() {
        assert_eq!(
            named_tables("SELECT p.name, sum(b.amount) FROM billing_details b JOIN \"PARTNERS\" p USING (partner_code) -- plays"),
            ["master/partners.parquet", "billing_details/"]
        );
        assert_eq!(
            named_tables(
                "select * from provisional_payment_totals, Plays where 'quarantine' <> ''"
            ),
            ["plays/", "provisional/payment_totals/"]
        );
        assert!(named_tables("SELECT 1").is_empty());
    }

    #[test]
    fn functions_that_read_files_are_found_wherever_they_are_called() {
        let refused = [
            "SELECT * FROM read_csv('kakin.toml')",
            "select * from READ_PARQUET ('/etc/x.parquet')",
            "SELECT * FROM billing_details JOIN scan_ipc('x') USING (a)",
            "SELECT * FROM \"read_json\"('x')",
            "SELECT 1 /* c */ FROM read_ndjson(\n'x')",
        ];
        for sql in refused {
            assert!(file_function(sql).is_some(), "{sql}");
        }
        let allowed = [
            "SELECT * FROM billing_details",
            "SELECT 'read_csv(x)' AS s FROM partners",
            "SELECT read_count FROM t -- read_csv('x')",
            "SELECT \"read_csv\" FROM t",
        ];
        for sql in allowed {
            assert_eq!(file_function(sql), None, "{sql}");
        }
    }
}
