//! The one error type of the library: every refusal, with its HTTP status and a sentence.

use std::fmt;
use std::sync::Arc;

use rocket::http::Status;

/// Everything that can go wrong with a link, from parsing it to recording its use.
///
/// Each variant maps to one HTTP status ([`Error::status`]) and one short machine name
/// ([`Error::code`], also written to the `outcome` column of `linktoken_uses`). Its `Display`
/// is a sentence meant for the person who clicked the link.
///
/// ```
/// use rocket::http::Status;
/// use rocket_linktoken::Error;
///
/// assert_eq!(Error::UsedUp.status(), Status::Gone);
/// assert_eq!(Error::UsedUp.code(), "used_up");
/// assert_eq!(Error::WrongScope.status(), Status::Forbidden);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The token is not three base64url segments with a JSON object header, or a header
    /// parameter has the wrong JSON type.
    Malformed,
    /// The token is longer than any link this library makes.
    TooLong,
    /// A claim is missing, of the wrong JSON type, or out of range.
    InvalidClaim(&'static str),
    /// The request carries the token parameter more than once.
    DuplicateToken,
    /// The request carries no token.
    MissingToken,
    /// The header names an algorithm other than HS256 (including `none`).
    UnsupportedAlgorithm,
    /// The header names a key id that no configured key has.
    UnknownKey,
    /// The header carries `crit` extensions, or parameters that would change the key or the
    /// payload's meaning (`jku`, `jwk`, `x5u`, `x5c`, `x5t`, `x5t#S256`, `b64`), which this
    /// library does not implement.
    CriticalHeader,
    /// The signature does not match any configured key.
    BadSignature,
    /// The token was made for another kind of action.
    WrongScope,
    /// The token's lifetime (`exp - iat`) is longer than `max_ttl`: not a link this site makes.
    LifetimeTooLong,
    /// The token was made for another URL.
    WrongTarget,
    /// The token names a user the application does not know.
    UnknownUser,
    /// The token's `nbf` is still in the future.
    NotYetValid,
    /// The token's `exp` has passed.
    Expired,
    /// Every use the link allows has been spent.
    UsedUp,
    /// Every use the link allows is held by a request still being answered (here or on another
    /// server sharing the database), which may yet give it back: try again in a moment.
    InFlight,
    /// The link, or every link of its user, was revoked.
    Revoked,
    /// The link was bound to its user's fingerprint, which has changed since (or is gone).
    Invalidated,
    /// A link cannot be issued as asked (the reason says why).
    InvalidLink(String),
    /// The configuration is unusable (the text names the setting).
    Config(String),
    /// The application's user loader failed.
    UserLoad(Arc<dyn std::error::Error + Send + Sync>),
    /// The ledger's database failed; the request is refused (503), never let through.
    Database(Arc<rocket_db_pools::sqlx::Error>),
}

impl Error {
    /// The HTTP status a request refused with this error is answered with.
    ///
    /// 400 for malformed input, 403 for tokens that never applied here, 410 for tokens that
    /// applied once and no longer do, 409 while the last use is held by a request still being
    /// answered, 503 when the ledger cannot be reached (the link is
    /// refused, never let through unspent), 500 for other failures of the server itself.
    pub fn status(&self) -> Status {
        match self {
            Error::Malformed | Error::TooLong | Error::InvalidClaim(_) | Error::DuplicateToken => {
                Status::BadRequest
            }
            Error::MissingToken
            | Error::UnsupportedAlgorithm
            | Error::UnknownKey
            | Error::CriticalHeader
            | Error::BadSignature
            | Error::WrongScope
            | Error::LifetimeTooLong
            | Error::WrongTarget
            | Error::UnknownUser
            | Error::NotYetValid => Status::Forbidden,
            Error::Expired | Error::UsedUp | Error::Revoked | Error::Invalidated => Status::Gone,
            Error::InFlight => Status::Conflict,
            Error::InvalidLink(_) | Error::Config(_) | Error::UserLoad(_) => {
                Status::InternalServerError
            }
            Error::Database(_) => Status::ServiceUnavailable,
        }
    }

