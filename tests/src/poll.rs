//! Waiting for an eventually consistent condition (WAL apply, a scrape, a controller)
//! without asserting how long it takes.

use std::future::Future;
use std::time::Duration;

use crate::Error;

/// Calls `check` every 100 ms until it returns `Ok`, and returns that value; after
/// `timeout`, fails with the last `Err` reason `check` gave.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(last) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    timeout,
                    last,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_first_success() {
        let calls = AtomicU32::new(0);
        let got = eventually("third call", Duration::from_secs(10), || async {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= 3 {
                Ok(n)
            } else {
                Err(format!("call {n}"))
            }
        })
        .await
        .expect("succeeds");
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn times_out_with_the_last_reason() {
        let err = eventually("never", Duration::from_millis(50), || async {
            Err::<(), _>("still no".to_owned())
        })
        .await
        .expect_err("times out");
        assert!(
            matches!(err, Error::Timeout { ref last, .. } if last == "still no"),
            "{err}"
        );
    }
}
