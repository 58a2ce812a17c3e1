//! Checking the route handler and binding its `TokenUser` parameter to the policy.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{
    parse_quote, AngleBracketedGenericArguments, Attribute, FnArg, GenericArgument, Item, ItemFn,
    Pat, PathArguments, PathSegment, Signature, Type,
};

use crate::errors::Errors;

/// A route handler, checked, and how its `TokenUser` parameter is bound to the policy.
pub(crate) struct Handler {
    /// The function as written.
    pub(crate) func: ItemFn,
    /// Its signature with the guard bound to the policy: `TokenUser<U, handler>`.
    pub(crate) bound: Signature,
    /// The route's own struct, which Rocket's route attribute declares under the handler's
    /// name: it carries the policy, so a link can be issued for the route by its name.
    pub(crate) policy: Ident,
    pub(crate) binding: Binding,
}

/// Where the handler's `TokenUser<U>` comes to mean `TokenUser<U, handler>`.
///
/// Rocket's log names a failed guard by its type as the signature Rocket reads spells it, so
/// that signature is best left as written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The guard is written `TokenUser<U>`, as imported: the signature Rocket reads is left
    /// as written, in a module of its own where `TokenUser` is bound to the route's policy,
    /// and the body stays where it was written.
    Alias,
    /// Where the split cannot keep the handler's meaning (see [`binding`]): the policy is added
    /// to the guard as its second type argument.
    Argument,
}

/// Last path segments of Rocket's route attributes.
const ROUTE_ATTRIBUTES: [&str; 8] = [
    "get", "put", "post", "delete", "head", "patch", "options", "route",
];

/// Checks the handler and binds its `TokenUser` parameter, reporting every problem at once.
pub(crate) fn parse(item: TokenStream) -> syn::Result<Handler> {
    let func = match syn::parse2(item)? {
        Item::Fn(func) => func,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[expiring_link] goes on a route handler function",
            ))
        }
    };
    let policy = func.sig.ident.clone();

    let mut errors = Errors::default();
    // Attribute macros expand outermost first, so if Rocket's attribute was above ours it
    // has already consumed itself and we cannot hook into the route any more.
    if !func.attrs.iter().any(is_route_attribute) {
        errors.push(syn::Error::new(
            Span::call_site(),
            "#[expiring_link] must be placed above the route attribute (#[get], #[post], ...)",
        ));
    }
    let mut bound = func.sig.clone();
    let written_bare = bind_token_user(&mut bound, &policy, &mut errors);
    let binding = binding(&func, written_bare);
    errors.finish(Handler {
        func,
        bound,
        policy,
        binding,
    })
}

/// [`Binding::Alias`], unless moving the signature (and its docs) one module further in would
/// change what it says: the guard is written with a path (`rocket_linktoken::TokenUser<U>`),
/// which no alias can stand for; the signature names `self` or `super`, or the docs link
/// through `super::`; a parameter is a pattern, which the signature cannot pass on by name; the
/// handler is named like a method Rocket gives the route's struct, which the body becomes an
/// associated function of.
fn binding(func: &ItemFn, written_bare: bool) -> Binding {
    let movable = written_bare
        && !names_self_or_super(func.sig.to_token_stream())
        && !docs_name_super(&func.attrs)
        && parameter_names(&func.sig).is_some()
        && !ROUTE_STRUCT_METHODS
            .iter()
            .any(|name| func.sig.ident == name);
    if movable {
        Binding::Alias
    } else {
        Binding::Argument
    }
}

