//! The scope alphabet: one rule for `#[expiring_link]` at compile time and for issuing links.
//!
//! This file is the rule's only copy. `rocket-linktoken-macros/src/scope.rs` is a symbolic link
//! to it, as `rocket-linktoken/README.md` is to the README, so both crates compile the same
//! text (the macro crate cannot depend on this one, which depends on it), and each published
//! crate carries the file.

/// The characters a scope may contain, as error messages name them.
pub(crate) const ALPHABET: &str = "ASCII letters, digits and `_ - . : /`";

/// The first character of `scope` outside [`ALPHABET`]. Scopes are compared byte for byte and
/// travel inside links: the small alphabet keeps out whitespace and look-alike Unicode that
/// would make two scopes read the same.
pub(crate) fn first_invalid(scope: &str) -> Option<char> {
    scope
        .chars()
        .find(|&c| !c.is_ascii_alphanumeric() && !"_-.:/".contains(c))
}
