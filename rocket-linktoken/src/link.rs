//! Issuing links: pure signing, no I/O, so templates, mailers and batch jobs can mint freely.

use std::cell::RefCell;
use std::fmt;

use base64_simd::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::claims::NewClaims;
use crate::{scope, target, Error, KeyRing};

/// What a new link should say. Only the user, the scope and the target are required.
///
/// ```
/// use chrono::TimeDelta;
/// use rocket_linktoken::LinkSpec;
///
/// let spec = LinkSpec::new("42", "unsubscribe", "/unsubscribe/7")
///     .ttl(TimeDelta::days(30))
///     .max_uses(1)
///     .data(serde_json::json!({ "campaign": "november" }));
/// # let _ = spec;
/// ```
#[derive(Debug, Clone)]
pub struct LinkSpec {
    sub: String,
    scope: String,
    target: String,
    expiry: Option<Expiry>,
    not_before: Option<DateTime<Utc>>,
    max_uses: Option<u32>,
    data: Option<Value>,
    jti: Option<String>,
    fingerprint: Option<Fingerprint>,
}

/// A user's fingerprint, kept out of `Debug`: it may be made from a password hash.
#[derive(Clone)]
struct Fingerprint(String);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint([redacted])")
    }
}

#[derive(Debug, Clone, Copy)]
enum Expiry {
    At(DateTime<Utc>),
    After(TimeDelta),
}

impl LinkSpec {
    /// A link for `user`, allowing the action `scope`, opening `target`: an origin-form path
    /// with an optional query, such as `/unsubscribe/7` or `/confirm?list=2`. The scope is
    /// written in the alphabet `#[expiring_link]` takes (ASCII letters, digits and
    /// `_ - . : /`); issuing refuses any other.
    pub fn new(
        user: impl Into<String>,
        scope: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        LinkSpec {
            sub: user.into(),
            scope: scope.into(),
            target: target.into(),
            expiry: None,
            not_before: None,
            max_uses: None,
            data: None,
            jti: None,
            fingerprint: None,
        }
    }

    /// Expire this long after issuing, instead of the configured `default_ttl`; at most
    /// `max_ttl`.
    pub fn ttl(mut self, ttl: TimeDelta) -> Self {
        self.expiry = Some(Expiry::After(ttl));
        self
    }

    /// Expire at this instant, instead of after the configured `default_ttl`; at most
    /// `max_ttl` after issuing.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expiry = Some(Expiry::At(at));
        self
    }

    /// Refuse the link before this instant.
    pub fn not_before(mut self, at: DateTime<Utc>) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Allow at most this many uses (the route's `max_uses` caps it as well).
    pub fn max_uses(mut self, uses: u32) -> Self {
        self.max_uses = Some(uses);
        self
    }

    /// Application data carried in the link: a JSON object, readable by anyone with the link.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Use this link id instead of a random one. It must be unique among all links, 1 to 64
    /// characters: minting the same id twice makes two links share one use count.
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Binds the link to its user's fingerprint, as
    /// [`LinkUser::fingerprint`](crate::LinkUser::fingerprint) gives it now: once the user's
    /// fingerprint is another, or none, the link answers 410 ([`Error::Invalidated`]). The link
    /// carries a keyed hash of it (`fp`), never the fingerprint itself.
    ///
    /// ```
    /// use rocket_linktoken::LinkSpec;
    ///
    /// // The subscriber's fingerprint is their email address: changing it voids this link.
    /// let spec = LinkSpec::new("42", "unsubscribe", "/unsubscribe/7").fingerprint("ada@example.com");
    /// assert!(!format!("{spec:?}").contains("ada@example.com"));
    /// ```
    pub fn fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(Fingerprint(fingerprint.into()));
        self
    }
}

