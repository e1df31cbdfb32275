//! End to end, against the real servers: a spike of trades goes to Kafka; the operator
//! (running from its image on the local node, under the shipped RBAC) scales the consumer
//! pods — real containers — workers first, then pods; the backlog drains; after the dwell
//! it scales back down; and every trade produced is in QuestDB exactly once. Ten seconds
//! into the spike the leading operator is killed: the other replica takes over with the
//! autoscaler's memory (the scale-up it made, the calm base the surge reserve is sized
//! from, the dwell) and makes no scale-down before the backlog drains.

use std::path::PathBuf;
use std::time::Duration;

use spate_tests::demo::{Sample, Scenario, Schedule, drained_below, run};
use spate_tests::{as_grafana_sends_it, dashboard_queries, prometheus_query_range};

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Seconds after the load started: ten seconds into the spike.
const KILL_AT: f64 = 25.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spike_is_absorbed_by_scaling_workers_then_pods_and_every_trade_lands_once() {
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-autoscale");
    let scenario = Scenario {
        prefix: "e2e-autoscale".into(),
        partitions: 8,
        schedule: Schedule::spike(1_000.0, 15.0, 25_000.0, 25.0, 40.0),
        symbols: 64,
        workers: (1, 4),
        replicas: (1, 3),
        drain_seconds: 20,
        scale_down_seconds: 15,
        rebalance_settle_seconds: 5,
        lag_target_seconds: 5.0,
        per_worker_rate_hint: Some(5_000.0),
        use_prometheus: true,
        out_dir,
        max_run: Duration::from_secs(360),
        startup_timeout: Duration::from_secs(180),
        kill_leader_at: Some(KILL_AT),
    };
    let mut progress = |s: &Sample| println!("{}", s.line());
    let mut note = |m: &str| println!("• {m}");
    let started = unix_now();
    let report = run(&scenario, &mut progress, &mut note)
        .await
        .expect("the scenario runs");
    let ended = unix_now();
    let s = &report.summary;
    println!("\n{}\nplot: {}", s.table(), report.plot.display());

    let samples = &report.samples;
    let first = |f: &dyn Fn(&Sample) -> bool| samples.iter().find(|x| f(x)).map(|x| x.t);
    let workers_up = first(&|x| x.workers.iter().any(|(_, w)| *w > 1));
    let pods_up = first(&|x| x.replicas > 1);
    let peak_at = samples
        .iter()
        .max_by_key(|x| x.lag.unwrap_or(0))
        .map(|x| x.t)
        .unwrap_or(0.0);
    let drained = drained_below(&scenario.schedule);
    let drained_at = first(&|x| x.t > peak_at && x.lag.is_some_and(|l| l <= drained));
    let scaled_down_at = first(&|x| Some(x.t) > drained_at && x.replicas == 1 && x.ready == 1);

    assert!(
        workers_up.is_some(),
        "the operator never raised the workers of a pod"
    );
    assert!(pods_up.is_some(), "the operator never added a pod");
    assert!(
        workers_up <= pods_up,
        "workers grow first (workers at {workers_up:?}, pods at {pods_up:?})"
    );
    assert!(
        s.first_scale_up.is_some(),
        "no ScaleUp Event during the spike"
    );
    assert!(
        s.peak_lag > drained,
        "the spike built a backlog ({} records at its peak)",
        s.peak_lag
    );
    assert!(
        drained_at.is_some(),
        "the backlog never drained below {drained} records"
    );
    assert!(
        scaled_down_at.is_some(),
        "the operator never scaled back down to one pod after the backlog drained"
    );
    assert!(
        s.decisions.iter().any(|d| d.action == "ScaleDown"),
        "no ScaleDown Event"
    );
    let (killed_at, killed) = report
        .leader_killed
        .clone()
        .expect("the leading operator was killed");
    let successor = samples
        .iter()
        .find(|x| x.t > killed_at && x.memory_writer.as_ref().is_some_and(|w| *w != killed))
        .expect("the new leader never wrote the autoscaler's memory");
    assert!(
        successor.memory_since.is_some_and(|at| at < killed_at),
        "the new leader forgot what happened before the kill at {killed_at:.0} s \
         (its first memory, at {:.0} s, goes back to {:?} s)",
        successor.t,
        successor.memory_since
    );
    let reversal = s
        .decisions
        .iter()
        .find(|d| d.action == "ScaleDown" && d.t > killed_at && Some(d.t) < drained_at);
    assert!(
        reversal.is_none(),
        "the new leader scaled down before the backlog drained: {reversal:?}"
    );
    // The dashboard's panels and annotations of the operator's series (Prometheus
    // scraped the operator pods through their annotations) had data during the run.
    let namespace = &report.names.0;
    let queries: Vec<String> = dashboard_queries()
        .expect("the dashboard")
        .into_iter()
        .filter(|q| q.contains("spate_operator_"))
        .collect();
    assert!(
        queries.len() >= 5,
        "only {} operator queries",
        queries.len()
    );
    let mut empty = Vec::new();
    for expr in &queries {
        let promql = as_grafana_sends_it(expr, namespace, "trades");
        let result = prometheus_query_range(&promql, started, ended, 5.0)
            .await
            .unwrap_or_else(|e| panic!("dashboard query {promql}: {e}"));
        if result.is_empty() {
            empty.push(promql);
        } else {
            println!("returned data during the run: {promql}");
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries of the operator with no data during the run: {empty:#?}"
    );
    assert_eq!(s.failed, 0, "Kafka refused trades");
    assert_eq!(
        s.rows, s.produced,
        "rows in QuestDB against trades produced"
    );
    assert_eq!(
        s.distinct, s.produced,
        "distinct trades in QuestDB against trades produced"
    );
}
