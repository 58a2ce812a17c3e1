//! Verifying tokens: pure (no I/O, no clock), so every rule is a plain unit test.

use base64_simd::{AsOut as _, URL_SAFE_NO_PAD};

use crate::claims::LinkIds;
use crate::keys::TAG_LEN;
use crate::target::{IgnoredParams, TRACKING_PARAMS};
use crate::{header, Claims, Error, KeyRing};

/// Longest token accepted, in bytes. Links this library makes are a few hundred bytes; the
/// limit keeps hostile input cheap to refuse.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The longest lifetime (`exp - iat`) a token may claim unless configured otherwise, in
/// seconds: 90 days.
pub(crate) const DEFAULT_MAX_TTL: u32 = 90 * 24 * 60 * 60;

/// What the route expects of a token.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The route's scope; the token's `scope` must equal it.
    pub scope: &'a str,
    /// The request target, without the token parameter; the token's `aud` must equal it, but
    /// for ignored (tracking) query parameters.
    pub target: &'a str,
}

/// Checks tokens against the key ring and a route's expectations.
///
/// Checks run in this order, and the first failure is the answer: shape and the header's
/// parameter types (400), header and signature (403), claim types (400), scope and target
/// (403), a lifetime (`exp - iat`) over `max_ttl` (403), not-before or issued in the future
/// (403), expiry (410).
/// Only after the signature holds is anything in the payload believed.
///
/// ```
/// use chrono::TimeDelta;
/// use rocket_linktoken::{Expected, Issuer, LinkSpec, Verifier, Error};
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
/// let issuer = Issuer::from_figment(&figment)?;
/// let verifier = Verifier::from_figment(&figment)?;
/// let link = issuer.issue(&LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"))?;
///
/// let now = chrono::Utc::now().timestamp();
/// let here = Expected { scope: "unsubscribe", target: "/unsubscribe/7" };
/// assert_eq!(verifier.verify(&link.token, &here, now)?.sub(), "42");
///
/// let elsewhere = Expected { scope: "unsubscribe", target: "/unsubscribe/8" };
/// assert!(matches!(verifier.verify(&link.token, &elsewhere, now), Err(Error::WrongTarget)));
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(crate) keys: KeyRing,
    pub(crate) leeway: i64,
    max_ttl: i64,
    ignored: IgnoredParams,
}

impl Verifier {
    /// A verifier for these keys, tolerating `leeway_secs` of clock skew on `exp` and `nbf`,
    /// and refusing tokens that claim to live longer than 90 days (`max_ttl`).
    pub fn new(keys: KeyRing, leeway_secs: u32) -> Verifier {
        Verifier {
            keys,
            leeway: i64::from(leeway_secs),
            max_ttl: i64::from(DEFAULT_MAX_TTL),
            ignored: IgnoredParams::new(TRACKING_PARAMS),
        }
    }

    /// Leaves these query parameters out when comparing a request's target with a link's
    /// (`aud`), instead of the tracking parameters mailers append (`utm_*`, `fbclid`, `gclid`,
    /// `mc_cid`, `mc_eid`, `_hsenc`, `_hsmi`). A name ending in `*` matches any rest. Any other
    /// parameter the request adds, drops or reorders still makes it another target.
    ///
    /// ```
    /// use rocket_linktoken::{KeyRing, Verifier};
    ///
    /// let keys = KeyRing::from_secret(b"an-example-secret-of-32-bytes-or-more")?;
    /// let verifier = Verifier::new(keys, 5).with_ignored_params(["utm_*", "ref"]);
    /// # let _ = verifier;
    /// # Ok::<(), rocket_linktoken::Error>(())
    /// ```
    pub fn with_ignored_params<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Verifier {
        self.ignored = IgnoredParams::new(names);
        self
    }

    /// Refuses tokens whose lifetime (`exp - iat`) is over `max_ttl_secs`. A leaked key, or
    /// a minter gone wrong, cannot make links that outlive what this site ever issues.
    ///
    /// ```
    /// use rocket_linktoken::{KeyRing, Verifier};
    ///
    /// let keys = KeyRing::from_secret(b"an-example-secret-of-32-bytes-or-more")?;
    /// let verifier = Verifier::new(keys, 5).with_max_ttl(30 * 24 * 60 * 60);
    /// # let _ = verifier;
    /// # Ok::<(), rocket_linktoken::Error>(())
    /// ```
    pub fn with_max_ttl(mut self, max_ttl_secs: u32) -> Verifier {
        self.max_ttl = i64::from(max_ttl_secs);
        self
    }

