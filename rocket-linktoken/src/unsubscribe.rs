//! RFC 8058 one-click unsubscription: the two header values an email carries so that a mail
//! client can unsubscribe with one POST to the link. Pure text, no I/O.

use crate::{Error, Link};

/// The `List-Unsubscribe` and `List-Unsubscribe-Post` header values of an outgoing email, made
/// by [`Link::unsubscribe_headers`].
///
/// A mail client that honours RFC 8058 POSTs `List-Unsubscribe=One-Click` to the https URL, so
/// the link's route must take that POST and spend the link there (the newsletter example's
/// `POST /unsubscribe/<list>` does). RFC 8058 also asks that the email's DKIM signature
/// covers both headers: that is the mailer's part.
///
/// ```
/// use rocket_linktoken::{Issuer, LinkSpec};
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"))
///     .merge(("linktoken.base_url", "https://news.example.com"));
/// let link = Issuer::from_figment(&figment)?.issue(&LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"))?;
/// let headers = link.unsubscribe_headers(Some("unsubscribe@news.example.com"))?;
/// assert_eq!(
///     headers.list_unsubscribe,
///     format!("<{}>, <mailto:unsubscribe@news.example.com>", link.url)
/// );
/// assert_eq!(headers.list_unsubscribe_post, "List-Unsubscribe=One-Click");
/// for (name, value) in headers.iter() {
///     println!("{name}: {value}");
/// }
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeHeaders {
    /// The `List-Unsubscribe` value: the link's https URL in angle brackets, then the `mailto:`
    /// address if one was given.
    pub list_unsubscribe: String,
    /// The `List-Unsubscribe-Post` value: always `List-Unsubscribe=One-Click`.
    pub list_unsubscribe_post: String,
}

impl UnsubscribeHeaders {
    /// The two headers as (name, value) pairs, `List-Unsubscribe` first.
    ///
    /// ```
    /// # use rocket_linktoken::{Issuer, LinkSpec};
    /// # let figment = rocket::Config::figment()
    /// #     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"))
    /// #     .merge(("linktoken.base_url", "https://news.example.com"));
    /// # let link = Issuer::from_figment(&figment)?.issue(&LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"))?;
    /// let names: Vec<_> = link.unsubscribe_headers(None)?.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["List-Unsubscribe", "List-Unsubscribe-Post"]);
    /// # Ok::<(), rocket_linktoken::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("List-Unsubscribe", self.list_unsubscribe.as_str()),
            ("List-Unsubscribe-Post", self.list_unsubscribe_post.as_str()),
        ]
        .into_iter()
    }
}

/// Why one-click unsubscription needs what it refuses: said once, at the front of every refusal.
const NEEDS: &str = "one-click unsubscribe headers (RFC 8058) need";

impl Link {
    /// The RFC 8058 headers for an email carrying this link as its unsubscribe link, with an
    /// optional `mailto:` address besides (`unsubscribe@news.example.com`, or a whole `mailto:`
    /// URI such as `mailto:unsubscribe@news.example.com?subject=list-7`).
    ///
    /// Refused ([`Error::InvalidLink`]) when the link's URL is not absolute https (set
    /// `linktoken.base_url` to the site's https address), and when the address could break out
    /// of the header: it may not hold whitespace, control characters, `<`, `>` or `,`.
    ///
    /// ```
    /// use rocket_linktoken::{Error, Issuer, LinkSpec};
    ///
    /// let figment = rocket::Config::figment()
    ///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
    /// let relative = Issuer::from_figment(&figment)?.issue(&LinkSpec::new("42", "unsubscribe", "/unsubscribe/7"))?;
    /// let refused = relative.unsubscribe_headers(None).unwrap_err();
    /// assert!(matches!(refused, Error::InvalidLink(_)));
    /// assert!(refused.to_string().contains("set `linktoken.base_url`"));
    /// # Ok::<(), rocket_linktoken::Error>(())
    /// ```
    pub fn unsubscribe_headers(&self, mailto: Option<&str>) -> Result<UnsubscribeHeaders, Error> {
        let url = https_url(&self.url)?;
        let mut list_unsubscribe = format!("<{url}>");
        if let Some(mailto) = mailto {
            list_unsubscribe.push_str(&format!(", <{}>", mailto_uri(mailto)?));
        }
        Ok(UnsubscribeHeaders {
            list_unsubscribe,
            list_unsubscribe_post: "List-Unsubscribe=One-Click".into(),
        })
    }
}

/// The URL as it is, once it is known to be absolute https and safe between angle brackets.
fn https_url(url: &str) -> Result<&str, Error> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::InvalidLink(format!(
            "{NEEDS} an absolute https URL, and this link's is relative: set \
             `linktoken.base_url` to the site's https address"
        )));
    };
    // The origin only: the rest of the URL carries the token, which errors must not repeat.
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("https") || host.is_empty() {
        return Err(Error::InvalidLink(format!(
            "{NEEDS} an absolute https URL, and this link's is on `{scheme}://{host}`: set \
             `linktoken.base_url` to the site's https address"
        )));
    }
    if let Some(bad) = url.chars().find(|&c| breaks_header(c)) {
        return Err(Error::InvalidLink(format!(
            "{NEEDS} a URL that fits between angle brackets, and this link's holds {bad:?}"
        )));
    }
    Ok(url)
}