/// The names of the parameters, if each is a plain name (`list`, `mut form`).
pub(crate) fn parameter_names(sig: &Signature) -> Option<Vec<&Ident>> {
    sig.inputs
        .iter()
        .map(|input| match input {
            FnArg::Typed(param) => match &*param.pat {
                Pat::Ident(pat) if pat.subpat.is_none() && pat.by_ref.is_none() => Some(&pat.ident),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The methods Rocket's route attribute gives the route's struct, which the body, an
/// associated function of that struct under the handler's name, cannot also be.
const ROUTE_STRUCT_METHODS: [&str; 2] = ["into_info", "into_route"];

/// Whether the handler's docs link through `super::`, which the signature's docs, one module
/// further in, would resolve elsewhere.
fn docs_name_super(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .any(|attr| attr.to_token_stream().to_string().contains("super::"))
}

/// Whether `tokens` use `self` or `super` anywhere, as a path or a receiver.
fn names_self_or_super(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "self" || ident == "super",
        TokenTree::Group(group) => names_self_or_super(group.stream()),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

pub(crate) fn is_route_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| ROUTE_ATTRIBUTES.iter().any(|name| segment.ident == name))
}

/// Appends `policy` to the generic arguments of the one `TokenUser<U>` parameter; returns
/// whether that parameter was written `TokenUser<U>`, without a path.
fn bind_token_user(sig: &mut Signature, policy: &Ident, errors: &mut Errors) -> bool {
    let mut written_bare = false;
    let mut found = false;
    for input in &mut sig.inputs {
        let FnArg::Typed(param) = input else {
            continue;
        };
        let Type::Path(ty) = &mut *param.ty else {
            continue;
        };
        if !ty
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "TokenUser")
        {
            continue;
        }
        if found {
            errors.spanned(
                &*ty,
                "a route with #[expiring_link] takes only one `TokenUser` parameter",
            );
            continue;
        }
        found = true;
        written_bare =
            ty.qself.is_none() && ty.path.leading_colon.is_none() && ty.path.segments.len() == 1;
        let Some(segment) = ty.path.segments.last_mut() else {
            continue;
        };
        match single_type_argument(segment) {
            Some(arguments) => arguments.args.push(parse_quote!(#policy)),
            None => errors.spanned(
                &*ty,
                "expected `TokenUser<YourUser>` with exactly one type argument; \
                 #[expiring_link] adds the policy itself",
            ),
        }
    }
    if !found {
        errors.spanned(
            &*sig,
            "a route with #[expiring_link] takes a `TokenUser<YourUser>` parameter",
        );
    }
    written_bare
}

fn single_type_argument(segment: &mut PathSegment) -> Option<&mut AngleBracketedGenericArguments> {
    match &mut segment.arguments {
        PathArguments::AngleBracketed(arguments)
            if arguments.args.len() == 1
                && matches!(arguments.args.first(), Some(GenericArgument::Type(_))) =>
        {
            Some(arguments)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use quote::{quote, ToTokens};

    use super::*;

    fn error_messages(item: TokenStream) -> Vec<String> {
        match parse(item) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn accepted(item: TokenStream) -> Handler {
        match parse(item) {
            Ok(handler) => handler,
            Err(error) => panic!("rejected: {error}"),
        }
    }

    #[test]
    fn guard_written_as_imported_is_left_as_written_and_bound_apart() {
        let item = quote! {
            #[post("/unsubscribe/<list>", data = "<form>")]
            async fn unsubscribe(list: i64, user: TokenUser<Subscriber>, mut form: Form<Confirm>) -> Template {
                todo!()
            }
        };
        let handler = accepted(item.clone());
        assert_eq!(handler.policy, "unsubscribe");
        assert_eq!(handler.binding, Binding::Alias);
        assert_eq!(
            handler.func.into_token_stream().to_string(),
            item.to_string()
        );
        assert_eq!(
            handler.bound.into_token_stream().to_string(),
            quote!(
                async fn unsubscribe(
                    list: i64,
                    user: TokenUser<Subscriber, unsubscribe>,
                    mut form: Form<Confirm>
                ) -> Template
            )
            .to_string()
        );
    }

    #[test]
    fn a_body_naming_self_or_super_stays_where_it_is_written() {
        let handler = accepted(quote!(
            #[get("/")]
            fn page(user: TokenUser<Subscriber>) {
                super::helper();
            }
        ));
        assert_eq!(handler.binding, Binding::Alias);
    }

    #[test]
    fn guard_is_bound_in_place_where_a_module_would_change_the_signature() {
        for item in [
            // A path: no alias can stand for it.
            quote!(
                #[get("/")]
                fn page(user: ::rocket_linktoken::TokenUser<crate::Subscriber>) {}
            ),
            // `super` in the signature would name another module.
            quote!(
                #[get("/")]
                fn page(user: TokenUser<super::Subscriber>) {}
            ),
            quote!(
                #[get("/")]
                pub(super) fn page(user: TokenUser<Subscriber>, id: self::Id) {}
            ),
            // Parameters the moved signature could not pass on by name.
            quote!(
                #[get("/")]
                fn page(user: TokenUser<Subscriber>, (a, b): (i64, i64)) {}
            ),
            // Docs, which go with the signature, linking one module out.
            quote!(
                /// Like [`super::other_page`].
                #[get("/")]
                fn page(user: TokenUser<Subscriber>) {}
            ),
            // A name Rocket's route struct already has a method of.
            quote!(
                #[get("/")]
                fn into_route(user: TokenUser<Subscriber>) {}
            ),
        ] {
            let handler = accepted(item);
            assert_eq!(handler.binding, Binding::Argument);
        }
    }

    #[test]
    fn a_restricted_visibility_is_no_reason_to_bind_in_place() {
        let handler = accepted(quote!(
            #[get("/")]
            pub(super) fn page(user: TokenUser<Subscriber>) {}
        ));
        assert_eq!(handler.binding, Binding::Alias);
    }

    #[test]
    fn path_prefixes_are_kept() {
        let handler = accepted(quote! {
            #[doc = "before"]
            #[rocket::get("/")]
            #[allow(unused)]
            fn page(user: ::rocket_linktoken::TokenUser<crate::Subscriber>) {}
        });
        assert_eq!(
            handler.bound.into_token_stream().to_string(),
            quote!(fn page(user: ::rocket_linktoken::TokenUser<crate::Subscriber, page>))
                .to_string()
        );
    }

    #[test]
    fn every_route_attribute_is_recognised() {
        for method in ROUTE_ATTRIBUTES {
            let method = quote::format_ident!("{method}");
            accepted(quote!(#[#method("/")] fn page(user: TokenUser<U>) {}));
        }
    }

    #[test]
    fn a_raw_function_name_names_rocket_s_struct_as_written() {
        let handler = accepted(quote!(
            #[get("/")]
            fn r#type(user: TokenUser<U>) {}
        ));
        assert_eq!(handler.policy, "r#type");
    }

    #[test]
    fn missing_route_attribute_is_an_error() {
        assert_eq!(
            error_messages(quote!(
                #[allow(unused)]
                fn page(user: TokenUser<U>) {}
            )),
            ["#[expiring_link] must be placed above the route attribute (#[get], #[post], ...)"]
        );
    }

    #[test]
    fn missing_token_user_is_an_error() {
        assert_eq!(
            error_messages(quote!(
                #[get("/")]
                fn page(user: &TokenUser<U>, id: i64) {}
            )),
            ["a route with #[expiring_link] takes a `TokenUser<YourUser>` parameter"]
        );
    }

    #[test]
    fn second_token_user_is_an_error() {
        assert_eq!(
            error_messages(quote!(
                #[get("/")]
                fn page(a: TokenUser<U>, b: TokenUser<U>) {}
            )),
            ["a route with #[expiring_link] takes only one `TokenUser` parameter"]
        );
    }

    #[test]
    fn token_user_needs_exactly_one_type_argument() {
        let expected = [
            "expected `TokenUser<YourUser>` with exactly one type argument; \
                         #[expiring_link] adds the policy itself",
        ];
        assert_eq!(
            error_messages(quote!(
                #[get("/")]
                fn page(user: TokenUser) {}
            )),
            expected
        );
        assert_eq!(
            error_messages(quote!(
                #[get("/")]
                fn page(user: TokenUser<U, P>) {}
            )),
            expected
        );
        assert_eq!(
            error_messages(quote!(
                #[get("/")]
                fn page(user: TokenUser<'a>) {}
            )),
            expected
        );
    }

    #[test]
    fn non_functions_are_an_error() {
        assert_eq!(
            error_messages(quote!(
                #[get("/")]
                struct Page;
            )),
            ["#[expiring_link] goes on a route handler function"]
        );
    }

    #[test]
    fn every_handler_error_is_reported_together() {
        assert_eq!(
            error_messages(quote!(
                fn page(a: TokenUser<U>, b: TokenUser<U>, c: TokenUser<U>) {}
            )),
            [
                "#[expiring_link] must be placed above the route attribute (#[get], #[post], ...)",
                "a route with #[expiring_link] takes only one `TokenUser` parameter",
                "a route with #[expiring_link] takes only one `TokenUser` parameter",
            ]
        );
    }
}
