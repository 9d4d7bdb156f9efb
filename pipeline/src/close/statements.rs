//! The rules of `statements.md` on the daily counts a close bills, in the spec's order:
//! [`attribution`](super::attribution) to stores and partners, [`pricing`](super::pricing) of
//! the detail tables, the payment [`totals`](super::totals) (A1–G2, PAY) and
//! [`invoicing`](super::invoicing). Money is exact: yen as integers, prices and rates as
//! decimals, every rounding [`half_up`] or [`truncate`] where the spec names it, every sum
//! checked.

use super::invoicing::{invoices, Invoice};
use super::pricing::{details, BilledDays, BillingDetail, Details, PaymentDetail, ReferenceRow};
use super::totals::all_totals;
use super::CloseError;
use crate::domain::*;
use std::collections::BTreeMap;

/// Every table of a close, in the order of their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// The rates the statements were computed with, recorded in `payment_totals`.
    pub rates: Rates,
    pub billing: Vec<BillingDetail>,
    pub payments: Vec<PaymentDetail>,
    pub reference: Vec<ReferenceRow>,
    /// Per partner: all titles (`None`) first, then each title.
    pub totals: BTreeMap<PartnerCode, Vec<(Option<TitleCode>, PaymentTotals)>>,
    pub slips: Vec<AdjustmentSlip>,
    pub invoices: Vec<Invoice>,
}

impl Statements {
    /// Whether any event played or bought in `month` is billed.
    pub fn has_events_of(&self, month: Month) -> bool {
        let billing = self.billing.iter().map(|b| &b.place);
        let payments = self.payments.iter().map(|p| &p.place);
        let reference = self.reference.iter().map(|r| &r.place);
        billing
            .chain(payments)
            .chain(reference)
            .any(|place| place.play_month == month)
    }

    /// A partner's payment totals over all titles.
    pub fn totals_of(&self, partner: &PartnerCode) -> Option<&PaymentTotals> {
        self.totals
            .get(partner)
            .and_then(|rows| rows.iter().find(|(title, _)| title.is_none()))
            .map(|(_, totals)| totals)
    }
}

/// The error of a figure of `partner`'s that does not fit.
pub(super) fn overflow(partner: &PartnerCode) -> impl Fn(Overflow) -> CloseError + '_ {
    move |_| CloseError::Overflow(partner.to_string())
}

/// Compute every table of a close from the days it bills. Days that no store held, or whose
/// charge or product is not in force, are listed as the error; a figure that does not fit
/// names its partner.
pub fn statements(
    master: &MasterData,
    rates: Rates,
    days: BilledDays<'_>,
    slips: Vec<AdjustmentSlip>,
    first_invoice_number: u32,
) -> Result<Statements, CloseError> {
    let Details {
        billing,
        payments,
        reference,
    } = details(master, rates, days)?;
    let totals = all_totals(&payments, &slips, rates)?;
    let invoices = invoices(&billing, &slips, rates, first_invoice_number)?;
    Ok(Statements {
        rates,
        billing,
        payments,
        reference,
        totals,
        slips,
        invoices,
    })
}

#[cfg(test)]
mod tests {
    use super::super::attribution::{Place, PlacedDay, Usage};
    use super::super::invoicing::LAST_INVOICE_NUMBER;
    use super::super::pricing::{amount, Days};
    use super::*;
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    fn rates() -> Rates {
        crate::domain::guide_rates()
    }

    #[test]
    fn refunds_and_amounts_round_half_up_not_to_even() {
        // メダル5000円(電子マネー): 5,000 less 3 % → 4,850; a 110-yen item by AimePay → 104.50 → 105.
        assert_eq!(
            refund_unit_price(Yen(5_000), Percent(Decimal::from(3))),
            Decimal::from(4_850)
        );
        let aime = refund_unit_price(Yen(110), Percent(Decimal::from(5)));
        assert_eq!(aime, Decimal::new(10_450, 2));
        assert_eq!(amount(1, aime).unwrap(), Yen(105));
        // 5 plays at 32.5 yen: 162.5 → 163 (banker's rounding would give 162).
        assert_eq!(amount(5, Decimal::new(325, 1)).unwrap(), Yen(163));
        // The guide's commission lines: 3,860 → 1,544; 94 → 37.6 → 38.
        assert_eq!(amount(3_860, Decimal::new(4, 1)).unwrap(), Yen(1_544));
        assert_eq!(amount(94, Decimal::new(4, 1)).unwrap(), Yen(38));
    }

