//! The QuestDB side of a worker: one blocking connection, created lazily, recreated
//! after a broken connection, and flush errors sorted into retry or reject. Plain
//! `http::` configurations use spate's own ILP writer ([`crate::ilp`]); the rest a
//! questdb-rs `Sender`.

use std::time::{Duration, Instant};

use questdb::ingress::{Sender, SenderBuilder};
use questdb::{Error as QdbError, ErrorCode};

use super::health::QuestdbProblem;
use crate::ilp::RowBuffer;
use crate::ilp::http::{HttpConf, HttpError, HttpWriter};
use crate::security::QuestdbAuth;

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
    #[error("connect to QuestDB: {message}")]
    ConnectQuestdb { class: FlushClass, message: String },
    #[error("flush to QuestDB: {message}")]
    FlushQuestdb { class: FlushClass, message: String },
}

impl FlushError {
    fn connect_client(e: QdbError) -> Self {
        FlushError::ConnectQuestdb {
            class: FlushClass::Retry,
            message: e.msg().to_string(),
        }
    }

    /// What the failure says of QuestDB: refused credentials (HTTP 401 or 403, from
    /// either writer), or no usable answer.
    pub fn problem(&self) -> QuestdbProblem {
        let message = match self {
            FlushError::ConnectQuestdb { message, .. }
            | FlushError::FlushQuestdb { message, .. } => message,
        };
        if message.contains("authentication error")
            || message.contains("HTTP 401")
            || message.contains("HTTP 403")
        {
            QuestdbProblem::Authentication
        } else {
            QuestdbProblem::Unreachable
        }
    }

    fn flush_client(e: QdbError) -> Self {
        FlushError::FlushQuestdb {
            class: classify(&e),
            message: e.msg().to_string(),
        }
    }

    fn connect_http(e: HttpError) -> Self {
        // Whatever stops a connection is fixable on the server's side: retry.
        FlushError::ConnectQuestdb {
            class: FlushClass::Retry,
            message: e.to_string(),
        }
    }

    fn flush_http(e: HttpError) -> Self {
        let class = match e {
            HttpError::Rejected { .. } => FlushClass::Reject,
            HttpError::Io(_) | HttpError::Status { .. } => FlushClass::Retry,
        };
        FlushError::FlushQuestdb {
            class,
            message: e.to_string(),
        }
    }

    pub fn class(&self) -> FlushClass {
        match self {
            FlushError::ConnectQuestdb { class, .. } | FlushError::FlushQuestdb { class, .. } => {
                *class
            }
        }
    }

    pub fn message(&self) -> String {
        match self {
            FlushError::ConnectQuestdb { message, .. }
            | FlushError::FlushQuestdb { message, .. } => message.clone(),
        }
    }
}

/// Which ILP writer carries the rows.
#[derive(Debug, Clone)]
enum Writer {
    /// spate's own buffer and HTTP connection (plain `http::` configurations).
    Spate(HttpConf),
    /// questdb-rs's `Buffer` and `Sender` (TLS, TCP, anything else), over HTTP or not.
    Client {
        conf: String,
        http: bool,
        auth: QuestdbAuth,
    },
}

enum Conn {
    Spate(HttpWriter),
    Client(Sender),
}

