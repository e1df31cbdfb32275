//! spate-consumer: reads trades from Kafka and writes them to QuestDB.

pub mod metrics;
pub mod runtime;
pub mod server;