    fn charge(code: &str, price: Decimal, rate: i64) -> Charge {
        let text = |t: &str| Text::parse_bounded(t, 1, 100).unwrap();
        Charge {
            code: ChargeCode::parse(code).unwrap(),
            title: TitleCode::parse("CHUNI").unwrap(),
            kind: ChargeKind::Billing,
            item_name: text("CHUNITHMシリーズ"),
            charge_name: text(code),
            unit_price: UnitPrice(price),
            tax_rate: Percent(Decimal::from(rate)),
            validity: Validity::new(NaiveDate::MIN, None).unwrap(),
            allnet_class: None,
        }
    }

    #[test]
    fn tax_is_computed_once_per_invoice_and_rate_not_per_line() {
        let place = Place {
            partner: PartnerCode::parse("229999000").unwrap(),
            store: StoreCode::parse("S1").unwrap(),
            play_month: Month::parse("2026-09").unwrap(),
            keychip: KeychipId::parse("A72E0000001").unwrap(),
        };
        let detail = |code: &str, price: Decimal, rate: i64, amount: i64| BillingDetail {
            place: place.clone(),
            charge: charge(code, price, rate),
            count: 1,
            amount: Yen(amount),
            days: Days::new(),
        };
        // Lines of 163, 89 and 75 at 10 %, and 55 at 8 %: per line the 10 % taxes would be
        // 16 + 8 + 7 = 31; once per rate they are truncate(32.7) = 32, and 8 % gives 4.
        let billing = [
            detail("A", Decimal::from(163), 10, 163),
            detail("B", Decimal::from(89), 10, 89),
            detail("C", Decimal::from(75), 10, 75),
            detail("D", Decimal::from(55), 8, 55),
        ];
        let invoice = &invoices(&billing, &[], rates(), 1_700_000).unwrap()[0];
        let rate = |r: i64| Percent(Decimal::from(r));
        assert_eq!(
            invoice.taxes,
            [(rate(8), Yen(55), Yen(4)), (rate(10), Yen(327), Yen(32))]
        );
        assert_eq!(
            (invoice.subtotal, invoice.tax, invoice.total),
            (Yen(382), Yen(36), Yen(418))
        );
        let per_line = billing
            .iter()
            .map(|d| d.charge.tax_rate.of(d.amount).unwrap());
        assert_ne!(Yen::sum(per_line).unwrap(), invoice.tax);
    }

