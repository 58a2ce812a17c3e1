//! The `[linktoken]` configuration, read from Rocket's figment.

use std::fmt;

use chrono::TimeDelta;
use rocket::figment::Figment;
use serde::Deserialize;

use crate::link::IssueDefaults;
use crate::{Error, Issuer, KeyRing, Verifier};

/// Most clock skew accepted, in seconds: leeway lengthens every link's life and widens user
/// revocations, so it stays small.
const MAX_LEEWAY: u32 = 300;

/// The `linktoken` table of Rocket's configuration (`Rocket.toml`, or `ROCKET_LINKTOKEN`).
///
/// ```toml
/// [default.linktoken]
/// secret = "at least 32 bytes, from a secret store"   # or: keys = [{ id = "2026-11", secret = "..." }]
/// query_param = "rt"              # the query parameter that carries the token
/// base_url = "https://news.example.com"   # makes issued URLs absolute
/// default_ttl = 604800            # seconds a link lives unless told otherwise (7 days)
/// default_max_uses = 1            # uses a route allows unless its attribute says
/// leeway = 5                      # seconds of clock skew tolerated on exp and nbf
/// max_ttl = 7776000               # longest lifetime (exp - iat) a link may have (90 days)
/// ignore_params = ["utm_*", "fbclid"]   # left out when comparing a request's target with a link's
/// client_ip_header = "X-Real-IP"  # only behind a proxy that sets it; the socket address otherwise
/// ```
#[derive(Clone, Deserialize)]
pub struct Config {
    secret: Option<String>,
    keys: Option<Vec<KeyConfig>>,
    #[serde(default = "defaults::query_param")]
    query_param: String,
    base_url: Option<String>,
    #[serde(default = "defaults::ttl")]
    default_ttl: u32,
    #[serde(default = "defaults::max_uses")]
    default_max_uses: u32,
    #[serde(default = "defaults::leeway")]
    leeway: u32,
    #[serde(default = "defaults::max_ttl")]
    max_ttl: u32,
    client_ip_header: Option<String>,
    #[serde(default = "defaults::ignore_params")]
    ignore_params: Vec<String>,
}

#[derive(Clone, Deserialize)]
struct KeyConfig {
    id: String,
    secret: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets never reach a log: whether one is set and the key ids, as `KeyRing` shows.
        let keys = self
            .keys
            .as_ref()
            .map(|keys| keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>());
        f.debug_struct("Config")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("keys", &keys)
            .field("query_param", &self.query_param)
            .field("base_url", &self.base_url)
            .field("default_ttl", &self.default_ttl)
            .field("default_max_uses", &self.default_max_uses)
            .field("leeway", &self.leeway)
            .field("max_ttl", &self.max_ttl)
            .field("client_ip_header", &self.client_ip_header)
            .field("ignore_params", &self.ignore_params)
            .finish()
    }
}

mod defaults {
    pub(super) fn query_param() -> String {
        "rt".into()
    }
    pub(super) fn ttl() -> u32 {
        7 * 24 * 60 * 60
    }
    pub(super) fn max_uses() -> u32 {
        1
    }
    pub(super) fn leeway() -> u32 {
        5
    }
    pub(super) fn ignore_params() -> Vec<String> {
        crate::target::TRACKING_PARAMS.map(String::from).to_vec()
    }
    pub(super) fn max_ttl() -> u32 {
        crate::verify::DEFAULT_MAX_TTL
    }
}

/// The token parameter `figment` names, for a reader that needs nothing else (the redacting
/// logger, built before Rocket reads its configuration): the default when unset, as for the
/// fairing; the default too when it is not a string, since the fairing then refuses to launch.
pub(crate) fn query_param_in(figment: &Figment) -> String {
    figment
        .extract_inner("linktoken.query_param")
        .unwrap_or_else(|_| defaults::query_param())
}

fn missing_secret() -> Error {
    Error::Config(
        "`linktoken.secret` is not set (give a secret of at least 32 bytes, or `linktoken.keys`)"
            .into(),
    )
}

