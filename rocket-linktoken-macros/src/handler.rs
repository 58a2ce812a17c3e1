//! Checking the route handler and binding its `TokenUser` parameter to the policy.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{
    parse_quote, AngleBracketedGenericArguments, Attribute, FnArg, GenericArgument, Item, ItemFn,
    PathArguments, PathSegment, Signature, Type,
};

use crate::errors::Errors;

/// A route handler, checked, and how its `TokenUser` parameter is bound to the policy.
pub(crate) struct Handler {
    /// The function; with [`Binding::Argument`], its `TokenUser<U>` reads `TokenUser<U, handler>`.
    pub(crate) func: ItemFn,
    /// The route's own struct, which Rocket's route attribute declares under the handler's
    /// name: it carries the policy, so a link can be issued for the route by its name.
    pub(crate) policy: Ident,
    pub(crate) binding: Binding,
}

/// How the handler's `TokenUser<U>` comes to mean `TokenUser<U, handler>`.
///
/// Rocket's log names a failed guard by its type as the handler's tokens spell it, so the
/// type is best left as written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The guard is written `TokenUser<U>`, as imported: the handler moves into a module of
    /// its own, in which `TokenUser` is an alias bound to the route's policy.
    Alias,
    /// The guard is written with a path (`rocket_linktoken::TokenUser<U>`), or the handler
    /// names `self` or `super`, whose meaning a module would change: the policy is added
    /// as the guard's second type argument.
    Argument,
}

/// Last path segments of Rocket's route attributes.
const ROUTE_ATTRIBUTES: [&str; 8] = [
    "get", "put", "post", "delete", "head", "patch", "options", "route",
];

/// Checks the handler and rewrites its `TokenUser` parameter, reporting every problem at once.
pub(crate) fn parse(item: TokenStream) -> syn::Result<Handler> {
    let mut func = match syn::parse2(item)? {
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
    let says_self_or_super = names_self_or_super(func.to_token_stream());
    let binding = bind_token_user(&mut func.sig, &policy, says_self_or_super, &mut errors);
    errors.finish(Handler {
        func,
        policy,
        binding,
    })
}

/// Whether `tokens` use `self` or `super` anywhere, as a path or a receiver.
fn names_self_or_super(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "self" || ident == "super",
        TokenTree::Group(group) => names_self_or_super(group.stream()),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

fn is_route_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| ROUTE_ATTRIBUTES.iter().any(|name| segment.ident == name))
}

/// Finds the one `TokenUser<U>` parameter and chooses its [`Binding`]; with
/// [`Binding::Argument`], appends `policy` to its generic arguments.
fn bind_token_user(
    sig: &mut Signature,
    policy: &Ident,
    says_self_or_super: bool,
    errors: &mut Errors,
) -> Binding {
    let mut binding = Binding::Argument;
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
        let bare =
            ty.qself.is_none() && ty.path.leading_colon.is_none() && ty.path.segments.len() == 1;
        let Some(segment) = ty.path.segments.last_mut() else {
            continue;
        };
        match single_type_argument(segment) {
            Some(_) if bare && !says_self_or_super => binding = Binding::Alias,
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
    binding
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
    fn guard_written_as_imported_is_left_as_written() {
        let item = quote! {
            #[post("/unsubscribe/<list>", data = "<form>")]
            async fn unsubscribe(list: i64, user: TokenUser<Subscriber>, form: Form<Confirm>) -> Template {
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
    }

    #[test]
    fn handler_naming_self_or_super_gains_the_policy_as_second_argument() {
        for item in [
            quote!(
                #[get("/")]
                fn page(user: TokenUser<super::Subscriber>) {}
            ),
            quote!(
                #[get("/")]
                fn page(user: TokenUser<Subscriber>) {
                    self::helper();
                }
            ),
        ] {
            let handler = accepted(item);
            assert_eq!(handler.binding, Binding::Argument);
            let signature = handler.func.sig.into_token_stream().to_string();
            assert!(
                signature.contains(&quote!(Subscriber, page>).to_string()),
                "{signature}"
            );
        }
    }

    #[test]
    fn path_prefixes_are_kept() {
        let handler = accepted(quote! {
            #[doc = "before"]
            #[rocket::get("/")]
            #[allow(unused)]
            fn page(user: ::rocket_linktoken::TokenUser<crate::Subscriber>) {}
        });
        assert_eq!(handler.binding, Binding::Argument);
        assert_eq!(
            handler.func.into_token_stream().to_string(),
            quote! {
                #[doc = "before"]
                #[rocket::get("/")]
                #[allow(unused)]
                fn page(user: ::rocket_linktoken::TokenUser<crate::Subscriber, page>) {}
            }
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
