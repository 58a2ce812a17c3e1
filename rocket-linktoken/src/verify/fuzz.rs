//! Fuzzing the verify path: from a request's path and query to the answer its guard gives,
//! over arbitrary bytes, mutations of genuine links, re-signed edits of their claims, and
//! requests built around them.
//!
//! Nothing may panic; every refusal is a 4xx whose code agrees with its status; and a link
//! opens only unmodified, for its own scope and target (tracking parameters aside), in time.
//! `cargo test` runs each property briefly; `LINKTOKEN_FUZZ_SECS` makes it a long run (see
//! `SECURITY.md`).

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use rocket::figment::Figment;

use super::*;
use crate::fuzzing;
use crate::target::{lift, TokenParam};
use crate::{Issuer, LinkSpec};

const SECRET: &str = "fuzzing-secret-0123456789abcdef-0123456789";

/// The configured default, which the verifiers here use too.
const LEEWAY: i64 = 5;

static ISSUER: LazyLock<Issuer> = LazyLock::new(|| {
    Issuer::from_figment(&Figment::new().merge(("linktoken.secret", SECRET))).unwrap()
});

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new(
        KeyRing::from_secret(SECRET.as_bytes()).unwrap(),
        LEEWAY as u32,
    )
});

/// Every refusal the verify path can answer with, and its status.
const REFUSALS: [(&str, u16); 14] = [
    ("malformed", 400),
    ("too_long", 400),
    ("invalid_claim", 400),
    ("duplicate_token", 400),
    ("missing_token", 403),
    ("unsupported_algorithm", 403),
    ("unknown_key", 403),
    ("critical_header", 403),
    ("bad_signature", 403),
    ("wrong_scope", 403),
    ("lifetime_too_long", 403),
    ("wrong_target", 403),
    ("not_yet_valid", 403),
    ("expired", 410),
];

/// The refusals of a token whose signature did not hold, or was never reached.
const UNSIGNED: [&str; 6] = [
    "malformed",
    "too_long",
    "unsupported_algorithm",
    "unknown_key",
    "critical_header",
    "bad_signature",
];

const SCOPES: [&str; 4] = ["unsubscribe", "confirm:order", "a", "A/b.c_d-e"];

/// The answer to a request, as the fairing and the guard reach it: the token lifted out of the
/// query, then verified against the route's scope and the rest of the target.
fn answer(scope: &str, path: &str, query: Option<&str>, now: i64) -> Result<Claims, Error> {
    match lift(path, query, "rt") {
        (TokenParam::Absent, _) => Err(Error::MissingToken),
        (TokenParam::Repeated, _) => Err(Error::DuplicateToken),
        (TokenParam::One(token), target) => VERIFIER.verify(
            &token,
            &Expected {
                scope,
                target: &target,
            },
            now,
        ),
    }
}

/// `"ok"`, or the refusal's code once its status is checked against [`REFUSALS`].
fn outcome(result: &Result<Claims, Error>) -> Result<&'static str, TestCaseError> {
    let Err(error) = result else {
        return Ok("ok");
    };
    let (code, status) = (error.code(), error.status().code);
    prop_assert!(
        REFUSALS.contains(&(code, status)),
        "{} answered with {}",
        code,
        status
    );
    Ok(code)
}

