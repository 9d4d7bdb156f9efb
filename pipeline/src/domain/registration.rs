//! 登録番号: the qualified-invoice issuer number of the invoice system (インボイス制度).

use super::{Parse, ParseError};
use std::fmt;

/// `T` followed by a 13-digit corporate number whose first digit is its check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationNumber(String);

impl Parse for RegistrationNumber {
    fn parse(text: &str) -> Result<Self, ParseError> {
        let digits = text
            .strip_prefix('T')
            .filter(|d| d.len() == 13 && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| ParseError::new(format!("{text:?} is not T followed by 13 digits")))?;
        let digits: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let expected = check_digit(&digits[1..]);
        if digits[0] != expected {
            return Err(ParseError::new(format!(
                "{text:?} fails the check digit (expected {expected}, found {})",
                digits[0]
            )));
        }
        Ok(Self(text.to_owned()))
    }
}

/// `feeds.md`: with P(n) the n-th digit counted from the right and Q(n) = 1 for odd n, 2 for
/// even n, the check digit is 9 − (Σ P(n)·Q(n) mod 9).
fn check_digit(body: &[u32]) -> u32 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| d * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    9 - sum % 9
}

impl RegistrationNumber {
    /// The registration number of a 12-digit corporate number body, its check digit computed.
    pub fn of_corporate_number(body: &str) -> Result<Self, ParseError> {
        let digits: Vec<u32> = body.chars().filter_map(|c| c.to_digit(10)).collect();
        if digits.len() != 12 || body.len() != 12 {
            return Err(ParseError::new(format!("{body:?} is not 12 digits")));
        }
        Self::parse(&format!("T{}{body}", check_digit(&digits)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegistrationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_numbers_parse() {
        assert!(RegistrationNumber::parse("T4010801006141").is_ok());
        assert!(RegistrationNumber::parse("T3010401096996").is_ok());
    }

    #[test]
    fn the_guides_placeholder_fails_the_check_digit() {
        let err = RegistrationNumber::parse("T1234567890123").unwrap_err();
        assert!(err.0.contains("check digit"), "{err}");
    }

    #[test]
    fn the_check_digit_is_computed_for_a_body() {
        let number = RegistrationNumber::of_corporate_number("010801006141").unwrap();
        assert_eq!(number.as_str(), "T4010801006141");
    }

    #[test]
    fn the_shape_is_checked_first() {
        assert!(RegistrationNumber::parse("4010801006141").is_err());
        assert!(RegistrationNumber::parse("T401080100614").is_err());
        assert!(RegistrationNumber::parse("T40108010061411").is_err());
        assert!(RegistrationNumber::parse("T40108010O6141").is_err());
    }
}