impl Config {
    /// Reads and checks `linktoken` from a figment; the error names the setting at fault.
    pub fn from_figment(figment: &Figment) -> Result<Config, Error> {
        if !figment.contains("linktoken") {
            return Err(missing_secret());
        }
        let config: Config = figment
            .extract_inner("linktoken")
            .map_err(|e| Error::Config(format!("`linktoken`: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Error> {
        self.key_ring()?;
        let param_ok = !self.query_param.is_empty()
            && self
                .query_param
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !param_ok {
            return Err(Error::Config(
                "`linktoken.query_param` must be letters, digits, `-`, `_` or `.`".into(),
            ));
        }
        if let Some(base) = &self.base_url {
            let ok = (base.starts_with("https://") || base.starts_with("http://"))
                && !base.contains(['?', '#', ' ']);
            if !ok {
                return Err(Error::Config(format!(
                    "`linktoken.base_url` must be an http(s) URL such as `https://news.example.com`, not `{base}`"
                )));
            }
        }
        if self.default_ttl == 0 {
            return Err(Error::Config(
                "`linktoken.default_ttl` must be at least 1 second".into(),
            ));
        }
        for name in &self.ignore_params {
            let stem = name.strip_suffix('*').unwrap_or(name);
            let ok = !stem.is_empty()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(Error::Config(format!(
                    "`linktoken.ignore_params` has `{name}`; give parameter names (letters, digits, `-`, `_`, `.`), each optionally ending in `*`, and never `*` alone"
                )));
            }
        }
        if self.default_ttl > self.max_ttl {
            return Err(Error::Config(format!(
                "`linktoken.default_ttl` ({} seconds) is longer than `linktoken.max_ttl` ({} seconds)",
                self.default_ttl, self.max_ttl
            )));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(Error::Config(format!(
                "`linktoken.leeway` is {} seconds; at most {MAX_LEEWAY} (it lengthens every link's life)",
                self.leeway
            )));
        }
        if self.default_max_uses == 0 {
            return Err(Error::Config(
                "`linktoken.default_max_uses` must be at least 1".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn key_ring(&self) -> Result<KeyRing, Error> {
        let named = |keys: &[KeyConfig]| {
            KeyRing::new(
                keys.iter()
                    .map(|k| (k.id.clone(), k.secret.as_bytes().to_vec()))
                    .collect(),
            )
        };
        match (&self.secret, &self.keys) {
            // Keys rotated in through the environment while the configuration file still has
            // the secret: the keys sign, and the secret keeps verifying the links it signed.
            (Some(secret), Some(keys)) => named(keys)?.with_unnamed_secret(secret.as_bytes()),
            (Some(secret), None) => KeyRing::from_secret(secret.as_bytes()),
            (None, Some(keys)) => named(keys),
            (None, None) => Err(missing_secret()),
        }
    }

    pub(crate) fn issuer(&self) -> Result<Issuer, Error> {
        Ok(Issuer {
            keys: self.key_ring()?,
            defaults: IssueDefaults {
                ttl: TimeDelta::seconds(i64::from(self.default_ttl)),
                max_ttl: i64::from(self.max_ttl),
                query_param: self.query_param.clone(),
                base_url: self
                    .base_url
                    .as_ref()
                    .map(|b| b.trim_end_matches('/').to_string()),
            },
        })
    }

    pub(crate) fn verifier(&self) -> Result<Verifier, Error> {
        Ok(Verifier::new(self.key_ring()?, self.leeway)
            .with_max_ttl(self.max_ttl)
            .with_ignored_params(self.ignore_params.iter().cloned()))
    }

    /// The query parameter that carries the token.
    pub fn query_param(&self) -> &str {
        &self.query_param
    }

    /// Seconds of clock skew tolerated.
    pub fn leeway(&self) -> u32 {
        self.leeway
    }

    /// Uses a route allows when its attribute does not say.
    pub fn default_max_uses(&self) -> u32 {
        self.default_max_uses
    }

    /// The request header holding the client's address, when a trusted proxy sets it.
    pub fn client_ip_header(&self) -> Option<&str> {
        self.client_ip_header.as_deref()
    }
}

impl Issuer {
    /// The issuer the `linktoken` configuration in `figment` describes.
    pub fn from_figment(figment: &Figment) -> Result<Issuer, Error> {
        Config::from_figment(figment)?.issuer()
    }
}

impl Verifier {
    /// The verifier the `linktoken` configuration in `figment` describes.
    pub fn from_figment(figment: &Figment) -> Result<Verifier, Error> {
        Config::from_figment(figment)?.verifier()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Error> {
        let mut figment = Figment::new();
        for (key, value) in pairs {
            figment = figment.merge((*key, *value));
        }
        Config::from_figment(&figment)
    }

    fn message(result: Result<Config, Error>) -> String {
        result
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn no_secret_names_the_setting() {
        assert!(message(config(&[])).contains("`linktoken.secret` is not set"));
        let other = message(config(&[("linktoken.base_url", "https://x")]));
        assert!(other.contains("`linktoken.secret` is not set"), "{other}");
    }

    #[test]
    fn short_secret_names_the_setting() {
        let m = message(config(&[("linktoken.secret", "too short")]));
        assert!(
            m.contains("`linktoken.secret` is 9 bytes long; it must be at least 32"),
            "{m}"
        );
    }

    #[test]
    fn defaults_match_the_design() {
        let c = config(&[("linktoken.secret", SECRET)]).unwrap();
        assert_eq!(
            (
                c.query_param(),
                c.default_ttl,
                c.default_max_uses,
                c.leeway,
                c.max_ttl
            ),
            ("rt", 604_800, 1, 5, 7_776_000)
        );
        assert_eq!(c.client_ip_header(), None);
        assert_eq!(
            c.ignore_params,
            ["utm_*", "fbclid", "gclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi"]
        );
    }

    #[test]
    fn other_settings_are_checked() {
        let bad = |key: &str, value: serde_json::Value| {
            message(Config::from_figment(
                &Figment::new()
                    .merge(("linktoken.secret", SECRET))
                    .merge((key, value)),
            ))
        };
        let cases: [(&str, serde_json::Value, &str); 9] = [
            (
                "linktoken.ignore_params",
                serde_json::json!(["utm_*", "*"]),
                "`linktoken.ignore_params` has `*`",
            ),
            (
                "linktoken.ignore_params",
                serde_json::json!(["a b"]),
                "`linktoken.ignore_params` has `a b`",
            ),
            (
                "linktoken.max_ttl",
                86_400.into(),
                "`linktoken.default_ttl` (604800 seconds) is longer than `linktoken.max_ttl` (86400 seconds)",
            ),
            (
                "linktoken.base_url",
                "news.example.com".into(),
                "`linktoken.base_url` must be an http(s) URL",
            ),
            (
                "linktoken.query_param",
                "r t".into(),
                "`linktoken.query_param` must be letters",
            ),
            (
                "linktoken.default_max_uses",
                0.into(),
                "`linktoken.default_max_uses` must be at least 1",
            ),
            (
                "linktoken.default_ttl",
                0.into(),
                "`linktoken.default_ttl` must be at least 1 second",
            ),
            (
                "linktoken.leeway",
                (-1).into(),
                "`linktoken`: invalid value",
            ),
            (
                "linktoken.leeway",
                301.into(),
                "`linktoken.leeway` is 301 seconds",
            ),
        ];
        for (key, value, expected) in cases {
            let got = bad(key, value);
            assert!(got.contains(expected), "{key}: {got}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let single = config(&[("linktoken.secret", SECRET)]).unwrap();
        let shown = format!("{single:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains(r#"secret: Some("<redacted>")"#), "{shown}");

        let other = "another-secret-of-at-least-32-bytes!!";
        let figment = Figment::new().merge((
            "linktoken.keys",
            vec![serde_json::json!({ "id": "2026-11", "secret": other })],
        ));
        let named = format!("{:?}", Config::from_figment(&figment).unwrap());
        assert!(!named.contains(other), "{named}");
        assert!(named.contains(r#"keys: Some(["2026-11"])"#), "{named}");
    }

    #[test]
    fn keys_list_signs_with_the_first() {
        let figment = Figment::new().merge((
            "linktoken.keys",
            vec![
                serde_json::json!({ "id": "new", "secret": SECRET }),
                serde_json::json!({ "id": "old", "secret": SECRET }),
            ],
        ));
        let ring = Config::from_figment(&figment).unwrap().key_ring().unwrap();
        assert_eq!(ring.signing_key_id(), Some("new"));
    }

    #[test]
    fn keys_from_the_environment_sign_and_the_secret_beside_them_verifies_links_without_kid() {
        use rocket::figment::providers::{Format, Toml};
        use rocket::figment::value::Value;

        let rotated = "a-rotated-secret-of-at-least-32-bytes";
        // Rocket.toml keeps a development secret; ROCKET_LINKTOKEN brings named keys, parsed
        // as figment parses environment values.
        let toml = format!("[debug.linktoken]\nsecret = \"{SECRET}\"\n");
        let env: Value = format!(r#"{{keys=[{{id="2026-11",secret="{rotated}"}}]}}"#)
            .parse()
            .unwrap();
        let figment = Figment::from(Toml::string(&toml).nested())
            .merge(("linktoken", env))
            .select("debug");
        let issuer = Issuer::from_figment(&figment).unwrap();
        let verifier = Verifier::from_figment(&figment).unwrap();

        let here = crate::Expected {
            scope: "s",
            target: "/a",
        };
        let now = chrono::Utc::now().timestamp();
        let spec = crate::LinkSpec::new("1", "s", "/a");
        let new_link = issuer.issue(&spec).unwrap();
        assert_eq!(issuer.keys.signing_key_id(), Some("2026-11"));
        let rotated_only = Verifier::new(
            KeyRing::new(vec![("2026-11".into(), rotated.as_bytes().to_vec())]).unwrap(),
            5,
        );
        assert!(rotated_only.verify(&new_link.token, &here, now).is_ok());

        let old_issuer = Issuer::from_figment(&Figment::new().merge(("linktoken.secret", SECRET)));
        let old_link = old_issuer.unwrap().issue(&spec).unwrap();
        assert!(verifier.verify(&old_link.token, &here, now).is_ok());
        assert!(verifier.verify(&new_link.token, &here, now).is_ok());
        assert!(rotated_only.verify(&old_link.token, &here, now).is_err());
    }
}
