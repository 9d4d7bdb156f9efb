//! Adjustment slips (調整伝票): corrections entered by finance for a month, imported as one
//! transaction like master data.

use super::check::Check;
use super::{whole, ImportError, ImportReport, TableCounts};
use crate::db::Database;
use crate::domain::*;
use crate::sheet::{Columns, Row, Sheet};
use std::collections::BTreeMap;
use std::path::Path;

const ADJUSTMENTS: Columns = Columns {
    required: &[
        "slip_no",
        "partner_code",
        "store_code",
        "keychip_id",
        "item_no",
        "item_name",
        "adjusted_month",
        "transfer_date",
        "quantity",
        "unit_price",
        "amount",
        "kind",
        "description",
    ],
    optional: &[],
};

/// `kakin adjustments import FILE`.
pub async fn import_adjustments(db: &Database, file: &Path) -> Result<ImportReport, ImportError> {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut check = Check::default();
    let slips = match std::fs::read(file) {
        Ok(bytes) => read_slips(&name, &bytes, &mut check),
        Err(e) => {
            check.add(whole(&name, format!("cannot read the file: {e}")));
            BTreeMap::new()
        }
    };
    let master = db.master_data().await?;
    let last_closed = db.last_closed_month().await?;
    let current: BTreeMap<SlipNo, AdjustmentSlip> = db
        .adjustment_slips()
        .await?
        .into_iter()
        .map(|s| (s.slip_no.clone(), s))
        .collect();

    let mut counts = TableCounts {
        table: "adjustments",
        inserted: 0,
        updated: 0,
        unchanged: 0,
    };
    let mut changes = Vec::new();
    for (line, slip) in slips.values() {
        let at = |column: &str, reason: String| Problem {
            file: name.clone(),
            line: *line,
            column: column.to_owned(),
            reason,
        };
        let existing = current.get(&slip.slip_no);
        if existing == Some(slip) {
            counts.unchanged += 1;
            continue;
        }
        let closed = |month: Month| last_closed.is_some_and(|last| month <= last);
        if let Some(existing) = existing.filter(|e| closed(e.adjusted_month)) {
            let reason = format!(
                "slip {} of {} differs from the one imported, and {} is closed",
                slip.slip_no, existing.adjusted_month, existing.adjusted_month
            );
            check.add(at("slip_no", reason));
        }
        if closed(slip.adjusted_month) {
            let last = last_closed.expect("a closed month implies a last closed month");
            let reason = format!(
                "{} is closed (the last closed month is {last})",
                slip.adjusted_month
            );
            check.add(at("adjusted_month", reason));
        }
        match master.stores.get(&slip.store) {
            None => check.add(at(
                "store_code",
                format!("store {} does not exist", slip.store),
            )),
            Some(store) if store.partner != slip.partner => check.add(at(
                "store_code",
                format!(
                    "store {} belongs to partner {}, not {}",
                    slip.store, store.partner, slip.partner
                ),
            )),
            Some(_) => {}
        }
        if !master.partners.contains_key(&slip.partner) {
            check.add(at(
                "partner_code",
                format!("partner {} does not exist", slip.partner),
            ));
        }
        if let Some(keychip) = &slip.keychip {
            if !master.keychips.keys().any(|(id, _)| id == keychip) {
                check.add(at(
                    "keychip_id",
                    format!("key-chip {keychip} does not exist"),
                ));
            }
        }
        if existing.is_some() {
            counts.updated += 1
        } else {
            counts.inserted += 1
        }
        changes.push(slip.clone());
    }
    check.into_result().map_err(ImportError::Invalid)?;
    db.save_adjustment_slips(&changes).await?;
    Ok(ImportReport {
        tables: vec![counts],
    })
}

fn read_slips(
    name: &str,
    bytes: &[u8],
    check: &mut Check,
) -> BTreeMap<SlipNo, (u64, AdjustmentSlip)> {
    let mut slips = BTreeMap::new();
    let sheet = match Sheet::read(name, bytes, &ADJUSTMENTS) {
        Ok(sheet) => sheet,
        Err(problems) => {
            check.extend(problems);
            return slips;
        }
    };
    for row in sheet.rows() {
        let Some(row) = check.ok(row) else { continue };
        let Some(slip) = slip(&row, check) else {
            continue;
        };
        if let Some((first, _)) = slips.get(&slip.slip_no) {
            check.add(row.problem(
                "slip_no",
                format!("slip {} already appears on line {first}", slip.slip_no),
            ));
            continue;
        }
        slips.insert(slip.slip_no.clone(), (row.line(), slip));
    }
    slips
}

fn slip(row: &Row, check: &mut Check) -> Option<AdjustmentSlip> {
    let bounded = |column: &str, min, max| row.with(column, |t| Text::parse_bounded(t, min, max));
    let slip_no = check.ok(row.get("slip_no"));
    let partner = check.ok(row.get("partner_code"));
    let store = check.ok(row.get("store_code"));
    let keychip = check.ok(row.optional("keychip_id"));
    let item_no = check.ok(bounded("item_no", 1, 20));
    let item_name = check.ok(bounded("item_name", 1, 100));
    let adjusted_month = check.ok(row.get("adjusted_month"));
    let transfer_date = check.ok(row.with("transfer_date", parse_date));
    let quantity = check.ok(row.get::<Yen>("quantity").map(|q| q.0));
    let unit_price = check.ok(row.get::<Yen>("unit_price"));
    let amount = check.ok(row.get::<Yen>("amount"));
    let kind = check.ok(row.get("kind"));
    let description = check.ok(bounded("description", 0, 120));
    let (quantity, unit_price, amount) = (quantity?, unit_price?, amount?);
    if quantity.checked_mul(unit_price.0) != Some(amount.0) {
        let reason = format!("{amount} is not quantity × unit_price = {quantity} × {unit_price}");
        check.add(row.problem("amount", reason));
        return None;
    }
    Some(AdjustmentSlip {
        slip_no: slip_no?,
        partner: partner?,
        store: store?,
        keychip: keychip?,
        item_no: item_no?,
        item_name: item_name?,
        adjusted_month: adjusted_month?,
        transfer_date: transfer_date?,
        quantity,
        unit_price,
        amount,
        kind: kind?,
        description: description?,
    })
}
