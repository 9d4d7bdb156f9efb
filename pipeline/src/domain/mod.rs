//! The vocabulary of kakin: every value that crosses the edge of the system is parsed into one
//! of these types, so that the stages behind the edge never see a raw string.
//!
//! Nothing here does I/O. Each type's `parse` says in its error what rule the text broke, in
//! words an operator can act on; the readers of CSV files add the file, line and column.

mod codes;
mod money;
mod problem;
mod records;
mod registration;
mod secrets;
mod shown;
mod time;
mod totals;

pub use codes::*;
pub use money::*;
pub use problem::*;
pub use records::*;
pub use registration::RegistrationNumber;
pub use secrets::redacted;
pub use shown::*;
pub use time::*;
pub use totals::*;

/// Why a value did not parse: a sentence for the operator, without the value's location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// Parse `text` into `T`, the one way every domain value is read from text.
pub trait Parse: Sized {
    fn parse(text: &str) -> Result<Self, ParseError>;
}
