//! The vocabulary of refusal: why a record was refused, as the dead-letter header
//! value and the metric label. A leaf: it imports nothing of the codec.

use std::fmt;

/// Why a record was refused; `as_str` is the dead-letter header value and metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    Malformed,
    MissingField,
    InvalidNumber,
    NonPositive,
    UnknownSide,
    EmptySymbol,
    MissingTradeId,
    TimestampOutOfRange,
    UnsupportedMessage,
    TooLarge,
    InvalidUtf8,
    /// The ILP buffer refused the row (a bug or a buffer left mid-row by the caller,
    /// never the record's content as far as spate checks it).
    Unencodable,
}

impl RejectReason {
    /// Every reason, e.g. to pre-register metric label values.
    pub const ALL: [RejectReason; 12] = [
        RejectReason::Malformed,
        RejectReason::MissingField,
        RejectReason::InvalidNumber,
        RejectReason::NonPositive,
        RejectReason::UnknownSide,
        RejectReason::EmptySymbol,
        RejectReason::MissingTradeId,
        RejectReason::TimestampOutOfRange,
        RejectReason::UnsupportedMessage,
        RejectReason::TooLarge,
        RejectReason::InvalidUtf8,
        RejectReason::Unencodable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::MissingField => "missing_field",
            RejectReason::InvalidNumber => "invalid_number",
            RejectReason::NonPositive => "non_positive",
            RejectReason::UnknownSide => "unknown_side",
            RejectReason::EmptySymbol => "empty_symbol",
            RejectReason::MissingTradeId => "missing_trade_id",
            RejectReason::TimestampOutOfRange => "timestamp_out_of_range",
            RejectReason::UnsupportedMessage => "unsupported_message",
            RejectReason::TooLarge => "too_large",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::Unencodable => "unencodable",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused record: the reason and a human-readable detail (bounded in size).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl Rejection {
    #[cold]
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

/// The dead-letter reason of rows QuestDB itself refused (not a codec refusal): the
/// same header and metric label as the [`RejectReason`]s.
pub const REASON_QUESTDB_REJECTED: &str = "questdb_rejected";
