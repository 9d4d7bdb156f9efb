//! The rules that span rows: references between tables, a store's partner, and intervals of one
//! code that must not overlap — checked on the master data as it would stand after the import.

use super::files::Imported;
use super::Lines;
use crate::domain::*;
use crate::sheet::Row;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt::Display;

/// Collects problems while reading goes on, so that every problem is reported at once.
#[derive(Default)]
pub(crate) struct Check {
    problems: Vec<Problem>,
}

impl Check {
    /// The value, or `None` with its problem recorded.
    pub fn ok<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|problem| self.problems.push(problem)).ok()
    }

    pub fn add(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.problems.extend(problems);
    }

    /// A validity interval from `valid_from` and `valid_to`.
    pub fn validity(&mut self, row: &Row) -> Option<Validity> {
        let from = self.ok(row.with("valid_from", parse_date));
        let to = self.ok(row.with("valid_to", |t| {
            if t.is_empty() {
                Ok(None)
            } else {
                parse_date(t).map(Some)
            }
        }));
        self.ok(Validity::new(from?, to?).map_err(|e| row.problem("valid_to", e.0)))
    }

    pub fn into_result(mut self) -> Result<(), Problems> {
        if self.problems.is_empty() {
            return Ok(());
        }
        self.problems.sort();
        self.problems.dedup();
        Err(Problems(self.problems))
    }
}

fn problem(file: &str, line: u64, column: &str, reason: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line,
        column: column.to_owned(),
        reason,
    }
}

/// Check the imported rows against the master data as it would stand after the import.
pub(crate) fn references(current: &MasterData, imported: &Imported, check: &mut Check) {
    let partner_exists = |code: &PartnerCode| {
        current.partners.contains_key(code)
            || imported.partners.contains_key(code)
            || imported.mentions("partners.csv", code.as_str())
    };
    let store_exists = |code: &StoreCode| {
        current.stores.contains_key(code)
            || imported.stores.contains_key(code)
            || imported.mentions("stores.csv", code.as_str())
    };
    let title_exists = |code: &TitleCode| {
        current.titles.contains_key(code)
            || imported.titles.contains_key(code)
            || imported.mentions("titles.csv", code.as_str())
    };

    for (line, store) in imported.stores.values() {
        let at = |column, reason| problem("stores.csv", *line, column, reason);
        if !partner_exists(&store.partner) {
            check.add(at(
                "partner_code",
                format!("partner {} does not exist", store.partner),
            ));
        }
        if let Some(existing) = current.stores.get(&store.code) {
            if existing.partner != store.partner {
                check.add(at(
                    "partner_code",
                    format!(
                        "store {} belongs to partner {}: a store's partner never changes \
                         (a store that changes hands gets a new code)",
                        store.code, existing.partner
                    ),
                ));
            }
        }
    }
    for (line, keychip) in imported.keychips.values() {
        let at = |column, reason| problem("keychips.csv", *line, column, reason);
        if !store_exists(&keychip.store) {
            check.add(at(
                "store_code",
                format!("store {} does not exist", keychip.store),
            ));
        }
        if !title_exists(&keychip.title) {
            check.add(at(
                "title_code",
                format!("title {} does not exist", keychip.title),
            ));
        }
    }
    for (line, charge) in imported.charges.values() {
        if !title_exists(&charge.title) {
            let reason = format!("title {} does not exist", charge.title);
            check.add(problem("charges.csv", *line, "title_code", reason));
        }
    }
    for (line, product) in imported.products.values() {
        if !title_exists(&product.title) {
            let reason = format!("title {} does not exist", product.title);
            check.add(problem("products.csv", *line, "title_code", reason));
        }
    }
    overlaps(
        "keychips.csv",
        &current.keychips,
        &imported.keychips,
        |k| k.validity,
        check,
    );
    overlaps(
        "charges.csv",
        &current.charges,
        &imported.charges,
        |c| c.validity,
        check,
    );
    overlaps(
        "products.csv",
        &current.products,
        &imported.products,
        |p| p.validity,
        check,
    );
}

/// The intervals of one code must not overlap, once the imported rows replace the current
/// rows of the same key.
fn overlaps<I: Ord + Display, T>(
    file: &str,
    current: &BTreeMap<(I, NaiveDate), T>,
    imported: &Lines<(I, NaiveDate), T>,
    validity: impl Fn(&T) -> Validity,
    check: &mut Check,
) {
    // Every interval per code after the import: (valid_from, imported line if any, interval).
    let mut merged: BTreeMap<&I, BTreeMap<NaiveDate, (Option<u64>, Validity)>> = BTreeMap::new();
    for ((id, from), record) in current {
        merged
            .entry(id)
            .or_default()
            .insert(*from, (None, validity(record)));
    }
    for ((id, from), (line, record)) in imported {
        merged
            .entry(id)
            .or_default()
            .insert(*from, (Some(*line), validity(record)));
    }
    for ((id, from), (line, record)) in imported {
        let interval = validity(record);
        for (other_from, (other_line, other)) in &merged[id] {
            if other_from == from || !interval.overlaps(other) {
                continue;
            }
            let whose = match other_line {
                Some(other_line) => format!("line {other_line}"),
                None => "the master data".to_owned(),
            };
            let reason = format!("{id}: {interval} overlaps {other} of {whose}");
            check.add(problem(file, *line, "valid_from", reason));
        }
    }
}
