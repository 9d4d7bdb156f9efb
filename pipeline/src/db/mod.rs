//! The database: master data, adjustment slips, closes and the job ledger, through sqlx's `Any`
//! driver so that the same statements run on SQLite (the embedded default) and PostgreSQL
//! (production).
//!
//! The schema keeps to what both engines share: dates as ISO text, decimals as exact text, yen
//! as BIGINT, `$n` placeholders, `ON CONFLICT … DO UPDATE`: one set of migrations serves both.
//! Storage only one engine has (SQLite's `WITHOUT ROWID`) is in migrations of its own
//! (`migrations/sqlite/`), numbered among the shared ones and run in the same order.

mod accepted;
mod close;
mod documents;
mod ingest;
mod lease;
mod ledger;
mod master;
mod outbox;

pub use accepted::{AcceptedId, AcceptedIds};
pub use close::{CommittedBatch, InvoiceRecord, Issued, PendingRewrite, RewriteKind};
pub use documents::DocumentRecord;
pub use ingest::{BatchCommit, ContentsById, IngestedFile, OpenRow};
pub use lease::{Holder, Lease};
pub use ledger::{Run, RunId, Statistics};
pub use outbox::{now_ms, NewEmail, OutboxEmail};

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};
use std::borrow::Cow;
use std::path::Path;

/// The migrations of both engines.
static SHARED_MIGRATIONS: Migrator = sqlx::migrate!("../migrations");

/// SQLite's own, numbered among the shared ones.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");

/// SQLite: pages of 16 KiB instead of 4 (fewer B-tree pages split and written per accepted id;
/// SQLite sets it on a new, empty database only, so an existing one keeps its own), a page
/// cache for the index of every accepted id, and a write-ahead log, so that a commit syncs one
/// file once (a rollback journal syncs two, twice). `benches/README.md`.
const SQLITE_SETTINGS: &str = "PRAGMA page_size = 16384; PRAGMA cache_size = -262144; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";

/// PostgreSQL: plan every execution of a prepared statement with its parameters. sqlx
/// prepares each statement once per connection, and after five executions PostgreSQL may keep
/// a generic plan made without them, which for the id lookup of a long ingest run was a scan
/// of the whole ledger (`benches/README.md`).
const POSTGRES_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database_url {0:?} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: cannot create the directory of {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("database: table {table} holds a value kakin cannot read: {reason}")]
    Corrupt { table: &'static str, reason: String },
}

pub type DbResult<T> = Result<T, DbError>;

/// A connected, migrated database.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
}

/// Which engine is behind the `Any` driver: the placeholders of long statements, the
/// connection's settings and the id lookup differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The shared migrations and the engine's own, in the order of their numbers: one list, so
    /// that every migration a database has applied is one sqlx knows.
    fn migrations(self) -> Migrator {
        let mut migrations = SHARED_MIGRATIONS.migrations.to_vec();
        if self == Engine::Sqlite {
            migrations.extend_from_slice(&SQLITE_MIGRATIONS.migrations);
        }
        migrations.sort_by_key(|m| m.version);
        Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        }
    }
}

impl Database {
    /// Connect to `url` (`sqlite://…` or `postgres://…`) and bring its schema up to date. A
    /// SQLite file and its directory are created when missing.
    pub async fn connect(url: &str) -> DbResult<Database> {
        sqlx::any::install_default_drivers();
        let (url, engine) = if let Some(path) = url.strip_prefix("sqlite://") {
            (sqlite_url(path)?, Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_owned(), Engine::Postgres)
        } else {
            return Err(DbError::UnsupportedUrl(crate::domain::redacted(url)));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let settings = match engine {
                        Engine::Sqlite => SQLITE_SETTINGS,
                        Engine::Postgres => POSTGRES_SETTINGS,
                    };
                    sqlx::Executor::execute(&mut *conn, settings).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        engine.migrations().run(&pool).await?;
        Ok(Database { pool, engine })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// `count` placeholders numbered from `first`, comma-separated. SQLite finds a numbered
    /// parameter by name in time that grows with the parameters of the statement, so long
    /// statements use its positional `?` there.
    fn placeholders(&self, first: usize, count: usize) -> String {
        let each: Vec<String> = match self.engine {
            Engine::Sqlite => vec!["?".to_owned(); count],
            Engine::Postgres => (first..first + count).map(|i| format!("${i}")).collect(),
        };
        each.join(", ")
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `sqlite://var/kakin.db` names a file relative to the working directory; make sure its
/// directory exists and that SQLite may create it.
fn sqlite_url(path: &str) -> DbResult<String> {
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    if let Some(dir) = Path::new(file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
            path: file.to_owned(),
            source,
        })?;
    }
    let query = if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        query.to_owned()
    };
    Ok(format!("sqlite://{file}?{query}"))
}

/// Reads the cells of one row of `table`, turning unreadable values into [`DbError::Corrupt`].
struct Cells<'a> {
    row: &'a AnyRow,
    table: &'static str,
}

impl<'a> Cells<'a> {
    fn new(row: &'a AnyRow, table: &'static str) -> Self {
        Cells { row, table }
    }

    fn corrupt(&self, reason: impl std::fmt::Display) -> DbError {
        DbError::Corrupt {
            table: self.table,
            reason: reason.to_string(),
        }
    }

