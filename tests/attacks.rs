//! The attack suite: one test per way of attacking a link, each run on SQLite, PostgreSQL
//! and MySQL.
//!
//! Every test asserts the exact status and the refusal's code (README, "What a request gets"),
//! the rows the attempt left in `linktoken_uses` (none until the signature holds; from the claim
//! types on, a row whose outcome is the refusal's code: README, "Order of checks"), and that
//! nothing was spent. SECURITY.md lists the attacks with the test that checks each. That no
//! token reaches a log is checked by `tests/logs.rs`.

use std::sync::{Arc, Barrier};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use linktoken_tests::app::{app, Gate};
use linktoken_tests::{
    b64, backend_tests, claims, mint, newsletter_figment, now, Backend, Request, Response, Server,
    TestDb, SECRET,
};
use rocket::figment::Figment;
use rocket_linktoken::{Link, LinkSpec};
use serde_json::{json, Value};

/// The route forged links aim at: the newsletter's one-time unsubscribe POST.
const ROUTE: &str = "/unsubscribe/1";

/// The header this site signs with.
const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A secret the site never had: the attacker's own.
const ATTACKER_SECRET: &str = "attacker-secret-0123456789abcdef-0123456789";

/// The configured clock skew tolerated on `exp`, `nbf` and `iat` (README's default).
const LEEWAY: i64 = 5;

/// The longest lifetime a token may claim (README's default `max_ttl`: 90 days).
const MAX_TTL: i64 = 90 * 24 * 60 * 60;

/// Concurrent clicks in the race.
const CLICKS: usize = 24;

fn newsletter(backend: Backend) -> Option<Server> {
    Server::newsletter(backend)
}

/// The test application (tests/support/app.rs), for its routes that forward.
fn test_app(backend: Backend) -> Option<Server> {
    let db = TestDb::create(backend)?;
    let (gate, _) = Gate::new();
    Some(Server::launch(
        app(backend, &db, gate, Figment::new()),
        Some(db),
    ))
}

/// A link as the site issues it.
fn issue(server: &Server, spec: LinkSpec) -> Link {
    server.issuer.issue(&spec).expect("the link is issued")
}

/// Claims of a link for user 1 on the one-time route, issued 10 s ago, living an hour, with
/// `extra` members appended.
fn link_claims(jti: &str, extra: &str) -> String {
    let t = now();
    claims(jti, "1", "unsubscribe", ROUTE, t - 10, t + 3600, extra)
}

/// Claims with `iat` and `exp` as given, the rest as [`link_claims`].
fn timed_claims(jti: &str, iat: i64, exp: i64, extra: &str) -> String {
    claims(jti, "1", "unsubscribe", ROUTE, iat, exp, extra)
}

/// Signed with the site's secret, as the site signs.
fn genuine(payload: &str) -> String {
    mint("HS256", HS256, payload, SECRET)
}

/// A token of these two segments exactly as given, with the site's HS256 tag over them: only
/// the segments' encoding can be at fault.
fn signed_as_sent(header_segment: &str, payload_segment: &str) -> String {
    use jsonwebtoken::{crypto, Algorithm, EncodingKey};
    let message = format!("{header_segment}.{payload_segment}");
    let key = EncodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key");
    let tag = crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("HMAC signs");
    format!("{message}.{tag}")
}

/// A token's three segments.
fn segments(token: &str) -> (&str, &str, &str) {
    let mut parts = token.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature)) => (header, payload, signature),
        _ => panic!("not a JWS: {token}"),
    }
}

/// POSTs the one-time form with `rt` as it goes on the wire, asking for JSON refusals.
fn attempt(server: &Server, rt: &str) -> Response {
    attempt_at(server, &format!("{ROUTE}?rt={rt}"))
}

/// POSTs the one-time form to `target`, asking for JSON refusals.
fn attempt_at(server: &Server, target: &str) -> Response {
    server.send(
        &Request::new("POST", target)
            .header("Accept", "application/json")
            .form("confirm=yes"),
    )
}

/// What an attempt came to: its status, its refusal's code (`None` when let through), every
/// row of the link in `linktoken_uses` (method, status, outcome), and the uses its
/// `linktoken_tokens` row counts (`None`: there is no row).
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    code: Option<String>,
    rows: Vec<(String, Option<u16>, String)>,
    uses: Option<i64>,
}

/// What `response` and the ledger say about link `jti`.
fn seen(server: &Server, response: &Response, jti: &str) -> Seen {
    Seen {
        status: response.status,
        code: code(response),
        rows: rows(server, jti),
        uses: server
            .block_on(server.ledger.token(jti))
            .expect("the ledger answers")
            .map(|t| t.uses),
    }
}

/// The refusal's code from a JSON refusal page.
fn code(response: &Response) -> Option<String> {
    let body: Value = serde_json::from_str(&response.body).ok()?;
    body["error"].as_str().map(String::from)
}

/// Every row of link `jti`, oldest first.
fn rows(server: &Server, jti: &str) -> Vec<(String, Option<u16>, String)> {
    server
        .block_on(server.ledger.uses(jti))
        .expect("the ledger answers")
        .into_iter()
        .map(|u| (u.method, u.status, u.outcome))
        .collect()
}

fn row(method: &str, status: u16, outcome: &str) -> (String, Option<u16>, String) {
    (method.to_string(), Some(status), outcome.to_string())
}

/// Refused before the signature held: nothing written, nothing spent.
fn unsigned(status: u16, code: &str) -> Seen {
    Seen {
        status,
        code: Some(code.to_string()),
        rows: Vec::new(),
        uses: None,
    }
}

/// A genuine token refused: its one row gives the refusal's code, and nothing was spent.
fn refused(status: u16, code: &str) -> Seen {
    Seen {
        status,
        code: Some(code.to_string()),
        rows: vec![row("POST", status, code)],
        uses: None,
    }
}

/// Let through: its one use spent, with its row.
fn spent() -> Seen {
    Seen {
        status: 200,
        code: None,
        rows: vec![row("POST", 200, "spent")],
        uses: Some(1),
    }
}

