//! Attribution (`statements.md`, "The close"): each event belongs to the store, and so the
//! partner, that held its key-chip on its date, by the master data as it is at the close. An
//! accepted event that no store held stops the close with a list of such days.

use super::events::{DailyPlays, DailyPurchases};
use crate::domain::*;
use chrono::NaiveDate;

/// Where an event belongs: its store and partner on its date.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub partner: PartnerCode,
    pub store: StoreCode,
    pub play_month: Month,
    pub keychip: KeychipId,
}

/// What was played or bought on one key-chip on one day: a charge's plays, or a product's
/// purchases by one payment method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Usage {
    Plays {
        charge: ChargeCode,
    },
    /// The payment method is unknown only for platform sales read back from a close's
    /// 参考情報 (which does not split them by method).
    Purchases {
        product: ProductCode,
        method: Option<PaymentMethod>,
    },
}

/// A day's count of one usage, attributed to the store that held the key-chip that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedDay {
    pub place: Place,
    pub date: NaiveDate,
    pub usage: Usage,
    pub count: i64,
}

/// Attribute a key-chip's day to its store and partner, by the master data as it is now.
fn place(master: &MasterData, keychip: &KeychipId, date: NaiveDate) -> Option<Place> {
    let assignment = master.keychip_on(keychip, date)?;
    let store = master.stores.get(&assignment.store)?;
    Some(Place {
        partner: store.partner.clone(),
        store: store.code.clone(),
        play_month: Month::of(date),
        keychip: keychip.clone(),
    })
}

/// Attribute every billed day to the store that held its key-chip on that day; the days that
/// no store held are listed as the error.
pub fn attribute(
    master: &MasterData,
    plays: &[DailyPlays],
    purchases: &[DailyPurchases],
) -> Result<Vec<PlacedDay>, Vec<String>> {
    let days = plays
        .iter()
        .map(|d| {
            let usage = Usage::Plays {
                charge: d.charge.clone(),
            };
            (&d.keychip, d.date, usage, d.count)
        })
        .chain(purchases.iter().map(|d| {
            let usage = Usage::Purchases {
                product: d.product.clone(),
                method: Some(d.method),
            };
            (&d.keychip, d.date, usage, d.quantity)
        }));
    let mut placed = Vec::new();
    let mut unheld = Vec::new();
    for (keychip, date, usage, count) in days {
        match place(master, keychip, date) {
            Some(place) => placed.push(PlacedDay {
                place,
                date,
                usage,
                count,
            }),
            None => unheld.push(format!("key-chip {keychip} on {date}: no store held it")),
        }
    }
    if unheld.is_empty() {
        Ok(placed)
    } else {
        unheld.sort();
        unheld.dedup();
        Err(unheld)
    }
}
