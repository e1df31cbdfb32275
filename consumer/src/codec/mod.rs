//! The codec: check, decode, validate and encode one Kafka record into ILP rows.
//! [`RecordCodec`] is the one call the runtime makes per record, all or nothing, or
//! it says why not ([`reject`]). The codec knows nothing of the configuration or the
//! runtime: it is built from plain values.

pub mod encode;
pub mod format;
pub mod reject;
pub mod trade;
pub mod validate;

use encode::{InvalidTableName, TradeEncoder, TradeRows};
use format::InputFormat;
use reject::{RejectReason, Rejection};
use validate::{Validator, now_ns};

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