/// One worker's connection to QuestDB.
pub struct Sink {
    writer: Writer,
    conn: Option<Conn>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("spate_writer", &matches!(self.writer, Writer::Spate(_)))
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl Sink {
    /// A sink for the questdb-rs client configuration string `conf` with the
    /// credentials `auth`. Plain `http::` configurations use spate's own ILP writer
    /// unless `client_only`; everything else goes through questdb-rs.
    pub fn new(conf: &str, auth: &QuestdbAuth, http: bool, client_only: bool) -> Self {
        let writer = match HttpConf::parse(conf) {
            Some(Ok(parsed)) if !client_only => {
                Writer::Spate(parsed.with_auth(auth.header().as_ref()))
            }
            _ => Writer::Client {
                conf: conf.to_string(),
                http,
                auth: auth.clone(),
            },
        };
        Self { writer, conn: None }
    }

    /// Connects if not connected (the protocol version is negotiated here over HTTP).
    pub fn connect(&mut self) -> Result<(), FlushError> {
        if self.conn.is_none() {
            self.conn = Some(match &self.writer {
                Writer::Spate(conf) => Conn::Spate(
                    HttpWriter::connect(conf.clone()).map_err(FlushError::connect_http)?,
                ),
                Writer::Client { conf, auth, .. } => Conn::Client(
                    SenderBuilder::from_conf(conf)
                        .and_then(|b| auth.apply(b))
                        .and_then(|b| b.build())
                        .map_err(FlushError::connect_client)?,
                ),
            });
        }
        Ok(())
    }

    /// A new, empty buffer matching the connection's writer and protocol version.
    pub fn new_buffer(&mut self) -> Result<RowBuffer, FlushError> {
        self.connect()?;
        Ok(match self.conn.as_ref().expect("connected") {
            Conn::Spate(w) => RowBuffer::Spate(w.new_buffer()),
            Conn::Client(s) => RowBuffer::Client(s.new_buffer()),
        })
    }

    /// Whether `buf` can be flushed by the current connection as is.
    pub fn fits(&self, buf: &RowBuffer) -> bool {
        match (&self.conn, buf) {
            (Some(Conn::Spate(w)), RowBuffer::Spate(b)) => w.version() == b.version(),
            (Some(Conn::Client(s)), RowBuffer::Client(b)) => {
                s.protocol_version() == b.protocol_version()
            }
            _ => false,
        }
    }

    /// Flushes `buf`, keeping its rows; returns the flush latency. Over HTTP the flush is
    /// transactional (one table) and acknowledged by the server.
    pub fn flush(&mut self, buf: &RowBuffer) -> Result<Duration, FlushError> {
        self.connect()?;
        let start = Instant::now();
        let http = matches!(self.writer, Writer::Client { http: true, .. });
        let result = match (self.conn.as_mut().expect("connected"), buf) {
            (Conn::Spate(w), RowBuffer::Spate(b)) => w.flush(b).map_err(FlushError::flush_http),
            (Conn::Client(sender), RowBuffer::Client(b)) => {
                let r = if http {
                    sender.flush_and_keep_with_flags(b, true)
                } else {
                    sender.flush_and_keep(b)
                };
                r.map_err(FlushError::flush_client)
            }
            _ => {
                return Err(FlushError::FlushQuestdb {
                    class: FlushClass::Retry,
                    message: "the batch was encoded for another connection".into(),
                });
            }
        };
        match result {
            Ok(()) => Ok(start.elapsed()),
            Err(e) => {
                if e.class() == FlushClass::Retry || self.must_close() {
                    // Start from a fresh connection on the next attempt.
                    self.conn = None;
                }
                Err(e)
            }
        }
    }

    /// Drops the connection: the next flush opens a new one, on which QuestDB reads the
    /// table afresh (a kept-alive ILP/HTTP connection keeps the table's writer, and so
    /// the schema it had when the connection first wrote to it).
    pub fn reset(&mut self) {
        self.conn = None;
    }

    fn must_close(&self) -> bool {
        matches!(&self.conn, Some(Conn::Client(s)) if s.must_close())
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

    #[test]
    fn refused_credentials_are_told_apart_from_outages_for_both_writers() {
        let flush = |message: &str| FlushError::FlushQuestdb {
            class: FlushClass::Retry,
            message: message.into(),
        };
        assert_eq!(
            flush("QuestDB answered HTTP 401: Unauthorized").problem(),
            QuestdbProblem::Authentication
        );
        assert_eq!(
            flush("Could not flush buffer: HTTP endpoint authentication error [code: 403]")
                .problem(),
            QuestdbProblem::Authentication
        );
        assert_eq!(
            flush("connect to q:9000: Connection refused").problem(),
            QuestdbProblem::Unreachable
        );
    }
}
