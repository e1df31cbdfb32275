//! Hot-path benchmark: decode + validate + encode one normalised trade into the ILP
//! buffer, per core, against the seed's approach (serde_json into owned Strings, a
//! `format!` per ILP line) and plain serde_json + questdb-rs `Buffer`.
//!
//! Run: `cargo bench -p spate-consumer --bench hot_path`.
//!
//! Fixed-work mode, for CPU-time and instruction counts that a busy machine does not
//! skew (`/usr/bin/time`, `valgrind --tool=callgrind`): with
//! `SPATE_HOT_PATH_ONLY=<variant>` (a benchmark name below, without the group) and
//! optionally `SPATE_HOT_PATH_RECORDS=<n>` (default 1,000,000), the binary encodes
//! `n` records with that variant and exits without running criterion. More variants
//! split spate's cost: `breakdown_decode_validate` (no ILP encoding),
//! `breakdown_spate_buffer_only` and `breakdown_buffer_only` (one decoded trade encoded
//! over and over into spate's ILP buffer / questdb-rs's `Buffer`).
//!
//! `spate_*` variants encode into spate's own ILP buffer (what the consumer's default
//! writer sends); `spate_auto_v2_questdb_buffer` into questdb-rs's `Buffer` (the writer
//! used for TLS and TCP).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group};
use questdb::ingress::{Buffer, ProtocolVersion, TimestampNanos};
use serde::Deserialize;
use spate_consumer::codec::RecordCodec;
use spate_consumer::codec::encode::TradeEncoder;
use spate_consumer::codec::format::InputFormat;
use spate_consumer::codec::format::time::format_rfc3339;
use spate_consumer::codec::validate::{Validator, now_ns};
use spate_consumer::ilp::{IlpBuffer, IlpVersion};

const BATCH: usize = 1024;

/// A batch of distinct normalised trades, as the seed's normaliser wrote them.
fn payloads() -> Vec<Vec<u8>> {
    let symbols = [
        "BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "AVAX-USD", "LINK-USD",
    ];
    let base = now_ns() - 60_000_000_000;
    (0..BATCH)
        .map(|i| {
            let price = 60_000.0 + (i as f64 * 7.31) % 5000.0;
            let size = 0.0001 + (i as f64 * 0.013) % 3.0;
            format!(
                r#"{{"exchange":"coinbase","symbol":"{}","side":"{}","trade_id":"{}","price":{price:.2},"size":{size:.8},"sequence":{},"quality_score":1.0,"timestamp":"{}"}}"#,
                symbols[i % symbols.len()],
                if i % 3 == 0 { "sell" } else { "buy" },
                700_000_000 + i,
                9_000_000_000u64 + i as u64,
                format_rfc3339(base + i as i64 * 1_000_123, 6),
            )
            .into_bytes()
        })
        .collect()
}

/// The seed's struct: every string owned, the timestamp a chrono `DateTime`.
#[derive(Deserialize)]
struct SeedTrade {
    exchange: String,
    symbol: String,
    side: String,
    trade_id: String,
    price: f64,
    size: f64,
    sequence: Option<i64>,
    quality_score: f64,
    timestamp: DateTime<Utc>,
}

fn escape_tag(s: &str) -> String {
    s.replace(',', "\\,")
        .replace(' ', "\\ ")
        .replace('=', "\\=")
}

/// The seed's encoding: one `format!` per line, appended to a `String`.
fn seed_encode(payload: &[u8], out: &mut String) -> bool {
    let Ok(trade) = serde_json::from_slice::<SeedTrade>(payload) else {
        return false;
    };
    if !(trade.price > 0.0 && trade.size > 0.0) {
        return false;
    }
    let line = format!(
        "trades,exchange={},symbol={},side={},trade_id={} price={},size={},sequence={},quality_score={} {}\n",
        escape_tag(&trade.exchange),
        escape_tag(&trade.symbol),
        escape_tag(&trade.side),
        escape_tag(&trade.trade_id),
        trade.price,
        trade.size,
        trade.sequence.unwrap_or(0),
        trade.quality_score,
        trade.timestamp.timestamp_nanos_opt().unwrap_or(0)
    );
    out.write_str(&line).is_ok()
}

/// Plain serde_json (owned) into questdb-rs's `Buffer`, names passed as `&str`.
fn serde_buffer_encode(payload: &[u8], buf: &mut Buffer) -> bool {
    let Ok(t) = serde_json::from_slice::<SeedTrade>(payload) else {
        return false;
    };
    if !(t.price > 0.0 && t.size > 0.0) {
        return false;
    }
    let ts = t.timestamp.timestamp_nanos_opt().unwrap_or(0);
    let row = buf
        .table("trades")
        .and_then(|b| b.symbol("exchange", &t.exchange))
        .and_then(|b| b.symbol("symbol", &t.symbol))
        .and_then(|b| b.symbol("side", &t.side))
        .and_then(|b| b.column_str("trade_id", &t.trade_id))
        .and_then(|b| b.column_f64("price", t.price))
        .and_then(|b| b.column_f64("size", t.size))
        .and_then(|b| b.column_i64("sequence", t.sequence.unwrap_or(0)))
        .and_then(|b| b.column_f64("quality_score", t.quality_score))
        .and_then(|b| b.at(TimestampNanos::new(ts)));
    row.is_ok()
}

fn codec_validator() -> Validator {
    Validator::new(
        Duration::from_secs(30 * 86_400),
        Duration::from_secs(300),
        1 << 20,
    )
}

/// Breakdown: decode and validate only, no ILP encoding.
fn decode_validate(payload: &[u8], validator: &Validator, now: i64) -> bool {
    let Ok(text) = validator.check_payload(payload) else {
        return false;
    };
    spate_consumer::codec::format::decode(text, InputFormat::Auto, |t| {
        validator.check_trade(&t, now)?;
        black_box(&t);
        Ok(())
    })
    .is_ok()
}