/// A signed link, ready to put in an email or a page.
///
/// ```
/// use rocket_linktoken::{Issuer, LinkSpec};
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
/// let link = Issuer::from_figment(&figment)?.issue(&LinkSpec::new("42", "preferences", "/preferences"))?;
/// assert_eq!(link.url, format!("/preferences?rt={}", link.token));
/// assert_eq!(link.jti.len(), 22);
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The signed token (JWS compact serialization).
    pub token: String,
    /// The URL to send: absolute when `base_url` is configured, origin-form otherwise.
    pub url: String,
    /// The link's unique id, for revoking it and finding its uses.
    pub jti: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// Settings that shape issued links, beside the keys.
#[derive(Debug, Clone)]
pub(crate) struct IssueDefaults {
    pub(crate) ttl: TimeDelta,
    /// The longest lifetime a link may have, in seconds (`max_ttl`).
    pub(crate) max_ttl: i64,
    pub(crate) query_param: String,
    pub(crate) base_url: Option<String>,
}

/// Makes links. Cheap to clone; available as managed state (`&State<Issuer>`) once the
/// fairing has ignited, or built directly for batch jobs with [`Issuer::from_figment`].
///
/// ```
/// use rocket_linktoken::{Issuer, LinkSpec};
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"))
///     .merge(("linktoken.base_url", "https://news.example.com"));
/// let issuer = Issuer::from_figment(&figment)?;
/// let link = issuer.issue(&LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"))?;
/// assert!(link.url.starts_with("https://news.example.com/unsubscribe/7?rt=ey"));
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Issuer {
    pub(crate) keys: KeyRing,
    pub(crate) defaults: IssueDefaults,
}

impl Issuer {
    /// Signs a link that starts working now.
    pub fn issue(&self, spec: &LinkSpec) -> Result<Link, Error> {
        self.issue_at(spec, Utc::now())
    }

    /// Signs a link as if the clock read `now` (for tests, and for batch jobs that stamp a
    /// whole mailing with one time).
    pub fn issue_at(&self, spec: &LinkSpec, now: DateTime<Utc>) -> Result<Link, Error> {
        let aud = target::normalize(&spec.target, &self.defaults.query_param)
            .map_err(|why| Error::InvalidLink(format!("the target `{}` {why}", spec.target)))?;
        let expires_at = match spec.expiry {
            Some(Expiry::At(at)) => at,
            Some(Expiry::After(ttl)) if ttl <= TimeDelta::zero() => {
                return Err(Error::InvalidLink("the ttl must be positive".into()))
            }
            Some(Expiry::After(ttl)) => after(now, ttl)?,
            None => after(now, self.defaults.ttl)?,
        };
        let (iat, exp) = (now.timestamp(), expires_at.timestamp());
        if exp.saturating_sub(iat) > self.defaults.max_ttl {
            return Err(Error::InvalidLink(format!(
                "the link would live {} seconds; `linktoken.max_ttl` allows {}",
                exp.saturating_sub(iat),
                self.defaults.max_ttl
            )));
        }
        let data = match &spec.data {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(Error::InvalidLink("link data must be a JSON object".into())),
        };
        if spec.max_uses == Some(0) {
            return Err(Error::InvalidLink("max_uses must be at least 1".into()));
        }
        if let Some(bad) = scope::first_invalid(&spec.scope) {
            return Err(Error::InvalidLink(format!(
                "the scope {:?} may only contain {}; found {bad:?}",
                spec.scope,
                scope::ALPHABET
            )));
        }
        let jti = match &spec.jti {
            Some(jti) => jti.clone(),
            None => random_jti()?,
        };
        let fp = spec
            .fingerprint
            .as_ref()
            .map(|Fingerprint(fingerprint)| self.keys.fingerprint_claim(fingerprint));
        let claims = NewClaims {
            jti: &jti,
            sub: &spec.sub,
            scope: &spec.scope,
            aud: &aud,
            iat,
            exp,
            nbf: spec.not_before.map(|t| t.timestamp()),
            max: spec.max_uses,
            fp: fp.as_deref(),
            data,
        };
        claims.check().map_err(|e| {
            Error::InvalidLink(format!("the `{}` claim is invalid", claim_name(&e)))
        })?;

        // Room for a typical link's claims, so the buffer does not grow while they are written.
        let mut payload = Vec::with_capacity(256);
        claims
            .write_json(&mut payload)
            .map_err(|e| Error::InvalidLink(format!("the claims cannot be written: {e}")))?;
        let token = self.keys.sign(&payload);

        let base = self.defaults.base_url.as_deref().unwrap_or("");
        let url = target::url(base, &aud, &self.defaults.query_param, &token);
        Ok(Link {
            token,
            url,
            jti,
            expires_at,
        })
    }
}

