//! Request paths for the benchmark: plain ones, genuine links to the guarded route, and forged
//! links that the server refuses before any database work.

use rocket::figment::Figment;
use rocket_linktoken::{Error, Issuer, LinkSpec};

/// A secret the server never has: links signed with it are well formed and fail the signature.
const FORGER_SECRET: &str = "a-forger-secret-the-bench-server-never-has";

/// Which paths [`links`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/plain/<n>`, no token.
    Plain,
    /// `/guarded/<n>` with a genuine link (10^9 uses on that route: never used up).
    Guarded,
    /// `/guarded/<n>` with a link of the right shape, scope and target, signed by another key:
    /// refused with 403 for its signature.
    Forged,
}

/// `count` request paths of this kind, in origin form, for `n` = 0, 1, ...: one distinct link
/// each. Genuine links are signed with the `linktoken` keys of `figment` (the server's).
///
/// ```
/// use bench::{links, Kind};
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
/// let paths = links(&figment, Kind::Guarded, 2)?;
/// assert!(paths[0].starts_with("/guarded/0?rt=ey"));
/// assert!(paths[1].starts_with("/guarded/1?rt=ey"));
/// assert_eq!(links(&figment, Kind::Plain, 1)?, ["/plain/0"]);
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
pub fn links(figment: &Figment, kind: Kind, count: u32) -> Result<Vec<String>, Error> {
    let issuer = match kind {
        Kind::Plain => return Ok((0..count).map(|n| format!("/plain/{n}")).collect()),
        Kind::Guarded => Issuer::from_figment(figment)?,
        Kind::Forged => {
            let mut forger = Figment::new().merge(("linktoken.secret", FORGER_SECRET));
            if let Ok(param) = figment.extract_inner::<String>("linktoken.query_param") {
                forger = forger.merge(("linktoken.query_param", param));
            }
            Issuer::from_figment(&forger)?
        }
    };
    (0..count)
        .map(|n| {
            let target = format!("/guarded/{n}");
            let link = issuer.issue(&LinkSpec::new(n.to_string(), crate::SCOPE, target))?;
            Ok(origin_form(&link.url).to_string())
        })
        .collect()
}

/// The path and query of a URL: issued URLs are absolute when `linktoken.base_url` is set, and
/// a load generator wants them relative to the server it is given.
fn origin_form(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_lose_their_origin() {
        assert_eq!(origin_form("https://x.example/a?rt=t"), "/a?rt=t");
        assert_eq!(origin_form("/a?rt=t"), "/a?rt=t");
    }
}
