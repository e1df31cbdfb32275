//! OAUTHBEARER tokens for librdkafka: a static token or one read from a file at every
//! refresh, its principal and lifetime taken from the JWT's `sub` and `exp` claims.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rdkafka::client::OAuthToken;

use super::secret::{Credential, CredentialError};

/// The principal named when the token does not name one.
const DEFAULT_PRINCIPAL: &str = "spate";
/// Lifetime given to a token that carries no expiry: librdkafka asks again at 80 % of it,
/// so a rotated token file is read within minutes.
const OPAQUE_LIFETIME: Duration = Duration::from_secs(600);

/// Where a client's OAUTHBEARER token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    credential: Credential,
}

/// The token could not be had: librdkafka reports it as an authentication failure.
#[derive(Debug, thiserror::Error)]
#[error("read the OAUTHBEARER token: {0}")]
pub struct TokenError(#[from] CredentialError);

impl TokenSource {
    pub fn new(credential: Credential) -> Self {
        TokenSource { credential }
    }

    /// The token as librdkafka wants it, read afresh from its file if it has one.
    pub fn token(&self) -> Result<OAuthToken, TokenError> {
        let secret = self.credential.current()?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let claims = jwt_claims(secret.expose());
        Ok(OAuthToken {
            token: secret.expose().to_owned(),
            principal_name: claims
                .subject
                .unwrap_or_else(|| DEFAULT_PRINCIPAL.to_owned()),
            lifetime_ms: lifetime_ms(claims.expires_ms, now_ms),
        })
    }
}

/// What spate reads from a token: the JWT's subject and expiry, when it is a JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub subject: Option<String>,
    /// `exp`, in milliseconds since the epoch.
    pub expires_ms: Option<i64>,
}

/// The `sub` and `exp` claims of a JWT (`header.payload.signature`, base64url); nothing
/// for an opaque token. The signature is the broker's to check, not ours.
pub fn jwt_claims(token: &str) -> Claims {
    let engine = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Claims::default();
    };
    let Some(json) = engine
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
    else {
        return Claims::default();
    };
    Claims {
        subject: json
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        expires_ms: json
            .get("exp")
            .and_then(serde_json::Value::as_f64)
            .map(|secs| (secs * 1000.0) as i64),
    }
}

/// The lifetime librdkafka is told: the token's expiry, or a short one for a token
/// without it.
pub fn lifetime_ms(expires_ms: Option<i64>, now_ms: i64) -> i64 {
    expires_ms.unwrap_or(now_ms + OPAQUE_LIFETIME.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn a_jwt_gives_its_subject_and_expiry() {
        let token = format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"sub":"trader","exp":1900000000,"iat":1}"#)
        );
        assert_eq!(
            jwt_claims(&token),
            Claims {
                subject: Some("trader".into()),
                expires_ms: Some(1_900_000_000_000),
            }
        );
    }

    #[test]
    fn an_opaque_token_gets_the_default_principal_and_a_short_lifetime() {
        assert_eq!(jwt_claims("opaque-token"), Claims::default());
        assert_eq!(jwt_claims("a.b"), Claims::default());
        assert_eq!(jwt_claims("a.!!!.c"), Claims::default());
        assert_eq!(lifetime_ms(None, 1_000), 601_000);
        assert_eq!(lifetime_ms(Some(5_000), 1_000), 5_000);
    }

    #[test]
    fn the_token_file_is_read_at_every_refresh() {
        let dir = std::env::temp_dir().join(format!("spate-oauth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "first").unwrap();
        let source = TokenSource::new(Credential::from_file(&path).unwrap());
        assert_eq!(source.token().unwrap().token, "first");
        std::fs::write(&path, "second").unwrap();
        let token = source.token().unwrap();
        assert_eq!(token.token, "second");
        assert_eq!(token.principal_name, "spate");
        std::fs::remove_file(&path).unwrap();
        assert!(source.token().is_err());
    }
}
