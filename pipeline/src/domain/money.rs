//! Money: whole yen as integers, prices and rates as decimals, and the two roundings of
//! `statements.md` — nothing else ever turns a decimal into yen.

use super::{Parse, ParseError};
use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;
use std::str::FromStr;

/// An amount in whole yen, signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Yen(pub i64);

impl Parse for Yen {
    fn parse(text: &str) -> Result<Self, ParseError> {
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(format!(
                "{text:?} is not a whole number of yen"
            )));
        }
        text.parse()
            .map(Yen)
            .map_err(|_| ParseError::new(format!("{text:?} is out of range")))
    }
}

impl Yen {
    pub const ZERO: Yen = Yen(0);

    pub fn checked_add(self, other: Yen) -> Result<Yen, Overflow> {
        self.0.checked_add(other.0).map(Yen).ok_or(Overflow)
    }

    pub fn checked_sub(self, other: Yen) -> Result<Yen, Overflow> {
        self.0.checked_sub(other.0).map(Yen).ok_or(Overflow)
    }

    /// The sum of `amounts`, checked.
    pub fn sum(amounts: impl IntoIterator<Item = Yen>) -> Result<Yen, Overflow> {
        amounts
            .into_iter()
            .try_fold(Yen::ZERO, |sum, amount| sum.checked_add(amount))
    }
}

impl fmt::Display for Yen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A unit price: a signed decimal with at most 4 places (`100`, `12.5`, `0.4`, `-50`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitPrice(pub Decimal);

impl Parse for UnitPrice {
    fn parse(text: &str) -> Result<Self, ParseError> {
        parse_decimal(text, 4).map(UnitPrice)
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.normalize().fmt(f)
    }
}

/// A percentage: a tax rate or a fee (`10`, `8`, `3`, `5`), never negative nor over 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percent(pub Decimal);

impl Parse for Percent {
    fn parse(text: &str) -> Result<Self, ParseError> {
        let value = parse_decimal(text, 4)?;
        if value.is_sign_negative() || value > Decimal::ONE_HUNDRED {
            return Err(ParseError::new(format!(
                "{text:?} is not a percentage from 0 to 100"
            )));
        }
        Ok(Percent(value))
    }
}

impl Percent {
    /// truncate(`amount` × this / 100): a fee or a tax on an amount.
    pub fn of(self, amount: Yen) -> Result<Yen, Overflow> {
        let part = times(amount.0, self.0)?
            .checked_div(Decimal::ONE_HUNDRED)
            .ok_or(Overflow)?;
        truncate(part)
    }

    /// truncate(`amount` × t / (100 + t)), t this rate: the tax included in a tax-included
    /// amount.
    pub fn included_in(self, amount: Yen) -> Result<Yen, Overflow> {
        let part = times(amount.0, self.0)?
            .checked_div(Decimal::ONE_HUNDRED + self.0)
            .ok_or(Overflow)?;
        truncate(part)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.normalize().fmt(f)
    }
}

/// A plain decimal as people write it: optional sign, digits, at most `places` decimals; no
/// exponent, no separators.
fn parse_decimal(text: &str, places: usize) -> Result<Decimal, ParseError> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let shaped = !whole.is_empty() && digits(whole) && digits(fraction);
    let shaped = shaped && (fraction.len() <= places) && !(unsigned.ends_with('.'));
    if !shaped {
        return Err(ParseError::new(format!(
            "{text:?} is not a decimal number with at most {places} decimal places"
        )));
    }
    Decimal::from_str(text).map_err(|_| ParseError::new(format!("{text:?} is out of range")))
}

/// An amount that does not fit in 64 bits of yen (or a product that does not fit in a decimal):
/// every figure of a statement is computed with checked arithmetic, so a hostile count or price
/// is an error, never a wrap or a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an amount is out of range (over 9,223,372,036,854,775,807 yen)")]
pub struct Overflow;

