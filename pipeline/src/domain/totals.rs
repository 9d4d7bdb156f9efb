//! 支払合計 (`statements.md`, "支払合計 — payment totals"): items A1 to G2 and PAY of one
//! statement, from what its payment details and adjustment slips hold and the rates in force on
//! the closing month's last day. A title's statement is computed from its own details with the
//! same rules, never as a share. Pure arithmetic on exact values, every sum checked: the close
//! computes statements with it, the exports recompute a store's or a title's, and the documents
//! print them.

use super::*;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The rates a statement uses: those in force on the last day of the closing month.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub aimepay_fee: Percent,
    pub emoney_fee: Percent,
    pub consumption_tax: Percent,
}

impl Rates {
    /// The rates of a statement as its tables record them (`payment_totals`).
    pub fn items(&self) -> [(&'static str, Decimal); 3] {
        [
            ("aimepay_fee", self.aimepay_fee.0),
            ("emoney_fee", self.emoney_fee.0),
            ("consumption_tax", self.consumption_tax.0),
        ]
    }

    pub fn on(master: &MasterData, date: NaiveDate) -> Result<Rates, String> {
        let rate = |name: RateName| {
            master
                .rates
                .values()
                .filter(|r| r.name == name && r.valid_from <= date)
                .max_by_key(|r| r.valid_from)
                .map(|r| r.value)
                .ok_or_else(|| format!("no {name} rate is in force on {date}"))
        };
        Ok(Rates {
            aimepay_fee: rate(RateName::AimepayFee)?,
            emoney_fee: rate(RateName::EmoneyFee)?,
            consumption_tax: rate(RateName::ConsumptionTax)?,
        })
    }
}

/// 支払合計 of one partner, over all titles (`title` none) or one title.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentTotals {
    pub a1: Yen,
    pub a2: Yen,
    pub b1: Yen,
    pub b2: Yen,
    pub b3: Yen,
    pub b4: Yen,
    pub c1: Yen,
    pub d1: Yen,
    pub e1: Yen,
    pub f1: Yen,
    pub f2: Yen,
    pub f3: Yen,
    pub f4: Yen,
    pub g1: Yen,
    pub g2: Yen,
    pub pay: Yen,
}

impl PaymentTotals {
    pub fn is_zero(&self) -> bool {
        *self == PaymentTotals::default()
    }

    /// The items in the statement's order, with their labels: A1 … G2, then PAY.
    pub fn items(&self) -> [(&'static str, Yen); 16] {
        [
            ("A1", self.a1),
            ("A2", self.a2),
            ("B1", self.b1),
            ("B2", self.b2),
            ("B3", self.b3),
            ("B4", self.b4),
            ("C1", self.c1),
            ("D1", self.d1),
            ("E1", self.e1),
            ("F1", self.f1),
            ("F2", self.f2),
            ("F3", self.f3),
            ("F4", self.f4),
            ("G1", self.g1),
            ("G2", self.g2),
            ("PAY", self.pay),
        ]
    }
}

/// A line of 支払合計 as the guide's 6-11 shows it: its label (with its code) and its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalsLine {
    /// `A1` … `G2`, `PAY`.
    pub code: &'static str,
    pub label: &'static str,
    pub amount: Yen,
    pub note: String,
}