/// `ttl` after `now`: an error, not a panic, when that is past the last date chrono holds.
fn after(now: DateTime<Utc>, ttl: TimeDelta) -> Result<DateTime<Utc>, Error> {
    now.checked_add_signed(ttl).ok_or_else(|| {
        Error::InvalidLink(format!(
            "a ttl of {} seconds ends after the last representable date",
            ttl.num_seconds()
        ))
    })
}

fn claim_name(e: &Error) -> &'static str {
    match e {
        Error::InvalidClaim(claim) => claim,
        _ => "?",
    }
}

/// Random bytes in a link id: 128 bits.
const JTI_BYTES: usize = 16;

/// Random bytes fetched from the operating system at once, per thread: 32 links' worth.
const POOL_LEN: usize = JTI_BYTES * 32;

thread_local! {
    /// Random bytes from the operating system, and how many have been handed out. A system
    /// call costs as much as the rest of issuing a link; fetching in bulk pays it once for 32
    /// links. Link ids need only be unique (every link shows its own), so keeping them in
    /// memory is safe. One caveat: a process that forks without exec after issuing hands the
    /// rest of the pool to its child, and the two would mint the same ids.
    static POOL: RefCell<([u8; POOL_LEN], usize)> = const { RefCell::new(([0; POOL_LEN], POOL_LEN)) };
}

