//! spate's alert rules (`manifests/monitoring/spate.rules.yaml`) pass promtool's checks and
//! unit tests, every alert is unit-tested firing and quiet, has a runbook section, and the
//! PrometheusRule carries exactly the rules file.

use anyhow::{Context, Result, ensure};
use serde_yaml::Value;
use spate_tests::{Tool, repo_root, run_tool_ok};

const RULES: &str = "manifests/monitoring/spate.rules.yaml";
const UNIT_TESTS: &str = "manifests/monitoring/tests/spate.rules.test.yaml";
const RUNBOOK: &str = "docs/runbook.md";

fn yaml(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(repo_root().join(path)).with_context(|| path.to_owned())?;
    serde_yaml::from_str(&text).with_context(|| format!("parse {path}"))
}

/// Every alert rule of the rules file: (name, its runbook_url).
fn alerts() -> Result<Vec<(String, String)>> {
    let rules = yaml(RULES)?;
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().context("groups")? {
        for rule in group["rules"].as_sequence().context("rules")? {
            if let Some(name) = rule["alert"].as_str() {
                let url = rule["annotations"]["runbook_url"].as_str().unwrap_or("");
                out.push((name.to_owned(), url.to_owned()));
            }
        }
    }
    ensure!(!out.is_empty(), "no alert in {RULES}");
    Ok(out)
}

#[test]
fn promtool_accepts_the_rules() -> Result<()> {
    let out = run_tool_ok(Tool::Promtool, &["check", "rules", RULES], None)?;
    println!("{}", out.trim());
    ensure!(out.contains("SUCCESS"), "promtool check rules: {out}");
    Ok(())
}

#[test]
fn the_promtool_unit_tests_pass() -> Result<()> {
    let out = run_tool_ok(Tool::Promtool, &["test", "rules", UNIT_TESTS], None)?;
    println!("{}", out.trim());
    ensure!(out.contains("SUCCESS"), "promtool test rules: {out}");
    Ok(())
}

#[test]
fn every_alert_is_unit_tested_firing_and_quiet() -> Result<()> {
    let tests = yaml(UNIT_TESTS)?;
    let cases: Vec<&Value> = tests["tests"]
        .as_sequence()
        .context("tests")?
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_sequence().into_iter().flatten())
        .collect();
    for (alert, _) in alerts()? {
        let of_alert: Vec<&&Value> = cases
            .iter()
            .filter(|c| c["alertname"].as_str() == Some(alert.as_str()))
            .collect();
        let fires = |c: &&&Value| c["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty());
        ensure!(
            of_alert.iter().any(fires),
            "{alert}: no unit test where it fires"
        );
        ensure!(
            of_alert.iter().any(|c| !fires(c)),
            "{alert}: no unit test where it stays quiet"
        );
    }
    Ok(())
}

#[test]
fn every_alert_has_a_runbook_section_its_annotation_links_to() -> Result<()> {
    let runbook = std::fs::read_to_string(repo_root().join(RUNBOOK)).context(RUNBOOK)?;
    for (alert, url) in alerts()? {
        ensure!(
            runbook.lines().any(|l| l.trim() == format!("## {alert}")),
            "{RUNBOOK} has no section `## {alert}`"
        );
        let anchor = format!("docs/runbook.md#{}", alert.to_lowercase());
        ensure!(
            url.ends_with(&anchor),
            "{alert}: runbook_url {url:?} does not end in {anchor}"
        );
    }
    Ok(())
}

#[test]
fn the_prometheus_rule_carries_exactly_the_rules_file() -> Result<()> {
    let rule = yaml("manifests/monitoring/prometheusrule.yaml")?;
    ensure!(
        rule["kind"] == "PrometheusRule",
        "manifests/monitoring/prometheusrule.yaml is a {:?}",
        rule["kind"]
    );
    ensure!(
        rule["spec"] == yaml(RULES)?,
        "manifests/monitoring/prometheusrule.yaml is stale: run `make monitoring` and commit the result"
    );
    Ok(())
}
