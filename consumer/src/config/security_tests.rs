//! Tests of the security settings: secrets as values or files, refused secret-bearing
//! options, PLAIN over plaintext, and no secret in any error or `Debug` output.

use std::collections::HashMap;
use std::ffi::OsString;

use super::*;
use crate::security::{SaslMechanism, SecurityProtocol};

const SECRET: &str = "S3cr,et;pa=ss \"q\" 'q' \\ \nline";

fn load(env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let mut env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("KAFKA_BROKERS".into(), "127.0.0.1:9092".into());
    env.insert("KAFKA_TOPICS".into(), "trades".into());
    Config::load([OsString::from("spate-consumer")], move |k| {
        env.get(k).cloned()
    })
}

fn errors(env: &[(&str, &str)]) -> Vec<(String, String)> {
    load(env)
        .unwrap_err()
        .errors
        .into_iter()
        .map(|e| (e.setting, e.reason))
        .collect()
}

fn secret_file(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("spate-config-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn scram_over_sasl_ssl_takes_the_password_file_as_its_exact_bytes() {
    let file = secret_file("password", SECRET);
    let c = load(&[
        ("SPATE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("SPATE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        ("SPATE_KAFKA_SASL_USERNAME", "trader"),
        ("SPATE_KAFKA_SASL_PASSWORD_FILE", &file),
    ])
    .unwrap();
    let s = &c.kafka.security;
    assert_eq!(s.protocol, SecurityProtocol::SaslSsl);
    assert_eq!(s.mechanism, Some(SaslMechanism::ScramSha512));
    assert_eq!(s.password.as_ref().unwrap().secret.expose(), SECRET);
    assert_eq!(s.username.as_ref().unwrap().secret.expose(), "trader");
    assert!(s.verify_hostname, "hostname verification is on by default");
    assert!(!format!("{c:?}").contains("S3cr"), "Debug shows no secret");
}

#[test]
fn a_value_and_a_file_for_one_secret_are_refused() {
    let file = secret_file("both", "x");
    let e = errors(&[
        ("SPATE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("SPATE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"),
        ("SPATE_KAFKA_SASL_USERNAME", "u"),
        ("SPATE_KAFKA_SASL_PASSWORD", "p"),
        ("SPATE_KAFKA_SASL_PASSWORD_FILE", &file),
    ]);
    assert_eq!(e[0].0, "kafka.sasl_password");
    assert!(e[0].1.contains("not both"), "{e:?}");
}

#[test]
fn secrets_in_the_kafka_options_are_refused_by_key_without_their_value() {
    for key in [
        "sasl.password",
        "sasl.username",
        "ssl.key.password",
        "ssl.key.pem",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
    ] {
        let options = format!("linger.ms=5,{key}={SECRET}");
        let errs = load(&[("SPATE_KAFKA_OPTIONS", &options)]).unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains("kafka.options") && text.contains(key),
            "{text}"
        );
        assert!(!text.contains("S3cr") && !text.contains("line"), "{text}");
    }
}

#[test]
fn a_malformed_option_is_reported_without_its_text() {
    let text = load(&[("SPATE_KAFKA_OPTIONS", "linger.ms=5,hunter2")])
        .unwrap_err()
        .to_string();
    assert!(text.contains("item 2 of 2 is not key=value"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn credentials_in_the_questdb_conf_are_refused_by_key_without_their_value() {
    for (key, var) in [
        ("username", "USERNAME"),
        ("password", "PASSWORD"),
        ("token", "TOKEN"),
    ] {
        let conf = format!("http::addr=q:9000;{key}=hunter2;");
        let text = load(&[("QDB_CLIENT_CONF", &conf)]).unwrap_err().to_string();
        assert!(text.contains(&format!("holds {key}=")), "{text}");
        assert!(text.contains(&format!("SPATE_QDB_{var}_FILE")), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let text = load(&[("QDB_CLIENT_CONF", "http::addr=q:9000;password=a\u{1}b;")])
        .unwrap_err()
        .to_string();
    assert!(!text.contains("a\u{1}b"), "{text}");
}

#[test]
fn questdb_credentials_come_from_their_settings() {
    let file = secret_file("qdb-password", "p;w=d");
    let c = load(&[
        ("SPATE_QDB_USERNAME", "admin"),
        ("SPATE_QDB_PASSWORD_FILE", &file),
    ])
    .unwrap();
    assert_eq!(
        c.questdb.auth.password.as_ref().unwrap().secret.expose(),
        "p;w=d"
    );
    assert_eq!(
        errors(&[("SPATE_QDB_USERNAME", "admin")])[0].0,
        "questdb.password"
    );
}

#[test]
fn plain_over_sasl_plaintext_is_refused_with_a_clear_message_unless_allowed() {
    let env = [
        ("SPATE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ("SPATE_KAFKA_SASL_MECHANISM", "PLAIN"),
        ("SPATE_KAFKA_SASL_USERNAME", "u"),
        ("SPATE_KAFKA_SASL_PASSWORD", SECRET),
    ];
    let text = load(&env).unwrap_err().to_string();
    assert!(text.contains("sends the password in cleartext"), "{text}");
    assert!(
        text.contains("SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD"),
        "{text}"
    );
    assert!(!text.contains("S3cr"), "{text}");
    let mut allowed = env.to_vec();
    allowed.push(("SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD", "true"));
    assert!(load(&allowed).is_ok());
}

#[test]
fn the_protocol_in_the_options_counts_and_must_agree_with_the_setting() {
    let text = load(&[
        (
            "SPATE_KAFKA_OPTIONS",
            "security.protocol=SASL_PLAINTEXT,sasl.mechanism=PLAIN",
        ),
        ("SPATE_KAFKA_SASL_USERNAME", "u"),
        ("SPATE_KAFKA_SASL_PASSWORD", "p"),
    ])
    .unwrap_err()
    .to_string();
    assert!(text.contains("cleartext"), "{text}");
    let e = errors(&[
        ("SPATE_KAFKA_SECURITY_PROTOCOL", "SSL"),
        ("SPATE_KAFKA_OPTIONS", "security.protocol=PLAINTEXT"),
    ]);
    assert_eq!(e[0].0, "kafka.security_protocol");
}

#[test]
fn unreadable_tls_files_and_secret_files_are_named_never_shown() {
    let cert = secret_file("client.crt", "-----BEGIN CERTIFICATE-----");
    let e = errors(&[
        ("SPATE_KAFKA_SECURITY_PROTOCOL", "SSL"),
        ("SPATE_KAFKA_SSL_CA_FILE", "/nonexistent/ca.pem"),
        ("SPATE_KAFKA_SSL_CERT_FILE", &cert),
    ]);
    let settings: Vec<&str> = e.iter().map(|(s, _)| s.as_str()).collect();
    assert!(settings.contains(&"kafka.ssl_ca_file"), "{e:?}");
    assert!(
        settings.contains(&"kafka.ssl_key_file"),
        "a certificate needs its key: {e:?}"
    );
    let empty = secret_file("empty-password", "");
    let e = errors(&[
        ("SPATE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("SPATE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"),
        ("SPATE_KAFKA_SASL_USERNAME", "u"),
        ("SPATE_KAFKA_SASL_PASSWORD_FILE", &empty),
    ]);
    assert!(
        e.iter()
            .any(|(s, r)| s == "kafka.sasl_password_file" && r == "is empty"),
        "{e:?}"
    );
}

#[test]
fn an_invalid_value_of_a_plain_setting_is_still_quoted() {
    let text = load(&[("SPATE_KAFKA_SECURITY_PROTOCOL", "TLS")])
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        "{text}"
    );
    assert!(text.contains("(got \"TLS\")"), "{text}");
}