/// `mailto:` and the address, refusing anything that could end the URL or the header early.
fn mailto_uri(mailto: &str) -> Result<String, Error> {
    let address = match mailto.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &mailto[7..],
        _ => mailto,
    };
    if let Some(bad) = address.chars().find(|&c| breaks_header(c)) {
        return Err(Error::InvalidLink(format!(
            "{NEEDS} a mailto address without whitespace, control characters, `<`, `>` or `,`; \
             found {bad:?}"
        )));
    }
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            Ok(format!("mailto:{address}"))
        }
        _ => Err(Error::InvalidLink(format!(
            "{NEEDS} a mailto address such as `unsubscribe@news.example.com`, not {address:?}"
        ))),
    }
}

/// Characters that would end a bracketed URL, split the header's list, or fold or end the
/// header itself.
fn breaks_header(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn link(url: &str) -> Link {
        Link {
            token: "t".into(),
            url: url.into(),
            jti: "j".into(),
            expires_at: Utc::now(),
        }
    }

    fn refusal(url: &str, mailto: Option<&str>) -> String {
        match link(url).unsubscribe_headers(mailto) {
            Err(Error::InvalidLink(why)) => why,
            other => panic!("{url} {mailto:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn an_https_link_makes_both_headers() {
        let url = "https://news.example.com/unsubscribe/7?rt=ey.x.y";
        let headers = link(url).unsubscribe_headers(None).unwrap();
        assert_eq!(
            headers,
            UnsubscribeHeaders {
                list_unsubscribe: format!("<{url}>"),
                list_unsubscribe_post: "List-Unsubscribe=One-Click".into(),
            }
        );
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            [
                ("List-Unsubscribe", format!("<{url}>").as_str()),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ]
        );
        let upper = link("HTTPS://news.example.com/u?rt=t")
            .unsubscribe_headers(None)
            .unwrap();
        assert_eq!(upper.list_unsubscribe, "<HTTPS://news.example.com/u?rt=t>");
    }

    #[test]
    fn a_mailto_address_follows_the_url_with_its_scheme_once() {
        let url = "https://news.example.com/u?rt=t";
        for (given, written) in [
            ("leave@news.example.com", "mailto:leave@news.example.com"),
            (
                "mailto:leave@news.example.com?subject=list-7",
                "mailto:leave@news.example.com?subject=list-7",
            ),
            (
                "MAILTO:leave@news.example.com",
                "mailto:leave@news.example.com",
            ),
        ] {
            let headers = link(url).unsubscribe_headers(Some(given)).unwrap();
            assert_eq!(headers.list_unsubscribe, format!("<{url}>, <{written}>"));
        }
    }

    #[test]
    fn relative_and_plain_http_links_are_refused_without_their_token() {
        let relative = refusal("/unsubscribe/7?rt=secret-token", None);
        assert_eq!(
            relative,
            "one-click unsubscribe headers (RFC 8058) need an absolute https URL, and this \
             link's is relative: set `linktoken.base_url` to the site's https address"
        );
        let http = refusal("http://localhost:8000/unsubscribe/7?rt=secret-token", None);
        assert_eq!(
            http,
            "one-click unsubscribe headers (RFC 8058) need an absolute https URL, and this \
             link's is on `http://localhost:8000`: set `linktoken.base_url` to the site's https \
             address"
        );
        assert!(refusal("https:///unsubscribe/7", None).contains("`https://`"));
        assert!(!refusal("ftp://x/u?rt=secret-token", None).contains("secret-token"));
    }

    #[test]
    fn a_url_that_would_break_the_header_is_refused() {
        for url in ["https://x/u?a=1,2", "https://x/u>", "https://x/u\r\nBcc: y"] {
            assert!(
                refusal(url, None).contains("fits between angle brackets"),
                "{url:?}"
            );
        }
    }

    #[test]
    fn a_mailto_that_could_inject_a_header_or_a_url_is_refused() {
        let url = "https://news.example.com/u?rt=t";
        for mailto in [
            "a@x\r\nBcc: victim@example.com",
            "a@x\nBcc: victim@example.com",
            "a@x>, <https://evil.example/",
            "a@x,b@y",
            "<a@x>",
            "a @x",
            "a@x\u{0}",
        ] {
            assert!(
                refusal(url, Some(mailto)).contains("a mailto address without whitespace"),
                "{mailto:?}"
            );
        }
        for mailto in ["", "mailto:", "nobody", "@x", "a@"] {
            assert!(
                refusal(url, Some(mailto)).contains("a mailto address such as"),
                "{mailto:?}"
            );
        }
    }
}
