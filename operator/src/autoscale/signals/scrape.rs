//! Consumer signals by scraping each pod's `/metrics` directly, when no Prometheus is configured.

use std::collections::HashMap;
use std::time::Duration;

use super::SignalError;
use super::consumer::{ConsumerSignals, PodCounters, signals_between};
use super::text::parse;

/// Scrapes pods and turns successive scrapes into rates.
#[derive(Debug)]
pub struct PodScraper {
    http: reqwest::Client,
    previous: HashMap<String, (Duration, PodCounters)>,
}

impl PodScraper {
    /// A scraper using `http` (give it a timeout).
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            previous: HashMap::new(),
        }
    }

    /// Scrapes one pod's metrics URL.
    pub async fn scrape_pod(&self, url: &str) -> Result<PodCounters, SignalError> {
        let fail = |message: String| SignalError::ScrapePod {
            url: url.to_string(),
            message,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(response.status().to_string()));
        }
        let text = response.text().await.map_err(|e| fail(e.to_string()))?;
        PodCounters::from_samples(&parse(&text))
            .ok_or_else(|| fail("no trades_processed_total".into()))
    }

    /// Scrapes every `(pod, metrics URL)` at `now` (the caller's clock) and returns the rates
    /// since each pod's previous scrape. A pod that does not answer, or seen for the first
    /// time, makes the result stale; pods no longer listed are forgotten.
    pub async fn scrape(&mut self, now: Duration, pods: &[(String, String)]) -> ConsumerSignals {
        let mut pairs = Vec::new();
        let mut stale = false;
        let mut interval = Duration::ZERO;
        let mut seen = HashMap::new();
        for (pod, url) in pods {
            match self.scrape_pod(url).await {
                Ok(now_counters) => {
                    if let Some((at, before)) = self.previous.get(pod) {
                        interval = interval.max(now.saturating_sub(*at));
                        pairs.push((pod.clone(), before.clone(), now_counters.clone()));
                    } else {
                        stale = true;
                    }
                    seen.insert(pod.clone(), (now, now_counters));
                }
                Err(err) => {
                    tracing::warn!(%pod, %err, "scraping a consumer pod failed");
                    stale = true;
                }
            }
        }
        self.previous = seen;
        let mut signals = signals_between(&pairs, interval.as_secs_f64());
        signals.stale |= stale;
        signals
    }
}