    /// Every check: the token is genuine, and it applies to this route now (`now` in unix
    /// seconds).
    pub fn verify(&self, token: &str, expected: &Expected<'_>, now: i64) -> Result<Claims, Error> {
        let claims = self.authenticate(token)?;
        self.check(&claims, expected, now)?;
        Ok(claims)
    }

    /// The token is well formed and signed by one of our keys; its claims are well typed.
    /// Nothing about the route or the time is checked yet.
    pub fn authenticate(&self, token: &str) -> Result<Claims, Error> {
        self.open(token).map_err(|refusal| refusal.error)
    }

    /// [`Verifier::authenticate`], keeping what a genuine token whose claims are refused names
    /// of its link, for the attempt's row.
    pub(crate) fn open(&self, token: &str) -> Result<Claims, Refusal> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::TooLong.into());
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed.into());
        };
        // Both JSON segments go into one buffer and the tag onto the stack: a genuine token
        // costs one allocation here.
        let mut json = Vec::with_capacity((header_b64.len() + payload_b64.len()) / 4 * 3 + 3);
        URL_SAFE_NO_PAD
            .decode_append(header_b64, &mut json)
            .map_err(|_| Error::Malformed)?;
        let header_len = json.len();
        URL_SAFE_NO_PAD
            .decode_append(payload_b64, &mut json)
            .map_err(|_| Error::Malformed)?;
        let (header_json, payload_json) = json.split_at(header_len);
        let tag = tag(signature)?;
        let kid = header::read(header_json)?;

        // The signed message is the first two segments exactly as sent.
        let message = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        let mut keys = self.keys.candidates(kid.as_deref()).peekable();
        if keys.peek().is_none() {
            return Err(Error::UnknownKey.into());
        }
        if !tag.is_some_and(|tag| keys.any(|key| key.signed(message, &tag))) {
            return Err(Error::BadSignature.into());
        }
        // Only now is the payload believed, even when its claims are refused.
        Claims::from_json(payload_json).map_err(|error| Refusal {
            error,
            link: LinkIds::read(payload_json),
        })
    }

    /// The genuine token applies to this route, now.
    pub fn check(&self, claims: &Claims, expected: &Expected<'_>, now: i64) -> Result<(), Error> {
        if claims.scope != expected.scope {
            return Err(Error::WrongScope);
        }
        if !self.ignored.same_target(&claims.aud, expected.target) {
            return Err(Error::WrongTarget);
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_ttl {
            return Err(Error::LifetimeTooLong);
        }
        // A link stamped in the future came from a clock too far ahead (or a forger with the
        // key): refusing it keeps user revocations, which compare `iat`, from missing it.
        let not_before = claims.nbf.map_or(claims.iat, |nbf| nbf.max(claims.iat));
        if now.saturating_add(self.leeway) < not_before {
            return Err(Error::NotYetValid);
        }
        // RFC 7519: the token must not be accepted on or after `exp`.
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(Error::Expired);
        }
        Ok(())
    }

    /// The genuine token still applies to its user as they are now. A link bound to its
    /// user's fingerprint (`fp`, see [`LinkSpec::fingerprint`](crate::LinkSpec::fingerprint))
    /// is refused with [`Error::Invalidated`] unless `current`, the user's fingerprint now, is
    /// the one it was issued with; a link without `fp` applies whatever `current` is.
    ///
    /// ```
    /// use rocket_linktoken::{Error, Issuer, LinkSpec, Verifier};
    ///
    /// let figment = rocket::Config::figment()
    ///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
    /// let issuer = Issuer::from_figment(&figment)?;
    /// let verifier = Verifier::from_figment(&figment)?;
    /// let spec = LinkSpec::new("42", "unsubscribe", "/unsubscribe/7").fingerprint("ada@example.com");
    /// let claims = verifier.authenticate(&issuer.issue(&spec)?.token)?;
    ///
    /// assert!(verifier.check_fingerprint(&claims, Some("ada@example.com")).is_ok());
    /// let changed = verifier.check_fingerprint(&claims, Some("ada@example.org"));
    /// assert!(matches!(changed, Err(Error::Invalidated)));
    /// assert!(matches!(verifier.check_fingerprint(&claims, None), Err(Error::Invalidated)));
    /// # Ok::<(), rocket_linktoken::Error>(())
    /// ```
    pub fn check_fingerprint(&self, claims: &Claims, current: Option<&str>) -> Result<(), Error> {
        match (&claims.fp, current) {
            (None, _) => Ok(()),
            (Some(fp), Some(current)) if self.keys.fingerprint_matches(fp, current) => Ok(()),
            (Some(_), _) => Err(Error::Invalidated),
        }
    }
}