/// A query parameter, as the comparison of targets sees it.
#[derive(Debug, Clone)]
enum Param {
    /// Compared: adding, dropping or moving it makes another target.
    Kept(String),
    /// A tracking parameter, left out of the comparison.
    Tracking(&'static str),
    /// `&&`, which the comparison skips.
    Empty,
    /// The token parameter.
    Token(TokenForm),
}

/// How a request carries the token.
#[derive(Debug, Clone)]
enum TokenForm {
    /// `rt=<token>`.
    Plain,
    /// The parameter's name percent-encoded: still the token parameter.
    EncodedName(&'static str),
    /// The token's first character percent-encoded: still the token.
    EncodedValue,
    /// One character of the token replaced by another.
    Altered(Index, char),
}

impl Param {
    fn text(&self, token: &str) -> String {
        match self {
            Param::Kept(text) => text.clone(),
            Param::Tracking(text) => (*text).to_string(),
            Param::Empty => String::new(),
            Param::Token(TokenForm::Plain) => format!("rt={token}"),
            Param::Token(TokenForm::EncodedName(name)) => format!("{name}={token}"),
            Param::Token(TokenForm::EncodedValue) => {
                format!("rt=%{:02X}{}", token.as_bytes()[0], &token[1..])
            }
            Param::Token(TokenForm::Altered(at, by)) => format!("rt={}", altered(token, at, *by)),
        }
    }
}

/// The token with the character at `at` replaced by `by`, or by `A` where it already is `by`.
fn altered(token: &str, at: &Index, by: char) -> String {
    let at = at.index(token.len());
    let old = token.as_bytes()[at] as char;
    let new = if old == by { 'A' } else { by };
    let new = if old == new { 'B' } else { new };
    format!("{}{new}{}", &token[..at], &token[at + 1..])
}

fn kept_param() -> impl Strategy<Value = Param> {
    let name = prop_oneof![
        "q[a-z]{0,2}",
        // Near misses of the token and tracking parameters, which are kept.
        select(vec![
            "utm",
            "UTM_source",
            "fbclid2",
            "r",
            "RT",
            "rt2",
            "xrt",
            "%72"
        ])
        .prop_map(String::from),
    ];
    let value = prop_oneof![
        Just(None),
        "[a-z0-9]{0,3}".prop_map(Some),
        Just(Some("%20".to_string())),
        Just(Some("a+b".to_string())),
    ];
    (name, value).prop_map(|(name, value)| {
        Param::Kept(match value {
            Some(value) => format!("{name}={value}"),
            None => name,
        })
    })
}

fn tracking_param() -> impl Strategy<Value = Param> {
    select(vec![
        "utm_source=news",
        "utm_campaign=nov",
        "utm_",
        "utm_medium",
        "utm%5Fmedium=email",
        "fbclid=abc",
        "%66bclid=1",
        "gclid=x",
        "mc_cid=2",
        "mc_eid=3",
        "_hsenc=4",
        "_hsmi=5",
    ])
    .prop_map(Param::Tracking)
}

fn token_param() -> impl Strategy<Value = Param> {
    prop_oneof![
        3 => Just(TokenForm::Plain),
        1 => select(vec!["%72t", "r%74", "%72%74"]).prop_map(TokenForm::EncodedName),
        1 => Just(TokenForm::EncodedValue),
        2 => (any::<Index>(), select(vec!['A', 'g', 'Q', '_', '-', '.', '0', 'z']))
            .prop_map(|(at, by)| TokenForm::Altered(at, by)),
    ]
    .prop_map(Param::Token)
}

/// A genuine link, and what it was issued with.
#[derive(Debug, Clone)]
struct Issued {
    token: String,
    scope: &'static str,
    path: String,
    /// The target's query parameters, tracking ones included.
    params: Vec<Param>,
    iat: i64,
    exp: i64,
    nbf: Option<i64>,
}

impl Issued {
    fn target(&self) -> String {
        let query: Vec<String> = self.params.iter().map(|p| p.text("")).collect();
        match query.is_empty() {
            true => self.path.clone(),
            false => format!("{}?{}", self.path, query.join("&")),
        }
    }

