//! Parsing the arguments of `#[expiring_link(scope = "...", max_uses = N, preview)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::errors::{self, Errors};
use crate::scope;

/// The checked arguments of one `#[expiring_link]`.
pub(crate) struct Args {
    /// Kept as the user's literal so the generated `SCOPE` points back at it.
    pub(crate) scope: LitStr,
    /// The route's cap on uses; `None` takes the configured `default_max_uses`.
    pub(crate) max_uses: Option<u32>,
    /// Whether the route only looks at the link without spending it.
    pub(crate) preview: bool,
}

/// The keys `#[expiring_link]` understands.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Scope,
    MaxUses,
    Preview,
}

impl Key {
    const ALL: [Key; 3] = [Key::Scope, Key::MaxUses, Key::Preview];

    fn name(self) -> &'static str {
        match self {
            Key::Scope => "scope",
            Key::MaxUses => "max_uses",
            Key::Preview => "preview",
        }
    }
}

/// Parses and checks the attribute's arguments, reporting every problem at once.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens)?;

    let mut errors = Errors::default();
    // The attribute itself is the only place to point at when the scope is absent;
    // in an attribute macro that is what `call_site` covers.
    let mut scope = Err(syn::Error::new(
        Span::call_site(),
        "#[expiring_link] requires a scope, like `scope = \"unsubscribe\"`",
    ));
    let mut max_uses = None;
    let mut max_uses_meta = None;
    let mut preview = false;
    let mut seen = Vec::new();

    for meta in metas {
        let Some(key) = Key::ALL
            .into_iter()
            .find(|key| meta.path().is_ident(key.name()))
        else {
            errors.spanned(
                meta.path(),
                "unknown argument; expected `scope`, `max_uses` or `preview`",
            );
            continue;
        };
        if seen.contains(&key) {
            errors.spanned(meta.path(), format!("duplicate `{}` argument", key.name()));
            continue;
        }
        seen.push(key);

        match key {
            Key::Scope => scope = parse_scope(&meta),
            Key::MaxUses => {
                max_uses = parse_max_uses(&meta, &mut errors);
                max_uses_meta = Some(meta);
            }
            Key::Preview => {
                if !matches!(meta, Meta::Path(_)) {
                    errors.spanned(
                        &meta,
                        "`preview` is a flag and takes no value; write `preview`",
                    );
                }
                preview = true;
            }
        }
    }

    if let (Some(meta), true) = (&max_uses_meta, preview) {
        errors.spanned(
            meta,
            "`max_uses` cannot be combined with `preview`: a preview route never spends a use of the link",
        );
    }

    let (scope, ()) = errors::join(scope, errors.finish(()))?;
    Ok(Args {
        scope,
        max_uses,
        preview,
    })
}

/// The literal given to a key, or the expression to blame if it is not a literal.
fn literal_value(meta: &Meta) -> Result<&Lit, &dyn quote::ToTokens> {
    match meta {
        Meta::NameValue(name_value) => match &name_value.value {
            Expr::Lit(ExprLit { lit, .. }) => Ok(lit),
            other => Err(other),
        },
        other => Err(other),
    }
}

fn parse_scope(meta: &Meta) -> syn::Result<LitStr> {
    let literal = match literal_value(meta) {
        Ok(Lit::Str(literal)) => literal,
        Ok(other) => return Err(not_a_string(other)),
        Err(other) => return Err(not_a_string(other)),
    };
    // rustc would refuse the suffix only later, on the copy of the literal the macro emits.
    if !literal.suffix().is_empty() {
        return Err(syn::Error::new_spanned(
            literal,
            "`scope` takes a string literal without a suffix",
        ));
    }
    let value = literal.value();
    if value.is_empty() {
        return Err(syn::Error::new_spanned(
            literal,
            "`scope` must not be empty",
        ));
    }
    // The rule issuing links enforces too: a route's scope is one a link can carry.
    if let Some(bad) = scope::first_invalid(&value) {
        return Err(syn::Error::new_spanned(
            literal,
            format!(
                "`scope` may only contain {}; found {bad:?}",
                scope::ALPHABET
            ),
        ));
    }
    Ok(literal.clone())
}

