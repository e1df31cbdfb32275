//! Who may change the workers through the control endpoint. In Kubernetes: the holder of
//! a ServiceAccount token (a JWT the cluster's service-account issuer signed) for spate's
//! control audience and an allowed subject — the operator's ServiceAccount — checked
//! offline against the issuer's public keys (its JWKS), so the consumer needs no access
//! to the API server and a pod in the same namespace cannot forge one. Outside
//! Kubernetes: a static bearer token. Pure: the keys, the token and the clock come in, a
//! decision comes out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

/// How far token times may be off the consumer's clock.
pub const LEEWAY_SECS: i64 = 60;

/// Why a token is refused. The texts name the check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's signing algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by {0:?}, not the cluster's issuer")]
    WrongIssuer(String),
    #[error("the token is not for the control audience")]
    WrongAudience,
    #[error("{0:?} may not use the control endpoint")]
    SubjectNotAllowed(String),
    #[error("the bearer token does not match")]
    WrongStaticToken,
}

/// Why the verifier cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("the JWKS is not a JSON key set: {0}")]
    ParseJwks(String),
    #[error("the JWKS holds no RSA or P-256 signing key")]
    NoKeys,
}

/// One public key of the issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    kid: Option<String>,
    public: Public,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Public {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point: 0x04 ‖ x ‖ y.
    P256(Vec<u8>),
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// The rule for ServiceAccount tokens: the issuer's keys, the issuer, the audience and
/// the subjects allowed (`system:serviceaccount:<namespace>:<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    keys: Vec<Key>,
    issuer: String,
    audience: String,
    subjects: Vec<String>,
}

impl TokenPolicy {
    /// Builds the rule from the issuer's JWKS document.
    pub fn new(
        jwks: &str,
        issuer: &str,
        audience: &str,
        subjects: Vec<String>,
    ) -> Result<Self, SetupError> {
        let set: Jwks =
            serde_json::from_str(jwks).map_err(|e| SetupError::ParseJwks(e.to_string()))?;
        let keys: Vec<Key> = set
            .keys
            .into_iter()
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                let public = match k.kty.as_str() {
                    "RSA" => Public::Rsa {
                        n: b64(k.n.as_deref()?)?,
                        e: b64(k.e.as_deref()?)?,
                    },
                    "EC" if k.crv.as_deref() == Some("P-256") => {
                        let (x, y) = (b64(k.x.as_deref()?)?, b64(k.y.as_deref()?)?);
                        if x.len() != 32 || y.len() != 32 {
                            return None;
                        }
                        Public::P256([vec![4], x, y].concat())
                    }
                    _ => return None,
                };
                Some(Key { kid: k.kid, public })
            })
            .collect();
        if keys.is_empty() {
            return Err(SetupError::NoKeys);
        }
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            subjects,
        })
    }

    /// The token's subject when it is a valid token of the issuer, for the audience, from
    /// an allowed subject, valid at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<String, Refusal> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Malformed);
        };
        let header: Value = serde_json::from_slice(&b64(h).ok_or(Refusal::Malformed)?)
            .map_err(|_| Refusal::Malformed)?;
        let claims: Value = serde_json::from_slice(&b64(p).ok_or(Refusal::Malformed)?)
            .map_err(|_| Refusal::Malformed)?;
        let sig = b64(s).ok_or(Refusal::Malformed)?;
        let signed = &token.as_bytes()[..h.len() + 1 + p.len()];

        let alg = header["alg"].as_str().unwrap_or_default();
        let kid = header["kid"].as_str();
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid)
            .collect();
        if candidates.is_empty() {
            return Err(Refusal::UnknownKey);
        }
        let verified = candidates.iter().any(|k| match (&k.public, alg) {
            (Public::Rsa { n, e }, "RS256") => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, &sig)
                .is_ok(),
            (Public::P256(point), "ES256") => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed, &sig)
                    .is_ok()
            }
            _ => false,
        });
        if !verified {
            return Err(match alg {
                "RS256" | "ES256" => Refusal::BadSignature,
                other => Refusal::Algorithm(other.to_owned()),
            });
        }

        let exp = claims["exp"].as_i64().ok_or(Refusal::Malformed)?;
        if now > exp + LEEWAY_SECS {
            return Err(Refusal::Expired);
        }
        if claims["nbf"]
            .as_i64()
            .is_some_and(|nbf| now + LEEWAY_SECS < nbf)
        {
            return Err(Refusal::NotYetValid);
        }
        let iss = claims["iss"].as_str().unwrap_or_default();
        if iss != self.issuer {
            return Err(Refusal::WrongIssuer(iss.to_owned()));
        }
        let for_us = match &claims["aud"] {
            Value::String(a) => *a == self.audience,
            Value::Array(all) => all.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !for_us {
            return Err(Refusal::WrongAudience);
        }
        let sub = claims["sub"].as_str().unwrap_or_default();
        if !self.subjects.iter().any(|s| s == sub) {
            return Err(Refusal::SubjectNotAllowed(sub.to_owned()));
        }
        Ok(sub.to_owned())
    }
}

/// How the control endpoint authenticates its callers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ControlAuth {
    /// Nobody may change the workers.
    #[default]
    Closed,
    /// A static bearer token (outside Kubernetes).
    Static(String),
    /// ServiceAccount tokens (in Kubernetes).
    Tokens(TokenPolicy),
}

impl ControlAuth {
    /// Who the caller with `bearer` (the `Authorization: Bearer` value, if any) is, at `now`.
    pub fn check(&self, bearer: Option<&str>, now: i64) -> Result<String, Refusal> {
        let given = bearer.filter(|b| !b.is_empty()).ok_or(Refusal::Missing)?;
        match self {
            Self::Closed => Err(Refusal::WrongStaticToken),
            Self::Static(expected) => {
                if same_bytes(given.as_bytes(), expected.as_bytes()) {
                    Ok("static token".into())
                } else {
                    Err(Refusal::WrongStaticToken)
                }
            }
            Self::Tokens(policy) => policy.verify(given, now),
        }
    }
}

/// Compares without an early exit, so timing says nothing about the token.
fn same_bytes(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests;
