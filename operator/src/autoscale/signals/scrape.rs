//! Consumer signals by scraping each pod's `/metrics` directly, when no Prometheus is configured.

use std::collections::HashMap;
use std::time::Duration;

use super::SignalError;
use super::consumer::{ConsumerSignals, PodCounters, signals_between};
use super::text::parse;

/// Each pod's previous scrape, turning a round of scrapes into rates. Pure: the caller
/// scrapes (the operator over HTTP, the simulator from its world).
#[derive(Clone, Debug, Default)]
pub struct ScrapeRates {
    previous: HashMap<String, (Duration, PodCounters)>,
}

impl ScrapeRates {
    /// The rates since each pod's previous scrape, from this round's scrapes at `now` (the
    /// caller's clock; `None`: the pod did not answer). A pod that does not answer, or seen
    /// for the first time, makes the result stale; pods not in this round are forgotten.
    pub fn round(
        &mut self,
        now: Duration,
        scraped: Vec<(String, Option<PodCounters>)>,
    ) -> ConsumerSignals {
        let mut pairs = Vec::new();
        let mut stale = false;
        let mut interval = Duration::ZERO;
        let mut seen = HashMap::new();
        for (pod, counters) in scraped {
            let Some(counters) = counters else {
                stale = true;
                continue;
            };
            if let Some((at, before)) = self.previous.remove(&pod) {
                interval = interval.max(now.saturating_sub(at));
                pairs.push((pod.clone(), before, counters.clone()));
            } else {
                stale = true;
            }
            seen.insert(pod, (now, counters));
        }
        self.previous = seen;
        let mut signals = signals_between(&pairs, interval.as_secs_f64());
        signals.stale |= stale;
        signals
    }
}

/// Scrapes pods and turns successive scrapes into rates.
#[derive(Debug)]
pub struct PodScraper {
    http: reqwest::Client,
    rates: ScrapeRates,
}

impl PodScraper {
    /// A scraper using `http` (give it a timeout).
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            rates: ScrapeRates::default(),
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
    /// since each pod's previous scrape ([`ScrapeRates::round`]).
    pub async fn scrape(&mut self, now: Duration, pods: &[(String, String)]) -> ConsumerSignals {
        let mut scraped = Vec::with_capacity(pods.len());
        for (pod, url) in pods {
            let counters = self
                .scrape_pod(url)
                .await
                .inspect_err(|err| tracing::warn!(%pod, %err, "scraping a consumer pod failed"))
                .ok();
            scraped.push((pod.clone(), counters));
        }
        self.rates.round(now, scraped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(processed: f64, busy: f64) -> PodCounters {
        PodCounters {
            processed,
            busy_seconds: busy,
            workers: 2.0,
            ..PodCounters::default()
        }
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn rates_come_from_each_pods_previous_scrape_and_a_new_or_silent_pod_makes_them_stale() {
        let mut rates = ScrapeRates::default();
        let first = rates.round(s(0), vec![("a".into(), Some(counters(0.0, 0.0)))]);
        assert!(first.stale, "a pod seen for the first time has no rate yet");
        let second = rates.round(s(2), vec![("a".into(), Some(counters(4000.0, 0.8)))]);
        assert!(!second.stale);
        assert_eq!(second.throughput, Some(2000.0));
        assert_eq!(second.service_rate, Some(5000.0));
        // A new pod: stale for this round; the known one still gives its rate.
        let third = rates.round(
            s(3),
            vec![
                ("a".into(), Some(counters(6000.0, 1.2))),
                ("b".into(), Some(counters(0.0, 0.0))),
            ],
        );
        assert!(third.stale);
        assert_eq!((third.throughput, third.pods_seen), (Some(2000.0), 1));
        // A pod that does not answer is stale, and forgotten: its next answer starts anew.
        let fourth = rates.round(
            s(4),
            vec![
                ("a".into(), None),
                ("b".into(), Some(counters(1000.0, 0.2))),
            ],
        );
        assert!(fourth.stale);
        assert_eq!(fourth.throughput, Some(1000.0));
        let fifth = rates.round(
            s(5),
            vec![
                ("a".into(), Some(counters(9000.0, 1.8))),
                ("b".into(), Some(counters(2000.0, 0.4))),
            ],
        );
        assert!(fifth.stale, "a is new again");
        assert_eq!(fifth.throughput, Some(1000.0));
    }
}