fn not_a_string(tokens: &dyn quote::ToTokens) -> syn::Error {
    syn::Error::new_spanned(
        tokens,
        "`scope` takes a string literal, like `scope = \"unsubscribe\"`",
    )
}

fn parse_max_uses(meta: &Meta, errors: &mut Errors) -> Option<u32> {
    let literal = match literal_value(meta) {
        Ok(Lit::Int(literal)) => literal,
        Ok(other) => return not_an_integer(other, errors),
        Err(other) => return not_an_integer(other, errors),
    };
    // syn reads `-1` as one literal, so the sign has to be checked on its digits.
    if literal.base10_digits().starts_with('-') {
        errors.spanned(literal, "`max_uses` must be at least 1");
        return None;
    }
    // The macro emits the number, not the literal: rustc never sees the suffix.
    if !matches!(literal.suffix(), "" | "u32") {
        errors.spanned(
            literal,
            "`max_uses` is a u32; write the number without a suffix, or with `u32`",
        );
        return None;
    }
    match literal.base10_parse::<u32>() {
        Ok(0) => errors.spanned(literal, "`max_uses` must be at least 1"),
        Ok(n) => return Some(n),
        // The literal is unsigned digits, so the only way to fail is to be too large.
        Err(_) => errors.spanned(literal, format!("`max_uses` must be at most {}", u32::MAX)),
    }
    None
}

