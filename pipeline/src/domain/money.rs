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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// half-up: to the nearest yen, halves away from zero (37.5 → 38, −36.5 → −37).
pub fn half_up(value: Decimal) -> Yen {
    to_yen(value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
}

/// truncate (切り捨て): toward zero (2,034.9 → 2,034, −2,034.9 → −2,034).
pub fn truncate(value: Decimal) -> Yen {
    to_yen(value.trunc())
}

fn to_yen(whole: Decimal) -> Yen {
    Yen(i64::try_from(whole).expect("an amount in yen fits in 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn half_up_is_not_bankers_rounding() {
        assert_eq!(half_up(dec("37.6")), Yen(38));
        assert_eq!(half_up(dec("37.5")), Yen(38));
        assert_eq!(half_up(dec("36.5")), Yen(37));
        assert_eq!(half_up(dec("-36.5")), Yen(-37));
        assert_eq!(half_up(dec("162.5")), Yen(163), "5 plays at 32.5 yen");
    }

    #[test]
    fn truncate_goes_toward_zero() {
        assert_eq!(truncate(dec("2034.9")), Yen(2034));
        assert_eq!(truncate(dec("-2034.9")), Yen(-2034));
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