    /// The earliest time the link opens.
    fn opens(&self) -> i64 {
        self.nbf.map_or(self.iat, |nbf| nbf.max(self.iat))
    }
}

fn issued() -> impl Strategy<Value = Issued> {
    let path = prop::collection::vec("[A-Za-z0-9._~-]{1,6}", 1..4)
        .prop_map(|segments| format!("/{}", segments.join("/")));
    let param = prop_oneof![3 => kept_param(), 1 => tracking_param()];
    (
        "[A-Za-z0-9@.]{1,12}",
        select(SCOPES.to_vec()),
        path,
        prop::collection::vec(param, 0..4),
        0i64..4_000_000_000,
        1i64..=7_776_000,
        prop::option::of(0.0f64..1.0),
        prop::option::of(1u32..5),
    )
        .prop_map(|(sub, scope, path, params, iat, ttl, nbf, max)| {
            let mut issued = Issued {
                token: String::new(),
                scope,
                path,
                params,
                iat,
                exp: iat + ttl,
                nbf: nbf.map(|fraction| iat + (ttl as f64 * fraction) as i64),
            };
            let mut spec = LinkSpec::new(sub, scope, issued.target()).ttl(TimeDelta::seconds(ttl));
            if let Some(nbf) = issued.nbf {
                spec = spec.not_before(DateTime::from_timestamp(nbf, 0).unwrap());
            }
            if let Some(max) = max {
                spec = spec.max_uses(max);
            }
            let at = DateTime::from_timestamp(iat, 0).unwrap();
            issued.token = ISSUER.issue_at(&spec, at).unwrap().token;
            issued
        })
}

/// A time near one of the link's edges, or anywhere in or around its life.
fn time_around(link: &Issued) -> impl Strategy<Value = i64> {
    let (opens, exp) = (link.opens(), link.exp);
    prop_oneof![
        (select(vec![link.iat, opens, exp]), -10i64..10).prop_map(|(edge, by)| edge + by),
        (link.iat - 100)..(exp + 100),
    ]
}

/// One edit of a request's query.
#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, Param),
    Remove(Index),
    Swap(Index, Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let param = prop_oneof![
        kept_param(),
        tracking_param(),
        Just(Param::Empty),
        token_param()
    ];
    prop_oneof![
        3 => (any::<Index>(), param).prop_map(|(at, param)| Edit::Insert(at, param)),
        1 => any::<Index>().prop_map(Edit::Remove),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

/// A request for a genuine link: its path (or a near one), its URL's query edited, a route's
/// scope and a time.
#[derive(Debug, Clone)]
struct Request {
    scope: &'static str,
    path: String,
    params: Vec<Param>,
    now: i64,
}

fn request_for(link: &Issued) -> impl Strategy<Value = Request> {
    let path = prop_oneof![
        4 => Just(link.path.clone()),
        1 => select(vec!["/", "x", "%2F", "/.", "%41"])
            .prop_map({
                let path = link.path.clone();
                move |suffix| format!("{path}{suffix}")
            }),
        1 => Just(link.path.to_uppercase()),
    ];
    let scope = prop_oneof![3 => Just(link.scope), 1 => select(SCOPES.to_vec())];
    let mut url = link.params.clone();
    url.push(Param::Token(TokenForm::Plain));
    (
        scope,
        path,
        prop::collection::vec(edit(), 0..5),
        time_around(link),
    )
        .prop_map(move |(scope, path, edits, now)| {
            let mut params = url.clone();
            for edit in edits {
                match edit {
                    Edit::Insert(at, param) => params.insert(at.index(params.len() + 1), param),
                    Edit::Remove(at) if !params.is_empty() => {
                        params.remove(at.index(params.len()));
                    }
                    Edit::Swap(a, b) if !params.is_empty() => {
                        let len = params.len();
                        params.swap(a.index(len), b.index(len));
                    }
                    Edit::Remove(_) | Edit::Swap(..) => {}
                }
            }
            Request {
                scope,
                path,
                params,
                now,
            }
        })
}

/// The answer a request for `link` must get, from how the request was built rather than
/// from its text.
fn expected_answer(link: &Issued, request: &Request) -> Vec<&'static str> {
    let tokens: Vec<&TokenForm> = request
        .params
        .iter()
        .filter_map(|param| match param {
            Param::Token(form) => Some(form),
            _ => None,
        })
        .collect();
    match tokens.as_slice() {
        [] => return vec!["missing_token"],
        [TokenForm::Altered(..)] => return UNSIGNED.to_vec(),
        [_] => {}
        _ => return vec!["duplicate_token"],
    }
    let kept = |params: &[Param]| -> Vec<String> {
        params
            .iter()
            .filter_map(|param| match param {
                Param::Kept(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    let code = if request.scope != link.scope {
        "wrong_scope"
    } else if request.path != link.path || kept(&request.params) != kept(&link.params) {
        "wrong_target"
    } else if request.now + LEEWAY < link.opens() {
        "not_yet_valid"
    } else if request.now >= link.exp + LEEWAY {
        "expired"
    } else {
        "ok"
    };
    vec![code]
}

/// One edit of a genuine token's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    /// One character replaced by a base64url character or `.`.
    Substitute(Index, u8),
    FlipBit(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
    SwapSegments(usize, usize),
    RepeatSegment(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let base64url =
        select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".to_vec());
    prop_oneof![
        4 => (any::<Index>(), base64url).prop_map(|(at, byte)| Mutation::Substitute(at, byte)),
        1 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        1 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapSegments(a, b)),
        1 => (0usize..3).prop_map(Mutation::RepeatSegment),
    ]
}

fn mutate(token: &mut Vec<u8>, mutation: &Mutation) {
    let len = token.len();
    if len == 0 {
        return;
    }
    match mutation {
        Mutation::Substitute(at, byte) | Mutation::Set(at, byte) => token[at.index(len)] = *byte,
        Mutation::FlipBit(at, bit) => token[at.index(len)] ^= 1 << bit,
        Mutation::Insert(at, byte) => token.insert(at.index(len + 1), *byte),
        Mutation::Delete(at) => {
            token.remove(at.index(len));
        }
        Mutation::Truncate(at) => token.truncate(at.index(len)),
        Mutation::SwapSegments(a, b) => {
            let mut segments: Vec<Vec<u8>> = token.split(|&b| b == b'.').map(Vec::from).collect();
            let (a, b) = (a % segments.len(), b % segments.len());
            segments.swap(a, b);
            *token = segments.join(&b'.');
        }
        Mutation::RepeatSegment(at) => {
            let mut segments: Vec<Vec<u8>> = token.split(|&b| b == b'.').map(Vec::from).collect();
            let at = at % segments.len();
            segments.insert(at, segments[at].clone());
            *token = segments.join(&b'.');
        }
    }
}

/// Text spliced into a token's JSON: the characters and values a parser trips on.
const JSON_SPLICES: [&str; 30] = [
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\u00e9",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "-",
    "0",
    "1e400",
    "9223372036854775808",
    "-9223372036854775809",
    "0.5",
    "null",
    "true",
    "\u{e9}",
    "\"aud\":\"/x\",",
    "\"scope\":\"a\",",
    "\"exp\":0,",
    "\"nbf\":1,",
    "\"iat\":-1,",
    "\"kid\":\"k\",",
    "\"crit\":[\"b64\"],",
    "\"alg\":\"none\",",
    "\"jku\":\"x\",",
];

/// One edit of a token's decoded JSON, before it is signed again.
#[derive(Debug, Clone)]
enum JsonEdit {
    Splice(Index, &'static str),
    Delete(Index, usize),
    Set(Index, u8),
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        3 => (any::<Index>(), select(JSON_SPLICES.to_vec()))
            .prop_map(|(at, text)| JsonEdit::Splice(at, text)),
        2 => (any::<Index>(), 1usize..6).prop_map(|(at, len)| JsonEdit::Delete(at, len)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| JsonEdit::Set(at, byte)),
    ]
}

fn edit_json(json: &mut Vec<u8>, edit: &JsonEdit) {
    let len = json.len();
    match edit {
        JsonEdit::Splice(at, text) => {
            let at = at.index(len + 1);
            json.splice(at..at, text.bytes());
        }
        JsonEdit::Delete(at, count) if len > 0 => {
            let at = at.index(len);
            json.drain(at..(at + count).min(len));
        }
        JsonEdit::Set(at, byte) if len > 0 => json[at.index(len)] = *byte,
        JsonEdit::Delete(..) | JsonEdit::Set(..) => {}
    }
}

/// A new value for one claim of a token's payload.
#[derive(Debug, Clone)]
enum ClaimValue {
    Removed,
    Json(serde_json::Value),
    /// The link's own target followed by this text.
    TargetThen(&'static str),
    /// The request's time plus this many seconds.
    NowPlus(i64),
}

fn claim_edit() -> impl Strategy<Value = (&'static str, ClaimValue)> {
    let json = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        select(vec![i64::MIN, i64::MAX, 0, -1]).prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9/:._-]{0,8}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("x".repeat(65))),
        Just(serde_json::json!([])),
        Just(serde_json::json!({"list": 1})),
    ];
    let value = prop_oneof![
        1 => Just(ClaimValue::Removed),
        3 => json.prop_map(ClaimValue::Json),
        1 => select(vec!["", "/", "x", "?utm_source=1", "?q=1", "&q=1", "#f", "%20"])
            .prop_map(ClaimValue::TargetThen),
        2 => (-20i64..20).prop_map(ClaimValue::NowPlus),
    ];
    let claim = select(vec![
        "jti", "sub", "scope", "aud", "iat", "exp", "nbf", "max", "fp", "data", "x",
    ]);
    (claim, value)
}

/// `header.payload.signature` over the given JSON, signed with the key the verifier holds by
/// another JWT implementation.
fn signed(header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", BASE64.encode(header), BASE64.encode(payload));
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .unwrap();
    format!("{message}.{signature}")
}

fn segment(token: &str, at: usize) -> Vec<u8> {
    BASE64.decode(token.split('.').nth(at).unwrap()).unwrap()
}

/// Arbitrary input where a token goes: raw bytes, base64url-looking text, three segments of
/// arbitrary bytes, and text around the length limit.
fn arbitrary_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        "[A-Za-z0-9_.=+/-]{0,300}",
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 3).prop_map(|parts| {
            parts
                .iter()
                .map(|part| BASE64.encode(part))
                .collect::<Vec<_>>()
                .join(".")
        }),
        (MAX_TOKEN_LEN - 2..MAX_TOKEN_LEN + 3).prop_map(|len| "e".repeat(len)),
    ]
}

#[test]
fn arbitrary_tokens_are_refused_before_the_signature() {
    fuzzing::check(
        "arbitrary_tokens_are_refused_before_the_signature",
        file!(),
        (arbitrary_token(), select(SCOPES.to_vec())),
        |(token, scope)| {
            let result = VERIFIER.verify(
                &token,
                &Expected {
                    scope,
                    target: "/a",
                },
                0,
            );
            let code = outcome(&result)?;
            prop_assert!(UNSIGNED.contains(&code), "{} for {:?}", code, token);
            Ok(())
        },
    );
}

#[test]
fn mutated_links_are_refused_unless_unchanged() {
    fuzzing::check(
        "mutated_links_are_refused_unless_unchanged",
        file!(),
        (issued(), prop::collection::vec(mutation(), 1..4)),
        |(link, mutations)| {
            let mut bytes = link.token.clone().into_bytes();
            for mutation in &mutations {
                mutate(&mut bytes, mutation);
            }
            let token = String::from_utf8_lossy(&bytes);
            let target = link.target();
            let expected = Expected {
                scope: link.scope,
                target: &target,
            };
            let code = outcome(&VERIFIER.verify(&token, &expected, link.opens()))?;
            if token == link.token {
                prop_assert_eq!(code, "ok");
            } else {
                prop_assert!(UNSIGNED.contains(&code), "{} for {}", code, token);
            }
            Ok(())
        },
    );
}

#[test]
fn re_signed_edits_are_held_to_their_claims() {
    // Targets compared exactly, so that an accepted token must name this very target.
    let exact = VERIFIER.clone().with_ignored_params(Vec::<String>::new());
    let cases = issued().prop_flat_map(|link| {
        let now = time_around(&link);
        (
            Just(link),
            prop::option::weighted(0.2, json_edit()),
            prop::collection::vec(claim_edit(), 0..4),
            prop::option::weighted(0.3, json_edit()),
            now,
        )
    });
    fuzzing::check(
        "re_signed_edits_are_held_to_their_claims",
        file!(),
        cases,
        |(link, header_edit, claim_edits, payload_edit, now)| {
            let target = link.target();
            let mut header = segment(&link.token, 0);
            if let Some(edit) = &header_edit {
                edit_json(&mut header, edit);
            }
            let mut claims: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&segment(&link.token, 1)).unwrap();
            for (claim, value) in claim_edits {
                let value = match value {
                    ClaimValue::Removed => {
                        claims.remove(claim);
                        continue;
                    }
                    ClaimValue::Json(value) => value,
                    ClaimValue::TargetThen(text) => format!("{target}{text}").into(),
                    ClaimValue::NowPlus(seconds) => (now + seconds).into(),
                };
                claims.insert(claim.to_string(), value);
            }
            let mut payload = serde_json::to_vec(&claims).unwrap();
            if let Some(edit) = &payload_edit {
                edit_json(&mut payload, edit);
            }
            let token = signed(&header, &payload);
            let expected = Expected {
                scope: link.scope,
                target: &target,
            };
            let result = exact.verify(&token, &expected, now);
            let code = outcome(&result)?;
            prop_assert_ne!(code, "bad_signature");
            if let Ok(claims) = result {
                prop_assert_eq!(claims.scope(), link.scope);
                prop_assert_eq!(claims.aud(), target.as_str());
                let opens = claims
                    .not_before()
                    .map_or(claims.issued_at(), |nbf| nbf.max(claims.issued_at()));
                prop_assert!(now + LEEWAY >= opens, "open at {} before {}", now, opens);
                prop_assert!(now < claims.expires_at().saturating_add(LEEWAY));
                let lifetime = claims.expires_at().saturating_sub(claims.issued_at());
                prop_assert!(lifetime <= 7_776_000, "lives {} s", lifetime);
            }
            Ok(())
        },
    );
}

#[test]
fn requests_open_a_link_only_at_its_target() {
    let cases = issued().prop_flat_map(|link| {
        let request = request_for(&link);
        (Just(link), request)
    });
    fuzzing::check(
        "requests_open_a_link_only_at_its_target",
        file!(),
        cases,
        |(link, request)| {
            let texts: Vec<String> = request.params.iter().map(|p| p.text(&link.token)).collect();
            let query = texts.join("&");
            let query = (!request.params.is_empty()).then_some(query.as_str());
            let code = outcome(&answer(request.scope, &request.path, query, request.now))?;
            let expected = expected_answer(&link, &request);
            prop_assert!(
                expected.contains(&code),
                "{} for {}?{}, expected {:?}",
                code,
                request.path,
                query.unwrap_or_default(),
                expected
            );
            Ok(())
        },
    );
}

#[test]
fn arbitrary_requests_are_refused_with_a_client_error() {
    let text = || {
        prop_oneof![
            Just(String::new()),
            ".{0,30}".prop_map(String::from),
            "[%&=+rtRT0-9a-fA-F_.]{0,30}".prop_map(String::from),
        ]
    };
    fuzzing::check(
        "arbitrary_requests_are_refused_with_a_client_error",
        file!(),
        (
            issued(),
            prop::option::of(text()),
            text(),
            text(),
            any::<bool>(),
        ),
        |(link, path, before, after, carries_token)| {
            // `None` stands for the link's own path.
            let path = path.unwrap_or_else(|| link.path.clone());
            let query = match carries_token {
                true => format!("{before}&rt={}&{after}", link.token),
                false => format!("{before}{after}"),
            };
            let result = answer(link.scope, &path, Some(&query), link.opens());
            let code = outcome(&result)?;
            if code == "ok" {
                prop_assert_eq!(&path, &link.path);
            }
            Ok(())
        },
    );
}
