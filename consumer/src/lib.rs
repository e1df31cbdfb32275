//! spate-consumer: reads trades from Kafka and writes them to QuestDB.
