//! Master data and adjustment slips: what finance maintains by hand (`feeds.md`).
//!
//! An import is all or nothing. Every file is read and every row parsed; the rows are then laid
//! over the master data as it stands and the result is checked as a whole (references exist, a
//! store keeps its partner, validity intervals of one code never overlap). Any problem anywhere
//! and nothing is applied: the caller gets every problem as `file:line: column: reason`.
//! Otherwise the new and changed rows are written in one transaction; rows are never deleted by
//! omission, and importing the same files again changes nothing.

mod adjustments;
mod check;
mod files;
mod publish;

pub use adjustments::import_adjustments;
pub use publish::publish_master;

use crate::db::{Database, DbError};
use crate::domain::{MasterData, Problem, Problems};
use check::Check;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Some rows are invalid: nothing was applied.
    #[error("{count} problem(s), nothing imported:\n{0}", count = .0.0.len())]
    Invalid(Problems),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] crate::lake::LakeError),
}

/// What an import did, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub tables: Vec<TableCounts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCounts {
    pub table: &'static str,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl ImportReport {
    /// Rows written (inserted or updated) over all tables.
    pub fn changed(&self) -> usize {
        self.tables.iter().map(|t| t.inserted + t.updated).sum()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|t| {
                format!(
                    "{}: {} inserted, {} updated, {} unchanged",
                    t.table, t.inserted, t.updated, t.unchanged
                )
            })
            .collect();
        f.write_str(&tables.join("; "))
    }
}

/// `kakin master import DIR`: import the master data files found in `dir`, then write the
/// master tables as they now stand to `lake` (always, so that a rerun repairs a lake that an
/// interrupted import left behind).
pub async fn import_master(
    db: &Database,
    lake: &crate::lake::Location,
    dir: &Path,
) -> Result<ImportReport, ImportError> {
    let mut check = Check::default();
    let imported = files::read_directory(dir, &mut check);
    let current = db.master_data().await?;
    check::references(&current, &imported, &mut check);
    check.into_result().map_err(ImportError::Invalid)?;

    let mut report = ImportReport::default();
    let changes = MasterData {
        partners: changed(
            "partners",
            &current.partners,
            &imported.partners,
            &mut report,
        ),
        stores: changed("stores", &current.stores, &imported.stores, &mut report),
        titles: changed("titles", &current.titles, &imported.titles, &mut report),
        keychips: changed(
            "keychips",
            &current.keychips,
            &imported.keychips,
            &mut report,
        ),
        charges: changed("charges", &current.charges, &imported.charges, &mut report),
        products: changed(
            "products",
            &current.products,
            &imported.products,
            &mut report,
        ),
        rates: changed("rates", &current.rates, &imported.rates, &mut report),
    };
    db.save_master_data(&changes).await?;
    publish_master(&db.master_data().await?, lake).await?;
    Ok(report)
}

/// The rows of one imported file, by key, each with the line it came from.
pub(crate) type Lines<K, T> = BTreeMap<K, (u64, T)>;

/// The imported rows of `table` that are new or differ from `current`, counted in `report`.
fn changed<K: Ord + Clone, T: Clone + PartialEq>(
    table: &'static str,
    current: &BTreeMap<K, T>,
    imported: &Lines<K, T>,
    report: &mut ImportReport,
) -> BTreeMap<K, T> {
    let mut counts = TableCounts {
        table,
        inserted: 0,
        updated: 0,
        unchanged: 0,
    };
    let mut changes = BTreeMap::new();
    for (key, (_, record)) in imported {
        match current.get(key) {
            Some(existing) if existing == record => counts.unchanged += 1,
            Some(_) => counts.updated += 1,
            None => counts.inserted += 1,
        }
        if current.get(key) != Some(record) {
            changes.insert(key.clone(), record.clone());
        }
    }
    if !imported.is_empty() {
        report.tables.push(counts);
    }
    changes
}

/// Problems of a whole file or directory (no line).
fn whole(file: &str, reason: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line: 0,
        column: "-".into(),
        reason: reason.into(),
    }
}