fn not_an_integer(tokens: &dyn quote::ToTokens, errors: &mut Errors) -> Option<u32> {
    errors.spanned(
        tokens,
        "`max_uses` takes a positive integer literal, like `max_uses = 1`",
    );
    None
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn error_messages(tokens: TokenStream) -> Vec<String> {
        match parse(tokens) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn accepted(tokens: TokenStream) -> Args {
        match parse(tokens) {
            Ok(args) => args,
            Err(error) => panic!("rejected: {error}"),
        }
    }

    #[test]
    fn scope_alone_has_no_use_limit_and_spends() {
        let args = accepted(quote!(scope = "unsubscribe"));
        assert_eq!(args.scope.value(), "unsubscribe");
        assert_eq!(args.max_uses, None);
        assert!(!args.preview);
    }

    #[test]
    fn arguments_come_in_any_order_with_a_trailing_comma() {
        let args = accepted(quote!(max_uses = 3, scope = "a-Z_0.9:x/y",));
        assert_eq!(args.scope.value(), "a-Z_0.9:x/y");
        assert_eq!(args.max_uses, Some(3));
        assert!(!args.preview);
    }

    #[test]
    fn preview_is_a_bare_flag() {
        let args = accepted(quote!(preview, scope = "unsubscribe"));
        assert!(args.preview);
        assert_eq!(args.max_uses, None);
    }

    #[test]
    fn max_uses_accepts_the_largest_u32() {
        let args = accepted(quote!(scope = "s", max_uses = 4294967295));
        assert_eq!(args.max_uses, Some(u32::MAX));
    }

    #[test]
    fn missing_scope_is_an_error() {
        assert_eq!(
            error_messages(quote!()),
            ["#[expiring_link] requires a scope, like `scope = \"unsubscribe\"`"]
        );
        assert_eq!(
            error_messages(quote!(max_uses = 1)),
            ["#[expiring_link] requires a scope, like `scope = \"unsubscribe\"`"]
        );
    }

    #[test]
    fn scope_must_be_a_string_literal() {
        let expected = ["`scope` takes a string literal, like `scope = \"unsubscribe\"`"];
        assert_eq!(error_messages(quote!(scope = SCOPE)), expected);
        assert_eq!(error_messages(quote!(scope = 1)), expected);
        assert_eq!(error_messages(quote!(scope)), expected);
        assert_eq!(error_messages(quote!(scope("a"))), expected);
    }

    #[test]
    fn empty_scope_is_an_error() {
        assert_eq!(
            error_messages(quote!(scope = "")),
            ["`scope` must not be empty"]
        );
    }

    #[test]
    fn scope_names_the_first_character_it_rejects() {
        assert_eq!(
            error_messages(quote!(scope = "un subscribe!")),
            ["`scope` may only contain ASCII letters, digits and `_ - . : /`; found ' '"]
        );
        assert_eq!(
            error_messages(quote!(scope = "é")),
            ["`scope` may only contain ASCII letters, digits and `_ - . : /`; found 'é'"]
        );
    }

    #[test]
    fn max_uses_must_be_a_positive_u32_literal() {
        let not_literal = ["`max_uses` takes a positive integer literal, like `max_uses = 1`"];
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = 1 + 1)),
            not_literal
        );
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = N)),
            not_literal
        );
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = "1")),
            not_literal
        );
        assert_eq!(error_messages(quote!(scope = "s", max_uses)), not_literal);
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = 0)),
            ["`max_uses` must be at least 1"]
        );
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = -1)),
            ["`max_uses` must be at least 1"]
        );
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = 4294967296)),
            ["`max_uses` must be at most 4294967295"]
        );
    }

    #[test]
    fn literal_suffixes_are_refused_but_u32() {
        assert_eq!(
            error_messages(quote!(scope = "s"x)),
            ["`scope` takes a string literal without a suffix"]
        );
        let not_u32 = ["`max_uses` is a u32; write the number without a suffix, or with `u32`"];
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = 300u8)),
            not_u32
        );
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = 5xyz)),
            not_u32
        );
        assert_eq!(
            accepted(quote!(scope = "s", max_uses = 5u32)).max_uses,
            Some(5)
        );
    }

    #[test]
    fn preview_takes_no_value() {
        let expected = ["`preview` is a flag and takes no value; write `preview`"];
        assert_eq!(
            error_messages(quote!(scope = "s", preview = true)),
            expected
        );
        assert_eq!(error_messages(quote!(scope = "s", preview())), expected);
    }

    #[test]
    fn preview_cannot_have_max_uses() {
        assert_eq!(
            error_messages(quote!(scope = "s", max_uses = 1, preview)),
            ["`max_uses` cannot be combined with `preview`: a preview route never spends a use of the link"]
        );
    }

    #[test]
    fn unknown_and_duplicate_keys_are_errors() {
        assert_eq!(
            error_messages(quote!(scope = "s", ttl = 60)),
            ["unknown argument; expected `scope`, `max_uses` or `preview`"]
        );
        assert_eq!(
            error_messages(quote!(scope = "s", rocket_linktoken::scope = "t")),
            ["unknown argument; expected `scope`, `max_uses` or `preview`"]
        );
        assert_eq!(
            error_messages(quote!(scope = "s", scope = "t")),
            ["duplicate `scope` argument"]
        );
        assert_eq!(
            error_messages(quote!(scope = "s", preview, preview)),
            ["duplicate `preview` argument"]
        );
    }

    #[test]
    fn every_error_is_reported_together() {
        assert_eq!(
            error_messages(quote!(scope = "", max_uses = 0, ttl = 60, max_uses = 2, preview)),
            [
                "`scope` must not be empty",
                "`max_uses` must be at least 1",
                "unknown argument; expected `scope`, `max_uses` or `preview`",
                "duplicate `max_uses` argument",
                "`max_uses` cannot be combined with `preview`: a preview route never spends a use of the link",
            ]
        );
    }

    #[test]
    fn malformed_syntax_is_syns_error() {
        assert_eq!(error_messages(quote!(scope =)).len(), 1);
    }
}