    fn day(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    /// A charge of `kind` in force from `from` to `to`, its price and tax rate as written.
    fn priced(kind: ChargeKind, price: &str, rate: &str, from: &str, to: Option<&str>) -> Charge {
        Charge {
            kind,
            unit_price: UnitPrice::parse(price).unwrap(),
            tax_rate: Percent::parse(rate).unwrap(),
            validity: Validity::new(day(from), to.map(day)).unwrap(),
            ..charge("C", Decimal::ZERO, 10)
        }
    }

    fn master_with(charges: &[Charge]) -> MasterData {
        let mut master = MasterData::default();
        for c in charges {
            master
                .charges
                .insert((c.code.clone(), c.validity.from), c.clone());
        }
        master
    }

    fn placed(date: &str, count: i64) -> PlacedDay {
        PlacedDay {
            place: Place {
                partner: PartnerCode::parse("229999000").unwrap(),
                store: StoreCode::parse("S1").unwrap(),
                play_month: Month::of(day(date)),
                keychip: KeychipId::parse("A72E0000001").unwrap(),
            },
            date: day(date),
            usage: Usage::Plays {
                charge: ChargeCode::parse("C").unwrap(),
            },
            count,
        }
    }

    fn close_of(charges: &[Charge], days: &[PlacedDay]) -> Result<Statements, CloseError> {
        let days = BilledDays::Placed(days);
        statements(&master_with(charges), rates(), days, Vec::new(), 1_700_000)
    }

    #[test]
    fn a_commission_priced_anew_mid_month_makes_two_rows_each_day_at_its_price() {
        let commission = ChargeKind::Commission;
        let charges = [
            priced(commission, "0.4", "10", "2026-01-01", Some("2026-09-15")),
            priced(commission, "0.5", "10", "2026-09-16", None),
        ];
        let days = [placed("2026-09-10", 100), placed("2026-09-20", 100)];
        let s = close_of(&charges, &days).unwrap();
        let rows: Vec<(i64, Decimal, Yen)> = s
            .payments
            .iter()
            .map(|p| (p.count, p.refund_unit_price, p.refund_amount))
            .collect();
        assert_eq!(
            rows,
            [
                (100, Decimal::new(4, 1), Yen(40)),
                (100, Decimal::new(5, 1), Yen(50))
            ]
        );
        assert_eq!(s.totals_of(&days[0].place.partner).unwrap().c1, Yen(90));
    }

    #[test]
    fn a_tax_rate_change_at_one_price_makes_two_rows_and_two_taxes() {
        // Japan's 8 → 10 % of October 2019, the price unchanged.
        let billing = ChargeKind::Billing;
        let charges = [
            priced(billing, "100", "8", "2019-01-01", Some("2019-09-30")),
            priced(billing, "100", "10", "2019-10-01", None),
        ];
        let days = [placed("2019-09-30", 3), placed("2019-10-01", 2)];
        let s = close_of(&charges, &days).unwrap();
        let rows: Vec<(i64, Decimal)> = s
            .billing
            .iter()
            .map(|b| (b.count, b.charge.tax_rate.0))
            .collect();
        assert_eq!(rows, [(3, Decimal::from(8)), (2, Decimal::from(10))]);
        let invoice = &s.invoices[0];
        assert_eq!(invoice.lines.len(), 2, "a line never mixes two rates");
        assert_eq!(
            invoice.taxes,
            [
                (Percent(Decimal::from(8)), Yen(300), Yen(24)),
                (Percent(Decimal::from(10)), Yen(200), Yen(20))
            ]
        );
    }

    #[test]
    fn a_price_is_grouped_by_its_value_not_its_text() {
        let billing = ChargeKind::Billing;
        let charges = [
            priced(billing, "100", "10", "2026-01-01", Some("2026-09-15")),
            priced(billing, "100.00", "10", "2026-09-16", None),
        ];
        let days = [placed("2026-09-10", 1), placed("2026-09-20", 2)];
        let s = close_of(&charges, &days).unwrap();
        assert_eq!(s.billing.len(), 1);
        assert_eq!((s.billing[0].count, s.billing[0].amount), (3, Yen(300)));
        assert_eq!(s.invoices[0].lines.len(), 1);
    }

    #[test]
    fn days_whose_key_chips_come_in_another_order_each_day_are_counted_into_their_own_rows() {
        let charges = [priced(ChargeKind::Billing, "100", "10", "2026-01-01", None)];
        let at = |keychip: &str, date: &str, count| PlacedDay {
            place: Place {
                keychip: KeychipId::parse(keychip).unwrap(),
                ..placed(date, 0).place
            },
            ..placed(date, count)
        };
        // The first day sets an order; the next days leave a key-chip out, turn the order
        // round and count one key-chip's day twice.
        let days = [
            at("K1", "2026-09-01", 1),
            at("K2", "2026-09-01", 2),
            at("K3", "2026-09-01", 3),
            at("K3", "2026-09-02", 30),
            at("K1", "2026-09-02", 10),
            at("K2", "2026-09-03", 200),
            at("K1", "2026-09-03", 100),
            at("K1", "2026-09-03", 100),
            at("K3", "2026-09-03", 300),
        ];
        let s = close_of(&charges, &days).unwrap();
        let rows: Vec<(&str, Vec<i64>)> = s
            .billing
            .iter()
            .map(|b| (b.place.keychip.as_str(), b.days.values().copied().collect()))
            .collect();
        let expected = [
            ("K1", vec![1, 10, 200]),
            ("K2", vec![2, 200]),
            ("K3", vec![3, 30, 300]),
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn a_late_file_s_earlier_day_is_counted_in_its_place_and_one_day_s_counts_added() {
        let charges = [priced(ChargeKind::Billing, "100", "10", "2026-01-01", None)];
        let days = [
            placed("2026-09-20", 2),
            placed("2026-09-10", 1),
            placed("2026-09-20", 3),
            placed("2026-09-15", 4),
            placed("2026-09-10", 6),
        ];
        let s = close_of(&charges, &days).unwrap();
        assert_eq!(s.billing.len(), 1);
        let counted: Vec<(String, i64)> = s.billing[0]
            .days
            .iter()
            .map(|(date, count)| (date.to_string(), *count))
            .collect();
        let expected = [("2026-09-10", 7), ("2026-09-15", 4), ("2026-09-20", 5)];
        assert_eq!(counted, expected.map(|(d, c)| (d.to_owned(), c)));
        assert_eq!((s.billing[0].count, s.billing[0].amount), (16, Yen(1600)));
    }

    #[test]
    fn days_counted_in_shards_and_merged_are_the_days_counted_at_once() {
        // Key-chips' days interleaved; two charges of one price make one row, which keeps the
        // first day's charge.
        let billing = ChargeKind::Billing;
        let charges = [
            priced(billing, "100", "10", "2026-01-01", Some("2026-09-15")),
            priced(billing, "100.00", "10", "2026-09-16", None),
        ];
        let master = master_with(&charges);
        let in_force = master.in_force();
        let keychips = ["A72E0000001", "A72E0000002", "A72E0000003", "B0000000004"];
        let days: Vec<PlacedDay> = (1..=30)
            .flat_map(|d| keychips.map(|k| (d, k)))
            .map(|(d, keychip)| PlacedDay {
                place: Place {
                    keychip: KeychipId::parse(keychip).unwrap(),
                    ..placed("2026-09-01", 0).place
                },
                ..placed(&format!("2026-09-{d:02}"), d)
            })
            .chain([placed("2026-09-10", 100)])
            .collect();
        let days = BilledDays::Placed(&days);
        let whole = days.count_shard(&in_force, 0, 1).unwrap();
        for cores in 2..=7 {
            let merged = (0..cores)
                .map(|core| days.count_shard(&in_force, core, cores).unwrap())
                .fold(Default::default(), super::super::pricing::Counted::merge);
            assert_eq!(merged, whole, "in {cores} shards");
        }
    }

    #[test]
    fn an_amount_that_does_not_fit_names_its_partner() {
        let billing = ChargeKind::Billing;
        let charges = [priced(billing, "1000", "10", "2026-01-01", None)];
        // Two days whose counts do not add up in 64 bits, and a count whose amount does not.
        for days in [
            vec![placed("2026-09-10", i64::MAX), placed("2026-09-11", 1)],
            vec![placed("2026-09-10", i64::MAX / 10)],
        ] {
            let error = close_of(&charges, &days).unwrap_err();
            assert!(
                matches!(&error, CloseError::Overflow(p) if p == "229999000"),
                "{error}"
            );
        }
        // Taxes on a subtotal near the limit overflow the invoice's total, not silently.
        let charges = [priced(billing, "1", "10", "2026-01-01", None)];
        let error = close_of(&charges, &[placed("2026-09-10", i64::MAX - 1)]).unwrap_err();
        assert!(matches!(error, CloseError::Overflow(_)), "{error}");
    }

    #[test]
    fn invoice_numbers_past_seven_digits_are_an_error() {
        let billing = ChargeKind::Billing;
        let charges = [priced(billing, "100", "10", "2026-01-01", None)];
        let master = master_with(&charges);
        let placed = [placed("2026-09-10", 1)];
        let days = BilledDays::Placed(&placed);
        let last = statements(&master, rates(), days, Vec::new(), LAST_INVOICE_NUMBER).unwrap();
        assert_eq!(last.invoices[0].invoice_no, "9999999");
        let error =
            statements(&master, rates(), days, Vec::new(), LAST_INVOICE_NUMBER + 1).unwrap_err();
        assert!(
            matches!(error, CloseError::InvoiceNumbers { .. }),
            "{error}"
        );
    }
}
