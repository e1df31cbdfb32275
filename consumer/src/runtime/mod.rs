//! The consumer runtime: one Kafka consumer, a poll thread, W worker threads writing to
//! QuestDB, dead letters, backpressure, and an orderly shutdown.

pub mod ages;
pub mod backpressure;
pub mod batch;
pub mod batching;
pub mod bisect;
pub mod chunk;
pub mod client_health;
pub mod ddl;
pub mod dispatch;
pub mod dlq;
pub mod fetch_watch;
pub mod health;
pub mod hold;
pub mod kafka;
pub mod memory;
pub mod poller;
pub mod pool;
pub mod retry;
pub mod service;
pub mod settings;
pub mod sink;
pub mod supervise;
pub mod table_check;
pub mod worker;

pub use service::{Runtime, RuntimeError};
pub use settings::Settings;
