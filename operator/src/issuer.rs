//! The cluster's service-account issuer, as the consumers need it to check the operator's
//! control tokens offline: its name and its public keys (JWKS), read through the API
//! server's issuer discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`),
//! which every ServiceAccount may read by default.

use kube::Client;

use crate::build::ControlTrust;

/// Why the issuer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("reading the service-account issuer's discovery document: {0}")]
    ReadDiscovery(#[source] kube::Error),
    #[error("the discovery document has no issuer")]
    NoIssuer,
    #[error("reading the service-account issuer's keys: {0}")]
    ReadJwks(#[source] kube::Error),
}

async fn get_text(client: &Client, path: &str) -> Result<String, kube::Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    client.request_text(request).await
}

/// The trust the consumers of this operator get: the issuer's keys and name, and
/// `subject`, the operator's ServiceAccount (`system:serviceaccount:<ns>:<name>`).
pub async fn control_trust(client: &Client, subject: &str) -> Result<ControlTrust, IssuerError> {
    let discovery = get_text(client, "/.well-known/openid-configuration")
        .await
        .map_err(IssuerError::ReadDiscovery)?;
    let issuer = serde_json::from_str::<serde_json::Value>(&discovery)
        .ok()
        .and_then(|d| d["issuer"].as_str().map(str::to_owned))
        .ok_or(IssuerError::NoIssuer)?;
    let jwks = get_text(client, "/openid/v1/jwks")
        .await
        .map_err(IssuerError::ReadJwks)?;
    Ok(ControlTrust {
        issuer,
        jwks,
        subject: subject.to_owned(),
    })
}
