//! spate-consumer: reads trades from Kafka and writes them to QuestDB.

pub mod batching;
pub mod config;
pub mod control_auth;
pub mod encode;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod ilp;
pub mod loadgen;
pub mod metrics;
pub mod record;
pub mod runtime;
pub mod security;
pub mod server;
pub mod trade;
pub mod validate;