/// Runs `attempt` with the current unix second, and again should the second turn before it
/// is answered: an edge of the leeway holds only while the server's clock reads the second
/// the token was made for. `attempt` gets the second and a round number for a fresh `jti`.
fn within_one_second<T>(mut attempt: impl FnMut(i64, u32) -> T) -> T {
    for round in 0..10 {
        let t = now();
        let result = attempt(t, round);
        if now() == t {
            return result;
        }
    }
    panic!("the clock's second turned during ten attempts in a row");
}

/// Sends a genuine link for user 1 on the one-time route stamped `iat` and `exp` (and `extra`
/// members) relative to the server's current second; the response and the link's `jti`.
fn attempt_at_edge(
    server: &Server,
    name: &str,
    times: impl Fn(i64) -> (i64, i64, String),
) -> (Response, String) {
    within_one_second(|t, round| {
        let jti = format!("{name}-{round}");
        let (iat, exp, extra) = times(t);
        let token = genuine(&timed_claims(&jti, iat, exp, &extra));
        (attempt(server, &token), jti)
    })
}

/// The standard claims of a link with `jti`, with `member` set to the raw JSON `value`
/// (replaced if it is one of them, appended otherwise).
fn claims_where(jti: &str, member: &str, value: &str) -> String {
    let t = now();
    let mut members = vec![
        ("jti", Value::from(jti).to_string()),
        ("sub", r#""1""#.to_string()),
        ("scope", r#""unsubscribe""#.to_string()),
        ("aud", format!(r#""{ROUTE}""#)),
        ("iat", (t - 10).to_string()),
        ("exp", (t + 3600).to_string()),
    ];
    match members.iter_mut().find(|(name, _)| *name == member) {
        Some((_, old)) => *old = value.to_string(),
        None => members.push((member, value.to_string())),
    }
    let members: Vec<String> = members
        .into_iter()
        .map(|(name, value)| format!(r#""{name}":{value}"#))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// A genuine token whose claims are spoiled one way, and the code it must be refused with.
struct Confusion {
    jti: String,
    token: String,
    code: &'static str,
}

/// The link `jti` with `member` set to the raw JSON `value`.
fn confusion(jti: &str, member: &str, value: &str) -> Confusion {
    Confusion {
        jti: jti.to_string(),
        token: genuine(&claims_where(jti, member, value)),
        code: "invalid_claim",
    }
}

fn string_exp() -> Vec<Confusion> {
    vec![confusion(
        "string-exp",
        "exp",
        &format!(r#""{}""#, now() + 3600),
    )]
}

fn float_exp() -> Vec<Confusion> {
    vec![
        confusion("float-exp", "exp", &format!("{}.5", now() + 3600)),
        confusion("exponent-exp", "exp", "1.8e9"),
    ]
}

fn zero_max() -> Vec<Confusion> {
    vec![confusion("zero-max", "max", "0")]
}

fn negative_max() -> Vec<Confusion> {
    vec![confusion("negative-max", "max", "-1")]
}

fn numeric_sub() -> Vec<Confusion> {
    vec![confusion("numeric-sub", "sub", "1")]
}

fn array_data() -> Vec<Confusion> {
    vec![confusion("array-data", "data", r#"[{"list":1}]"#)]
}

fn long_jti() -> Vec<Confusion> {
    let jti = "j".repeat(rocket_linktoken::MAX_JTI_LEN + 1);
    vec![confusion(
        &jti,
        "jti",
        &Value::from(jti.as_str()).to_string(),
    )]
}

fn null_claims() -> Vec<Confusion> {
    ["sub", "scope", "aud", "iat", "exp", "nbf", "max", "data"]
        .into_iter()
        .map(|member| confusion(&format!("null-{member}"), member, "null"))
        .collect()
}

fn repeated_claim() -> Vec<Confusion> {
    // `sub` twice: a reader that kept the last one would take user 2's link for user 1's.
    let t = now();
    let payload = claims(
        "repeated",
        "2",
        "unsubscribe",
        ROUTE,
        t - 10,
        t + 3600,
        r#","sub":"1""#,
    );
    vec![Confusion {
        jti: "repeated".to_string(),
        token: genuine(&payload),
        code: "malformed",
    }]
}

fn control_characters() -> Vec<Confusion> {
    vec![
        confusion("nul-in-sub", "sub", r#""1\u0000""#),
        confusion("escape-in-scope", "scope", r#""unsubscribe\u001b[2J""#),
        confusion("c1-in-aud", "aud", &format!(r#""{ROUTE}\u0085""#)),
        confusion("newline-in-sub", "sub", r#""1\r\nX-Injected: 1""#),
    ]
}

/// Confusions of the `jti` itself: no row can be kept under an id that cannot be read.
fn unreadable_jti() -> Vec<Confusion> {
    vec![
        confusion("null-jti", "jti", "null"),
        confusion("numeric-jti", "jti", "7"),
        confusion("empty-jti", "jti", r#""""#),
        confusion("newline-jti", "jti", r#""a\nb""#),
    ]
}

/// Each confused token is refused with 400 and its code, nothing written, nothing spent.
fn assert_refused_without_rows(backend: Backend, confusions: Vec<Confusion>) {
    let Some(server) = newsletter(backend) else {
        return;
    };
    for confusion in confusions {
        let response = attempt(&server, &confusion.token);
        assert_eq!(
            seen(&server, &response, &confusion.jti),
            unsigned(400, confusion.code),
            "{}",
            confusion.jti
        );
    }
}

/// Each confused token is refused with 400 and its code, its row written, nothing spent.
fn assert_refused_with_rows(backend: Backend, confusions: Vec<Confusion>) {
    let Some(server) = newsletter(backend) else {
        return;
    };
    for confusion in confusions {
        let response = attempt(&server, &confusion.token);
        assert_eq!(
            seen(&server, &response, &confusion.jti),
            refused(400, confusion.code),
            "{}",
            confusion.jti
        );
    }
}

/// A genuine token of exactly `len` bytes, made so by padding its data.
fn genuine_of_length(jti: &str, len: usize) -> String {
    let t = now();
    let padded = |pad: usize| {
        let data = format!(r#","data":{{"pad":"{}"}}"#, "x".repeat(pad));
        genuine(&timed_claims(jti, t - 10, t + 3600, &data))
    };
    // Three bytes of payload are four characters of token.
    let near = len.saturating_sub(padded(0).len()) * 3 / 4;
    (near.saturating_sub(3)..=near + 3)
        .map(padded)
        .find(|token| token.len() == len)
        .expect("some padding makes a token of that length")
}

/// The newsletter after a key rotation: links are signed by key `2026-11`, and key `2026-05`
/// has been removed. The site's first `secret` stays beside the keys, verifying links without
/// `kid` (README, "How it behaves").
fn rotated(backend: Backend) -> Option<Server> {
    let db = TestDb::create(backend)?;
    let keys = json!([{ "id": "2026-11", "secret": "the-current-key-0123456789abcdef-0123456" }]);
    let figment = newsletter_figment(&db).merge(("linktoken.keys", keys));
    Some(Server::launch(newsletter::rocket_with(figment), Some(db)))
}

/// The secret of the key `2026-05`, no longer configured.
const RETIRED_SECRET: &str = "the-retired-key-0123456789abcdef-0123456";

/// Whether any response header is named `name` or has `text` in its value.
fn has_header(response: &Response, name: &str, text: &str) -> bool {
    response
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(name) || v.contains(text))
}

backend_tests! {
    // `alg: none`, in every spelling: refused for the algorithm whatever the signature.

    fn alg_none_is_refused(backend) {
        assert_alg_none_refused(backend, "none");
    }

    fn alg_none_capitalised_is_refused(backend) {
        assert_alg_none_refused(backend, "None");
    }

    fn alg_none_upper_case_is_refused(backend) {
        assert_alg_none_refused(backend, "NONE");
    }

    fn alg_none_mixed_case_is_refused(backend) {
        assert_alg_none_refused(backend, "nOnE");
    }

    fn an_empty_signature_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = mint("none", HS256, link_claims("empty-signature", ""), SECRET);
        assert!(token.ends_with('.'));
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "empty-signature"),
            unsigned(403, "bad_signature")
        );
    }

    // Another algorithm named in the header, signed with the site's HMAC secret.

    fn hs384_signed_with_the_secret_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = mint(
            "HS384",
            r#"{"alg":"HS384","typ":"JWT"}"#,
            link_claims("hs384", ""),
            SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "hs384"),
            unsigned(403, "unsupported_algorithm")
        );
    }

    fn hs512_signed_with_the_secret_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = mint(
            "HS512",
            r#"{"alg":"HS512","typ":"JWT"}"#,
            link_claims("hs512", ""),
            SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "hs512"),
            unsigned(403, "unsupported_algorithm")
        );
    }

    fn rs256_over_an_hmac_tag_of_the_secret_is_refused(backend) {
        // Key confusion: a verifier that took the algorithm from the header and the "public
        // key" from its configuration would check this HMAC tag and accept it.
        let Some(server) = newsletter(backend) else { return };
        let token = mint(
            "HS256",
            r#"{"alg":"RS256","typ":"JWT"}"#,
            link_claims("rs256", ""),
            SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "rs256"),
            unsigned(403, "unsupported_algorithm")
        );
    }

    fn es256_over_an_hmac_tag_of_the_secret_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = mint(
            "HS256",
            r#"{"alg":"ES256","typ":"JWT"}"#,
            link_claims("es256", ""),
            SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "es256"),
            unsigned(403, "unsupported_algorithm")
        );
    }

    // Header parameters that would choose the key or change the payload's meaning: refused
    // whatever they say, even over a tag of the attacker's key they name.

    fn a_jku_header_is_refused(backend) {
        assert_critical_header_refused(backend, "jku", r#""https://attacker.example/keys.json""#);
    }

    fn a_jwk_header_is_refused(backend) {
        let key = format!(r#"{{"kty":"oct","k":"{}"}}"#, b64(ATTACKER_SECRET));
        assert_critical_header_refused(backend, "jwk", &key);
    }

    fn an_x5u_header_is_refused(backend) {
        assert_critical_header_refused(backend, "x5u", r#""https://attacker.example/cert.pem""#);
    }

    fn an_x5c_header_is_refused(backend) {
        assert_critical_header_refused(backend, "x5c", r#"["MIIBszCCAVmgAwIBAgIUQ"]"#);
    }

    fn an_x5t_header_is_refused(backend) {
        assert_critical_header_refused(backend, "x5t", r#""dGh1bWJwcmludA""#);
    }

    fn an_x5t_s256_header_is_refused(backend) {
        assert_critical_header_refused(backend, "x5t#S256", r#""dGh1bWJwcmludC1zaGEyNTY""#);
    }

    fn a_b64_header_is_refused(backend) {
        assert_critical_header_refused(backend, "b64", "false");
    }

    fn a_crit_header_is_refused(backend) {
        assert_critical_header_refused(backend, "crit", r#"["exp"]"#);
    }

    fn a_null_kid_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = mint(
            "HS256",
            r#"{"alg":"HS256","kid":null}"#,
            link_claims("null-kid", ""),
            SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "null-kid"),
            unsigned(400, "malformed")
        );
    }

    fn a_null_crit_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = mint(
            "HS256",
            r#"{"alg":"HS256","crit":null}"#,
            link_claims("null-crit", ""),
            SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "null-crit"),
            unsigned(400, "malformed")
        );
    }

    fn a_kid_naming_no_key_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        for (i, kid) in ["2025-01", "../../../dev/null", "' OR '1'='1", ""]
            .into_iter()
            .enumerate()
        {
            let jti = format!("unknown-kid-{i}");
            let header = json!({ "alg": "HS256", "kid": kid }).to_string();
            let token = mint("HS256", &header, link_claims(&jti, ""), SECRET);
            let response = attempt(&server, &token);
            assert_eq!(
                seen(&server, &response, &jti),
                unsigned(403, "unknown_key"),
                "kid {kid:?}"
            );
        }
    }

    // A genuine token's payload changed under its signature.

    fn a_tampered_sub_is_refused(backend) {
        let t = now();
        let issued = claims("tampered", "1", "unsubscribe", ROUTE, t - 10, t + 3600, "");
        let tampered = claims("tampered", "2", "unsubscribe", ROUTE, t - 10, t + 3600, "");
        assert_tampering_refused(backend, &issued, &tampered);
    }

    fn a_tampered_scope_is_refused(backend) {
        // A link to the preferences page, made out to unsubscribe.
        let t = now();
        let issued = claims("tampered", "1", "preferences", ROUTE, t - 10, t + 3600, "");
        let tampered = claims("tampered", "1", "unsubscribe", ROUTE, t - 10, t + 3600, "");
        assert_tampering_refused(backend, &issued, &tampered);
    }

    fn a_tampered_max_is_refused(backend) {
        let t = now();
        let issued = timed_claims("tampered", t - 10, t + 3600, r#","max":1"#);
        let tampered = timed_claims("tampered", t - 10, t + 3600, r#","max":1000"#);
        assert_tampering_refused(backend, &issued, &tampered);
    }

    fn a_tampered_exp_is_refused(backend) {
        // An expired link, brought back to life.
        let t = now();
        let issued = timed_claims("tampered", t - 7200, t - 3600, "");
        let tampered = timed_claims("tampered", t - 7200, t + 3600, "");
        assert_tampering_refused(backend, &issued, &tampered);
    }

    // Signatures cut short or lengthened.

    fn a_truncated_signature_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("truncated", ""));
        // 40 of the 43 characters: still base64url (30 bytes), no longer an HS256 tag.
        let response = attempt(&server, &token[..token.len() - 3]);
        assert_eq!(
            seen(&server, &response, "truncated"),
            unsigned(403, "bad_signature")
        );
    }

    fn a_padded_signature_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("padded", ""));
        for padding in ["=", "=="] {
            let response = attempt(&server, &format!("{token}{padding}"));
            assert_eq!(
                seen(&server, &response, "padded"),
                unsigned(400, "malformed"),
                "{padding}"
            );
        }
    }

    fn a_lengthened_signature_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("lengthened", ""));
        // The tag and three more zero bytes: valid base64url of 35 bytes.
        let response = attempt(&server, &format!("{token}AAAA"));
        assert_eq!(
            seen(&server, &response, "lengthened"),
            unsigned(403, "bad_signature")
        );
    }

    // Not three segments.

    fn one_segment_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("one-segment", ""));
        let response = attempt(&server, &token.replace('.', ""));
        assert_eq!(
            seen(&server, &response, "one-segment"),
            unsigned(400, "malformed")
        );
    }

    fn two_segments_are_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("two-segments", ""));
        let (header, payload, _) = segments(&token);
        let response = attempt(&server, &format!("{header}.{payload}"));
        assert_eq!(
            seen(&server, &response, "two-segments"),
            unsigned(400, "malformed")
        );
    }

    fn four_segments_are_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("four-segments", ""));
        let (_, _, signature) = segments(&token);
        let response = attempt(&server, &format!("{token}.{signature}"));
        assert_eq!(
            seen(&server, &response, "four-segments"),
            unsigned(400, "malformed")
        );
    }

    fn five_segments_are_malformed(backend) {
        // Shaped like a JWE (RFC 7516): header, key, iv, ciphertext, tag.
        let Some(server) = newsletter(backend) else { return };
        let header = b64(r#"{"alg":"dir","enc":"A256GCM"}"#);
        let payload = b64(link_claims("five-segments", ""));
        let token = format!(
            "{header}..{}.{payload}.{}",
            b64("twelve bytes"),
            b64("sixteen bytes...")
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "five-segments"),
            unsigned(400, "malformed")
        );
    }

    // Segments that are not base64url without padding (RFC 7515, section 2).

    fn base64_padding_in_a_segment_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        // Payloads one byte over a multiple of three, so that padding would be `==`; each is
        // signed as sent.
        let header = b64(HS256);
        for (jti, padding) in [("padding-1", "="), ("padding-2", "==")] {
            let payload = (0..3)
                .map(|pad| link_claims(jti, &format!(r#","pad":"{}""#, "x".repeat(pad))))
                .find(|payload| payload.len() % 3 == 1)
                .expect("one of three lengths leaves one byte");
            let token = signed_as_sent(&header, &format!("{}{padding}", b64(&payload)));
            let response = attempt(&server, &token);
            assert_eq!(
                seen(&server, &response, jti),
                unsigned(400, "malformed"),
                "{padding}"
            );
        }
    }

    fn the_standard_base64_alphabet_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        // Data chosen so that the payload's standard encoding has both `+` and `/`, where
        // base64url has `-` and `_`; signed as sent.
        let payload = (0..3)
            .map(|pad| {
                link_claims(
                    "alphabet",
                    &format!(r#","data":{{"k":"{}???>>>???>>>"}}"#, "x".repeat(pad)),
                )
            })
            .find(|payload| {
                let standard = STANDARD_NO_PAD.encode(payload);
                standard.contains('+') && standard.contains('/')
            })
            .expect("one alignment gives both characters");
        let token = signed_as_sent(&b64(HS256), &STANDARD_NO_PAD.encode(&payload));
        // `+` escaped, or the query would read it as a space.
        let response = attempt(&server, &token.replace('+', "%2B"));
        assert_eq!(
            seen(&server, &response, "alphabet"),
            unsigned(400, "malformed")
        );
    }

    fn whitespace_in_or_around_a_token_is_malformed(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine(&link_claims("whitespace", ""));
        let (header, payload, signature) = segments(&token);
        for (name, rt) in [
            (
                "a space inside",
                format!("{header}.{payload}%20.{signature}"),
            ),
            ("a leading space", format!("%20{token}")),
            ("a trailing newline", format!("{token}%0A")),
            (
                "a tab inside",
                format!(
                    "{header}.{payload}.{}%09{}",
                    &signature[..20],
                    &signature[20..]
                ),
            ),
            ("a plus sign read as a space", format!("{token}+")),
        ] {
            let response = attempt(&server, &rt);
            assert_eq!(
                seen(&server, &response, "whitespace"),
                unsigned(400, "malformed"),
                "{name}"
            );
        }
    }

    // Claims of the wrong type or out of range, in genuine tokens: 400, each with its row
    // (README: from the claim types on, every attempt has a row).

    fn claim_type_confusions_are_bad_requests_that_spend_nothing(backend) {
        // The statuses and codes of every confusion below; their rows are asserted one attack
        // at a time by the tests that follow.
        let Some(server) = newsletter(backend) else { return };
        let all = [
            string_exp(),
            float_exp(),
            zero_max(),
            negative_max(),
            numeric_sub(),
            array_data(),
            long_jti(),
            null_claims(),
            repeated_claim(),
            control_characters(),
            unreadable_jti(),
        ];
        for confusion in all.into_iter().flatten() {
            let response = attempt(&server, &confusion.token);
            let spent = server
                .block_on(server.ledger.token(&confusion.jti))
                .expect("the ledger answers");
            assert_eq!(
                (response.status, code(&response), spent),
                (400, Some(confusion.code.to_string()), None),
                "{}",
                confusion.jti
            );
        }
    }

    fn a_string_exp_is_refused_with_its_row(backend) {
        assert_refused_with_rows(backend, string_exp());
    }

    fn a_float_exp_is_refused_with_its_row(backend) {
        assert_refused_with_rows(backend, float_exp());
    }

    fn a_max_of_zero_is_refused_with_its_row(backend) {
        assert_refused_with_rows(backend, zero_max());
    }

    fn a_negative_max_is_refused_with_its_row(backend) {
        assert_refused_with_rows(backend, negative_max());
    }

    fn a_numeric_sub_is_refused_with_its_row(backend) {
        assert_refused_with_rows(backend, numeric_sub());
    }

    fn array_data_is_refused_with_its_row(backend) {
        assert_refused_with_rows(backend, array_data());
    }

    // README: a row is found by its link's id; a `jti` over 64 characters names none to trust.
    fn a_jti_too_long_is_refused_without_a_row(backend) {
        assert_refused_without_rows(backend, long_jti());
    }

    fn null_claims_are_refused_with_their_rows(backend) {
        assert_refused_with_rows(backend, null_claims());
    }

    // README: a payload with a listed claim given twice is no claims object: no row.
    fn a_repeated_claim_is_refused_without_a_row(backend) {
        assert_refused_without_rows(backend, repeated_claim());
    }

    fn control_characters_in_claims_are_refused_with_their_rows(backend) {
        assert_refused_with_rows(backend, control_characters());
    }

    fn binary_bytes_in_the_payload_are_malformed(backend) {
        // Not JSON text at all (invalid UTF-8, a raw NUL inside a string): nothing can be read
        // from it, so there is no link to keep a row under.
        let Some(server) = newsletter(backend) else { return };
        let json = link_claims("binary", "");
        let (before, after) = json
            .split_once(r#""sub":"1""#)
            .expect("the claims have a sub");
        for (name, bytes) in [
            ("invalid UTF-8", &b"\xff\xfe"[..]),
            ("a raw NUL", &b"\x00"[..]),
        ] {
            let mut payload = before.as_bytes().to_vec();
            payload.extend_from_slice(br#""sub":"1"#);
            payload.extend_from_slice(bytes);
            payload.push(b'"');
            payload.extend_from_slice(after.as_bytes());
            let token = mint("HS256", HS256, &payload, SECRET);
            let response = attempt(&server, &token);
            assert_eq!(
                seen(&server, &response, "binary"),
                unsigned(400, "malformed"),
                "{name}"
            );
        }
    }

    // Absurd and boundary times (leeway 5 s).

    fn exp_equal_to_iat_is_expired(backend) {
        let Some(server) = newsletter(backend) else { return };
        let t = now() - 60;
        let response = attempt(&server, &genuine(&timed_claims("no-lifetime", t, t, "")));
        assert_eq!(
            seen(&server, &response, "no-lifetime"),
            refused(410, "expired")
        );
    }

    fn exp_before_iat_is_expired(backend) {
        let Some(server) = newsletter(backend) else { return };
        let t = now();
        let response = attempt(
            &server,
            &genuine(&timed_claims("backwards", t - 10, t - 3600, "")),
        );
        assert_eq!(
            seen(&server, &response, "backwards"),
            refused(410, "expired")
        );
    }

    fn exp_past_by_the_leeway_plus_one_second_is_expired(backend) {
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) =
            attempt_at_edge(&server, "late", |t| (t - 60, t - LEEWAY - 1, String::new()));
        assert_eq!(seen(&server, &response, &jti), refused(410, "expired"));
    }

    fn exp_past_by_the_leeway_less_one_second_still_works(backend) {
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) = attempt_at_edge(&server, "nearly-late", |t| {
            (t - 60, t - LEEWAY + 1, String::new())
        });
        assert_eq!(seen(&server, &response, &jti), spent());
    }

    fn exp_past_by_exactly_the_leeway_is_expired(backend) {
        // RFC 7519: a token is not accepted on or after `exp` (plus the leeway).
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) = attempt_at_edge(&server, "on-the-edge", |t| {
            (t - 60, t - LEEWAY, String::new())
        });
        assert_eq!(seen(&server, &response, &jti), refused(410, "expired"));
    }

    fn nbf_in_the_future_is_not_yet_valid(backend) {
        let Some(server) = newsletter(backend) else { return };
        let nbf = format!(r#","nbf":{}"#, now() + 3600);
        let response = attempt(&server, &genuine(&link_claims("early", &nbf)));
        assert_eq!(
            seen(&server, &response, "early"),
            refused(403, "not_yet_valid")
        );
    }

    fn nbf_within_the_leeway_works(backend) {
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) = attempt_at_edge(&server, "nbf-edge", |t| {
            (t - 10, t + 3600, format!(r#","nbf":{}"#, t + LEEWAY))
        });
        assert_eq!(seen(&server, &response, &jti), spent());
    }

    fn nbf_past_the_leeway_is_not_yet_valid(backend) {
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) = attempt_at_edge(&server, "nbf-over", |t| {
            (t - 10, t + 3600, format!(r#","nbf":{}"#, t + LEEWAY + 1))
        });
        assert_eq!(
            seen(&server, &response, &jti),
            refused(403, "not_yet_valid")
        );
    }

    fn iat_within_the_leeway_works(backend) {
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) = attempt_at_edge(&server, "iat-edge", |t| {
            (t + LEEWAY, t + 3600, String::new())
        });
        assert_eq!(seen(&server, &response, &jti), spent());
    }

    fn iat_past_the_leeway_is_not_yet_valid(backend) {
        let Some(server) = newsletter(backend) else { return };
        let (response, jti) = attempt_at_edge(&server, "iat-over", |t| {
            (t + LEEWAY + 1, t + 3600, String::new())
        });
        assert_eq!(
            seen(&server, &response, &jti),
            refused(403, "not_yet_valid")
        );
    }

    fn iat_far_in_the_future_is_not_yet_valid(backend) {
        // Stamped ten years ahead: it would outlive every user revocation made before then.
        let Some(server) = newsletter(backend) else { return };
        let iat = now() + 10 * 365 * 24 * 3600;
        let response = attempt(
            &server,
            &genuine(&timed_claims("future", iat, iat + 3600, "")),
        );
        assert_eq!(
            seen(&server, &response, "future"),
            refused(403, "not_yet_valid")
        );
    }

    fn exp_at_i64_max_is_a_lifetime_too_long(backend) {
        let Some(server) = newsletter(backend) else { return };
        let response = attempt(
            &server,
            &genuine(&timed_claims("forever", now() - 10, i64::MAX, "")),
        );
        assert_eq!(
            seen(&server, &response, "forever"),
            refused(403, "lifetime_too_long")
        );
    }

    fn iat_at_i64_min_is_a_lifetime_too_long(backend) {
        // `exp - iat` overflows: it must count as too long, not wrap round to a short one.
        let Some(server) = newsletter(backend) else { return };
        let response = attempt(
            &server,
            &genuine(&timed_claims("big-bang", i64::MIN, now() + 3600, "")),
        );
        assert_eq!(
            seen(&server, &response, "big-bang"),
            refused(403, "lifetime_too_long")
        );
    }

    fn iat_and_exp_next_to_i64_max_are_not_yet_valid(backend) {
        let Some(server) = newsletter(backend) else { return };
        let nbf = format!(r#","nbf":{}"#, i64::MAX);
        let response = attempt(
            &server,
            &genuine(&timed_claims("end-of-time", i64::MAX - 60, i64::MAX, &nbf)),
        );
        assert_eq!(
            seen(&server, &response, "end-of-time"),
            refused(403, "not_yet_valid")
        );
    }

    fn a_lifetime_over_max_ttl_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let iat = now() - 10;
        let response = attempt(
            &server,
            &genuine(&timed_claims("too-long", iat, iat + MAX_TTL + 1, "")),
        );
        assert_eq!(
            seen(&server, &response, "too-long"),
            refused(403, "lifetime_too_long")
        );
    }

    fn a_lifetime_of_exactly_max_ttl_works(backend) {
        let Some(server) = newsletter(backend) else { return };
        let iat = now() - 10;
        let response = attempt(
            &server,
            &genuine(&timed_claims("longest", iat, iat + MAX_TTL, "")),
        );
        assert_eq!(seen(&server, &response, "longest"), spent());
    }

    // A genuine link on another route, page or query.

    fn a_link_of_another_scope_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "preferences", ROUTE));
        let response = attempt_at(&server, &link.url);
        assert_eq!(
            seen(&server, &response, &link.jti),
            refused(403, "wrong_scope")
        );
    }

    fn a_link_for_another_path_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", "/unsubscribe/2"));
        let response = attempt_at(&server, &link.url.replace("/unsubscribe/2", ROUTE));
        assert_eq!(
            seen(&server, &response, &link.jti),
            refused(403, "wrong_target")
        );
    }

    fn an_added_parameter_makes_another_target(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let response = attempt_at(&server, &format!("{}&list=2", link.url));
        assert_eq!(
            seen(&server, &response, &link.jti),
            refused(403, "wrong_target")
        );
    }

    fn a_dropped_or_reordered_parameter_makes_another_target(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(
            &server,
            LinkSpec::new("1", "unsubscribe", "/unsubscribe/1?a=1&b=2"),
        );
        let token = &link.token;
        let dropped = attempt_at(&server, &format!("{ROUTE}?a=1&rt={token}"));
        let reordered = attempt_at(&server, &format!("{ROUTE}?b=2&a=1&rt={token}"));
        assert_eq!(
            (dropped.status, code(&dropped)),
            (403, Some("wrong_target".into()))
        );
        assert_eq!(
            seen(&server, &reordered, &link.jti),
            Seen {
                status: 403,
                code: Some("wrong_target".into()),
                rows: vec![
                    row("POST", 403, "wrong_target"),
                    row("POST", 403, "wrong_target")
                ],
                uses: None,
            }
        );
    }

    fn tracking_parameters_are_ignored(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let tracked = format!(
            "{ROUTE}?utm_source=mail&rt={}&fbclid=x&gclid=y&mc_cid=c&mc_eid=e&_hsenc=h&_hsmi=m",
            link.token
        );
        let response = attempt_at(&server, &tracked);
        assert_eq!(seen(&server, &response, &link.jti), spent());
    }

    fn a_parameter_named_like_a_tracking_one_makes_another_target(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let response = attempt_at(&server, &format!("{}&gclid_list=2", link.url));
        assert_eq!(
            seen(&server, &response, &link.jti),
            refused(403, "wrong_target")
        );
    }

    fn a_link_for_an_unknown_user_is_refused(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("99", "unsubscribe", ROUTE));
        let response = attempt_at(&server, &link.url);
        assert_eq!(
            seen(&server, &response, &link.jti),
            refused(403, "unknown_user")
        );
    }

    // Forward takeover: a route that spent a use and forwarded hands it to the next route,
    // which checks the link for itself (tests/support/app.rs, `/item` and `/note`).

    fn a_view_link_forwarded_to_delete_is_refused_and_given_back(backend) {
        let Some(server) = test_app(backend) else { return };
        let view = issue(&server, LinkSpec::new("1", "view", "/item"));
        // Not a form: the view route spends, then forwards to the delete route.
        let request = Request::new("POST", &view.url)
            .header("Accept", "application/json")
            .header("Content-Type", "text/plain")
            .body("item 7");
        let response = server.send(&request);
        assert_eq!(
            seen(&server, &response, &view.jti),
            Seen {
                status: 403,
                code: Some("wrong_scope".into()),
                rows: vec![
                    row("POST", 403, "returned"),
                    row("POST", 403, "wrong_scope")
                ],
                uses: Some(0),
            }
        );
    }

    fn a_link_forwarded_to_a_one_use_route_is_held_to_its_cap(backend) {
        let Some(server) = test_app(backend) else { return };
        let note = issue(&server, LinkSpec::new("1", "note", "/note"));
        assert_eq!(
            server
                .send(&Request::new("POST", &note.url).form("name=n"))
                .status,
            200
        );
        // Its second use, forwarded to the archive route of one use.
        let request = Request::new("POST", &note.url)
            .header("Accept", "application/json")
            .header("Content-Type", "text/plain")
            .body("note 1");
        let response = server.send(&request);
        assert_eq!(
            seen(&server, &response, &note.jti),
            Seen {
                status: 410,
                code: Some("used_up".into()),
                rows: vec![
                    row("POST", 200, "spent"),
                    row("POST", 410, "returned"),
                    row("POST", 410, "used_up"),
                ],
                uses: Some(1),
            }
        );
    }

    // Links that were genuine and are no longer.

    fn a_one_time_link_replayed_is_gone(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        assert_eq!(attempt_at(&server, &link.url).status, 200);
        let replay = attempt_at(&server, &link.url);
        assert_eq!(
            seen(&server, &replay, &link.jti),
            Seen {
                status: 410,
                code: Some("used_up".into()),
                rows: vec![row("POST", 200, "spent"), row("POST", 410, "used_up")],
                uses: Some(1),
            }
        );
    }

    fn a_revoked_link_is_gone(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        server.block_on(server.ledger.revoke(&link.jti)).unwrap();
        let response = attempt_at(&server, &link.url);
        assert_eq!(
            seen(&server, &response, &link.jti),
            Seen {
                uses: Some(0),
                ..refused(410, "revoked")
            }
        );
    }

    fn a_revoked_users_link_is_gone(backend) {
        let Some(server) = newsletter(backend) else { return };
        let spec = LinkSpec::new("1", "unsubscribe", ROUTE);
        let link = server
            .issuer
            .issue_at(&spec, Utc::now() - TimeDelta::minutes(1))
            .unwrap();
        server
            .block_on(server.ledger.revoke_user("1", None, Utc::now()))
            .unwrap();
        let response = attempt_at(&server, &link.url);
        assert_eq!(seen(&server, &response, &link.jti), refused(410, "revoked"));
    }

    fn a_link_naming_a_retired_key_is_refused(backend) {
        let Some(server) = rotated(backend) else { return };
        let header = r#"{"alg":"HS256","typ":"JWT","kid":"2026-05"}"#;
        let token = mint(
            "HS256",
            header,
            link_claims("retired-kid", ""),
            RETIRED_SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "retired-kid"),
            unsigned(403, "unknown_key")
        );
    }

    fn a_link_without_kid_signed_by_a_retired_key_is_refused(backend) {
        let Some(server) = rotated(backend) else { return };
        let token = mint(
            "HS256",
            HS256,
            link_claims("retired-secret", ""),
            RETIRED_SECRET,
        );
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "retired-secret"),
            unsigned(403, "bad_signature")
        );
    }

    // Races.

    fn a_one_time_link_under_concurrent_posts_succeeds_once(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let barrier = Arc::new(Barrier::new(CLICKS));
        let clicks: Vec<_> = (0..CLICKS)
            .map(|_| {
                let (barrier, addr, url) = (Arc::clone(&barrier), server.addr, link.url.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    linktoken_tests::send(addr, &Request::new("POST", &url).form("confirm=yes"))
                        .status
                })
            })
            .collect();
        let mut statuses: Vec<u16> = clicks
            .into_iter()
            .map(|c| c.join().expect("a click"))
            .collect();
        statuses.sort_unstable();
        let mut once = vec![410; CLICKS];
        once[0] = 200;
        assert_eq!(statuses, once);
        let mut outcomes: Vec<_> = rows(&server, &link.jti)
            .into_iter()
            .map(|(_, status, outcome)| (status, outcome))
            .collect();
        outcomes.sort();
        let mut expected = vec![(Some(410), "used_up".to_string()); CLICKS - 1];
        expected.insert(0, (Some(200), "spent".to_string()));
        assert_eq!(outcomes, expected);
        let uses = server
            .block_on(server.ledger.token(&link.jti))
            .unwrap()
            .map(|t| t.uses);
        assert_eq!(uses, Some(1));
    }

    // Oversized input.

    fn a_genuine_token_of_4096_bytes_is_read(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine_of_length("largest", rocket_linktoken::MAX_TOKEN_LEN);
        let response = attempt(&server, &token);
        assert_eq!(seen(&server, &response, "largest"), spent());
    }

    fn a_genuine_token_over_4096_bytes_is_too_long(backend) {
        let Some(server) = newsletter(backend) else { return };
        let token = genuine_of_length("oversized", rocket_linktoken::MAX_TOKEN_LEN + 1);
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, "oversized"),
            unsigned(400, "too_long")
        );
        let large = genuine_of_length("large", 16 * 1024);
        let response = attempt(&server, &large);
        assert_eq!(seen(&server, &response, "large"), unsigned(400, "too_long"));
        // Past 64 KiB the HTTP server refuses the request line itself, before Rocket.
        let huge = genuine_of_length("huge", 64 * 1024);
        let response = attempt(&server, &huge);
        assert_eq!(
            seen(&server, &response, "huge"),
            Seen {
                status: 414,
                code: None,
                rows: Vec::new(),
                uses: None
            }
        );
    }

    // Header injection: line breaks in the query never become response headers.

    fn a_line_break_in_the_token_splits_no_header(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let response = attempt_at(
            &server,
            &format!("{}%0D%0ASet-Cookie:%20stolen=1", link.url),
        );
        assert!(
            !has_header(&response, "set-cookie", "stolen"),
            "{:?}",
            response.headers
        );
        assert_eq!(
            seen(&server, &response, &link.jti),
            unsigned(400, "malformed")
        );
    }

    fn a_line_break_in_another_parameter_splits_no_header(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let target = format!(
            "{}&next=%0D%0ALocation:%20https://attacker.example/",
            link.url
        );
        let response = attempt_at(&server, &target);
        assert!(
            !has_header(&response, "location", "attacker"),
            "{:?}",
            response.headers
        );
        assert_eq!(
            seen(&server, &response, &link.jti),
            refused(403, "wrong_target")
        );
    }

    fn a_raw_line_break_in_the_request_line_splits_no_header(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let response = attempt_at(&server, &format!("{}\r\nSet-Cookie: stolen=1", link.url));
        assert!(
            !has_header(&response, "set-cookie", "stolen"),
            "{:?}",
            response.headers
        );
        // The HTTP server refuses the request line before Rocket sees it.
        assert_eq!(
            seen(&server, &response, &link.jti),
            Seen {
                status: 400,
                code: None,
                rows: Vec::new(),
                uses: None
            }
        );
    }

    // The token parameter given twice.

    fn two_token_parameters_are_a_bad_request(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        let token = &link.token;
        for (name, target) in [
            ("the same token twice", format!("{}&rt={token}", link.url)),
            (
                "the name percent-encoded",
                format!("{}&%72t={token}", link.url),
            ),
            ("an empty one first", format!("{ROUTE}?rt=&rt={token}")),
            (
                "another genuine one after",
                format!("{}&rt={}", link.url, genuine(&link_claims("other", ""))),
            ),
        ] {
            let response = attempt_at(&server, &target);
            assert_eq!(
                seen(&server, &response, &link.jti),
                unsigned(400, "duplicate_token"),
                "{name}"
            );
        }
    }

    // Mail scanners and the database's other readers.

    fn a_scanner_fetching_the_link_spends_nothing(backend) {
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        assert_eq!(server.get(&link.url).status, 200);
        assert_eq!(server.send(&Request::new("HEAD", &link.url)).status, 200);
        let response = attempt_at(&server, &link.url);
        assert_eq!(
            seen(&server, &response, &link.jti),
            Seen {
                rows: vec![
                    row("GET", 200, "preview"),
                    row("HEAD", 200, "preview"),
                    row("POST", 200, "spent")
                ],
                ..spent()
            }
        );
    }

    fn the_ledger_never_holds_a_token(backend) {
        // Whoever reads the tables (a report, another tenant) learns ids, never a usable link.
        let Some(server) = newsletter(backend) else { return };
        let link = issue(&server, LinkSpec::new("1", "unsubscribe", ROUTE));
        for _ in 0..2 {
            attempt_at(&server, &link.url);
        }
        server.block_on(server.ledger.revoke(&link.jti)).unwrap();
        let uses = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        let token = server.block_on(server.ledger.token(&link.jti)).unwrap();
        let (_, payload, signature) = segments(&link.token);
        let written = format!("{uses:?} {token:?}");
        assert!(
            !written.contains(signature) && !written.contains(payload),
            "{written}"
        );
        assert_eq!(uses.len(), 2);
        assert!(uses.iter().all(|u| u.path == ROUTE));
    }
}

