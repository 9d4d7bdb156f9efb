//! 支払合計 per partner (`statements.md`, "支払合計 — payment totals"): one statement over all
//! titles and one per title, each computed from its own payment details by
//! [`payment_totals`]; adjustment slips carry no title, so they count on the all-titles row only.

use super::pricing::PaymentDetail;
use super::statements::overflow;
use super::CloseError;
use crate::domain::*;
use std::collections::{BTreeMap, BTreeSet};

/// Per partner: its payment totals over all titles (`None`) first, then each title.
type PartnerTotals = BTreeMap<PartnerCode, Vec<(Option<TitleCode>, PaymentTotals)>>;

/// The payment totals of every partner with payment details or slips: all titles, then each.
pub(super) fn all_totals(
    payments: &[PaymentDetail],
    slips: &[AdjustmentSlip],
    rates: Rates,
) -> Result<PartnerTotals, CloseError> {
    let partners: BTreeSet<&PartnerCode> = payments
        .iter()
        .map(|p| &p.place.partner)
        .chain(slips.iter().map(|s| &s.partner))
        .collect();
    partners
        .into_iter()
        .map(|partner| {
            let own: Vec<&PaymentDetail> = payments
                .iter()
                .filter(|p| &p.place.partner == partner)
                .collect();
            let own_slips: Vec<(AdjustmentKind, Yen)> = slips
                .iter()
                .filter(|s| &s.partner == partner)
                .map(|s| (s.kind, s.amount))
                .collect();
            let figures = |title: Option<&TitleCode>| -> Vec<PaymentFigures> {
                own.iter()
                    .filter(|p| title.is_none_or(|t| &p.title == t))
                    .map(|p| p.figures())
                    .collect()
            };
            let overflow = overflow(partner);
            let all = payment_totals(&figures(None), &own_slips, rates).map_err(&overflow)?;
            let mut rows = vec![(None, all)];
            let titles: BTreeSet<&TitleCode> = own.iter().map(|p| &p.title).collect();
            for title in titles {
                let totals =
                    payment_totals(&figures(Some(title)), &[], rates).map_err(&overflow)?;
                rows.push((Some(title.clone()), totals));
            }
            Ok((partner.clone(), rows))
        })
        .collect()
}