impl PaymentTotals {
    /// The items A1 … G2 and PAY with the guide's labels and notes (the rates in the notes).
    pub fn lines(&self, rates: &Rates) -> Vec<TotalsLine> {
        let t = self;
        let tax = rates.consumption_tax;
        let items = [
        ("(A1) AimePay決済金額", t.a1, String::new()),
        (
            "(A2) AimePay利用手数料(税込)",
            t.a2,
            format!("AimePay決済金額(A1) × {}%", rates.aimepay_fee),
        ),
        ("(B1) 電子マネー決済金額", t.b1, String::new()),
        (
            "(B2) 電子マネー決済手数料(税抜)",
            t.b2,
            format!("電子マネー決済金額(B1) × {}%", rates.emoney_fee),
        ),
        (
            "(B3) 決済手数料消費税",
            t.b3,
            format!("電子マネー決済手数料(B2) × 消費税({tax}%)"),
        ),
        ("(B4) 電子マネー利用手数料預り金(B2 + B3)", t.b4, String::new()),
        ("(C1) 販売委託手数料(税込)", t.c1, "利用回数 × 返金単価".into()),
        ("(D1) 支払金額(税込)", t.d1, "キャンペーン協力金等".into()),
        ("(E1) 手数料等返金額(税込)", t.e1, String::new()),
        ("(F1) AimePay利用手数料(税込)(A2)", t.f1, String::new()),
        ("(F2) 手数料等返金額(税込)(E1)", t.f2, String::new()),
        ("(F3) 課税売上税込金額(F1 - F2)", t.f3, String::new()),
        ("(F4) 消費税相当金額", t.f4, format!("{tax}%")),
        ("(G1) 課税仕入税込金額(C1 + D1)", t.g1, String::new()),
        ("(G2) 消費税相当金額", t.g2, format!("{tax}%")),
        (
            "お支払合計金額(A1 + B1 - B4 - F3 + G1)",
            t.pay,
            "AimePay決済金額 + 電子マネー決済金額 - 電子マネー利用手数料預り金 - 課税売上税込金額 + 課税仕入税込金額".into(),
        ),
    ];
        items
            .into_iter()
            .zip(self.items())
            .map(|((label, amount, note), (code, _))| TotalsLine {
                code,
                label,
                amount,
                note,
            })
            .collect()
    }
}

/// What 支払合計 reads of a payment detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentFigures {
    /// None for commissions.
    pub method: Option<PaymentMethod>,
    pub count: i64,
    pub amount: Option<Yen>,
    pub refund_unit_price: Decimal,
}

/// 支払合計 (statements.md): A1 to G2 and PAY from payment details and the kinds and amounts
/// of adjustment slips; every sum checked.
pub fn payment_totals(
    payments: &[PaymentFigures],
    slips: &[(AdjustmentKind, Yen)],
    rates: Rates,
) -> Result<PaymentTotals, Overflow> {
    let t = rates.consumption_tax;
    let sold = |method: PaymentMethod| {
        Yen::sum(
            payments
                .iter()
                .filter(|p| p.method == Some(method))
                .filter_map(|p| p.amount),
        )
    };
    let slipped = |kind: AdjustmentKind| {
        Yen::sum(
            slips
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, amount)| *amount),
        )
    };
    let a1 = sold(PaymentMethod::Aimepay)?;
    let a2 = rates.aimepay_fee.of(a1)?;
    let b1 = sold(PaymentMethod::Emoney)?;
    let b2 = rates.emoney_fee.of(b1)?;
    let b3 = t.of(b2)?;
    let b4 = b2.checked_add(b3)?;
    let mut commission = Decimal::ZERO;
    for p in payments.iter().filter(|p| p.method.is_none()) {
        commission = commission
            .checked_add(times(p.count, p.refund_unit_price)?)
            .ok_or(Overflow)?;
    }
    let c1 = truncate(commission)?;
    let (d1, e1) = (
        slipped(AdjustmentKind::Payment)?,
        slipped(AdjustmentKind::Refund)?,
    );
    let (f1, f2) = (a2, e1);
    let f3 = f1.checked_sub(f2)?;
    let f4 = t.included_in(f3)?;
    let g1 = c1.checked_add(d1)?;
    let g2 = t.included_in(g1)?;
    let pay = a1
        .checked_add(b1)?
        .checked_sub(b4)?
        .checked_sub(f3)?
        .checked_add(g1)?;
    Ok(PaymentTotals {
        a1,
        a2,
        b1,
        b2,
        b3,
        b4,
        c1,
        d1,
        e1,
        f1,
        f2,
        f3,
        f4,
        g1,
        g2,
        pay,
    })
}

