//! Tests of configuration loading: sources, precedence, defaults and every rule.

use std::collections::HashMap;
use std::ffi::OsString;

use super::*;

fn args(list: &[&str]) -> Vec<OsString> {
    std::iter::once("spate-consumer")
        .chain(list.iter().copied())
        .map(OsString::from)
        .collect()
}

fn load(flags: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(args(flags), move |k| env.get(k).cloned())
}

const BASE: &[(&str, &str)] = &[
    ("KAFKA_BROKERS", "127.0.0.1:9092"),
    ("KAFKA_TOPICS", "trades"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BASE.iter().chain(extra).copied().collect()
}

fn errors(flags: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    load(flags, env)
        .unwrap_err()
        .errors
        .iter()
        .map(|e| e.setting.clone())
        .collect()
}

fn temp_file(name: &str, content: &str) -> String {
    let path =
        std::env::temp_dir().join(format!("spate-config-test-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn defaults_fill_everything_but_the_required() {
    let c = load(&[], BASE).unwrap();
    assert_eq!(c.kafka.group_id, "spate");
    assert_eq!(c.kafka.topics, vec!["trades"]);
    assert_eq!(c.kafka.dead_letter_topic, "trades.dlq");
    assert_eq!(c.kafka.group_protocol, GroupProtocol::Consumer);
    assert_eq!(c.questdb.client_conf, "http::addr=127.0.0.1:9000;");
    assert_eq!(c.questdb.transport, Transport::Http);
    assert_eq!(c.questdb.http_url, "http://127.0.0.1:9000");
    assert_eq!(c.questdb.table, "trades");
    assert_eq!(
        (c.batch.initial, c.batch.min, c.batch.max),
        (1000, 100, 50_000)
    );
    assert_eq!(c.batch.linger, Duration::from_millis(20));
    assert_eq!((c.workers.initial, c.workers.max), (2, 16));
    assert_eq!(
        (c.backpressure.high_watermark, c.backpressure.low_watermark),
        (200_000, 50_000)
    );
    assert_eq!(c.input_format, InputFormat::Auto);
    assert_eq!(c.validation.max_past, Duration::from_secs(30 * 86_400));
    assert_eq!(c.validation.max_future, Duration::from_secs(300));
    assert_eq!(c.validation.max_message_bytes, 1 << 20);
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:9464");
    assert_eq!(c.server.control, ControlAuth::Closed);
    assert_eq!(c.shutdown_grace, Duration::from_secs(25));
    assert_eq!(c.commit_interval, Duration::from_millis(1000));
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn missing_required_settings_are_all_reported() {
    assert_eq!(errors(&[], &[]), vec!["kafka.brokers", "kafka.topics"]);
}

#[test]
fn every_invalid_value_is_reported_at_once() {
    let env = with(&[
        ("BATCH_SIZE", "lots"),
        ("NUM_WORKERS", "0"),
        ("SPATE_LINGER_MS", "-5"),
        ("SPATE_GROUP_PROTOCOL", "eager"),
        ("SPATE_INPUT_FORMAT", "xml"),
        ("SPATE_LISTEN", "everywhere"),
        ("SPATE_TABLE", "my trades"),
        ("SPATE_LOG_FORMAT", "yaml"),
        ("QUESTDB_ILP_PORT", "70000"),
        ("SPATE_KAFKA_OPTIONS", "fetch.min.bytes"),
    ]);
    let got = errors(&[], &env);
    for setting in [
        "batch.initial",
        "workers.initial",
        "batch.linger_ms",
        "kafka.group_protocol",
        "input_format",
        "server.listen",
        "questdb.table",
        "log_format",
        "questdb.ilp_port",
        "kafka.options",
    ] {
        assert!(
            got.contains(&setting.to_owned()),
            "{setting} missing from {got:?}"
        );
    }
    let text = load(&[], &env).unwrap_err().to_string();
    assert!(
        text.contains(
            "batch.initial (env BATCH_SIZE): must be a non-negative integer (got \"lots\")"
        ),
        "{text}"
    );
}

#[test]
fn flags_beat_env_beats_file() {
    let file = temp_file(
        "precedence.toml",
        "[batch]\ninitial = 300\nmin = 10\nmax = 400\n[workers]\ninitial = 3\n",
    );
    let env = with(&[
        ("SPATE_CONFIG", &*Box::leak(file.into_boxed_str())),
        ("BATCH_SIZE", "200"),
    ]);
    let c = load(&["--batch-initial", "100"], &env).unwrap();
    assert_eq!(c.batch.initial, 100, "flag wins");
    assert_eq!(
        (c.batch.min, c.batch.max),
        (10, 400),
        "file fills what flags and env leave"
    );
    assert_eq!(c.workers.initial, 3);
    let c = load(&[], &env).unwrap();
    assert_eq!(c.batch.initial, 200, "env beats file");
}

#[test]
fn file_values_may_be_typed_and_unknown_keys_are_errors() {
    let file = temp_file(
        "typed.toml",
        "input_format = \"coinbase-match\"\n[kafka]\nbrokers = \"b:9092\"\ntopics = [\"a\", \"b\"]\noptions = { \"fetch.min.bytes\" = 1 }\n[questdb]\nallow_lossy_tcp = false\n",
    );
    let c = load(&["--config", &file], &[]).unwrap();
    assert_eq!(c.kafka.topics, vec!["a", "b"]);
    assert_eq!(
        c.kafka.options,
        vec![("fetch.min.bytes".to_owned(), "1".to_owned())]
    );
    assert_eq!(c.input_format, InputFormat::CoinbaseMatch);
    let bad = temp_file(
        "unknown.toml",
        "[batch]\nsize = 5\nlinger = 3\n[nope]\nx = 1\n",
    );
    let got = errors(&["--config", &bad], BASE);
    assert_eq!(got, vec!["batch.linger", "batch.size", "nope.x"]);
    assert_eq!(
        errors(&["--config", "/nonexistent/spate.toml"], BASE),
        vec!["config"]
    );
}

#[test]
fn kafka_options_and_topics_are_lists() {
    let env = with(&[
        ("KAFKA_TOPICS", " a, b ,,c"),
        ("SPATE_KAFKA_OPTIONS", "a=1, b = 2"),
    ]);
    let c = load(&["--kafka-option", "c=3", "--kafka-option", "d=x=y"], &env).unwrap();
    assert_eq!(c.kafka.topics, vec!["a", "b", "c"]);
    assert_eq!(
        c.kafka.options,
        vec![("c".into(), "3".into()), ("d".into(), "x=y".into())]
    );
    assert_eq!(
        errors(&[], &with(&[("KAFKA_TOPICS", " , ")])),
        vec!["kafka.topics"]
    );
}

#[test]
fn dead_letter_topic_defaults_from_first_topic_and_must_differ() {
    let c = load(&[], &with(&[("KAFKA_TOPICS", "x,y")])).unwrap();
    assert_eq!(c.kafka.dead_letter_topic, "x.dlq");
    assert_eq!(
        errors(&[], &with(&[("SPATE_DLQ_TOPIC", "trades")])),
        vec!["kafka.dead_letter_topic"]
    );
}

#[test]
fn batch_bounds_must_be_ordered() {
    assert_eq!(
        errors(&[], &with(&[("BATCH_SIZE", "50")])),
        vec!["batch.initial"]
    );
    assert_eq!(
        errors(&[], &with(&[("SPATE_BATCH_MAX", "500")])),
        vec!["batch.initial"]
    );
    assert!(
        load(
            &[],
            &with(&[("BATCH_SIZE", "100"), ("SPATE_BATCH_MAX", "100")])
        )
        .is_ok()
    );
    assert_eq!(
        errors(&[], &with(&[("SPATE_BATCH_MIN", "0")])),
        vec!["batch.min"]
    );
}

#[test]
fn workers_must_be_between_one_and_max() {
    assert_eq!(
        errors(&[], &with(&[("NUM_WORKERS", "17")])),
        vec!["workers.initial"]
    );
    assert_eq!(
        errors(&[], &with(&[("NUM_WORKERS", "0")])),
        vec!["workers.initial"]
    );
    assert!(
        load(
            &[],
            &with(&[("NUM_WORKERS", "4"), ("SPATE_MAX_WORKERS", "4")])
        )
        .is_ok()
    );
}

#[test]
fn watermarks_need_hysteresis() {
    let env = with(&[
        ("SPATE_HIGH_WATERMARK", "800"),
        ("SPATE_LOW_WATERMARK", "800"),
    ]);
    assert_eq!(errors(&[], &env), vec!["backpressure.low_watermark"]);
    let env = with(&[
        ("SPATE_HIGH_WATERMARK", "800"),
        ("SPATE_LOW_WATERMARK", "200"),
    ]);
    assert_eq!(load(&[], &env).unwrap().backpressure.low_watermark, 200);
    assert_eq!(
        errors(&[], &with(&[("SPATE_QUEUE_CAPACITY", "0")])),
        vec!["backpressure.queue_capacity"]
    );
}

#[test]
fn questdb_conf_from_host_and_port() {
    let c = load(
        &[],
        &with(&[("QUESTDB_HOST", "qdb"), ("QUESTDB_ILP_PORT", "9100")]),
    )
    .unwrap();
    assert_eq!(c.questdb.client_conf, "http::addr=qdb:9100;");
    assert_eq!(c.questdb.http_url, "http://qdb:9100");
}

#[test]
fn questdb_client_conf_sets_transport_and_url() {
    let c = load(
        &[],
        &with(&[("QDB_CLIENT_CONF", "https::addr=db.example:9000;")]),
    )
    .unwrap();
    assert_eq!(c.questdb.transport, Transport::Http);
    assert_eq!(c.questdb.http_url, "https://db.example:9000");
    assert_eq!(
        errors(&[], &with(&[("QDB_CLIENT_CONF", "ftp::addr=x:1;")])),
        vec!["questdb.client_conf"]
    );
    assert_eq!(
        errors(&[], &with(&[("QDB_CLIENT_CONF", "http::")])),
        vec!["questdb.client_conf"]
    );
}

#[test]
fn tcp_needs_an_explicit_lossy_opt_in_and_an_http_url() {
    let tcp = ("QDB_CLIENT_CONF", "tcp::addr=127.0.0.1:9009;");
    assert_eq!(
        errors(&[], &with(&[tcp])),
        vec!["questdb.client_conf", "questdb.http_url"]
    );
    let env = with(&[
        tcp,
        ("SPATE_ALLOW_LOSSY_TCP", "true"),
        ("QUESTDB_HTTP_URL", "http://127.0.0.1:9000/"),
    ]);
    let c = load(&[], &env).unwrap();
    assert_eq!(c.questdb.transport, Transport::Tcp);
    assert_eq!(c.questdb.http_url, "http://127.0.0.1:9000");
    assert_eq!(
        errors(&[], &with(&[("SPATE_ALLOW_LOSSY_TCP", "maybe")])),
        vec!["questdb.allow_lossy_tcp"]
    );
    assert_eq!(
        errors(&[], &with(&[("QUESTDB_HTTP_URL", "127.0.0.1:9000")])),
        vec!["questdb.http_url"]
    );
}

#[test]
fn validation_limits_are_parsed_in_their_units() {
    let env = with(&[
        ("SPATE_MAX_PAST_SECS", "60"),
        ("SPATE_MAX_FUTURE_SECS", "0"),
        ("SPATE_MAX_MESSAGE_BYTES", "512"),
    ]);
    let v = load(&[], &env).unwrap().validation;
    assert_eq!(
        (v.max_past, v.max_future, v.max_message_bytes),
        (Duration::from_secs(60), Duration::ZERO, 512)
    );
    assert_eq!(
        errors(&[], &with(&[("SPATE_MAX_PAST_SECS", "0")])),
        vec!["validation.max_past_secs"]
    );
    assert_eq!(
        errors(&[], &with(&[("SPATE_MAX_MESSAGE_BYTES", "0")])),
        vec!["validation.max_message_bytes"]
    );
}

#[test]
fn targets_default_to_the_pipeline_defaults_and_take_fractions() {
    let t = load(&[], BASE).unwrap().targets;
    assert_eq!(
        (t.latency, t.lag),
        (Duration::from_secs(2), Duration::from_secs(10))
    );
    let env = with(&[
        ("SPATE_TARGET_LATENCY_MS", "250"),
        ("SPATE_TARGET_LAG_SECONDS", "0.5"),
    ]);
    let t = load(&[], &env).unwrap().targets;
    assert_eq!(
        (t.latency, t.lag),
        (Duration::from_millis(250), Duration::from_millis(500))
    );
    let env = with(&[
        ("SPATE_TARGET_LATENCY_MS", "0"),
        ("SPATE_TARGET_LAG_SECONDS", "soon"),
    ]);
    assert_eq!(
        errors(&[], &env),
        vec!["targets.latency_ms", "targets.lag_seconds"]
    );
}

#[test]
fn control_token_from_value_or_file_not_both() {
    let c = load(&[], &with(&[("SPATE_CONTROL_TOKEN", "s3cret")])).unwrap();
    assert_eq!(c.server.control, ControlAuth::Static("s3cret".into()));
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "the token is redacted in Debug"
    );
    let file = temp_file("token", "from-file\n");
    let file: &'static str = Box::leak(file.into_boxed_str());
    let c = load(&[], &with(&[("SPATE_CONTROL_TOKEN_FILE", file)])).unwrap();
    assert_eq!(c.server.control, ControlAuth::Static("from-file".into()));
    let both = with(&[
        ("SPATE_CONTROL_TOKEN", "a"),
        ("SPATE_CONTROL_TOKEN_FILE", file),
    ]);
    assert_eq!(errors(&[], &both), vec!["server.control_token"]);
    let empty: &'static str = Box::leak(temp_file("empty-token", " \n").into_boxed_str());
    assert_eq!(
        errors(&[], &with(&[("SPATE_CONTROL_TOKEN_FILE", empty)])),
        vec!["server.control_token_file"]
    );
}

#[test]
fn durations_and_choices() {
    let env = with(&[
        ("SPATE_SHUTDOWN_GRACE_SECS", "5"),
        ("SPATE_COMMIT_INTERVAL_MS", "250"),
        ("SPATE_LOG_FORMAT", "JSON"),
        ("SPATE_GROUP_PROTOCOL", "classic"),
        ("SPATE_INPUT_FORMAT", "coinbase-market-trades"),
    ]);
    let c = load(&[], &env).unwrap();
    assert_eq!(c.shutdown_grace, Duration::from_secs(5));
    assert_eq!(c.commit_interval, Duration::from_millis(250));
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.kafka.group_protocol, GroupProtocol::Classic);
    assert_eq!(c.input_format, InputFormat::CoinbaseMarketTrades);
    assert_eq!(
        errors(&[], &with(&[("SPATE_COMMIT_INTERVAL_MS", "0")])),
        vec!["commit_interval_ms"]
    );
}

#[test]
fn help_and_unknown_flags_come_from_clap() {
    let help = load(&["--help"], &[]).unwrap_err();
    assert!(help.is_informational());
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().contains("--kafka-brokers"));
    assert!(Config::help().contains("KAFKA_BROKERS"));
    let bad = load(&["--no-such-flag"], BASE).unwrap_err();
    assert!(!bad.is_informational());
    assert_eq!(bad.exit_code(), 2);
}

#[test]
fn every_default_of_the_table_is_the_value_an_unset_setting_takes() {
    let unset = load(&[], BASE).unwrap();
    for s in SETTINGS {
        let Some(text) = s.default.value() else {
            continue;
        };
        let given =
            load(&[], &with(&[(s.env, text)])).unwrap_or_else(|e| panic!("{}={text}: {e}", s.env));
        assert_eq!(given, unset, "{}={text}", s.env);
    }
}

#[test]
fn a_value_below_a_settings_minimum_is_refused_by_name() {
    for s in SETTINGS {
        let Some(min) = s.min.filter(|m| *m > 0) else {
            continue;
        };
        let below = (min - 1).to_string();
        let env: Vec<(&str, &str)> = BASE
            .iter()
            .copied()
            .chain([(s.env, below.as_str())])
            .collect();
        assert!(
            errors(&[], &env).contains(&s.key.to_owned()),
            "{}={below}",
            s.env
        );
        // At the minimum it is accepted, unless a relation to others rules it out.
        let related = SETTINGS
            .iter()
            .any(|o| o.valid.is_some_and(|v| v.contains(s.key)));
        if !related {
            let at = min.to_string();
            let env: Vec<(&str, &str)> =
                BASE.iter().copied().chain([(s.env, at.as_str())]).collect();
            assert!(load(&[], &env).is_ok(), "{}={at}", s.env);
        }
    }
}

#[test]
fn the_help_shows_each_settings_default_and_variable() {
    let help = Config::help();
    for s in SETTINGS {
        assert!(help.contains(s.env), "{}", s.env);
    }
    assert!(help.contains("Initial batch size in rows [default: 1000] [env BATCH_SIZE]"));
    assert!(help.contains("Kafka bootstrap servers (required) [env KAFKA_BROKERS]"));
}

/// `consumer/README.md`'s settings table, one row per setting: key, variable, default.
#[test]
fn the_readme_lists_every_setting_with_its_variable_and_default() {
    let readme = include_str!("../../README.md");
    let table = readme
        .split_once("| setting | env | default | notes |\n|---|---|---|---|\n")
        .expect("the settings table of consumer/README.md")
        .1;
    let mut rows = Vec::new();
    for line in table.lines().take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, key, env, default, ..] = cells[..] else {
            panic!("not a row of four cells: {line}");
        };
        rows.push((
            key.trim_matches('`').to_owned(),
            env.trim_matches('`').to_owned(),
            default.to_owned(),
        ));
    }
    let table: Vec<(String, String, String)> = SETTINGS
        .iter()
        .map(|s| (s.key.to_owned(), s.env.to_owned(), s.default.to_string()))
        .collect();
    assert_eq!(rows, table);
}
