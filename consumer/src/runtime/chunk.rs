//! Chunks: runs of consecutive records of one partition, copied out of librdkafka in one
//! arena so that workers decode by borrowing and queues move records in bulk.

use std::ops::Range;
use std::sync::Arc;

/// Identity of a topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl PartitionId {
    pub fn new(topic: &str, partition: i32) -> Self {
        Self {
            topic: Arc::from(topic),
            partition,
        }
    }
}

impl std::fmt::Display for PartitionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// Where one record lives inside its chunk.
#[derive(Debug, Clone)]
pub struct RecordMeta {
    pub offset: i64,
    /// Kafka timestamp (create or append time) in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    payload: Range<usize>,
    key: Option<Range<usize>>,
}

/// Consecutive records of one partition assignment (`slot`, `epoch`).
#[derive(Debug)]
pub struct Chunk {
    pub slot: usize,
    pub epoch: u64,
    data: Vec<u8>,
    records: Vec<RecordMeta>,
}

impl Chunk {
    /// An empty chunk for a partition assignment.
    pub fn new(slot: usize, epoch: u64) -> Self {
        Self {
            slot,
            epoch,
            data: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Appends a record, copying its payload and key.
    pub fn push(
        &mut self,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        payload: &[u8],
    ) {
        let key = key.map(|k| {
            let start = self.data.len();
            self.data.extend_from_slice(k);
            start..self.data.len()
        });
        let start = self.data.len();
        self.data.extend_from_slice(payload);
        self.records.push(RecordMeta {
            offset,
            timestamp_ms,
            payload: start..self.data.len(),
            key,
        });
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes held by the chunk.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    pub fn records(&self) -> &[RecordMeta] {
        &self.records
    }

    pub fn payload(&self, record: &RecordMeta) -> &[u8] {
        &self.data[record.payload.clone()]
    }

    pub fn key(&self, record: &RecordMeta) -> Option<&[u8]> {
        record.key.clone().map(|k| &self.data[k])
    }

    /// Offset of the last record, if any.
    pub fn last_offset(&self) -> Option<i64> {
        self.records.last().map(|r| r.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_borrow_their_bytes_from_the_arena() {
        let mut chunk = Chunk::new(0, 1);
        chunk.push(10, Some(5), Some(b"k"), b"{\"a\":1}");
        chunk.push(11, None, None, b"x");
        let recs = chunk.records().to_vec();
        assert_eq!(chunk.payload(&recs[0]), b"{\"a\":1}");
        assert_eq!(chunk.key(&recs[0]), Some(&b"k"[..]));
        assert_eq!(chunk.payload(&recs[1]), b"x");
        assert_eq!(chunk.key(&recs[1]), None);
        assert_eq!(chunk.last_offset(), Some(11));
        assert_eq!(chunk.len(), 2);
    }
}