fn codecs() -> (RecordCodec, RecordCodec) {
    let validator = codec_validator();
    let codec = RecordCodec::new(InputFormat::Auto, "trades", validator).expect("codec");
    let fixed = RecordCodec::new(InputFormat::Normalized, "trades", validator).expect("codec");
    (codec, fixed)
}

/// Encodes `records` records with one variant, one batch of `BATCH` at a time.
fn fixed_work(variant: &str, records: usize) {
    let payloads = payloads();
    let (codec, fixed) = codecs();
    let batches = records.div_ceil(BATCH);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    let mut ilp = IlpBuffer::new(if variant == "spate_auto_v1_text_floats" {
        IlpVersion::V1
    } else {
        IlpVersion::V2
    });
    let mut out = String::with_capacity(BATCH * 256);
    let mut accepted = 0usize;
    let validator = codec_validator();
    let encoder = TradeEncoder::new("trades").expect("encoder");
    let sample_text = std::str::from_utf8(&payloads[0]).expect("utf-8");
    let mut sample = None;
    spate_consumer::codec::format::decode(sample_text, InputFormat::Normalized, |t| {
        sample = Some(t);
        Ok(())
    })
    .expect("sample decodes");
    let sample = sample.expect("one trade");
    for _ in 0..batches {
        buf.clear();
        ilp.clear();
        out.clear();
        let now = now_ns();
        for p in &payloads {
            let ok = match variant {
                "seed_serde_owned_format" => seed_encode(black_box(p), &mut out),
                "serde_owned_questdb_buffer" => serde_buffer_encode(black_box(p), &mut buf),
                "spate_auto_v2" | "spate_auto_v1_text_floats" => {
                    codec.encode_record_at(black_box(p), &mut ilp, now).is_ok()
                }
                "spate_normalized_v2" => {
                    fixed.encode_record_at(black_box(p), &mut ilp, now).is_ok()
                }
                "spate_auto_v2_questdb_buffer" => {
                    codec.encode_record_at(black_box(p), &mut buf, now).is_ok()
                }
                "breakdown_decode_validate" => decode_validate(black_box(p), &validator, now),
                "breakdown_buffer_only" => encoder.encode(black_box(&sample), &mut buf).is_ok(),
                "breakdown_spate_buffer_only" => {
                    encoder.encode_ilp(black_box(&sample), &mut ilp).is_ok()
                }
                other => panic!("unknown variant {other}"),
            };
            accepted += usize::from(ok);
        }
        black_box(buf.as_bytes());
        black_box(ilp.as_bytes());
        black_box(out.as_bytes());
    }
    assert_eq!(accepted, batches * BATCH);
    eprintln!("{variant}: {accepted} records");
}

fn hot_path(c: &mut Criterion) {
    let payloads = payloads();
    let (codec, fixed) = codecs();

    // Sanity: every variant accepts every payload, and both buffers hold the same bytes.
    let mut buf = Buffer::new(ProtocolVersion::V2);
    let mut ilp = IlpBuffer::new(IlpVersion::V2);
    let mut s = String::new();
    let now = now_ns();
    for p in &payloads {
        assert_eq!(codec.encode_record_at(p, &mut buf, now), Ok(1));
        assert_eq!(codec.encode_record_at(p, &mut ilp, now), Ok(1));
    }
    assert_eq!(buf.as_bytes(), ilp.as_bytes());
    buf.clear();
    for p in &payloads {
        assert!(seed_encode(p, &mut s));
        assert!(serde_buffer_encode(p, &mut buf));
    }

    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));

    g.bench_function("seed_serde_owned_format", |b| {
        let mut out = String::with_capacity(BATCH * 256);
        b.iter(|| {
            out.clear();
            for p in &payloads {
                black_box(seed_encode(black_box(p), &mut out));
            }
        })
    });
    g.bench_function("serde_owned_questdb_buffer", |b| {
        let mut buf = Buffer::new(ProtocolVersion::V2);
        b.iter(|| {
            buf.clear();
            for p in &payloads {
                black_box(serde_buffer_encode(black_box(p), &mut buf));
            }
        })
    });
    for (name, codec, version) in [
        ("spate_auto_v2", &codec, IlpVersion::V2),
        ("spate_normalized_v2", &fixed, IlpVersion::V2),
        ("spate_auto_v1_text_floats", &codec, IlpVersion::V1),
    ] {
        g.bench_function(name, |b| {
            let mut buf = IlpBuffer::new(version);
            b.iter(|| {
                buf.clear();
                // The worker reads the clock once per batch.
                let now = now_ns();
                for p in &payloads {
                    let _ = black_box(codec.encode_record_at(black_box(p), &mut buf, now));
                }
            })
        });
    }
    g.bench_function("spate_auto_v2_questdb_buffer", |b| {
        let mut buf = Buffer::new(ProtocolVersion::V2);
        b.iter(|| {
            buf.clear();
            let now = now_ns();
            for p in &payloads {
                let _ = black_box(codec.encode_record_at(black_box(p), &mut buf, now));
            }
        })
    });
    g.bench_function("spate_auto_v2_clock_per_record", |b| {
        let mut buf = IlpBuffer::new(IlpVersion::V2);
        b.iter(|| {
            buf.clear();
            for p in &payloads {
                let _ = black_box(codec.encode_record(black_box(p), &mut buf));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, hot_path);

fn main() {
    if let Ok(variant) = std::env::var("SPATE_HOT_PATH_ONLY") {
        let records = std::env::var("SPATE_HOT_PATH_RECORDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        fixed_work(&variant, records);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
