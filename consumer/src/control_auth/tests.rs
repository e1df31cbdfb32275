//! Tokens signed here with a test key (RSA, committed; P-256, generated) against the rules.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const AUDIENCE: &str = "spate.dev/control";
const OPERATOR: &str = "system:serviceaccount:spate-system:spate-operator";
const NOW: i64 = 1_800_000_000;

fn rsa_key() -> RsaKeyPair {
    let pem = include_str!("test-key-rsa.pk8.pem");
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(der).expect("base64")).expect("PKCS#8 RSA key")
}

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwks(kid: &str) -> String {
    let key = rsa_key();
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public_key());
    json!({"keys": [{
        "use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256",
        "n": b64u(&public.n),
        "e": b64u(&public.e),
    }]})
    .to_string()
}

fn claims(sub: &str, aud: Value, exp: i64) -> Value {
    json!({"iss": ISSUER, "sub": sub, "aud": aud, "exp": exp, "iat": exp - 600, "nbf": exp - 600})
}

fn rsa_token(kid: &str, claims: &Value) -> String {
    let header = b64u(json!({"alg": "RS256", "kid": kid}).to_string().as_bytes());
    let payload = b64u(claims.to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let mut sig = vec![0; rsa_key().public().modulus_len()];
    rsa_key()
        .sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signed.as_bytes(),
            &mut sig,
        )
        .expect("sign");
    format!("{signed}.{}", b64u(&sig))
}

fn policy() -> TokenPolicy {
    TokenPolicy::new(&rsa_jwks("k1"), ISSUER, AUDIENCE, vec![OPERATOR.into()]).expect("policy")
}

#[test]
fn the_operators_token_for_the_control_audience_is_accepted() {
    let token = rsa_token("k1", &claims(OPERATOR, json!([AUDIENCE]), NOW + 300));
    assert_eq!(policy().verify(&token, NOW), Ok(OPERATOR.to_owned()));
    let single = rsa_token("k1", &claims(OPERATOR, json!(AUDIENCE), NOW + 300));
    assert_eq!(policy().verify(&single, NOW), Ok(OPERATOR.to_owned()));
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let token = rsa_token(
        "k1",
        &claims(
            OPERATOR,
            json!(["https://kubernetes.default.svc"]),
            NOW + 300,
        ),
    );
    assert_eq!(policy().verify(&token, NOW), Err(Refusal::WrongAudience));
}

#[test]
fn another_service_accounts_token_is_refused() {
    let other = "system:serviceaccount:markets:default";
    let token = rsa_token("k1", &claims(other, json!([AUDIENCE]), NOW + 300));
    assert_eq!(
        policy().verify(&token, NOW),
        Err(Refusal::SubjectNotAllowed(other.into()))
    );
}

#[test]
fn an_expired_token_is_refused_after_the_leeway() {
    let token = rsa_token(
        "k1",
        &claims(OPERATOR, json!([AUDIENCE]), NOW - LEEWAY_SECS - 1),
    );
    assert_eq!(policy().verify(&token, NOW), Err(Refusal::Expired));
    let just = rsa_token(
        "k1",
        &claims(OPERATOR, json!([AUDIENCE]), NOW - LEEWAY_SECS + 1),
    );
    assert!(policy().verify(&just, NOW).is_ok());
}

#[test]
fn a_token_of_another_issuer_is_refused() {
    let mut c = claims(OPERATOR, json!([AUDIENCE]), NOW + 300);
    c["iss"] = json!("https://elsewhere.example");
    let token = rsa_token("k1", &c);
    assert_eq!(
        policy().verify(&token, NOW),
        Err(Refusal::WrongIssuer("https://elsewhere.example".into()))
    );
}

#[test]
fn a_tampered_payload_breaks_the_signature() {
    let token = rsa_token(
        "k1",
        &claims(
            "system:serviceaccount:markets:default",
            json!([AUDIENCE]),
            NOW + 300,
        ),
    );
    let forged_payload = b64u(
        claims(OPERATOR, json!([AUDIENCE]), NOW + 300)
            .to_string()
            .as_bytes(),
    );
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(policy().verify(&forged, NOW), Err(Refusal::BadSignature));
}

#[test]
fn an_unsigned_token_is_refused() {
    let header = b64u(br#"{"alg":"none"}"#);
    let payload = b64u(
        claims(OPERATOR, json!([AUDIENCE]), NOW + 300)
            .to_string()
            .as_bytes(),
    );
    let token = format!("{header}.{payload}.");
    assert_eq!(
        policy().verify(&token, NOW),
        Err(Refusal::Algorithm("none".into()))
    );
}

#[test]
fn a_key_id_the_issuer_does_not_publish_is_refused() {
    let token = rsa_token(
        "rotated-away",
        &claims(OPERATOR, json!([AUDIENCE]), NOW + 300),
    );
    assert_eq!(policy().verify(&token, NOW), Err(Refusal::UnknownKey));
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.AA"] {
        assert!(
            matches!(
                policy().verify(token, NOW),
                Err(Refusal::Malformed | Refusal::UnknownKey | Refusal::Algorithm(_))
            ),
            "{token:?}"
        );
    }
}

#[test]
fn a_p256_issuer_key_verifies_es256_tokens() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("generate");
    let key = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .expect("key");
    let point = key.public_key().as_ref();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec",
        "x": b64u(&point[1..33]), "y": b64u(&point[33..65])}]})
    .to_string();
    let policy = TokenPolicy::new(&jwks, ISSUER, AUDIENCE, vec![OPERATOR.into()]).expect("policy");
    let header = b64u(json!({"alg": "ES256", "kid": "ec"}).to_string().as_bytes());
    let payload = b64u(
        claims(OPERATOR, json!([AUDIENCE]), NOW + 300)
            .to_string()
            .as_bytes(),
    );
    let signed = format!("{header}.{payload}");
    let sig = key.sign(&rng, signed.as_bytes()).expect("sign");
    let token = format!("{signed}.{}", b64u(sig.as_ref()));
    assert_eq!(policy.verify(&token, NOW), Ok(OPERATOR.to_owned()));
}

#[test]
fn a_key_set_without_usable_keys_is_a_setup_error() {
    assert_eq!(
        TokenPolicy::new(
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
            ISSUER,
            AUDIENCE,
            vec![]
        ),
        Err(SetupError::NoKeys)
    );
    assert!(matches!(
        TokenPolicy::new("not json", ISSUER, AUDIENCE, vec![]),
        Err(SetupError::ParseJwks(_))
    ));
}

#[test]
fn the_static_token_and_a_closed_endpoint() {
    let auth = ControlAuth::Static("s3cret".into());
    assert!(auth.check(Some("s3cret"), NOW).is_ok());
    assert_eq!(
        auth.check(Some("s3cre"), NOW),
        Err(Refusal::WrongStaticToken)
    );
    assert_eq!(auth.check(None, NOW), Err(Refusal::Missing));
    assert_eq!(
        ControlAuth::Closed.check(Some("x"), NOW),
        Err(Refusal::WrongStaticToken)
    );
}