/// Both tokens with `alg` spelled so are refused for the algorithm: with an empty signature,
/// and with a genuine HS256 tag.
fn assert_alg_none_refused(backend: Backend, alg: &str) {
    let Some(server) = newsletter(backend) else {
        return;
    };
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    for (signed_by, jti) in [("none", "unsigned"), ("HS256", "tagged")] {
        let token = mint(signed_by, &header, link_claims(jti, ""), SECRET);
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, jti),
            unsigned(403, "unsupported_algorithm"),
            "{alg} signed by {signed_by}"
        );
    }
}

/// A header with `parameter` set to `value` is refused (403), signed with the site's secret
/// or with the attacker's.
fn assert_critical_header_refused(backend: Backend, parameter: &str, value: &str) {
    let Some(server) = newsletter(backend) else {
        return;
    };
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","{parameter}":{value}}}"#);
    for (secret, jti) in [(SECRET, "site-key"), (ATTACKER_SECRET, "attacker-key")] {
        let token = mint("HS256", &header, link_claims(jti, ""), secret);
        let response = attempt(&server, &token);
        assert_eq!(
            seen(&server, &response, jti),
            unsigned(403, "critical_header"),
            "{parameter} signed with the {jti}"
        );
    }
}

/// A token signed over the `issued` claims, its payload swapped for `tampered` ones (same
/// `jti`), the signature kept: each tampered token would be let through if it were genuine.
fn assert_tampering_refused(backend: Backend, issued: &str, tampered: &str) {
    let Some(server) = newsletter(backend) else {
        return;
    };
    let token = genuine(issued);
    let (header, _, signature) = segments(&token);
    let forged = format!("{header}.{}.{signature}", b64(tampered));
    let response = attempt(&server, &forged);
    assert_eq!(
        seen(&server, &response, "tampered"),
        unsigned(403, "bad_signature")
    );
}
