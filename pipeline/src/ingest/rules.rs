//! The rules that need the master data, in the order `feeds.md` checks them: `future_event`,
//! `unknown_keychip`, `unknown_code`, `price_mismatch`.

use super::feed::{reject, Event, Feed, Rejection};
use crate::domain::{MasterData, QuarantineReason, Validity};
use ahash::{AHashMap, AHashSet};
use chrono::{Days, NaiveDate};

/// The master data as ingest consults it: by code, each with its intervals. Every row is
/// looked up here, so the maps hash with aHash, not the standard library's SipHash.
pub struct MasterIndex {
    keychips: AHashMap<String, Vec<(Validity, String)>>,
    titles: AHashSet<String>,
    charges: AHashMap<String, Vec<(Validity, String)>>,
    products: AHashMap<String, Vec<(Validity, String, i64)>>,
}

fn in_force<T>(
    intervals: Option<&Vec<T>>,
    date: NaiveDate,
    validity: impl Fn(&T) -> Validity,
) -> Option<&T> {
    intervals?
        .iter()
        .find(|entry| validity(entry).contains(date))
}

impl MasterIndex {
    pub fn new(master: &MasterData) -> MasterIndex {
        let mut index = MasterIndex {
            keychips: AHashMap::new(),
            titles: master
                .titles
                .keys()
                .map(|t| t.as_str().to_owned())
                .collect(),
            charges: AHashMap::new(),
            products: AHashMap::new(),
        };
        for k in master.keychips.values() {
            let entry = (k.validity, k.title.as_str().to_owned());
            index
                .keychips
                .entry(k.keychip.as_str().to_owned())
                .or_default()
                .push(entry);
        }
        for c in master.charges.values() {
            let entry = (c.validity, c.title.as_str().to_owned());
            index
                .charges
                .entry(c.code.as_str().to_owned())
                .or_default()
                .push(entry);
        }
        for p in master.products.values() {
            let entry = (p.validity, p.title.as_str().to_owned(), p.unit_price.0);
            index
                .products
                .entry(p.code.as_str().to_owned())
                .or_default()
                .push(entry);
        }
        index
    }

    /// Check `event`, delivered on `delivery`, against the master data.
    pub fn check(&self, event: &Event, delivery: NaiveDate) -> Result<(), Rejection> {
        let latest = delivery + Days::new(1);
        if event.date > latest {
            let detail = format!(
                "dated {}, after the delivery date {delivery} + 1 day",
                event.date
            );
            return Err(reject(QuarantineReason::FutureEvent, detail));
        }
        let Some((_, keychip_title)) = in_force(
            self.keychips.get(event.keychip.as_str()),
            event.date,
            |(v, _)| *v,
        ) else {
            let detail = format!("no store held key-chip {} on {}", event.keychip, event.date);
            return Err(reject(QuarantineReason::UnknownKeychip, detail));
        };
        let unknown = |detail: String| Err(reject(QuarantineReason::UnknownCode, detail));
        if !self.titles.contains(event.title.as_str()) {
            return unknown(format!("title {} does not exist", event.title));
        }
        if *keychip_title != event.title {
            return unknown(format!(
                "key-chip {} is a {} cabinet, not {}",
                event.keychip, keychip_title, event.title
            ));
        }
        match event.feed {
            Feed::Plays => match in_force(
                self.charges.get(event.code.as_str()),
                event.date,
                |(v, _)| *v,
            ) {
                None => unknown(format!(
                    "charge {} is not in force on {}",
                    event.code, event.date
                )),
                Some((_, title)) if *title != event.title => unknown(format!(
                    "charge {} is of title {title}, not {}",
                    event.code, event.title
                )),
                Some(_) => Ok(()),
            },
            Feed::Purchases => {
                match in_force(
                    self.products.get(event.code.as_str()),
                    event.date,
                    |(v, _, _)| *v,
                ) {
                    None => unknown(format!(
                        "product {} is not in force on {}",
                        event.code, event.date
                    )),
                    Some((_, title, _)) if *title != event.title => unknown(format!(
                        "product {} is of title {title}, not {}",
                        event.code, event.title
                    )),
                    Some((_, _, price)) if *price != event.unit_price => Err(reject(
                        QuarantineReason::PriceMismatch,
                        format!(
                            "unit price {} differs from the price of {} on {}: {price}",
                            event.unit_price, event.code, event.date
                        ),
                    )),
                    Some(_) => Ok(()),
                }
            }
        }
    }
}
