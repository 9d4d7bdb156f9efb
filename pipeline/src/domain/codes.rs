//! Identifiers: codes of partners, stores, key-chips, titles, charges, products and slips, and
//! the other short texts with a fixed syntax (`feeds.md`, "Master data").

use super::{Parse, ParseError};
use compact_str::CompactString;
use std::fmt;

/// Which characters a code may hold besides `[0-9A-Z]`.
#[derive(Clone, Copy)]
enum Extra {
    None,
    Underscore,
    UnderscoreHyphen,
}

/// Every character allowed is ASCII, so a code's bytes are its characters: a valid code has
/// at most `max` bytes, each allowed (a byte of a longer UTF-8 character never is).
fn check_code(text: &str, max: usize, extra: Extra) -> Result<(), ParseError> {
    let allowed = |b: u8| {
        b.is_ascii_digit()
            || b.is_ascii_uppercase()
            || match extra {
                Extra::None => false,
                Extra::Underscore => b == b'_',
                Extra::UnderscoreHyphen => b == b'_' || b == b'-',
            }
    };
    let charset = match extra {
        Extra::None => "[0-9A-Z]",
        Extra::Underscore => "[0-9A-Z_]",
        Extra::UnderscoreHyphen => "[0-9A-Z_-]",
    };
    if text.is_empty() || text.len() > max || !text.bytes().all(allowed) {
        return Err(ParseError::new(format!(
            "{text:?} is not 1 to {max} characters of {charset}"
        )));
    }
    Ok(())
}

