//! Properties of the token parser over generated input: it never panics, never answers with a
//! server error, and reads back exactly what the issuer wrote.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta};
use proptest::prelude::*;
use rocket::figment::Figment;
use rocket_linktoken::{Expected, Issuer, LinkSpec, Verifier};

const SECRET: &str = "property-secret-0123456789abcdef-0123456789";

fn figment() -> Figment {
    Figment::new().merge(("linktoken.secret", SECRET))
}

fn sign(header: &str, payload: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .unwrap();
    format!("{message}.{signature}")
}

/// Arbitrary JSON values, nested a little.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z0-9/]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("jti"),
                    Just("sub"),
                    Just("scope"),
                    Just("aud"),
                    Just("iat"),
                    Just("exp"),
                    Just("nbf"),
                    Just("max"),
                    Just("data"),
                    Just("x")
                ]
                .prop_map(String::from),
                inner,
                0..9
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        // Integration tests have no lib.rs to put a regressions file beside.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_is_refused_as_malformed_or_forbidden(token in ".{0,300}") {
        let verifier = Verifier::from_figment(&figment()).unwrap();
        let expected = Expected { scope: "s", target: "/a" };
        let status = verifier.verify(&token, &expected, 0).unwrap_err().status().code;
        prop_assert!(status == 400 || status == 403, "{} for {:?}", status, token);
    }

    #[test]
    fn arbitrary_segments_are_refused_without_a_server_error(
        header in prop::collection::vec(any::<u8>(), 0..40),
        payload in prop::collection::vec(any::<u8>(), 0..80),
        signature in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let token = [header, payload, signature].map(|part| URL_SAFE_NO_PAD.encode(part)).join(".");
        let verifier = Verifier::from_figment(&figment()).unwrap();
        let result = verifier.verify(&token, &Expected { scope: "s", target: "/a" }, 0);
        let status = result.unwrap_err().status().code;
        prop_assert!(status == 400 || status == 403);
    }

    #[test]
    fn signed_arbitrary_payloads_parse_or_are_bad_requests(payload in json()) {
        let token = sign(r#"{"alg":"HS256","typ":"JWT"}"#, payload.to_string().as_bytes());
        let verifier = Verifier::from_figment(&figment()).unwrap();
        if let Err(e) = verifier.authenticate(&token) {
            prop_assert_eq!(e.status().code, 400, "{} for {}", e, payload);
        }
    }

    #[test]
    fn issued_links_read_back_exactly(
        sub in "[A-Za-z0-9@._-]{1,40}",
        scope in "[a-z:_-]{1,20}",
        path in "(/[a-z0-9_-]{1,10}){1,4}",
        // Parameter names start with `q`: never the token parameter `rt`, which targets refuse.
        query in proptest::option::of("q[a-z]{0,4}=[a-z0-9]{0,5}"),
        max in proptest::option::of(1u32..1000),
        // Up to the default `max_ttl` (90 days): longer links are not issued.
        ttl in 1i64..=7_776_000,
        now in 0i64..4_000_000_000,
    ) {
        let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let mut spec = LinkSpec::new(sub.clone(), scope.clone(), target.clone()).ttl(TimeDelta::seconds(ttl));
        if let Some(max) = max {
            spec = spec.max_uses(max);
        }
        let at = DateTime::from_timestamp(now, 0).unwrap();
        let link = Issuer::from_figment(&figment()).unwrap().issue_at(&spec, at).unwrap();
        let verifier = Verifier::from_figment(&figment()).unwrap();
        let claims = verifier.verify(&link.token, &Expected { scope: &scope, target: &target }, now).unwrap();
        prop_assert_eq!(claims.sub(), sub.as_str());
        prop_assert_eq!(claims.aud(), target.as_str());
        prop_assert_eq!(claims.max_uses(), max);
        prop_assert_eq!(claims.expires_at(), now + ttl);
        prop_assert_eq!(link.url, format!("{target}{}rt={}", if query.is_some() { '&' } else { '?' }, link.token));
    }
}
