//! Where a setting's raw text comes from: command-line flag, then environment
//! variable, then the optional TOML file, then the default.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::{ConfigError, Setting};

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(String),
    Env(&'static str),
    File(String),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag --{flag}"),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::File(path) => write!(f, "file {path}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

pub(crate) struct Sources<E> {
    matches: ArgMatches,
    env: E,
    file: Option<(String, toml::Table)>,
}

pub(crate) fn command(settings: &[Setting]) -> Command {
    let mut cmd = Command::new("spate-consumer")
        .about("Reads trades from Kafka and writes them to QuestDB")
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .help("TOML configuration file [env SPATE_CONFIG]"),
        );
    for s in settings {
        let mut arg = Arg::new(s.key)
            .long(s.flag())
            .value_name("VALUE")
            .help(s.help_line());
        if s.key == "kafka.options" {
            arg = arg.action(ArgAction::Append).value_name("KEY=VALUE");
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

impl<E: Fn(&str) -> Option<String>> Sources<E> {
    /// Parses the flags and reads the file (flag `--config`, else env `SPATE_CONFIG`).
    pub(crate) fn new(
        settings: &[Setting],
        args: impl IntoIterator<Item = OsString>,
        env: E,
        errors: &mut Vec<ConfigError>,
    ) -> Result<Self, clap::Error> {
        let matches = command(settings).try_get_matches_from(args)?;
        let path = matches
            .get_one::<String>("config")
            .cloned()
            .or_else(|| env("SPATE_CONFIG").filter(|p| !p.is_empty()));
        let file = path.and_then(|path| match read_file(&path) {
            Ok(table) => Some((path, table)),
            Err(reason) => {
                errors.push(ConfigError::new("config", Origin::File(path), reason));
                None
            }
        });
        if let Some((path, table)) = &file {
            for key in unknown_keys(table, settings) {
                errors.push(ConfigError::new(
                    key,
                    Origin::File(path.clone()),
                    "unknown setting".to_owned(),
                ));
            }
        }
        Ok(Sources { matches, env, file })
    }

    /// The raw text of a setting and where it came from, if it was given anywhere.
    pub(crate) fn raw(&self, s: &Setting) -> Option<(Origin, String)> {
        if let Some(values) = self.matches.get_many::<String>(s.key) {
            let joined = values.cloned().collect::<Vec<_>>().join(",");
            return Some((Origin::Flag(s.flag()), joined));
        }
        if let Some(v) = (self.env)(s.env) {
            return Some((Origin::Env(s.env), v));
        }
        let (path, table) = self.file.as_ref()?;
        let value = lookup(table, s.key)?;
        Some((Origin::File(path.clone()), value_text(value)))
    }
}

fn read_file(path: &str) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    text.parse::<toml::Table>()
        .map_err(|e| format!("invalid TOML: {e}"))
}

fn lookup<'t>(table: &'t toml::Table, key: &str) -> Option<&'t toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// File values as the same text a flag or variable would hold: arrays are joined
/// with commas, tables (only `kafka.options`) become `k=v,k=v`.
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(","),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
    }
}

fn unknown_keys(table: &toml::Table, settings: &[Setting]) -> Vec<String> {
    let known: BTreeSet<&str> = settings.iter().map(|s| s.key).collect();
    let mut unknown = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(inner) if !known.contains(k.as_str()) => {
                for (ik, _) in inner {
                    let full = format!("{k}.{ik}");
                    if !known.contains(full.as_str()) {
                        unknown.push(full);
                    }
                }
            }
            _ if !known.contains(k.as_str()) => unknown.push(k.clone()),
            _ => {}
        }
    }
    unknown
}