    fn text(&self, column: &str) -> DbResult<String> {
        self.row
            .try_get::<String, _>(column)
            .map_err(|e| self.corrupt(e))
    }

    fn optional_text(&self, column: &str) -> DbResult<Option<String>> {
        self.row
            .try_get::<Option<String>, _>(column)
            .map_err(|e| self.corrupt(e))
    }

    fn optional_int(&self, column: &str) -> DbResult<Option<i64>> {
        self.row
            .try_get::<Option<i64>, _>(column)
            .map_err(|e| self.corrupt(e))
    }

    fn int(&self, column: &str) -> DbResult<i64> {
        self.row
            .try_get::<i64, _>(column)
            .map_err(|e| self.corrupt(e))
    }

    /// A column parsed with `parse`.
    fn parse<T>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, crate::domain::ParseError>,
    ) -> DbResult<T> {
        parse(&self.text(column)?).map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    /// A nullable column parsed with `parse`.
    fn parse_optional<T>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, crate::domain::ParseError>,
    ) -> DbResult<Option<T>> {
        self.optional_text(column)?
            .map(|text| parse(&text).map_err(|e| self.corrupt(format!("{column}: {e}"))))
            .transpose()
    }
}

/// A cell to bind: text or an integer (flags are 0 and 1: the Any driver maps no SQLite boolean).
pub(crate) enum Cell {
    Text(Option<String>),
    Int(i64),
}

pub(crate) fn text(value: impl ToString) -> Cell {
    Cell::Text(Some(value.to_string()))
}

pub(crate) fn optional(value: Option<impl ToString>) -> Cell {
    Cell::Text(value.map(|v| v.to_string()))
}

pub(crate) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    cells: Vec<Cell>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for cell in cells {
        query = match cell {
            Cell::Text(value) => query.bind(value),
            Cell::Int(value) => query.bind(value),
        };
    }
    query
}

/// Parameters in one statement, well below the limits of both engines.
pub(crate) const PARAMETERS_PER_STATEMENT: usize = 8_000;

impl Database {
    /// Insert `rows` into `table` (`columns` in order) with multi-row statements, inside `tx`.
    pub(crate) async fn insert_rows(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        table: &str,
        columns: &[&str],
        rows: impl IntoIterator<Item = Vec<Cell>>,
    ) -> DbResult<()> {
        let width = columns.len();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Cell>> = rows
                .by_ref()
                .take(PARAMETERS_PER_STATEMENT / width)
                .collect();
            let tuples: Vec<String> = (0..chunk.len())
                .map(|r| format!("({})", self.placeholders(r * width + 1, width)))
                .collect();
            let statement = format!(
                "INSERT INTO {table} ({}) VALUES {}",
                columns.join(", "),
                tuples.join(", ")
            );
            bind_all(
                sqlx::query(&statement),
                chunk.into_iter().flatten().collect(),
            )
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new SQLite database is made of 16 KiB pages: the page size is set before the
    /// write-ahead log and the first table, after which SQLite no longer changes it.
    #[tokio::test]
    async fn a_new_sqlite_database_has_pages_of_16_kib() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::connect(&format!("sqlite://{}/kakin.db", dir.path().display()))
            .await
            .unwrap();
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(page_size, 16384);
    }

    /// A SQLite ledger written before SQLite's own migrations (a rowid table keyed by feed and
    /// id) keeps every id and its batch once they have rebuilt it as a `WITHOUT ROWID` table
    /// keyed by id and feed.
    #[tokio::test]
    async fn a_sqlite_ledger_of_earlier_versions_is_rebuilt_keyed_with_every_id() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/kakin.db", dir.path().display());
        sqlx::any::install_default_drivers();
        let earlier = AnyPoolOptions::new()
            .connect(&sqlite_url(url.strip_prefix("sqlite://").unwrap()).unwrap())
            .await
            .unwrap();
        let until_10 = SHARED_MIGRATIONS
            .migrations
            .iter()
            .filter(|m| m.version <= 10);
        Migrator {
            migrations: Cow::Owned(until_10.cloned().collect()),
            ..Migrator::DEFAULT
        }
        .run(&earlier)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO accepted_events (feed, event_id, content_hash, batch_key) VALUES \
             ('plays', 'P-2', 22, 7), ('plays', 'P-1', 11, NULL), ('purchases', 'P-1', 33, 7)",
        )
        .execute(&earlier)
        .await
        .unwrap();
        earlier.close().await;

        let db = Database::connect(&url).await.unwrap();
        let table: String = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accepted_events'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert!(table.contains("WITHOUT ROWID"), "{table}");
        assert!(table.contains("PRIMARY KEY (event_id, feed)"), "{table}");
        let plays = db.accepted_contents("plays", &["P-1", "P-2", "P-3"]).await;
        let expected = ContentsById::from([("P-1".to_owned(), 11), ("P-2".to_owned(), 22)]);
        assert_eq!(plays.unwrap(), expected);
        let purchases = db.accepted_contents("purchases", &["P-1"]).await.unwrap();
        assert_eq!(purchases, ContentsById::from([("P-1".to_owned(), 33)]));
        db.forget_batch("0000000000000007").await.unwrap();
        let left: Vec<(String, String)> =
            sqlx::query_as("SELECT feed, event_id FROM accepted_events ORDER BY feed, event_id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert_eq!(left, vec![("plays".to_owned(), "P-1".to_owned())]);
    }
}