/// A token refused before its claims were believed.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: Error,
    /// What the payload names of its link, when the signature held but the claims were
    /// refused (and it names a link id at all): the attempt still gets its row.
    pub(crate) link: Option<LinkIds>,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal { error, link: None }
    }
}

/// The signature segment as an HS256 tag; `None` when it is valid base64url of another length,
/// which no key made.
fn tag(segment: &str) -> Result<Option<[u8; TAG_LEN]>, Error> {
    let segment = segment.as_bytes();
    if URL_SAFE_NO_PAD.decoded_length(segment).ok() == Some(TAG_LEN) {
        let mut tag = [0u8; TAG_LEN];
        URL_SAFE_NO_PAD
            .decode(segment, tag.as_mut_slice().as_out())
            .map_err(|_| Error::Malformed)?;
        return Ok(Some(tag));
    }
    URL_SAFE_NO_PAD
        .check(segment)
        .map(|()| None)
        .map_err(|_| Error::Malformed)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn verifier() -> Verifier {
        Verifier::new(KeyRing::from_secret(SECRET).unwrap(), 5)
    }

    /// Another base64 implementation than the one under test.
    fn b64(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn signed(header: &str, payload: &str) -> String {
        let message = format!("{}.{}", b64(header), b64(payload));
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap();
        let sig =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{message}.{sig}")
    }

    const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
    const PAYLOAD: &str =
        r#"{"jti":"j","sub":"1","scope":"s","aud":"/a","iat":40,"exp":200,"nbf":50}"#;
    const HERE: Expected<'static> = Expected {
        scope: "s",
        target: "/a",
    };

    fn code(result: Result<Claims, Error>) -> &'static str {
        result.map_or_else(|e| e.code(), |_| "ok")
    }

    #[test]
    fn a_genuine_token_verifies() {
        assert_eq!(
            code(verifier().verify(&signed(HS256, PAYLOAD), &HERE, 150)),
            "ok"
        );
    }

    #[test]
    fn time_checks_honour_the_leeway() {
        let token = signed(HS256, PAYLOAD);
        assert_eq!(code(verifier().verify(&token, &HERE, 204)), "ok");
        assert_eq!(code(verifier().verify(&token, &HERE, 205)), "expired");
        assert_eq!(code(verifier().verify(&token, &HERE, 45)), "ok");
        assert_eq!(code(verifier().verify(&token, &HERE, 44)), "not_yet_valid");
        let future = r#"{"jti":"j","sub":"1","scope":"s","aud":"/a","iat":100,"exp":200}"#;
        assert_eq!(
            code(verifier().verify(&signed(HS256, future), &HERE, 95)),
            "ok"
        );
        assert_eq!(
            code(verifier().verify(&signed(HS256, future), &HERE, 94)),
            "not_yet_valid"
        );
        let far = r#"{"jti":"j","sub":"1","scope":"s","aud":"/a","iat":9223372036854775000,"exp":9223372036854775807}"#;
        assert_eq!(
            code(verifier().verify(&signed(HS256, far), &HERE, i64::MAX - 1)),
            "ok"
        );
    }

    #[test]
    fn a_lifetime_over_max_ttl_is_refused() {
        let lives = |seconds: i64| {
            format!(
                r#"{{"jti":"j","sub":"1","scope":"s","aud":"/a","iat":100,"exp":{}}}"#,
                100 + seconds
            )
        };
        let v = verifier();
        let ninety_days = i64::from(DEFAULT_MAX_TTL);
        let at_most = v.verify(&signed(HS256, &lives(ninety_days)), &HERE, 150);
        assert_eq!(code(at_most), "ok");
        let over = v.verify(&signed(HS256, &lives(ninety_days + 1)), &HERE, 150);
        assert_eq!(over.unwrap_err().status().code, 403);

        let strict = verifier().with_max_ttl(60);
        assert_eq!(
            strict
                .verify(&signed(HS256, &lives(61)), &HERE, 150)
                .unwrap_err()
                .status()
                .code,
            403
        );
        assert_eq!(
            code(strict.verify(&signed(HS256, &lives(60)), &HERE, 150)),
            "ok"
        );
    }

    #[test]
    fn tracking_parameters_do_not_change_the_target() {
        let token = signed(HS256, PAYLOAD);
        let at = |target: &'static str| Expected { scope: "s", target };
        let v = verifier();
        assert_eq!(
            code(v.verify(&token, &at("/a?utm_source=news&fbclid=x"), 150)),
            "ok"
        );
        assert_eq!(
            code(v.verify(&token, &at("/a?list=2"), 150)),
            "wrong_target"
        );
        let exact = verifier().with_ignored_params(Vec::<String>::new());
        assert_eq!(
            code(exact.verify(&token, &at("/a?utm_source=news"), 150)),
            "wrong_target"
        );
    }

    #[test]
    fn header_rules() {
        let v = verifier();
        assert_eq!(
            code(v.authenticate(&signed(r#"{"alg":"none"}"#, PAYLOAD))),
            "unsupported_algorithm"
        );
        assert_eq!(
            code(v.authenticate(&signed(r#"{"alg":"HS512"}"#, PAYLOAD))),
            "unsupported_algorithm"
        );
        assert_eq!(
            code(v.authenticate(&signed(r#"{"alg":1}"#, PAYLOAD))),
            "malformed"
        );
        assert_eq!(
            code(v.authenticate(&signed(r#"{"typ":"JWT"}"#, PAYLOAD))),
            "malformed"
        );
        assert_eq!(
            code(v.authenticate(&signed(r#"{"alg":"HS256","crit":["exp"]}"#, PAYLOAD))),
            "critical_header"
        );
        assert_eq!(
            code(v.authenticate(&signed(r#"{"alg":"HS256","kid":"k"}"#, PAYLOAD))),
            "unknown_key"
        );
        assert_eq!(
            code(v.authenticate(&signed(r#"{"alg":"HS256","alg":"HS256"}"#, PAYLOAD))),
            "malformed"
        );
        assert_eq!(code(v.authenticate(&signed("[1]", PAYLOAD))), "malformed");
    }

    #[test]
    fn header_parameters_of_the_wrong_type_or_that_change_the_key_are_refused() {
        let v = verifier();
        for (header, expected) in [
            (r#"{"alg":"HS256","kid":null}"#, "malformed"),
            (r#"{"alg":"HS256","crit":null}"#, "malformed"),
            (r#"{"alg":"HS256","typ":1}"#, "malformed"),
            (
                r#"{"alg":"HS256","jku":"https://evil.example/k"}"#,
                "critical_header",
            ),
            (
                r#"{"alg":"HS256","jwk":{"kty":"oct","k":"eA"}}"#,
                "critical_header",
            ),
            (
                r#"{"alg":"HS256","x5u":"https://evil.example/c"}"#,
                "critical_header",
            ),
            (r#"{"alg":"HS256","x5c":["MIIB"]}"#, "critical_header"),
            (r#"{"alg":"HS256","x5t":"t"}"#, "critical_header"),
            (r#"{"alg":"HS256","b64":false}"#, "critical_header"),
        ] {
            let result = v.verify(&signed(header, PAYLOAD), &HERE, 150);
            assert_eq!(code(result), expected, "{header}");
        }
    }

    #[test]
    fn shape_rules() {
        let v = verifier();
        let token = signed(HS256, PAYLOAD);
        assert_eq!(code(v.authenticate(&format!("{token}.x"))), "malformed");
        assert_eq!(code(v.authenticate(&format!("{token}="))), "malformed");
        assert_eq!(code(v.authenticate("a.b")), "malformed");
        assert_eq!(code(v.authenticate("")), "malformed");
        assert_eq!(
            code(v.authenticate(&"a".repeat(MAX_TOKEN_LEN + 1))),
            "too_long"
        );
    }

    #[test]
    fn the_payload_is_believed_only_after_the_signature() {
        let token = signed(HS256, PAYLOAD);
        let (message, _) = token.rsplit_once('.').unwrap();
        let other = signed(HS256, r#"{"other":1}"#);
        let (_, other_sig) = other.rsplit_once('.').unwrap();
        let forged = format!("{message}.{other_sig}");
        assert_eq!(code(verifier().authenticate(&forged)), "bad_signature");
        let bad_claims_unsigned = format!("{}.{}.{}", b64(HS256), b64("[1]"), other_sig);
        assert_eq!(
            code(verifier().authenticate(&bad_claims_unsigned)),
            "bad_signature"
        );
        assert_eq!(
            code(verifier().authenticate(&signed(HS256, "[1]"))),
            "malformed"
        );
    }

    #[test]
    fn refused_claims_are_named_only_once_the_signature_holds() {
        let v = verifier();
        let zero_uses =
            r#"{"jti":"j","sub":"1","scope":"s","aud":"/a","iat":40,"exp":200,"max":0}"#;
        let refused = v.open(&signed(HS256, zero_uses)).unwrap_err();
        assert_eq!(refused.error.code(), "invalid_claim");
        let link = refused.link.expect("a genuine token names its link");
        assert_eq!((&*link.jti, &*link.sub, &*link.scope), ("j", "1", "s"));

        let token = signed(HS256, zero_uses);
        let (message, _) = token.rsplit_once('.').unwrap();
        let other = signed(HS256, PAYLOAD);
        let (_, other_sig) = other.rsplit_once('.').unwrap();
        let forged = v.open(&format!("{message}.{other_sig}")).unwrap_err();
        assert_eq!((forged.error.code(), forged.link), ("bad_signature", None));
        let unnamed = v
            .open(&signed(HS256, r#"{"sub":"1","scope":"s"}"#))
            .unwrap_err();
        assert_eq!(
            (unnamed.error.code(), unnamed.link),
            ("invalid_claim", None)
        );
    }

    #[test]
    fn a_link_bound_to_a_fingerprint_applies_only_while_it_is_the_same() {
        let v = verifier();
        let fp = v.keys.fingerprint_claim("rev-7");
        let bound = format!(
            r#"{{"jti":"j","sub":"1","scope":"s","aud":"/a","iat":40,"exp":200,"fp":"{fp}"}}"#
        );
        let claims = v.verify(&signed(HS256, &bound), &HERE, 150).unwrap();
        assert_eq!(claims.fingerprint_hash(), Some(fp.as_str()));
        let check = |current| {
            v.check_fingerprint(&claims, current)
                .map_or_else(|e| e.code(), |()| "ok")
        };
        assert_eq!(check(Some("rev-7")), "ok");
        assert_eq!(check(Some("rev-8")), "invalidated");
        assert_eq!(check(None), "invalidated");
        assert_eq!(Error::Invalidated.status().code, 410);

        let unbound = v.verify(&signed(HS256, PAYLOAD), &HERE, 150).unwrap();
        for current in [None, Some("rev-7")] {
            assert!(v.check_fingerprint(&unbound, current).is_ok());
        }
        let mistyped = PAYLOAD.replace('}', r#","fp":["rev-7"]}"#);
        assert_eq!(
            code(v.verify(&signed(HS256, &mistyped), &HERE, 150)),
            "invalid_claim"
        );
    }

    #[test]
    fn scope_and_target_must_match() {
        let token = signed(HS256, PAYLOAD);
        let wrong_scope = Expected {
            scope: "t",
            target: "/a",
        };
        assert_eq!(
            code(verifier().verify(&token, &wrong_scope, 150)),
            "wrong_scope"
        );
        let wrong_target = Expected {
            scope: "s",
            target: "/a/",
        };
        assert_eq!(
            code(verifier().verify(&token, &wrong_target, 150)),
            "wrong_target"
        );
    }
}
