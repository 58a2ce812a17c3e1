//! The key ring: which secret signs new links, and which secrets still verify old ones.

use std::fmt;
use std::sync::Arc;

use base64_simd::{AsOut as _, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{header, Error};

/// Shortest secret accepted, in bytes: HS256 keys shorter than the hash output weaken it.
pub const MIN_SECRET_LEN: usize = 32;

/// Length of an HS256 tag, in bytes.
pub(crate) const TAG_LEN: usize = 32;

/// Bytes of the keyed hash of a user's fingerprint that a link carries (`fp`): 128 bits, for
/// links that stay short. Telling two fingerprints apart needs no more, and forging a hash needs
/// the key.
const FINGERPRINT_LEN: usize = 16;

/// What a fingerprint's HMAC input starts with. A JWS signing input is base64url and dots only,
/// so no message a key signs is ever the input of a fingerprint's hash, nor the reverse: one
/// key serves both.
const FINGERPRINT_CONTEXT: &[u8] = b"linktoken-fp:";

/// What the admin pages' form token's HMAC input starts with (see [`KeyRing::form_token`]).
#[cfg(feature = "admin")]
const FORM_CONTEXT: &[u8] = b"linktoken-admin-form:";

#[cfg(feature = "admin")]
fn form_message(session: &str) -> Vec<u8> {
    [FORM_CONTEXT, session.as_bytes()].concat()
}

/// One HMAC secret, with the id that tokens name in their `kid` header.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) id: Option<String>,
    /// The HMAC state with the key's inner and outer pads already hashed. Each token starts
    /// from a copy of it, so the key costs nothing per token (RFC 2104, section 4).
    mac: Hmac<Sha256>,
}

impl Key {
    /// The HS256 tag of `message`.
    pub(crate) fn tag(&self, message: &[u8]) -> [u8; TAG_LEN] {
        self.mac
            .clone()
            .chain_update(message)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Whether `tag` is the HS256 tag of `message`, compared in constant time (the `digest`
    /// crate's `verify_slice`), so the time taken says nothing about how much of it matched.
    pub(crate) fn signed(&self, message: &[u8], tag: &[u8]) -> bool {
        self.mac
            .clone()
            .chain_update(message)
            .verify_slice(tag)
            .is_ok()
    }

    /// The HMAC of a user's fingerprint, not yet cut to [`FINGERPRINT_LEN`].
    fn fingerprint_mac(&self, fingerprint: &str) -> Hmac<Sha256> {
        self.mac
            .clone()
            .chain_update(FINGERPRINT_CONTEXT)
            .chain_update(fingerprint)
    }
}

/// A link's `fp` claim decoded: `None` unless it is base64url (no padding) of 16 bytes.
pub(crate) fn fingerprint_hash(fp: &str) -> Option<[u8; FINGERPRINT_LEN]> {
    let fp = fp.as_bytes();
    if URL_SAFE_NO_PAD.decoded_length(fp).ok() != Some(FINGERPRINT_LEN) {
        return None;
    }
    let mut hash = [0u8; FINGERPRINT_LEN];
    URL_SAFE_NO_PAD
        .decode(fp, hash.as_mut_slice().as_out())
        .ok()?;
    Some(hash)
}

/// The secrets links are signed and verified with.
///
/// The first key signs; every key verifies. A ring made from one bare secret signs without a
/// `kid` header; a ring of named keys puts the signer's id in `kid`, and a token's `kid` must
/// name one of them. A token without `kid` is checked against every key, so links made before
/// a single `secret` became a list of `keys` keep working, whether that secret is still one of
/// the keys or kept beside them ([`KeyRing::with_unnamed_secret`]).
///
/// ```
/// use rocket_linktoken::KeyRing;
///
/// let ring = KeyRing::new(vec![
///     ("2026-11".to_string(), b"a-new-secret-of-at-least-32-bytes!!".to_vec()),
///     ("2026-05".to_string(), b"the-old-secret-still-verifies-links".to_vec()),
/// ])?;
/// assert_eq!(ring.signing_key_id(), Some("2026-11"));
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    keys: Arc<[Key]>,
    /// The signer's header, base64url-encoded: the same for every link it signs.
    header: Arc<str>,
}

impl KeyRing {
    /// A ring of one secret, with no key id.
    pub fn from_secret(secret: &[u8]) -> Result<Self, Error> {
        Ok(KeyRing::of(vec![key(None, secret, "linktoken.secret")?]))
    }

