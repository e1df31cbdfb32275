//! The records of one flush: their chunks, the rows encoded, the records refused, and
//! the clock every encode of them uses, so a re-encode (bisection, a new protocol
//! version) decides each record exactly as the first encode did.

use std::ops::Range;

use super::chunk::Chunk;
use crate::codec::RecordCodec;
use crate::codec::reject::REASON_QUESTDB_REJECTED;
use crate::ilp::RowBuffer;

/// A record the codec or QuestDB refused, by flat index in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub index: usize,
    pub reason: &'static str,
    pub detail: String,
}

/// Records taken for one flush.
#[derive(Debug)]
pub struct Batch {
    pub chunks: Vec<Chunk>,
    pub records: usize,
    pub rows: usize,
    /// Payload bytes of the records.
    pub bytes: usize,
    /// Refused records, by index (sorted once the batch is written).
    pub refused: Vec<Refused>,
    /// Nanoseconds since the epoch at the batch's first encode: validation of every
    /// encode of the batch is against this instant.
    pub now: i64,
}

impl Batch {
    pub fn new(now: i64) -> Self {
        Batch {
            chunks: Vec::new(),
            records: 0,
            rows: 0,
            bytes: 0,
            refused: Vec::new(),
            now,
        }
    }

    /// (chunk, record) of a flat index.
    pub fn locate(&self, mut index: usize) -> (usize, usize) {
        for (c, chunk) in self.chunks.iter().enumerate() {
            if index < chunk.len() {
                return (c, index);
            }
            index -= chunk.len();
        }
        unreachable!("index beyond the batch")
    }

    /// Encodes `chunks` into `buf` and takes them into the batch.
    pub fn encode_chunks(&mut self, codec: &RecordCodec, buf: &mut RowBuffer, chunks: Vec<Chunk>) {
        for chunk in chunks {
            for r in chunk.records() {
                match codec.encode_record_at(chunk.payload(r), buf, self.now) {
                    Ok(rows) => self.rows += rows,
                    Err(rejection) => self.refused.push(Refused {
                        index: self.records,
                        reason: rejection.reason.as_str(),
                        detail: rejection.detail,
                    }),
                }
                self.records += 1;
            }
            self.bytes += chunk.bytes();
            self.chunks.push(chunk);
        }
    }

    /// Re-encodes the records `range` into `buf` with the batch's clock. Records
    /// already refused are left out; a record refused now (it cannot be with the same
    /// clock, but the buffer is another one) is returned as refused, so it is
    /// dead-lettered rather than skipped.
    pub fn reencode(
        &self,
        codec: &RecordCodec,
        range: Range<usize>,
        buf: &mut RowBuffer,
    ) -> Vec<Refused> {
        let mut late = Vec::new();
        if range.is_empty() {
            return late;
        }
        let (mut c, mut r) = self.locate(range.start);
        for index in range {
            let chunk = &self.chunks[c];
            let rec = &chunk.records()[r];
            let known = self.refused.iter().any(|x| x.index == index);
            if !known
                && let Err(rejection) = codec.encode_record_at(chunk.payload(rec), buf, self.now)
            {
                late.push(Refused {
                    index,
                    reason: rejection.reason.as_str(),
                    detail: rejection.detail,
                });
            }
            r += 1;
            if r == chunk.len() {
                c += 1;
                r = 0;
            }
        }
        late
    }