/// 128 random bits, base64url: 22 characters.
fn random_jti() -> Result<String, Error> {
    let bytes = POOL.with_borrow_mut(|(pool, used)| {
        if *used == POOL_LEN {
            getrandom::fill(pool)
                .map_err(|e| Error::InvalidLink(format!("the system random source failed: {e}")))?;
            *used = 0;
        }
        let mut bytes = [0u8; JTI_BYTES];
        bytes.copy_from_slice(&pool[*used..*used + JTI_BYTES]);
        *used += JTI_BYTES;
        Ok::<_, Error>(bytes)
    })?;
    Ok(URL_SAFE_NO_PAD.encode_to_string(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(base_url: Option<&str>) -> Issuer {
        Issuer {
            keys: KeyRing::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
            defaults: IssueDefaults {
                ttl: TimeDelta::days(7),
                max_ttl: TimeDelta::days(90).num_seconds(),
                query_param: "rt".into(),
                base_url: base_url.map(String::from),
            },
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000, 0).unwrap()
    }

    #[test]
    fn url_is_target_plus_token_parameter() {
        let link = issuer(None)
            .issue_at(&LinkSpec::new("1", "s", "/a/b"), now())
            .unwrap();
        assert_eq!(link.url, format!("/a/b?rt={}", link.token));
        assert_eq!(link.expires_at, now() + TimeDelta::days(7));

        let link =
            issuer(Some("https://x.example")).issue_at(&LinkSpec::new("1", "s", "/a?b=c"), now());
        let link = link.unwrap();
        assert_eq!(
            link.url,
            format!("https://x.example/a?b=c&rt={}", link.token)
        );
    }

    #[test]
    fn random_jtis_are_128_bits_and_differ() {
        let spec = LinkSpec::new("1", "s", "/a");
        let a = issuer(None).issue_at(&spec, now()).unwrap();
        let b = issuer(None).issue_at(&spec, now()).unwrap();
        assert_eq!(a.jti.len(), 22);
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn bad_targets_are_refused() {
        for target in [
            "unsubscribe/1",
            "//evil.example/x",
            "/a?rt=x",
            "/a b",
            "https://x/a",
        ] {
            let result = issuer(None).issue_at(&LinkSpec::new("1", "s", target), now());
            assert!(
                matches!(result, Err(Error::InvalidLink(_))),
                "{target} was accepted"
            );
        }
        let empty_query = issuer(None)
            .issue_at(&LinkSpec::new("1", "s", "/a?"), now())
            .unwrap();
        assert!(empty_query.url.starts_with("/a?rt="));
    }

    #[test]
    fn links_longer_lived_than_max_ttl_are_not_issued() {
        let spec = |s: LinkSpec| issuer(None).issue_at(&s, now());
        assert!(spec(LinkSpec::new("1", "s", "/a").ttl(TimeDelta::days(90))).is_ok());
        let over =
            spec(LinkSpec::new("1", "s", "/a").ttl(TimeDelta::days(90) + TimeDelta::seconds(1)));
        assert!(
            matches!(&over, Err(Error::InvalidLink(why)) if why.contains("`linktoken.max_ttl` allows 7776000")),
            "{over:?}"
        );
        let far = now() + TimeDelta::days(365);
        assert!(spec(LinkSpec::new("1", "s", "/a").expires_at(far)).is_err());
    }

    #[test]
    fn scopes_follow_the_alphabet_of_expiring_link() {
        let issue = |scope: &str| issuer(None).issue_at(&LinkSpec::new("1", scope, "/a"), now());
        assert!(issue("a-Z_0.9:x/y").is_ok());
        for scope in ["un subscribe", "caf\u{e9}", "a\u{2024}b", "a\tb", "a,b"] {
            let refused = issue(scope);
            assert!(
                matches!(&refused, Err(Error::InvalidLink(why)) if why.contains("may only contain ASCII letters, digits and `_ - . : /`")),
                "{scope:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_fingerprint_is_carried_as_a_keyed_hash() {
        let issuer = issuer(None);
        let spec = LinkSpec::new("1", "s", "/a")
            .jti("j1")
            .fingerprint("ada@example.com");
        let bound = issuer.issue_at(&spec, now()).unwrap();
        let verifier = crate::Verifier::new(issuer.keys.clone(), 5);
        let claims = verifier.authenticate(&bound.token).unwrap();
        let fp = claims.fingerprint_hash().unwrap();
        assert_eq!(fp, issuer.keys.fingerprint_claim("ada@example.com"));
        let payload = URL_SAFE_NO_PAD
            .decode_to_vec(bound.token.split('.').nth(1).unwrap())
            .unwrap();
        assert!(!String::from_utf8(payload).unwrap().contains("example"));

        let unbound = issuer
            .issue_at(&LinkSpec::new("1", "s", "/a"), now())
            .unwrap();
        let claims = verifier.authenticate(&unbound.token).unwrap();
        assert_eq!(claims.fingerprint_hash(), None);
    }

    #[test]
    fn bad_specs_are_refused() {
        let spec = |s: LinkSpec| issuer(None).issue_at(&s, now());
        assert!(spec(LinkSpec::new("", "s", "/a")).is_err());
        assert!(spec(LinkSpec::new("1", "", "/a")).is_err());
        assert!(spec(LinkSpec::new("1", "s", "/a").max_uses(0)).is_err());
        assert!(spec(LinkSpec::new("1", "s", "/a").ttl(TimeDelta::zero())).is_err());
        assert!(matches!(
            spec(LinkSpec::new("1", "s", "/a").ttl(TimeDelta::MAX)),
            Err(Error::InvalidLink(_))
        ));
        assert!(spec(LinkSpec::new("1", "s", "/a").data(serde_json::json!([1]))).is_err());
        assert!(spec(LinkSpec::new("1", "s", "/a").jti("x".repeat(65))).is_err());
    }
}
