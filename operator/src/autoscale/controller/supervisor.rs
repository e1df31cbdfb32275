//! Starts a loop for every pipeline that wants autoscaling and stops it when the pipeline
//! goes away, is paused or turns autoscaling off; every loop stops with the supervisor.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use super::{AutoscalerConfig, AutoscalerMetrics, Error, Shared};
use crate::autoscale::signals::PrometheusReader;
use crate::context::Context;
use crate::crd::IngestionPipeline;
use crate::validate::{ValidPipeline, validate};

/// The pipeline the autoscaler runs for, validated; `None` when autoscaling is off, the
/// pipeline is paused or being deleted, or its spec is refused: a spec the reconciler
/// refuses is never scaled (its loop stops until the spec is fixed).
pub fn autoscaled(p: &IngestionPipeline) -> Option<ValidPipeline> {
    let wanted = p.spec.autoscaling.enabled && !p.spec.paused;
    if !wanted || p.metadata.deletion_timestamp.is_some() {
        return None;
    }
    validate(p).ok()
}

/// Runs the autoscaler until the future is dropped (when leadership is lost).
pub async fn run(
    ctx: Arc<Context>,
    config: AutoscalerConfig,
    metrics: AutoscalerMetrics,
) -> Result<(), Error> {
    let http = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .map_err(Error::BuildHttpClient)?;
    let prometheus = config.prometheus_url.as_deref().map(|url| {
        PrometheusReader::new(
            http.clone(),
            url,
            &super::prometheus_window(config.prometheus_scrape_interval),
            super::prometheus_stale_after(config.prometheus_scrape_interval, config.interval),
        )
    });
    let api: Api<IngestionPipeline> = match &config.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    tracing::info!(
        namespace = config.namespace.as_deref().unwrap_or("<all>"),
        prometheus = config.prometheus_url.as_deref().unwrap_or("<scrape pods>"),
        "starting the autoscaler"
    );
    let (store, writer) = reflector::store();
    let watch = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .for_each(|_| futures::future::ready(()));
    let interval = config.interval;
    // Dropped with this future when leadership is lost: a standby reports no pipeline.
    let _forget = ForgetOnDrop(metrics.clone());
    let shared = Arc::new(Shared {
        ctx,
        config,
        metrics,
        http,
        prometheus,
    });
    let supervise = async move {
        let mut loops: JoinSet<()> = JoinSet::new();
        let mut running: HashMap<
            ObjectRef<IngestionPipeline>,
            (watch::Sender<Arc<ValidPipeline>>, AbortHandle),
        > = HashMap::new();
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            while loops.try_join_next().is_some() {}
            let wanted: HashMap<_, _> = store
                .state()
                .into_iter()
                .filter_map(|p| {
                    let valid = autoscaled(&p)?;
                    Some((ObjectRef::from_obj(p.as_ref()), Arc::new(valid)))
                })
                .collect();
            running.retain(|key, (_, handle)| {
                let keep = wanted.contains_key(key) && !handle.is_finished();
                if !keep {
                    tracing::info!(pipeline = %key, "stopping the autoscaler loop");
                    handle.abort();
                    shared.metrics.forget(&label(key));
                }
                keep
            });
            for (key, pipeline) in wanted {
                match running.get(&key) {
                    Some((tx, _)) => {
                        tx.send_if_modified(|old| {
                            let changed = old.pipeline().metadata.resource_version
                                != pipeline.pipeline().metadata.resource_version;
                            if changed {
                                *old = pipeline.clone();
                            }
                            changed
                        });
                    }
                    None => {
                        tracing::info!(pipeline = %key, "starting the autoscaler loop");
                        let (tx, rx) = watch::channel(pipeline);
                        let handle =
                            loops.spawn(super::pipeline::run(shared.clone(), label(&key), rx));
                        running.insert(key, (tx, handle));
                    }
                }
            }
        }
    };
    tokio::select! {
        () = watch => tracing::warn!("the pipeline watch ended"),
        () = supervise => {}
    }
    Ok(())
}

/// Forgets every pipeline's gauges when dropped.
struct ForgetOnDrop(AutoscalerMetrics);

impl Drop for ForgetOnDrop {
    fn drop(&mut self) {
        self.0.forget_all();
    }
}

/// The `pipeline` label of a pipeline's metrics: `namespace/name`.
fn label(key: &ObjectRef<IngestionPipeline>) -> String {
    format!(
        "{}/{}",
        key.namespace.as_deref().unwrap_or_default(),
        key.name
    )
}

#[cfg(test)]
mod tests {
    use super::autoscaled;
    use crate::build::tests::example;

    #[test]
    fn a_valid_enabled_pipeline_is_autoscaled_and_a_refused_one_is_not() {
        let mut p = example();
        p.spec.autoscaling.enabled = true;
        assert!(autoscaled(&p).is_some());
        // Refused by the reconciler: the consumer would refuse this batch.
        p.spec.tuning.batch_initial = Some(50);
        assert!(autoscaled(&p).is_none());
        p.spec.tuning.batch_initial = None;
        p.spec.paused = true;
        assert!(autoscaled(&p).is_none());
    }
}
