//! spate-sim: runs spate's autoscaling policy and a KEDA+HPA model on load traces, prints the comparison and plots it.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use spate_operator::autoscale::sim::frontier::{Frontier, Grid};
use spate_operator::autoscale::sim::{self, BUILT_IN, Scenario, Sweep, Trace, svg};

/// Compare spate's autoscaler with KEDA's Kafka scaler + the HPA in a deterministic simulation.
#[derive(Parser, Debug)]
#[command(name = "spate-sim", version)]
struct Args {
    /// Built-in traces to run (step10, ramp, bursts, noisy, diurnal, flashcrash, crashes,
    /// hawkes, eventday, or all).
    #[arg(long = "trace", default_value = "all")]
    traces: Vec<String>,
    /// A CSV trace of `second,arrivals_per_second` lines (repeatable).
    #[arg(long = "csv")]
    csv: Vec<PathBuf>,
    /// Directory for the SVG plots and the Markdown tables (not written when absent).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the simulation's randomness.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Base arrival rate of the built-in traces, records per second.
    #[arg(long, default_value_t = 12_000.0)]
    base: f64,
    /// KEDA's tuned lagThreshold (default: one second of one KEDA pod's work); a second
    /// KEDA run always uses KEDA's default of 10.
    #[arg(long)]
    lag_threshold: Option<u64>,
    /// Workers in every KEDA pod (default: spate's workers.max, what a user would set statically).
    #[arg(long)]
    keda_workers: Option<u32>,
    /// Also run each built-in trace over these seeds (`A..=B`, `A..B` or `A,B,C`) and print
    /// the spread of the figures (min / median / max) and how many seeds meet each target.
    #[arg(long)]
    seeds: Option<String>,
    /// spate's drainTimeSeconds (default 30).
    #[arg(long)]
    drain: Option<u64>,
    /// spate's surgeFactor (default: the market-data pipeline's 10; 1 keeps no reserve).
    #[arg(long)]
    surge_factor: Option<f64>,
    /// Cooperative (incremental) rebalancing for both controllers: only the partitions that
    /// move pause, instead of the whole group.
    #[arg(long)]
    incremental_rebalance: bool,
    /// Also print every scale event of both runs.
    #[arg(long)]
    events: bool,
    /// Sweep each controller's own knobs on each trace (at `--seed`) and write the cost–lag
    /// frontiers: their Pareto sets and whether spate's covers KEDA's and the Flink-style
    /// baseline's (frontier.md and frontier-TRACE.svg with `--out`).
    #[arg(long)]
    frontier: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut scenario = Scenario {
        seed: args.seed,
        ..Scenario::default()
    };
    if let Some(w) = args.keda_workers {
        scenario.keda_workers = w.max(1);
        scenario.keda.lag_threshold = sim::tuned_lag_threshold(&scenario.world, w.max(1));
    }
    if let Some(t) = args.lag_threshold {
        scenario.keda.lag_threshold = t;
    }
    if let Some(f) = args.surge_factor {
        scenario.policy.surge_factor = f.max(1.0);
    }
    scenario.world.incremental_rebalance = args.incremental_rebalance;
    if let Some(d) = args.drain {
        scenario.policy.drain_time = std::time::Duration::from_secs(d);
    }
    let mut traces: Vec<Trace> = Vec::new();
    let names: Vec<&str> = if args.traces.iter().any(|t| t == "all") {
        if args.csv.is_empty() || args.traces.len() > 1 {
            BUILT_IN.to_vec()
        } else {
            Vec::new()
        }
    } else {
        args.traces.iter().map(String::as_str).collect()
    };
    for name in names {
        match sim::built_in(name, args.base, args.seed) {
            Some(t) => traces.push(t),
            None => bail!("unknown trace {name:?}; built in: {}", BUILT_IN.join(", ")),
        }
    }
    for path in &args.csv {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_stem()
            .map_or("csv".into(), |s| s.to_string_lossy().into_owned());
        traces.push(
            Trace::from_csv(&name, &text).with_context(|| format!("parsing {}", path.display()))?,
        );
    }
    if let Some(dir) = &args.out {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let w = &scenario.world;
    let header = format!(
        "Scenario: {} partitions, μ = {:.0} records/s per worker, pod start-up {:.0} s, rebalance pause {:.0} s ({}), \
         QuestDB {:.0} rows/s; spate: workers {}..={} per pod, pods {}..={}, headroom {}, drain {} s, dwell {} s, surgeFactor {}; \
         KEDA+HPA: {} workers per pod, lagThreshold {} (tuned) and {} (KEDA's default), seed {}.\n",
        w.partitions,
        w.service_rate,
        w.pod_startup,
        w.rebalance_pause,
        if w.incremental_rebalance {
            "moved partitions only"
        } else {
            "whole group"
        },
        w.sink_capacity,
        scenario.policy.workers.min,
        scenario.policy.workers.max,
        scenario.policy.replicas.min,
        scenario.policy.replicas.max,
        scenario.policy.headroom,
        scenario.policy.drain_time.as_secs(),
        scenario.policy.scale_down_stabilization.as_secs(),
        scenario.policy.surge_factor,
        scenario.keda_workers,
        scenario.keda.lag_threshold,
        scenario.keda_default.lag_threshold,
        scenario.seed,
    );
    println!("{header}");
    if args.frontier {
        return frontiers(&args, &scenario, &traces, &header);
    }
    let args_text: Vec<String> = std::env::args().skip(1).collect();
    let mut all = format!(
        "Written by `cargo run -p spate-operator --release --bin spate-sim -- {}`.\n\n{header}",
        args_text.join(" ")
    );
    for trace in &traces {
        let c = scenario.compare(trace);
        let table = sim::table(
            &c,
            scenario.keda.lag_threshold,
            scenario.keda_default.lag_threshold,
        );
        println!("{table}");
        if args.events {
            for (who, run) in [
                ("spate", &c.spate),
                ("KEDA tuned", &c.keda),
                ("KEDA default", &c.keda_default),
            ] {
                for e in &run.events {
                    let why = e.reason.map_or(String::new(), |r| format!(" ({r})"));
                    println!(
                        "  {who:>12} t={:>7.1}s → {}×{}{why}",
                        e.t, e.replicas, e.workers
                    );
                }
            }
            println!();
        }
        all.push('\n');
        all.push_str(&table);
        if let Some(dir) = &args.out {
            let path = dir.join(format!("{}.svg", trace.name));
            fs::write(&path, svg::plot(&c))
                .with_context(|| format!("writing {}", path.display()))?;
            all.push_str(&format!("\n![{0}]({0}.svg)\n", trace.name));
        }
    }
    if let Some(seeds) = &args.seeds {
        let seeds = parse_seeds(seeds).map_err(anyhow::Error::msg)?;
        let names: Vec<&str> = traces
            .iter()
            .map(|t| t.name.as_str())
            .filter(|n| BUILT_IN.contains(n))
            .collect();
        if !names.is_empty() {
            all.push_str("\n## Over seeds\n");
            println!("## Over seeds\n");
        }
        for name in names {
            // With the surge reserve on, the same seeds without it: what the reserve costs and buys.
            let mut variants = vec![(scenario.clone(), String::new())];
            if scenario.policy.surge_factor > 1.0 {
                let mut plain = scenario.clone();
                plain.policy.surge_factor = 1.0;
                variants.push((
                    plain,
                    ", spate without the surge reserve (surgeFactor 1)".into(),
                ));
            }
            // With a trace's capacity schedules, the same seeds without them: what they buy.
            if sim::built_in(name, args.base, 1).is_some_and(|t| t.calendar.is_some()) {
                let mut unscheduled = scenario.clone();
                unscheduled.schedules = false;
                variants.push((unscheduled, ", spate without its schedules".into()));
                let mut schedules_alone = scenario.clone();
                schedules_alone.policy.surge_factor = 1.0;
                variants.push((
                    schedules_alone,
                    ", spate with its schedules and no surge reserve (surgeFactor 1)".into(),
                ));
            }
            for (sc, label) in variants {
                let mut sweep =
                    Sweep::run(&sc, name, args.base, &seeds).context("a built-in trace")?;
                sweep.trace.push_str(&label);
                let mut table = sweep.table(sc.keda.lag_threshold, sc.keda_default.lag_threshold);
                if sweep.runs.iter().any(|r| r.1.first_scale_up.is_some()) {
                    table.push('\n');
                    table.push_str(&sweep.per_seed_table(sc.keda.lag_threshold));
                }
                println!("{table}");
                all.push('\n');
                all.push_str(&table);
            }
        }
    }
    if let Some(dir) = &args.out {
        let path = dir.join("results.md");
        fs::write(&path, all).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The cost–lag frontiers of `traces`, printed and, with `--out`, written.
fn frontiers(args: &Args, scenario: &Scenario, traces: &[Trace], header: &str) -> Result<()> {
    let args_text: Vec<String> = std::env::args().skip(1).collect();
    let mut all = format!(
        "Written by `cargo run -p spate-operator --release --bin spate-sim -- {}`.\n\n{header}",
        args_text.join(" ")
    );
    for trace in traces {
        let f = Frontier::sweep(scenario, trace, &Grid::full());
        let table = f.table();
        println!("{table}");
        all.push('\n');
        all.push_str(&table);
        if let Some(dir) = &args.out {
            let name = format!("frontier-{}.svg", trace.name);
            let path = dir.join(&name);
            fs::write(&path, f.plot()).with_context(|| format!("writing {}", path.display()))?;
            all.push_str(&format!("![{}]({name})\n", trace.name));
        }
    }
    if let Some(dir) = &args.out {
        let path = dir.join("frontier.md");
        fs::write(&path, all).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `A..=B`, `A..B` or a comma-separated list of seeds.
fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    let num = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|e| format!("{s:?} is not a seed: {e}"))
    };
    let seeds: Vec<u64> = if let Some((a, b)) = text.split_once("..=") {
        (num(a)?..=num(b)?).collect()
    } else if let Some((a, b)) = text.split_once("..") {
        (num(a)?..num(b)?).collect()
    } else {
        text.split(',').map(num).collect::<Result<_, _>>()?
    };
    if seeds.is_empty() {
        return Err(format!("{text:?} names no seed"));
    }
    Ok(seeds)
}