/// half-up: to the nearest yen, halves away from zero (37.5 → 38, −36.5 → −37).
pub fn half_up(value: Decimal) -> Result<Yen, Overflow> {
    to_yen(value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
}

/// truncate (切り捨て): toward zero (2,034.9 → 2,034, −2,034.9 → −2,034).
pub fn truncate(value: Decimal) -> Result<Yen, Overflow> {
    to_yen(value.trunc())
}

fn to_yen(whole: Decimal) -> Result<Yen, Overflow> {
    i64::try_from(whole).map(Yen).map_err(|_| Overflow)
}

/// `count × price`, exact.
pub fn times(count: i64, price: Decimal) -> Result<Decimal, Overflow> {
    Decimal::from(count).checked_mul(price).ok_or(Overflow)
}

/// An operator's sale's refund unit price (支払明細): its price less the fee, half-up to 2
/// decimal places (5,000 less 3 % → 4,850; 110 less 5 % → 104.50).
pub fn refund_unit_price(price: Yen, fee: Percent) -> Decimal {
    let refund = Decimal::from(price.0) * (Decimal::ONE_HUNDRED - fee.0) / Decimal::ONE_HUNDRED;
    refund.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The sum of counts, checked.
pub fn checked_sum(values: impl IntoIterator<Item = i64>) -> Result<i64, Overflow> {
    values
        .into_iter()
        .try_fold(0i64, |sum, v| sum.checked_add(v).ok_or(Overflow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn half_up_is_not_bankers_rounding() {
        assert_eq!(half_up(dec("37.6")), Ok(Yen(38)));
        assert_eq!(half_up(dec("37.5")), Ok(Yen(38)));
        assert_eq!(half_up(dec("36.5")), Ok(Yen(37)));
        assert_eq!(half_up(dec("-36.5")), Ok(Yen(-37)));
        assert_eq!(half_up(dec("162.5")), Ok(Yen(163)), "5 plays at 32.5 yen");
    }

    #[test]
    fn truncate_goes_toward_zero() {
        assert_eq!(truncate(dec("2034.9")), Ok(Yen(2034)));
        assert_eq!(truncate(dec("-2034.9")), Ok(Yen(-2034)));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap_or_a_panic() {
        assert_eq!(half_up(dec("9223372036854775808")), Err(Overflow));
        assert_eq!(times(i64::MAX, dec("100000000000")), Err(Overflow));
        assert_eq!(checked_sum([i64::MAX, 1]), Err(Overflow));
        assert_eq!(checked_sum([i64::MAX, -1, 1]), Ok(i64::MAX));
        assert_eq!(Percent(dec("100")).of(Yen(i64::MAX)), Ok(Yen(i64::MAX)));
        assert_eq!(Percent(dec("10")).included_in(Yen(22_376)), Ok(Yen(2_034)));
        assert_eq!(Yen::sum([Yen(i64::MAX), Yen(1)]), Err(Overflow));
        assert_eq!(Yen(i64::MIN).checked_sub(Yen(1)), Err(Overflow));
    }

    #[test]
    fn unit_prices_have_at_most_four_places() {
        assert_eq!(UnitPrice::parse("0.4").unwrap().0, dec("0.4"));
        assert_eq!(UnitPrice::parse("-50").unwrap().0, dec("-50"));
        assert!(UnitPrice::parse("12.34567").is_err());
        assert!(UnitPrice::parse("1e3").is_err());
        assert!(UnitPrice::parse("1,000").is_err());
        assert!(UnitPrice::parse("12.").is_err());
        assert!(UnitPrice::parse("").is_err());
    }

    #[test]
    fn yen_and_percent() {
        assert_eq!(Yen::parse("-25000"), Ok(Yen(-25000)));
        assert!(Yen::parse("25000.5").is_err());
        assert!(Yen::parse("25,000").is_err());
        assert!(Percent::parse("10").is_ok());
        assert!(Percent::parse("-1").is_err());
        assert!(Percent::parse("101").is_err());
    }
}
