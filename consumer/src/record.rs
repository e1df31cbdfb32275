//! The one call the runtime makes per Kafka record: check, decode, validate and encode
//! it into the worker's ILP buffer, all or nothing, or say why not.

use std::fmt;

use crate::encode::{InvalidTableName, TradeEncoder, TradeRows};
use crate::format::{self, InputFormat};
use crate::validate::{Validator, now_ns};

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

/// Building a codec failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("check table name: {0}")]
    CheckTableName(#[from] InvalidTableName),
}

/// Decodes, validates and encodes records of one input format into one table.
#[derive(Debug, Clone)]
pub struct RecordCodec {
    format: InputFormat,
    encoder: TradeEncoder,
    validator: Validator,
}

impl RecordCodec {
    pub fn new(format: InputFormat, table: &str, validator: Validator) -> Result<Self, CodecError> {
        Ok(RecordCodec {
            format,
            encoder: TradeEncoder::new(table)?,
            validator,
        })
    }

    /// The codec a validated configuration describes.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, CodecError> {
        let v = &config.validation;
        RecordCodec::new(
            config.input_format,
            &config.questdb.table,
            Validator::new(v.max_past, v.max_future, v.max_message_bytes),
        )
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    pub fn table(&self) -> &str {
        self.encoder.table()
    }

    /// Encodes every trade of `payload` into `buf`, returning the number of rows
    /// written (0 for a valid message holding no trade). On rejection `buf` is left
    /// exactly as it was. Reads the clock once; see [`Self::encode_record_at`].
    pub fn encode_record<B: TradeRows>(
        &self,
        payload: &[u8],
        buf: &mut B,
    ) -> Result<usize, Rejection> {
        self.encode_record_at(payload, buf, now_ns())
    }

    /// As [`Self::encode_record`], with the current time (nanoseconds since the epoch)
    /// given, so a worker can read the clock once per batch.
    #[inline]
    pub fn encode_record_at<B: TradeRows>(
        &self,
        payload: &[u8],
        buf: &mut B,
        now_ns: i64,
    ) -> Result<usize, Rejection> {
        let text = self.validator.check_payload(payload)?;
        buf.begin_record().map_err(unencodable)?;
        let result = format::decode(text, self.format, |trade| {
            self.validator.check_trade(&trade, now_ns)?;
            buf.push_trade(&self.encoder, &trade).map_err(unencodable)
        });
        buf.end_record(result.is_ok());
        result
    }
}

#[cold]
fn unencodable(msg: String) -> Rejection {
    Rejection::new(
        RejectReason::Unencodable,
        format!("ILP buffer refused the row: {msg}"),
    )
}

#[cfg(test)]
mod tests;