    /// Rows of the records QuestDB refused (counted again, off the hot path: only
    /// batches with such records pay for it).
    pub fn rows_refused_by_questdb(&self, codec: &RecordCodec) -> usize {
        let mut scratch = RowBuffer::Spate(crate::ilp::IlpBuffer::new(crate::ilp::IlpVersion::V2));
        self.refused
            .iter()
            .filter(|r| r.reason == REASON_QUESTDB_REJECTED)
            .map(|r| {
                let (c, i) = self.locate(r.index);
                let chunk = &self.chunks[c];
                codec
                    .encode_record_at(chunk.payload(&chunk.records()[i]), &mut scratch, self.now)
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Adds refusals found on re-encode, once each, keeping the first reason.
    pub fn add_refused(&mut self, late: impl IntoIterator<Item = Refused>) {
        for l in late {
            if !self.refused.iter().any(|x| x.index == l.index) {
                self.refused.push(l);
            }
        }
        self.refused.sort_by_key(|r| r.index);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::codec::format::InputFormat;
    use crate::codec::validate::{Validator, now_ns};
    use crate::ilp::{IlpBuffer, IlpVersion};

    const HOUR: i64 = 3_600_000_000_000;

    fn codec() -> RecordCodec {
        RecordCodec::new(
            InputFormat::Normalized,
            "trades",
            Validator::new(Duration::from_secs(3600), Duration::from_secs(300), 1 << 20),
        )
        .expect("codec")
    }

    fn trade(id: u32, ts: i64) -> String {
        format!(
            r#"{{"exchange":"x","symbol":"BTC-USD","side":"buy","trade_id":"{id}","price":1.5,"size":2,"timestamp":{ts}}}"#
        )
    }

    fn chunk(payloads: &[String]) -> Chunk {
        let mut c = Chunk::new(0, 1);
        for (o, p) in payloads.iter().enumerate() {
            c.push(o as i64, None, None, p.as_bytes());
        }
        c
    }

    fn buffer() -> RowBuffer {
        RowBuffer::Spate(IlpBuffer::new(IlpVersion::V2))
    }

    #[test]
    fn a_re_encode_decides_every_record_as_the_first_encode_did() {
        // The batch was first encoded 15 minutes ago; one trade was then 50 minutes
        // old (inside the one-hour window) and is 65 minutes old by the wall clock now.
        let wall = now_ns();
        let first = wall - HOUR / 4;
        let edge = wall - HOUR - HOUR / 12;
        let payloads = [trade(1, wall - HOUR / 2), trade(2, edge), trade(3, first)];
        let mut batch = Batch::new(first);
        let mut buf = buffer();
        batch.encode_chunks(&codec(), &mut buf, vec![chunk(&payloads)]);
        assert_eq!((batch.rows, batch.refused.len()), (3, 0));

        let mut again = buffer();
        let late = batch.reencode(&codec(), 0..3, &mut again);
        assert_eq!(late, vec![], "nothing is refused on re-encode");
        assert_eq!(again.row_count(), 3, "the edge trade is written again");
    }

    #[test]
    fn a_refusal_on_re_encode_is_reported_and_known_refusals_are_left_out() {
        let wall = now_ns();
        let payloads = [trade(1, wall), "not json".to_owned(), trade(3, wall)];
        let mut batch = Batch::new(wall);
        let mut buf = buffer();
        batch.encode_chunks(&codec(), &mut buf, vec![chunk(&payloads)]);
        assert_eq!(
            batch.refused.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![1]
        );

        // A batch clock a day later: both trades fall out of the window on re-encode.
        let later = Batch {
            now: wall + 24 * HOUR,
            ..Batch::new(0)
        };
        let later = Batch {
            chunks: batch.chunks,
            records: batch.records,
            refused: batch.refused,
            ..later
        };
        let mut again = buffer();
        let late = later.reencode(&codec(), 0..3, &mut again);
        assert_eq!(late.iter().map(|r| r.index).collect::<Vec<_>>(), vec![0, 2]);
        assert!(late.iter().all(|r| r.reason == "timestamp_out_of_range"));
        assert_eq!(again.row_count(), 0);
    }

    #[test]
    fn rows_refused_by_questdb_are_counted_from_their_records() {
        let wall = now_ns();
        let mut batch = Batch::new(wall);
        let mut buf = buffer();
        let payloads = [trade(1, wall), trade(2, wall), "junk".to_owned()];
        batch.encode_chunks(&codec(), &mut buf, vec![chunk(&payloads)]);
        assert_eq!(
            batch.rows_refused_by_questdb(&codec()),
            0,
            "only the codec refused"
        );
        batch.add_refused([Refused {
            index: 1,
            reason: REASON_QUESTDB_REJECTED,
            detail: String::new(),
        }]);
        assert_eq!(batch.rows_refused_by_questdb(&codec()), 1);
    }

    #[test]
    fn late_refusals_are_added_once_in_order() {
        let mut batch = Batch::new(0);
        let refused = |index| Refused {
            index,
            reason: "r",
            detail: String::new(),
        };
        batch.add_refused([refused(5), refused(2)]);
        batch.add_refused([refused(2), refused(3)]);
        assert_eq!(
            batch.refused.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![2, 3, 5]
        );
    }
}