    /// A ring of named secrets; the first signs.
    pub fn new(keys: Vec<(String, Vec<u8>)>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::Config("`linktoken.keys` is empty".into()));
        }
        let mut ring = Vec::with_capacity(keys.len());
        for (i, (id, secret)) in keys.into_iter().enumerate() {
            let setting = format!("linktoken.keys[{i}]");
            if id.is_empty() {
                return Err(Error::Config(format!("`{setting}.id` is empty")));
            }
            if ring.iter().any(|k: &Key| k.id.as_deref() == Some(&*id)) {
                return Err(Error::Config(format!(
                    "`{setting}.id` repeats the key id `{id}`"
                )));
            }
            ring.push(key(Some(id), &secret, &format!("{setting}.secret"))?);
        }
        Ok(KeyRing::of(ring))
    }

    /// Adds a secret that verifies links without `kid` and signs nothing: beside named `keys`,
    /// the `secret` that signed links before them keeps those links working.
    ///
    /// ```
    /// use rocket_linktoken::KeyRing;
    ///
    /// let ring = KeyRing::new(vec![("2026-11".to_string(), b"a-new-secret-of-at-least-32-bytes!!".to_vec())])?
    ///     .with_unnamed_secret(b"the-secret-links-were-signed-with-before")?;
    /// assert_eq!(ring.signing_key_id(), Some("2026-11"));
    /// # Ok::<(), rocket_linktoken::Error>(())
    /// ```
    pub fn with_unnamed_secret(self, secret: &[u8]) -> Result<KeyRing, Error> {
        let mut keys = self.keys.to_vec();
        keys.push(key(None, secret, "linktoken.secret")?);
        Ok(KeyRing::of(keys))
    }

    fn of(keys: Vec<Key>) -> KeyRing {
        let header = header::encoded(keys[0].id.as_deref()).into();
        KeyRing {
            keys: keys.into(),
            header,
        }
    }

    /// The id of the key that signs new links, if keys are named.
    pub fn signing_key_id(&self) -> Option<&str> {
        self.signer().id.as_deref()
    }

    fn signer(&self) -> &Key {
        &self.keys[0]
    }

    /// The JWS compact serialization (RFC 7515, section 7.1) of `payload`, signed by the first
    /// key.
    pub(crate) fn sign(&self, payload: &[u8]) -> String {
        let mut token = String::with_capacity(
            self.header.len()
                + 1
                + URL_SAFE_NO_PAD.encoded_length(payload.len())
                + 1
                + URL_SAFE_NO_PAD.encoded_length(TAG_LEN),
        );
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_append(payload, &mut token);
        let tag = self.signer().tag(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_append(tag, &mut token);
        token
    }

    /// The `fp` claim binding a link to a user's `fingerprint`: base64url of the first 16 bytes
    /// of the signing key's HMAC-SHA256 of `linktoken-fp:` and the fingerprint. Keyed, because
    /// links are readable: a plain hash of an email address or a revision counter could be
    /// confirmed by guessing.
    pub(crate) fn fingerprint_claim(&self, fingerprint: &str) -> String {
        let mac = self
            .signer()
            .fingerprint_mac(fingerprint)
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode_to_string(&mac[..FINGERPRINT_LEN])
    }

    /// Whether a link's `fp` claim is what one of the keys makes of `fingerprint`, compared in
    /// constant time. Every key is tried, as for a token without `kid`: a link keeps its
    /// binding through a key rotation.
    pub(crate) fn fingerprint_matches(&self, fp: &str, fingerprint: &str) -> bool {
        let Some(hash) = fingerprint_hash(fp) else {
            return false;
        };
        self.keys.iter().any(|key| {
            key.fingerprint_mac(fingerprint)
                .verify_truncated_left(&hash)
                .is_ok()
        })
    }

    /// The admin pages' form token for the browser session `session` (the value of its
    /// random cookie): base64url of the signing key's HMAC-SHA256 of `linktoken-admin-form:`
    /// and the session. The prefix's colon is in no JWS signing input, so no token this makes
    /// is a link's signature.
    #[cfg(feature = "admin")]
    pub(crate) fn form_token(&self, session: &str) -> String {
        let tag = self.signer().tag(&form_message(session));
        URL_SAFE_NO_PAD.encode_to_string(tag)
    }

    /// Whether `token` is what one of the keys makes of `session` ([`KeyRing::form_token`]),
    /// compared in constant time: a page rendered before a key rotation still posts.
    #[cfg(feature = "admin")]
    pub(crate) fn form_token_matches(&self, session: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode_to_vec(token) else {
            return false;
        };
        let message = form_message(session);
        self.keys.iter().any(|key| key.signed(&message, &tag))
    }

    /// The keys a token with this `kid` header may have been signed with.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys
            .iter()
            .filter(move |k| kid.is_none() || k.id.as_deref() == kid)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets, only how many there are and their ids.
        f.debug_struct("KeyRing")
            .field(
                "ids",
                &self
                    .keys
                    .iter()
                    .map(|k| k.id.as_deref())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn key(id: Option<String>, secret: &[u8], setting: &str) -> Result<Key, Error> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(Error::Config(format!(
            "`{setting}` is {} bytes long; it must be at least {MIN_SECRET_LEN}",
            secret.len()
        )));
    }
    let mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| Error::Config(format!("`{setting}`: {e}")))?;
    Ok(Key { id, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn short_secret_is_refused_naming_the_setting() {
        let err = KeyRing::from_secret(b"short").unwrap_err();
        assert!(
            err.to_string()
                .contains("`linktoken.secret` is 5 bytes long"),
            "{err}"
        );
    }

    #[test]
    fn key_ids_must_be_unique_and_named() {
        let twice = vec![("a".into(), SECRET.to_vec()), ("a".into(), SECRET.to_vec())];
        assert!(KeyRing::new(twice)
            .unwrap_err()
            .to_string()
            .contains("repeats the key id"));
        let unnamed = vec![(String::new(), SECRET.to_vec())];
        assert!(KeyRing::new(unnamed)
            .unwrap_err()
            .to_string()
            .contains("keys[0].id"));
        assert!(KeyRing::new(vec![]).is_err());
    }

    #[test]
    fn an_unnamed_secret_beside_keys_verifies_only_tokens_without_kid() {
        let ring = KeyRing::new(vec![("a".into(), SECRET.to_vec())])
            .unwrap()
            .with_unnamed_secret(b"another-secret-of-at-least-32-bytes")
            .unwrap();
        assert_eq!(ring.signing_key_id(), Some("a"));
        assert_eq!(ring.candidates(None).count(), 2);
        assert_eq!(ring.candidates(Some("a")).count(), 1);
        assert_eq!(format!("{ring:?}"), r#"KeyRing { ids: [Some("a"), None] }"#);
        assert!(KeyRing::new(vec![("a".into(), SECRET.to_vec())])
            .unwrap()
            .with_unnamed_secret(b"short")
            .is_err());
    }

    #[test]
    fn fingerprints_are_keyed_hashes_any_key_of_the_ring_recognises() {
        let old = KeyRing::from_secret(SECRET).unwrap();
        let fp = old.fingerprint_claim("ada@example.com");
        assert_eq!(fp.len(), 22, "{fp}");
        assert!(!fp.contains("ada"));
        assert!(old.fingerprint_matches(&fp, "ada@example.com"));
        assert!(!old.fingerprint_matches(&fp, "ada@example.org"));
        assert!(!old.fingerprint_matches(&fp, ""));

        let other = KeyRing::from_secret(b"another-secret-of-at-least-32-bytes").unwrap();
        assert_ne!(other.fingerprint_claim("ada@example.com"), fp);
        assert!(!other.fingerprint_matches(&fp, "ada@example.com"));
        let rotated = KeyRing::new(vec![
            (
                "new".into(),
                b"another-secret-of-at-least-32-bytes".to_vec(),
            ),
            ("old".into(), SECRET.to_vec()),
        ])
        .unwrap();
        assert!(rotated.fingerprint_matches(&fp, "ada@example.com"));

        let (longer, padded) = (format!("{fp}A"), format!("{fp}=="));
        for malformed in ["", "AAAA", &fp[..21], longer.as_str(), padded.as_str(), "!"] {
            assert!(fingerprint_hash(malformed).is_none(), "{malformed:?}");
            assert!(!old.fingerprint_matches(malformed, "ada@example.com"));
        }
    }

    #[test]
    fn a_fingerprint_hash_is_hmac_sha256_of_the_context_and_the_fingerprint() {
        // Computed the way another minter would, with the `hmac` crate directly.
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(b"linktoken-fp:7");
        let expected = URL_SAFE_NO_PAD.encode_to_string(&mac.finalize().into_bytes()[..16]);
        assert_eq!(
            KeyRing::from_secret(SECRET).unwrap().fingerprint_claim("7"),
            expected
        );
    }

    #[test]
    fn tokens_without_kid_try_every_key() {
        let ring = KeyRing::new(vec![
            ("a".into(), SECRET.to_vec()),
            ("b".into(), SECRET.to_vec()),
        ])
        .unwrap();
        assert_eq!(ring.candidates(None).count(), 2);
        assert_eq!(ring.candidates(Some("b")).count(), 1);
        assert_eq!(ring.candidates(Some("c")).count(), 0);
        assert_eq!(ring.signing_key_id(), Some("a"));
    }
}