/// The guide's rates (5 / 3 / 10), for the tests of the statements' rules.
#[cfg(test)]
pub(crate) fn guide_rates() -> Rates {
    Rates {
        aimepay_fee: Percent(Decimal::from(5)),
        emoney_fee: Percent(Decimal::from(3)),
        consumption_tax: Percent(Decimal::from(10)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Rates {
        guide_rates()
    }

    fn sales(
        method: Option<PaymentMethod>,
        count: i64,
        amount: Option<i64>,
        refund: Decimal,
    ) -> PaymentFigures {
        PaymentFigures {
            method,
            count,
            amount: amount.map(Yen),
            refund_unit_price: refund,
        }
    }

    #[test]
    fn the_guides_statement_from_the_rules_alone() {
        let payments = [
            sales(Some(PaymentMethod::Aimepay), 1, Some(12_100), Decimal::ZERO),
            sales(Some(PaymentMethod::Emoney), 1, Some(51_000), Decimal::ZERO),
            sales(None, 55_940, None, Decimal::new(4, 1)),
        ];
        let t = payment_totals(&payments, &[], rates()).unwrap();
        let items: Vec<i64> = t.items().iter().map(|(_, v)| v.0).collect();
        assert_eq!(
            items,
            [
                12_100, 605, 51_000, 1_530, 153, 1_683, 22_376, 0, 0, 605, 0, 605, 55, 22_376,
                2_034, 83_188
            ]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn figures() -> impl Strategy<Value = PaymentFigures> {
            let method = prop_oneof![
                Just(None),
                Just(Some(PaymentMethod::Emoney)),
                Just(Some(PaymentMethod::Aimepay))
            ];
            (method, 0i64..10_000_000, 0i64..1_000_000_000, 0i64..100_000).prop_map(
                |(method, count, amount, refund)| PaymentFigures {
                    method,
                    count,
                    amount: method.map(|_| Yen(amount)),
                    refund_unit_price: Decimal::new(refund, 4),
                },
            )
        }

        fn slip() -> impl Strategy<Value = (AdjustmentKind, Yen)> {
            let kind = prop_oneof![
                Just(AdjustmentKind::Billing),
                Just(AdjustmentKind::Payment),
                Just(AdjustmentKind::Refund)
            ];
            (kind, (-10_000_000i64..10_000_000).prop_map(Yen))
        }

        fn percent() -> impl Strategy<Value = Percent> {
            (0i64..=10_000).prop_map(|p| Percent(Decimal::new(p, 2)))
        }

        proptest! {
            #[test]
            fn pay_is_a1_plus_b1_less_b4_less_f3_plus_g1(
                payments in prop::collection::vec(figures(), 0..12),
                slips in prop::collection::vec(slip(), 0..4),
                aimepay_fee in percent(), emoney_fee in percent(), consumption_tax in percent(),
            ) {
                let rates = Rates { aimepay_fee, emoney_fee, consumption_tax };
                let t = payment_totals(&payments, &slips, rates).unwrap();
                let v = |y: Yen| y.0;
                prop_assert_eq!(v(t.pay), v(t.a1) + v(t.b1) - v(t.b4) - v(t.f3) + v(t.g1));
                prop_assert_eq!(v(t.b4), v(t.b2) + v(t.b3));
                prop_assert_eq!((t.f1, t.f2, v(t.f3)), (t.a2, t.e1, v(t.a2) - v(t.e1)));
                prop_assert_eq!(v(t.g1), v(t.c1) + v(t.d1));
                prop_assert!(v(t.a2).abs() <= v(t.a1).abs() && v(t.f4).abs() <= v(t.f3).abs());
            }

            #[test]
            fn tax_once_per_rate_is_within_a_yen_of_the_unrounded_line_taxes(
                amounts in prop::collection::vec(-1_000_000i64..10_000_000, 1..20),
                rate in percent(),
            ) {
                let once = rate.of(Yen::sum(amounts.iter().copied().map(Yen)).unwrap()).unwrap().0;
                let unrounded: Decimal = amounts
                    .iter()
                    .map(|a| Decimal::from(*a) * rate.0 / Decimal::ONE_HUNDRED)
                    .sum();
                prop_assert!((Decimal::from(once) - unrounded).abs() < Decimal::ONE);
            }
        }
    }
}