    /// Seconds a client should wait before trying again, for refusals that say nothing about
    /// the link itself (sent as `Retry-After`).
    ///
    /// ```
    /// # use rocket_linktoken::Error;
    /// assert_eq!(Error::UsedUp.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Error::Database(_) => Some(5),
            Error::InFlight => Some(1),
            _ => None,
        }
    }

    /// Whether every error of this kind reads the same (for the refusal pages kept in memory):
    /// not those carrying text from the application or a caller.
    pub(crate) fn reads_the_same(&self) -> bool {
        !matches!(
            self,
            Error::InvalidLink(_) | Error::Config(_) | Error::UserLoad(_)
        )
    }

    /// A short, stable, snake_case name for the error: for JSON bodies, logs and the
    /// `outcome` column.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed => "malformed",
            Error::TooLong => "too_long",
            Error::InvalidClaim(_) => "invalid_claim",
            Error::DuplicateToken => "duplicate_token",
            Error::MissingToken => "missing_token",
            Error::UnsupportedAlgorithm => "unsupported_algorithm",
            Error::UnknownKey => "unknown_key",
            Error::CriticalHeader => "critical_header",
            Error::BadSignature => "bad_signature",
            Error::WrongScope => "wrong_scope",
            Error::LifetimeTooLong => "lifetime_too_long",
            Error::WrongTarget => "wrong_target",
            Error::UnknownUser => "unknown_user",
            Error::NotYetValid => "not_yet_valid",
            Error::Expired => "expired",
            Error::UsedUp => "used_up",
            Error::InFlight => "in_flight",
            Error::Revoked => "revoked",
            Error::Invalidated => "invalidated",
            Error::InvalidLink(_) => "invalid_link",
            Error::Config(_) => "config",
            Error::UserLoad(_) => "user_load",
            Error::Database(_) => "database",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed => f.write_str("This link is damaged: its token cannot be read."),
            Error::TooLong => f.write_str("This link is damaged: its token is far too long."),
            Error::InvalidClaim(claim) => write!(
                f,
                "This link is damaged: its `{claim}` claim is missing or of the wrong type."
            ),
            Error::DuplicateToken => f.write_str("This request carries more than one link token."),
            Error::MissingToken => f.write_str("This page can only be opened from a link."),
            Error::UnsupportedAlgorithm => {
                f.write_str("This link was not signed the way this site signs links.")
            }
            Error::UnknownKey => {
                f.write_str("This link was signed with a key this site does not have.")
            }
            Error::CriticalHeader => {
                f.write_str("This link asks for token features this site does not support.")
            }
            Error::BadSignature => {
                f.write_str("This link was not made by this site, or was altered.")
            }
            Error::WrongScope => f.write_str("This link was made for a different action."),
            Error::LifetimeTooLong => {
                f.write_str("This link was made to last longer than this site allows.")
            }
            Error::WrongTarget => f.write_str("This link was made for a different page."),
            Error::UnknownUser => f.write_str("This link is for an account that does not exist."),
            Error::NotYetValid => f.write_str("This link cannot be used yet."),
            Error::Expired => f.write_str("This link has expired."),
            Error::UsedUp => f.write_str("This link has already been used."),
            Error::InFlight => f.write_str(
                "This link is being used by another request right now. Please try again in a moment.",
            ),
            Error::Revoked => f.write_str("This link has been withdrawn."),
            Error::Invalidated => {
                f.write_str("This link no longer applies: the account changed since it was sent.")
            }
            Error::InvalidLink(why) => write!(f, "A link could not be made: {why}."),
            Error::Config(why) => write!(f, "rocket-linktoken is misconfigured: {why}."),
            Error::UserLoad(e) => write!(f, "The link's user could not be loaded: {e}."),
            Error::Database(_) => {
                f.write_str("This link cannot be checked right now. Please try again in a moment.")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::UserLoad(e) => Some(&**e),
            Error::Database(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<rocket_db_pools::sqlx::Error> for Error {
    fn from(e: rocket_db_pools::sqlx::Error) -> Self {
        Error::Database(Arc::new(e))
    }
}

/// A handler may return `Result<_, Error>`: the error answers with its status, through the
/// application's catcher for it (or the library's refusal page).
impl<'r> rocket::response::Responder<'r, 'static> for Error {
    fn respond_to(self, _: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        if self.status().code >= 500 {
            match std::error::Error::source(&self) {
                Some(source) => rocket::error!("rocket-linktoken: {self} ({source})"),
                None => rocket::error!("rocket-linktoken: {self}"),
            }
        }
        Err(self.status())
    }
}
