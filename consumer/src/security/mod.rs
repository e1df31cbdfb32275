//! Connection security shared by every client spate builds: secrets that never reach a
//! log line, Kafka's TLS and SASL settings and the librdkafka context that reports their
//! failures, QuestDB's credentials, and the watch on the files they come from.

pub mod args;
pub mod certificate;
pub mod client_errors;
pub mod context;
pub mod kafka;
pub mod oauth;
pub mod questdb;
pub mod secret;
pub mod watch;

pub use args::KafkaSecurityArgs;
pub use client_errors::{ClientErrorKind, ClientProblems};
pub use context::{ProblemSink, SecureContext};
pub use kafka::{KafkaSecurity, SaslMechanism, SecurityProtocol};
pub use questdb::QuestdbAuth;
pub use secret::{Credential, CredentialError, Secret};
pub use watch::FileWatch;
