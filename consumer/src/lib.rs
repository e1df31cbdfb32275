//! spate-consumer: reads trades from Kafka and writes them to QuestDB.

pub mod codec;
pub mod config;
pub mod control_auth;
#[doc(hidden)]
pub mod fuzzing;
pub mod ilp;
pub mod loadgen;
pub mod metrics;
pub mod runtime;
pub mod security;
pub mod server;
