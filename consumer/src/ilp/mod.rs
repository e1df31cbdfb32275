//! spate's own ILP writer: the row buffer the hot path encodes into, and the ILP/HTTP
//! connection that sends it to QuestDB.
//!
//! questdb-rs remains the client for what this writer does not speak (TLS, ILP/TCP,
//! options it does not know); [`RowBuffer`] holds rows for either.

pub mod buffer;
pub mod http;

pub use buffer::{IlpBuffer, IlpVersion, write_quoted, write_unquoted};
pub(crate) use buffer::{write_designated_ns, write_f64, write_i64};

/// A worker's batch: spate's buffer, or questdb-rs's when the client library carries
/// the connection.
#[derive(Debug, Clone)]
pub enum RowBuffer {
    Spate(IlpBuffer),
    Client(questdb::ingress::Buffer),
}

impl RowBuffer {
    pub fn row_count(&self) -> usize {
        match self {
            RowBuffer::Spate(b) => b.row_count(),
            RowBuffer::Client(b) => b.row_count(),
        }
    }

    pub fn clear(&mut self) {
        match self {
            RowBuffer::Spate(b) => b.clear(),
            RowBuffer::Client(b) => b.clear(),
        }
    }
}