/// A code type: its text checked by [`check_code`]. Codes are short (at most 32 characters,
/// most under 12), so they are kept inline ([`CompactString`] holds up to 24 bytes without
/// allocating): the close clones a key-chip's, store's and partner's code for every daily row.
macro_rules! code {
    ($(#[$doc:meta])* $name:ident, $max:expr, $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(CompactString);

        impl Parse for $name {
            fn parse(text: &str) -> Result<Self, ParseError> {
                check_code(text, $max, $extra)?;
                Ok(Self(CompactString::new(text)))
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code!(
    /// 取引先コード: the operating company billed and paid.
    PartnerCode, 9, Extra::None
);
code!(
    /// An arcade of one partner.
    StoreCode, 12, Extra::None
);
code!(
    /// 個体識別番号: the key-chip that identifies one cabinet, e.g. `A72E01A0000`.
    KeychipId, 11, Extra::None
);
code!(
    /// A game, e.g. `SH4` for StarHorse4.
    TitleCode, 16, Extra::Underscore
);
code!(
    /// A charge of a title (a billing or commission item).
    ChargeCode, 32, Extra::UnderscoreHyphen
);
code!(
    /// A product sold at the cabinet.
    ProductCode, 32, Extra::UnderscoreHyphen
);
code!(
    /// 調整伝票番号: an adjustment slip.
    SlipNo, 7, Extra::None
);

/// A name or free text of bounded length (`name` 1–100 characters, 明細適用 at most 120 …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(String);

impl Text {
    /// Parse a text of `min..=max` characters (not bytes: Japanese counts per character).
    pub fn parse_bounded(text: &str, min: usize, max: usize) -> Result<Self, ParseError> {
        let n = text.chars().count();
        if n < min || n > max {
            return Err(ParseError::new(format!(
                "must be {min} to {max} characters, is {n}"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A partner's email address: at most 255 characters and a valid address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Parse for Email {
    fn parse(text: &str) -> Result<Self, ParseError> {
        if text.chars().count() > 255 {
            return Err(ParseError::new(
                "an email address has at most 255 characters",
            ));
        }
        if !email_address::EmailAddress::is_valid(text) {
            return Err(ParseError::new(format!(
                "{text:?} is not a valid email address"
            )));
        }
        Ok(Self(text.to_owned()))
    }
}

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a logged event (`event_id`, `transaction_id`): 1–64 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(CompactString);

impl Parse for EventId {
    fn parse(text: &str) -> Result<Self, ParseError> {
        let printable = text.bytes().all(|b| (0x20..0x7f).contains(&b));
        if text.is_empty() || text.len() > 64 || !printable {
            return Err(ParseError::new(format!(
                "{text:?} is not 1 to 64 printable ASCII characters"
            )));
        }
        Ok(Self(CompactString::new(text)))
    }
}

impl EventId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `true` or `false`, as in `notify`.
pub fn parse_flag(text: &str) -> Result<bool, ParseError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ParseError::new(format!(
            "{text:?} is neither true nor false"
        ))),
    }
}

/// The closed lists of `feeds.md`: each a small enum whose names are the spec's words.
macro_rules! closed_list {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl Parse for $name {
            fn parse(text: &str) -> Result<Self, ParseError> {
                match text {
                    $($word => Ok($name::$variant),)+
                    _ => Err(ParseError::new(format!(
                        "{text:?} is not one of {}",
                        [$($word),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_list!(
    /// What a charge does: the platform bills the operator, or pays it a commission.
    ChargeKind { Billing => "BILLING", Commission => "COMMISSION" }
);
closed_list!(
    /// Whose sale a product is: the operator's (支払明細) or the platform's own (参考情報).
    Settlement { Operator => "OPERATOR", Platform => "PLATFORM" }
);
closed_list!(
    /// The two cashless payment methods at the cabinet.
    PaymentMethod { Emoney => "EMONEY", Aimepay => "AIMEPAY" }
);
closed_list!(
    /// The rates of `rates.csv`.
    RateName {
        AimepayFee => "AIMEPAY_FEE",
        EmoneyFee => "EMONEY_FEE",
        ConsumptionTax => "CONSUMPTION_TAX",
    }
);
closed_list!(
    /// Where an issued invoice stands: issued, or voided (its number stays taken).
    InvoiceStatus { Issued => "ISSUED", Void => "VOID" }
);
closed_list!(
    /// The documents a close, a void or a reissue issues (`lake.md`, "Documents").
    DocumentKind {
        Invoice => "invoice",
        Adjustments => "adjustments",
        PaymentNotice => "payment_notice",
        VoidNotice => "void_notice",
    }
);
closed_list!(
    /// Where an email of the outbox stands.
    EmailStatus { Queued => "queued", Sending => "sending", Sent => "sent", Failed => "failed" }
);
closed_list!(
    /// What an adjustment slip does: billed (調整明細), paid (D1) or refunded (E1).
    AdjustmentKind { Billing => "BILLING", Payment => "PAYMENT", Refund => "REFUND" }
);

closed_list!(
    /// Why a delivered row was quarantined (`feeds.md`), in the order the reasons are checked.
    QuarantineReason {
        Malformed => "malformed",
        InvalidValue => "invalid_value",
        FutureEvent => "future_event",
        UnknownKeychip => "unknown_keychip",
        UnknownCode => "unknown_code",
        PriceMismatch => "price_mismatch",
        ConflictingDuplicate => "conflicting_duplicate",
    }
);

impl QuarantineReason {
    /// Whether a master data fix can bring the row in: such rows stay open and are retried.
    pub fn is_retried(self) -> bool {
        matches!(
            self,
            QuarantineReason::UnknownKeychip | QuarantineReason::UnknownCode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_their_syntax() {
        assert!(PartnerCode::parse("229999000").is_ok());
        assert!(PartnerCode::parse("2299990000").is_err(), "10 characters");
        assert!(PartnerCode::parse("22999a").is_err(), "lower case");
        assert!(PartnerCode::parse("").is_err());
        assert!(KeychipId::parse("A72E01A0000").is_ok());
        assert!(TitleCode::parse("SH4_X").is_ok());
        assert!(StoreCode::parse("S_1").is_err());
        assert!(ChargeCode::parse("SH4-STONE").is_ok());
        assert!(SlipNo::parse("I620000").is_ok());
        assert!(SlipNo::parse("I6200000").is_err());
    }

    #[test]
    fn texts_count_characters_not_bytes() {
        let name = "株式会社セガアミューズメント";
        assert!(Text::parse_bounded(name, 1, 14).is_ok());
        assert!(Text::parse_bounded(name, 1, 13).is_err());
        assert!(Text::parse_bounded("", 1, 100).is_err());
    }

    #[test]
    fn emails_and_ids() {
        assert!(Email::parse("billing@sega-amusement.example").is_ok());
        assert!(Email::parse("not an address").is_err());
        assert!(EventId::parse("p-0001").is_ok());
        assert!(EventId::parse("p\u{7}").is_err());
        assert!(EventId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn closed_lists_take_only_their_words() {
        assert_eq!(ChargeKind::parse("BILLING"), Ok(ChargeKind::Billing));
        assert!(ChargeKind::parse("billing").is_err());
        assert_eq!(PaymentMethod::parse("AIMEPAY"), Ok(PaymentMethod::Aimepay));
        assert_eq!(RateName::ALL.len(), 3);
    }
}
