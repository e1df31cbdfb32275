//! The QuestDB side of a worker: one blocking questdb-rs `Sender`, created lazily,
//! recreated after a broken connection, and flush errors sorted into retry or reject.

use std::time::{Duration, Instant};

use questdb::ingress::{Buffer, Sender};
use questdb::{Error as QdbError, ErrorCode};

/// How a failed flush must be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushClass {
    /// Try again later with the same rows: outage, timeout, overload, auth or config
    /// trouble an operator can fix. Nothing is dropped.
    Retry,
    /// The rows themselves are refused; retrying the same rows cannot succeed.
    Reject,
}

/// Sorts a questdb-rs error into retry or reject.
pub fn classify(err: &QdbError) -> FlushClass {
    match err.code() {
        ErrorCode::InvalidApiCall
        | ErrorCode::InvalidUtf8
        | ErrorCode::InvalidName
        | ErrorCode::InvalidTimestamp
        | ErrorCode::ArrayError
        | ErrorCode::InvalidDecimal
        | ErrorCode::BatchTooLarge
        | ErrorCode::LimitExceeded => FlushClass::Reject,
        ErrorCode::ServerFlushError if is_row_rejection(err.msg()) => FlushClass::Reject,
        _ => FlushClass::Retry,
    }
}

/// QuestDB answers 400 with `{"code":"invalid",...,"line":N}` for rows it refuses and
/// 413 for a request too large; both are about the rows, not the server's health.
fn is_row_rejection(msg: &str) -> bool {
    msg.contains("code: invalid")
        || msg.contains("line: ")
        || msg.contains("too large")
        || msg.contains("cast error")
}

/// A failed flush.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("connect to QuestDB: {0}")]
    ConnectQuestdb(#[source] QdbError),
    #[error("flush to QuestDB: {0}")]
    FlushQuestdb(#[source] QdbError),
}

impl FlushError {
    pub fn class(&self) -> FlushClass {
        match self {
            FlushError::ConnectQuestdb(_) => FlushClass::Retry,
            FlushError::FlushQuestdb(e) => classify(e),
        }
    }

    pub fn message(&self) -> String {
        match self {
            FlushError::ConnectQuestdb(e) | FlushError::FlushQuestdb(e) => e.msg().to_string(),
        }
    }
}

/// One worker's connection to QuestDB.
pub struct Sink {
    conf: String,
    http: bool,
    sender: Option<Sender>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("http", &self.http)
            .field("connected", &self.sender.is_some())
            .finish()
    }
}

impl Sink {
    /// A sink for the questdb-rs client configuration string `conf`.
    pub fn new(conf: &str, http: bool) -> Self {
        Self {
            conf: conf.to_string(),
            http,
            sender: None,
        }
    }

    /// Connects if not connected (the protocol version is negotiated here over HTTP).
    pub fn connect(&mut self) -> Result<&mut Sender, FlushError> {
        if self.sender.is_none() {
            let sender = Sender::from_conf(&self.conf).map_err(FlushError::ConnectQuestdb)?;
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("sender just set"))
    }

    /// A new, empty buffer matching the connection's protocol version.
    pub fn new_buffer(&mut self) -> Result<Buffer, FlushError> {
        Ok(self.connect()?.new_buffer())
    }

    /// Whether `buf` can be flushed by the current connection as is.
    pub fn fits(&self, buf: &Buffer) -> bool {
        self.sender
            .as_ref()
            .is_some_and(|s| s.protocol_version() == buf.protocol_version())
    }

    /// Flushes `buf`, keeping its rows; returns the flush latency. Over HTTP the flush is
    /// transactional (one table) and acknowledged by the server.
    pub fn flush(&mut self, buf: &Buffer) -> Result<Duration, FlushError> {
        let http = self.http;
        let sender = self.connect()?;
        let start = Instant::now();
        let result = if http {
            sender.flush_and_keep_with_flags(buf, true)
        } else {
            sender.flush_and_keep(buf)
        };
        match result {
            Ok(()) => Ok(start.elapsed()),
            Err(e) => {
                if sender.must_close() || classify(&e) == FlushClass::Retry {
                    // Start from a fresh connection on the next attempt.
                    self.sender = None;
                }
                Err(FlushError::FlushQuestdb(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_rejections_are_told_apart_from_outages() {
        assert!(is_row_rejection(
            "Could not flush buffer: failed to parse line protocol [id: 1, code: invalid, line: 3]"
        ));
        assert!(!is_row_rejection(
            "Could not flush buffer: internal error [code: internal error]"
        ));
        assert!(!is_row_rejection("Could not connect: Connection refused"));
    }
}
