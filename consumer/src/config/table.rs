//! The consumer's settings as a table: for each one its key, environment variable,
//! default and valid range. The table is the consumer's contract with whoever starts
//! it (the operator writes environments from it): `Config::load` reads every setting
//! through it, `--help` is rendered from it, and `consumer/README.md` is checked
//! against it.

use std::fmt;

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The dotted key, which is also the TOML file key, e.g. `batch.min`; the flag is
    /// derived from it ([`Setting::flag`]).
    pub key: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// One line of help, without the default.
    pub help: &'static str,
    /// What an unset setting means.
    pub default: DefaultValue,
    /// The smallest value accepted, for counts and durations (in the unit of the key).
    pub min: Option<u64>,
    /// What a valid value is, where more than a type: choices, bounds, relations to
    /// other settings.
    pub valid: Option<&'static str>,
    /// The value may hold a secret: errors never quote it.
    pub redact: bool,
}

/// What an unset setting means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Nothing: the setting must be given.
    Required,
    /// Nothing: the feature is off, or the value absent.
    None,
    /// This text, read as if it had been given.
    Value(&'static str),
    /// Derived when loading, from other settings or the container, as described.
    Derived(&'static str),
}

impl DefaultValue {
    /// The default's text, when it is a value.
    pub fn value(self) -> Option<&'static str> {
        match self {
            DefaultValue::Value(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Display for DefaultValue {
    /// As the settings table of `consumer/README.md` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultValue::Required => f.write_str("required"),
            DefaultValue::None => f.write_str("none"),
            DefaultValue::Value(text) => write!(f, "`{text}`"),
            DefaultValue::Derived(how) => f.write_str(how),
        }
    }
}

impl Setting {
    const fn new(key: &'static str, env: &'static str, help: &'static str) -> Self {
        Setting {
            key,
            env,
            help,
            default: DefaultValue::None,
            min: None,
            valid: None,
            redact: false,
        }
    }

    const fn required(mut self) -> Self {
        self.default = DefaultValue::Required;
        self
    }

    const fn or(mut self, value: &'static str) -> Self {
        self.default = DefaultValue::Value(value);
        self
    }

    const fn derived(mut self, how: &'static str) -> Self {
        self.default = DefaultValue::Derived(how);
        self
    }

    const fn at_least(mut self, min: u64) -> Self {
        self.min = Some(min);
        self
    }

    const fn valid(mut self, valid: &'static str) -> Self {
        self.valid = Some(valid);
        self
    }

    const fn secret(mut self) -> Self {
        self.redact = true;
        self
    }

    /// The setting of `key`, if there is one.
    pub fn find(key: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.key == key)
    }

    /// The command-line flag, without its dashes: the key with `.`/`_` turned into `-`.
    pub fn flag(&self) -> String {
        if self.key == "kafka.options" {
            return "kafka-option".to_owned();
        }
        self.key.replace(['.', '_'], "-")
    }

    /// The help line with the default and the environment variable.
    pub fn help_line(&self) -> String {
        let default = match self.default {
            DefaultValue::Required => " (required)".to_owned(),
            DefaultValue::None => String::new(),
            DefaultValue::Value(text) | DefaultValue::Derived(text) => {
                format!(" [default: {text}]")
            }
        };
        format!("{}{default} [env {}]", self.help, self.env)
    }
}

const fn s(key: &'static str, env: &'static str, help: &'static str) -> Setting {
    Setting::new(key, env, help)
}

/// Every setting of the consumer, in the order of `--help`.
pub const SETTINGS: &[Setting] = &[
    s("kafka.brokers", "KAFKA_BROKERS", "Kafka bootstrap servers").required(),
    s("kafka.group_id", "KAFKA_GROUP_ID", "Consumer group id").or("spate"),
    s("kafka.topics", "KAFKA_TOPICS", "Comma-separated topics").required(),
    s(
        "kafka.options",
        "SPATE_KAFKA_OPTIONS",
        "Extra librdkafka properties k=v (repeatable); no secrets (they have settings of their own)",
    )
    .secret(),
    s("kafka.dead_letter_topic", "SPATE_DLQ_TOPIC", "Dead-letter topic")
        .derived("the first topic followed by .dlq")
        .valid("differs from every input topic"),
    s(
        "kafka.group_protocol",
        "SPATE_GROUP_PROTOCOL",
        "consumer (KIP-848) or classic",
    )
    .or("consumer")
    .valid("consumer, classic"),
    s(
        "kafka.security_protocol",
        "SPATE_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    .or("PLAINTEXT")
    .valid("PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    s(
        "kafka.sasl_mechanism",
        "SPATE_KAFKA_SASL_MECHANISM",
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
    )
    .valid("PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER; required with SASL_*"),
    s("kafka.sasl_username", "SPATE_KAFKA_SASL_USERNAME", "SASL user name").secret(),
    s(
        "kafka.sasl_username_file",
        "SPATE_KAFKA_SASL_USERNAME_FILE",
        "File holding the SASL user name (its exact bytes)",
    ),
    s(
        "kafka.sasl_password",
        "SPATE_KAFKA_SASL_PASSWORD",
        "SASL password (prefer the file)",
    )
    .secret(),
    s(
        "kafka.sasl_password_file",
        "SPATE_KAFKA_SASL_PASSWORD_FILE",
        "File holding the SASL password (its exact bytes)",
    ),
    s(
        "kafka.oauthbearer_token",
        "SPATE_KAFKA_OAUTHBEARER_TOKEN",
        "OAUTHBEARER token (prefer the file)",
    )
    .secret(),
    s(
        "kafka.oauthbearer_token_file",
        "SPATE_KAFKA_OAUTHBEARER_TOKEN_FILE",
        "File holding the OAUTHBEARER token, read again at every refresh",
    ),
    s(
        "kafka.ssl_ca_file",
        "SPATE_KAFKA_SSL_CA_FILE",
        "PEM file of the CA certificates to trust",
    )
    .derived("the system's"),
    s(
        "kafka.ssl_cert_file",
        "SPATE_KAFKA_SSL_CERT_FILE",
        "PEM file of the client certificate (mutual TLS)",
    )
    .valid("with kafka.ssl_key_file"),
    s(
        "kafka.ssl_key_file",
        "SPATE_KAFKA_SSL_KEY_FILE",
        "PEM file of the client certificate's key",
    )
    .valid("with kafka.ssl_cert_file"),
    s(
        "kafka.ssl_verify_hostname",
        "SPATE_KAFKA_SSL_VERIFY_HOSTNAME",
        "Check that the broker's certificate names its host",
    )
    .or("true"),
    s(
        "kafka.allow_plaintext_password",
        "SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD",
        "Accept PLAIN over SASL_PLAINTEXT, which sends the password in cleartext",
    )
    .or("false"),
    s(
        "questdb.client_conf",
        "QDB_CLIENT_CONF",
        "questdb-rs client configuration string; no credentials (see questdb.username and questdb.token)",
    )
    .derived("http::addr=HOST:PORT; from questdb.host and questdb.ilp_port")
    .valid("http, https; tcp and tcps only with questdb.allow_lossy_tcp")
    .secret(),
    s(
        "questdb.username",
        "SPATE_QDB_USERNAME",
        "QuestDB user (HTTP basic authentication)",
    )
    .secret(),
    s(
        "questdb.username_file",
        "SPATE_QDB_USERNAME_FILE",
        "File holding the QuestDB user",
    ),
    s(
        "questdb.password",
        "SPATE_QDB_PASSWORD",
        "QuestDB password (prefer the file)",
    )
    .secret(),
    s(
        "questdb.password_file",
        "SPATE_QDB_PASSWORD_FILE",
        "File holding the QuestDB password",
    ),
    s(
        "questdb.token",
        "SPATE_QDB_TOKEN",
        "QuestDB bearer token (Enterprise; prefer the file)",
    )
    .secret(),
    s(
        "questdb.token_file",
        "SPATE_QDB_TOKEN_FILE",
        "File holding the QuestDB token",
    ),
    s(
        "questdb.host",
        "QUESTDB_HOST",
        "QuestDB host when no client_conf",
    )
    .or("127.0.0.1"),
    s(
        "questdb.ilp_port",
        "QUESTDB_ILP_PORT",
        "QuestDB HTTP/ILP port when no client_conf",
    )
    .or("9000")
    .at_least(1)
    .valid("1-65535"),
    s(
        "questdb.allow_lossy_tcp",
        "SPATE_ALLOW_LOSSY_TCP",
        "Allow ILP over TCP, which acknowledges nothing and CAN LOSE ROWS",
    )
    .or("false"),
    s(
        "questdb.ilp_writer",
        "SPATE_ILP_WRITER",
        "ILP writer for plain http:: configurations: spate or questdb-rs",
    )
    .or("spate")
    .valid("spate, questdb-rs"),
    s(
        "questdb.http_url",
        "QUESTDB_HTTP_URL",
        "QuestDB HTTP URL for DDL",
    )
    .derived("the HTTP address of questdb.client_conf")
    .valid("http:// or https://; required when questdb.client_conf uses tcp"),
    s("questdb.table", "SPATE_TABLE", "Target table")
        .or("trades")
        .valid("[A-Za-z_][A-Za-z0-9_]*, at most 127 bytes"),
    s(
        "questdb.table_allow_extra",
        "SPATE_TABLE_ALLOW_EXTRA",
        "Accept extra columns and upsert keys in an existing table",
    )
    .or("false"),
    s(
        "questdb.stall_secs",
        "SPATE_QUESTDB_STALL_SECS",
        "Unready when a flush keeps failing this long, s",
    )
    .or("120")
    .at_least(1),
    s(
        "questdb.hold_retry_secs",
        "SPATE_HOLD_RETRY_SECS",
        "Retry interval while a schema problem holds the partitions, s",
    )
    .or("30")
    .at_least(1),
    s("batch.initial", "BATCH_SIZE", "Initial batch size in rows")
        .or("1000")
        .at_least(1)
        .valid("batch.min <= batch.initial <= batch.max"),
    s("batch.min", "SPATE_BATCH_MIN", "Smallest batch size")
        .or("100")
        .at_least(1),
    s("batch.max", "SPATE_BATCH_MAX", "Largest batch size")
        .or("50000")
        .at_least(1),
    s(
        "batch.linger_ms",
        "SPATE_LINGER_MS",
        "Longest wait before flushing a partial batch, ms",
    )
    .or("20")
    .at_least(1),
    s(
        "batch.max_bytes",
        "SPATE_BATCH_MAX_BYTES",
        "Most payload bytes in one batch",
    )
    .derived("the byte high watermark ÷ (2 × workers.max), between 64 KiB and 16 MiB")
    .at_least(1024),
    s("workers.initial", "NUM_WORKERS", "Workers at start")
        .or("2")
        .at_least(1)
        .valid("workers.initial <= workers.max"),
    s(
        "workers.max",
        "SPATE_MAX_WORKERS",
        "Most workers the control endpoint may set",
    )
    .or("16")
    .at_least(1),
    s(
        "backpressure.high_watermark",
        "SPATE_HIGH_WATERMARK",
        "Pause above this many in-flight records",
    )
    .or("200000")
    .at_least(1),
    s(
        "backpressure.low_watermark",
        "SPATE_LOW_WATERMARK",
        "Resume below this many in-flight records",
    )
    .or("50000")
    .at_least(0)
    .valid("backpressure.low_watermark < backpressure.high_watermark"),
    s(
        "backpressure.queue_capacity",
        "SPATE_QUEUE_CAPACITY",
        "Per-partition queue bound, records",
    )
    .or("20000")
    .at_least(1),
    s(
        "backpressure.high_watermark_bytes",
        "SPATE_HIGH_WATERMARK_BYTES",
        "Pause above this many in-flight payload bytes",
    )
    .derived("a quarter of the memory limit, else 256 MiB")
    .at_least(1),
    s(
        "backpressure.low_watermark_bytes",
        "SPATE_LOW_WATERMARK_BYTES",
        "Resume below this many in-flight payload bytes",
    )
    .derived("half the high one")
    .at_least(0)
    .valid("backpressure.low_watermark_bytes < backpressure.high_watermark_bytes"),
    s(
        "backpressure.queue_capacity_bytes",
        "SPATE_QUEUE_CAPACITY_BYTES",
        "Per-partition in-flight payload bytes bound",
    )
    .derived("half the high one")
    .at_least(1),
    s(
        "input_format",
        "SPATE_INPUT_FORMAT",
        "auto, normalized, coinbase-match or coinbase-market-trades",
    )
    .or("auto")
    .valid("auto, normalized, coinbase-match, coinbase-market-trades"),
    s(
        "validation.max_past_secs",
        "SPATE_MAX_PAST_SECS",
        "Oldest accepted trade age, s",
    )
    .or("2592000")
    .at_least(1),
    s(
        "validation.max_future_secs",
        "SPATE_MAX_FUTURE_SECS",
        "Furthest accepted future skew, s",
    )
    .or("300")
    .at_least(0),
    s(
        "validation.max_message_bytes",
        "SPATE_MAX_MESSAGE_BYTES",
        "Largest accepted payload",
    )
    .or("1048576")
    .at_least(1),
    s(
        "server.listen",
        "SPATE_LISTEN",
        "Metrics/health/control address",
    )
    .or("0.0.0.0:9464"),
    s(
        "server.control_token",
        "SPATE_CONTROL_TOKEN",
        "Bearer token of the control endpoint",
    )
    .valid("not with server.control_token_file or server.control_jwks"),
    s(
        "server.control_token_file",
        "SPATE_CONTROL_TOKEN_FILE",
        "File holding the control token",
    ),
    s(
        "server.control_jwks",
        "SPATE_CONTROL_JWKS",
        "The service-account issuer's public keys (JWKS JSON): accept ServiceAccount tokens on the control endpoint",
    )
    .valid("with server.control_issuer and server.control_subjects"),
    s(
        "server.control_issuer",
        "SPATE_CONTROL_ISSUER",
        "The issuer those tokens must name (with control_jwks)",
    ),
    s(
        "server.control_audience",
        "SPATE_CONTROL_AUDIENCE",
        "The audience those tokens must be for",
    )
    .or("spate.dev/control"),
    s(
        "server.control_subjects",
        "SPATE_CONTROL_SUBJECTS",
        "Comma-separated subjects allowed, e.g. system:serviceaccount:spate-system:spate-operator (with control_jwks)",
    ),
    s(
        "targets.latency_ms",
        "SPATE_TARGET_LATENCY_MS",
        "p99 end-to-end latency target, exported for alerts, ms",
    )
    .or("2000")
    .valid("> 0"),
    s(
        "targets.lag_seconds",
        "SPATE_TARGET_LAG_SECONDS",
        "Lag target in seconds of arrivals, exported for alerts",
    )
    .or("10")
    .valid("> 0"),
    s(
        "shutdown_grace_secs",
        "SPATE_SHUTDOWN_GRACE_SECS",
        "Shutdown grace period, s",
    )
    .or("25")
    .at_least(0),
    s(
        "commit_interval_ms",
        "SPATE_COMMIT_INTERVAL_MS",
        "Offset commit interval, ms",
    )
    .or("1000")
    .at_least(1),
    s("log_format", "SPATE_LOG_FORMAT", "text or json")
        .or("text")
        .valid("text, json"),
];
