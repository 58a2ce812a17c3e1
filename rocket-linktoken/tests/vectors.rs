//! Links minted elsewhere are verified the same way here, and links minted here are fixed
//! vectors that another JWT library decodes (`tests/interop/decode_with_pyjwt.py`).

use chrono::DateTime;
use rocket::figment::Figment;
use rocket_linktoken::{Expected, Issuer, KeyRing, LinkSpec, Verifier};
use serde_json::{json, Value};

/// Minted by PyJWT (and by hand for the malformed cases): a copy of the project's shared
/// vectors, with the outcome each must get.
const PYJWT_LINKS: &str = include_str!("vectors/pyjwt-links.json");

/// Minted by this library from fixed inputs; `decode_with_pyjwt.py` checks them with PyJWT.
const RUST_LINKS: &str = include_str!("vectors/rust-links.json");

fn ring(file: &Value, named: bool) -> KeyRing {
    if named {
        let keys = file["key_ring_for_kid_cases"].as_array().unwrap();
        let keys = keys
            .iter()
            .map(|k| {
                (
                    k["id"].as_str().unwrap().to_string(),
                    k["secret"].as_str().unwrap().as_bytes().to_vec(),
                )
            })
            .collect();
        KeyRing::new(keys).unwrap()
    } else {
        KeyRing::from_secret(file["secret"].as_str().unwrap().as_bytes()).unwrap()
    }
}

#[test]
fn every_pyjwt_vector_gets_its_expected_outcome() {
    let file: Value = serde_json::from_str(PYJWT_LINKS).unwrap();
    let now = file["now"].as_i64().unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 20, "the vector file is whole");
    let mut disagreements = Vec::new();
    for vector in vectors {
        let note = vector["note"].as_str().unwrap();
        let named = note.contains("keys=") || note.contains("key ring");
        let verifier = Verifier::new(ring(&file, named), 5);
        let expected = Expected {
            scope: vector["route_scope"].as_str().unwrap(),
            target: vector["request_target"].as_str().unwrap(),
        };
        // A refusal is its status and its code; an accepted vector has no code.
        let (status, code) =
            match verifier.verify(vector["token"].as_str().unwrap(), &expected, now) {
                Ok(_) => (json!("ok"), Value::Null),
                Err(e) => (json!(e.status().code), json!(e.code())),
            };
        if status != vector["expect"] || code != vector["code"] {
            disagreements.push(format!(
                "{}: expected {} {}, got {status} {code}",
                vector["name"], vector["expect"], vector["code"]
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// The fixed inputs the committed Rust vectors were made from: each vector's name, token, and
/// the fingerprint it is bound to, if any (whose `fp` the PyJWT check computes itself).
fn rust_vectors(file: &Value) -> Vec<(String, String, Option<String>)> {
    let secret = file["secret"].as_str().unwrap();
    let now = DateTime::from_timestamp(file["now"].as_i64().unwrap(), 0).unwrap();
    let single = Issuer::from_figment(&Figment::new().merge(("linktoken.secret", secret))).unwrap();
    let keys = json!([{ "id": "2026-11", "secret": secret }, { "id": "2026-05", "secret": "an-older-secret-0123456789abcdef-0123" }]);
    let named = Issuer::from_figment(&Figment::new().merge(("linktoken.keys", keys))).unwrap();
    let expires = now + chrono::TimeDelta::hours(1);
    let cases = [
        (
            "plain",
            &single,
            LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"),
            None,
        ),
        (
            "with_query",
            &single,
            LinkSpec::new("42", "confirm", "/confirm?list=2&lang=en"),
            None,
        ),
        (
            "every_claim",
            &single,
            LinkSpec::new("42", "preferences", "/preferences")
                .max_uses(5)
                .not_before(now)
                .data(json!({ "campaign": "november", "list": 7 })),
            None,
        ),
        (
            "signed_with_kid",
            &named,
            LinkSpec::new("7", "unsubscribe", "/unsubscribe/1"),
            None,
        ),
        (
            "bound_to_a_fingerprint",
            &single,
            LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"),
            Some("ada@example.com"),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, issuer, spec, fingerprint)| {
            let mut spec = spec.jti(format!("fixed-{name}")).expires_at(expires);
            if let Some(fingerprint) = fingerprint {
                spec = spec.fingerprint(fingerprint);
            }
            let token = issuer.issue_at(&spec, now).unwrap().token;
            (name.to_string(), token, fingerprint.map(String::from))
        })
        .collect()
}

/// Checks the committed vectors; with `LINKTOKEN_BLESS=1`, rewrites them instead (after a
/// deliberate change to the wire format).
#[test]
fn issued_links_are_the_committed_vectors() {
    let mut file: Value = serde_json::from_str(RUST_LINKS).unwrap();
    if std::env::var_os("LINKTOKEN_BLESS").is_some() {
        file["vectors"] = rust_vectors(&file)
            .into_iter()
            .map(|(name, token, fingerprint)| {
                let mut vector = json!({ "name": name, "token": token, "header": part(&token, 0), "claims": part(&token, 1) });
                if let Some(fingerprint) = fingerprint {
                    vector["fingerprint"] = json!(fingerprint);
                }
                vector
            })
            .collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rust-links.json");
        std::fs::write(path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Vec<(String, String, Option<String>)> = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["token"].as_str().unwrap().to_string(),
                v["fingerprint"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(rust_vectors(&file), committed);
}

/// A decoded JSON segment of a token.
fn part(token: &str, index: usize) -> Value {
    use base64::Engine as _;
    let segment = token.split('.').nth(index).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}
