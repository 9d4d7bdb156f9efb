//! Attribution (`statements.md`, "The close"): each event belongs to the store, and so the
//! partner, that held its key-chip on its date, by the master data as it is at the close. An
//! accepted event that no store held stops the close with a list of such days.

use super::events::{DailyPlays, DailyPurchases};
use crate::domain::*;
use chrono::NaiveDate;

/// Where an event belongs: its store and partner on its date.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
fn place(
    master: &MasterData,
    in_force: &InForce,
    keychip: &KeychipId,
    date: NaiveDate,
) -> Option<Place> {
    let assignment = in_force.keychip_on(keychip, date)?;
    let store = master.stores.get(&assignment.store)?;
    Some(Place {
        partner: store.partner.clone(),
        store: store.code.clone(),
        play_month: Month::of(date),
        keychip: keychip.clone(),
    })
}

/// Attribute every billed day to the store that held its key-chip on that day, each core a
/// part of the days; the days that no store held are listed as the error.
pub fn attribute(
    master: &MasterData,
    plays: &[DailyPlays],
    purchases: &[DailyPurchases],
) -> Result<Vec<PlacedDay>, Vec<String>> {
    let in_force = master.in_force();
    let parts = super::on_every_core(|core, cores| {
        let (plays, purchases) = (part(plays, core, cores), part(purchases, core, cores));
        attribute_part(master, &in_force, plays, purchases)
    });
    let mut placed = Vec::with_capacity(plays.len() + purchases.len());
    let mut unheld = Vec::new();
    for (part_placed, part_unheld) in parts {
        placed.extend(part_placed);
        unheld.extend(part_unheld);
    }
    if unheld.is_empty() {
        Ok(placed)
    } else {
        unheld.sort();
        unheld.dedup();
        Err(unheld)
    }
}

/// The `core`th of `cores` parts of `items`.
fn part<T>(items: &[T], core: usize, cores: usize) -> &[T] {
    &items[items.len() * core / cores..items.len() * (core + 1) / cores]
}

/// The days of one part attributed, and those no store held.
fn attribute_part(
    master: &MasterData,
    in_force: &InForce,
    plays: &[DailyPlays],
    purchases: &[DailyPurchases],
) -> (Vec<PlacedDay>, Vec<String>) {
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
    let mut placed = Vec::with_capacity(plays.len() + purchases.len());
    let mut unheld = Vec::new();
    // The daily counts come a key-chip's day at a time (a row per charge or product): its
    // place is looked up once.
    let mut last: Option<(&KeychipId, NaiveDate, Option<Place>)> = None;
    for (keychip, date, usage, count) in days {
        let place = match &last {
            Some((k, d, place)) if *k == keychip && *d == date => place.clone(),
            _ => {
                let place = place(master, in_force, keychip, date);
                last = Some((keychip, date, place.clone()));
                place
            }
        };
        match place {
            Some(place) => placed.push(PlacedDay {
                place,
                date,
                usage,
                count,
            }),
            None => unheld.push(format!("key-chip {keychip} on {date}: no store held it")),
        }
    }
    (placed, unheld)
}
