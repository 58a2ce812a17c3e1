//! `linktoken inspect`: what a token says, whether this site would let it through, and what
//! the ledger holds of it.

use std::fmt::Write as _;
use std::process::ExitCode;

use base64_simd::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rocket::figment::Figment;
use rocket_linktoken::{Claims, Config, Error, Expected, Ledger, Verifier};

use crate::{database, library_failure, stamp, Done, Failure};

/// The exit status of an inspection whose link would be refused.
const REFUSED: u8 = 3;

pub(crate) async fn inspect(
    figment: &Figment,
    database: Option<&str>,
    given: &str,
) -> Result<Done, Failure> {
    let config = Config::from_figment(figment).map_err(library_failure)?;
    let token = token_in(given, config.query_param())?;
    let (header, claims) =
        decode(token).map_err(|why| Failure::Usage(format!("malformed token: {why}")))?;
    let verifier = Verifier::from_figment(figment).map_err(library_failure)?;
    let ledger = database::connect(figment, database)
        .await?
        .with_skew(config.leeway());
    database::require_tables(&ledger).await?;

    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<11}{value}");
    };
    line("header", &header);
    line("jti", claims.jti());
    line("user", claims.sub());
    line("scope", claims.scope());
    line("target", claims.aud());
    line("issued", &unix(claims.issued_at()));
    line("expires", &unix(claims.expires_at()));
    if let Some(nbf) = claims.not_before() {
        line("not before", &unix(nbf));
    }
    if let Some(uses) = claims.max_uses() {
        line("max uses", &uses.to_string());
    }
    if claims.fingerprint_hash().is_some() {
        line("bound", "to its user's fingerprint (not checked here)");
    }
    if !claims.data().is_empty() {
        line(
            "data",
            &serde_json::Value::Object(claims.data().clone()).to_string(),
        );
    }
    let signature = verifier.authenticate(token);
    line("signature", &verdict(signature.as_ref().map(|_| ())));
    let verdict_now = match &signature {
        Err(e) => Err(e.clone()),
        Ok(genuine) => now_verdict(&verifier, &ledger, genuine).await?,
    };
    line("verdict", &verdict(verdict_now.as_ref().copied()));
    out += &ledger_lines(&ledger, claims.jti()).await?;
    Ok(Done {
        output: out,
        status: match verdict_now {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(REFUSED),
        },
    })
}

/// The token itself, or the one a URL carries in its `query_param`.
fn token_in<'a>(given: &'a str, query_param: &str) -> Result<&'a str, Failure> {
    let Some((_, query)) = given.split_once('?') else {
        return Ok(given);
    };
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(query_param)?.strip_prefix('='))
        .ok_or_else(|| {
            Failure::Usage(format!(
                "malformed token: the URL carries no `{query_param}` parameter"
            ))
        })
}

/// The header's JSON and the claims, read without checking the signature.
fn decode(token: &str) -> Result<(String, Claims), String> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a token is three base64url segments joined by dots".into());
    };
    let segment = |text: &str, name: &str| {
        URL_SAFE_NO_PAD
            .decode_to_vec(text)
            .map_err(|_| format!("its {name} is not base64url"))
    };
    let header = String::from_utf8_lossy(&segment(header, "header")?).into_owned();
    let claims = Claims::from_json(&segment(payload, "payload")?).map_err(|e| e.to_string())?;
    Ok((header, claims))
}

/// Whether a genuine link would be let through now: its time, then the ledger.
async fn now_verdict(
    verifier: &Verifier,
    ledger: &Ledger,
    claims: &Claims,
) -> Result<Result<(), Error>, Failure> {
    let own_route = Expected {
        scope: claims.scope(),
        target: claims.aud(),
    };
    if let Err(e) = verifier.check(claims, &own_route, Utc::now().timestamp()) {
        return Ok(Err(e));
    }
    match ledger.check(claims).await {
        Err(e @ Error::Database(_)) => Err(library_failure(e)),
        answer => Ok(answer),
    }
}

fn verdict(answer: Result<(), &Error>) -> String {
    match answer {
        Ok(()) => "valid".into(),
        Err(e) => format!("refused: {} ({e})", e.code()),
    }
}

/// The link's row of `linktoken_tokens` and its attempts.
async fn ledger_lines(ledger: &Ledger, jti: &str) -> Result<String, Failure> {
    let token = ledger.token(jti).await.map_err(library_failure)?;
    let uses = ledger.uses(jti).await.map_err(library_failure)?;
    let mut out = String::new();
    let at = |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".into(), stamp);
    match token {
        None => out += "ledger     no row: never used, never revoked by id\n",
        Some(row) => {
            let cap = row.max_uses.map_or_else(|| "-".into(), |n| n.to_string());
            let _ = writeln!(
                out,
                "ledger     uses {} of {cap}; first used {}; last used {}; revoked {}",
                row.uses,
                at(row.first_used_at),
                at(row.last_used_at),
                at(row.revoked_at)
            );
        }
    }
    if uses.is_empty() {
        out += "uses       none\n";
    } else {
        out += "uses\n";
    }
    for attempt in uses {
        let status = attempt.status.map_or_else(|| "-".into(), |s| s.to_string());
        let _ = writeln!(
            out,
            "  #{} {} {} {} {status} {} from {}",
            attempt.id,
            stamp(attempt.used_at),
            attempt.method,
            attempt.path,
            attempt.outcome,
            attempt.client_ip.as_deref().unwrap_or("-")
        );
    }
    Ok(out)
}

/// Unix seconds as RFC 3339, or the number itself when it is no time.
fn unix(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0).map_or_else(|| secs.to_string(), stamp)
}
