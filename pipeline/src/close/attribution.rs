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

/// A key-chip's day placed: the address of the key-chip's master row that held it
/// ([`super::pricing::PlaceId`]) and its place.
type Held = (usize, Place);

/// Attribute a key-chip's day to its store and partner, by the master data as it is now.
fn place(in_force: &InForce, keychip: &KeychipId, date: NaiveDate) -> Option<Held> {
    let assignment = in_force.keychip_on(keychip, date)?;
    let store = in_force.store(&assignment.store)?;
    let place = Place {
        partner: store.partner.clone(),
        store: store.code.clone(),
        play_month: Month::of(date),
        keychip: keychip.clone(),
    };
    Some((super::pricing::row_id(assignment), place))
}

/// Each of the daily counts attributed to the store that held its key-chip that day, as it is
/// counted (a national month has millions: they are not kept), with the address of the
/// key-chip's master row that held it; the days no store held are added to `unheld`.
pub(super) fn attributed<'d>(
    in_force: &'d InForce,
    plays: impl Iterator<Item = &'d DailyPlays> + 'd,
    purchases: impl Iterator<Item = &'d DailyPurchases> + 'd,
    unheld: &'d mut Vec<String>,
) -> impl Iterator<Item = (usize, PlacedDay)> + 'd {
    let days = plays
        .map(|d| {
            let usage = Usage::Plays {
                charge: d.charge.clone(),
            };
            (&d.keychip, d.date, usage, d.count)
        })
        .chain(purchases.map(|d| {
            let usage = Usage::Purchases {
                product: d.product.clone(),
                method: Some(d.method),
            };
            (&d.keychip, d.date, usage, d.quantity)
        }));
    // The daily counts come a key-chip's day at a time (a row per charge or product): its
    // place is looked up once.
    let mut last: Option<(&KeychipId, NaiveDate, Option<Held>)> = None;
    days.filter_map(move |(keychip, date, usage, count)| {
        let place = match &last {
            Some((k, d, place)) if *k == keychip && *d == date => place.clone(),
            _ => {
                let place = place(in_force, keychip, date);
                last = Some((keychip, date, place.clone()));
                place
            }
        };
        if place.is_none() {
            unheld.push(format!("key-chip {keychip} on {date}: no store held it"));
        }
        let (held_by, place) = place?;
        let day = PlacedDay {
            place,
            date,
            usage,
            count,
        };
        Some((held_by, day))
    })
}
