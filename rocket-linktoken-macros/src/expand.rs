//! The expansion of `#[expiring_link]`: the route's policy, on the struct Rocket's route
//! attribute declares for it, and the handler with its guard bound to that policy.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{parse_quote, Attribute, FnArg, ItemFn, LitStr, Meta, Pat, Signature, Visibility};

use crate::args::{self, Args};
use crate::errors;
use crate::handler::{self, Binding, Handler};

/// Expands `#[expiring_link(args)] item`, or reports every error in both.
pub(crate) fn expiring_link(args: TokenStream, item: TokenStream) -> TokenStream {
    match (args::parse(args), handler::parse(item.clone())) {
        (Ok(args), Ok(handler)) => policy_and_handler(&args, &handler),
        (Err(error), Ok(handler)) => {
            // The handler is sound: bind it to a placeholder policy, so that the argument
            // errors are all the user sees, not a cascade from the route's missing policy.
            let error = error.into_compile_error();
            let placeholder = Args {
                scope: LitStr::new("", Span::call_site()),
                max_uses: None,
                preview: false,
            };
            let expanded = policy_and_handler(&placeholder, &handler);
            quote!(#error #expanded)
        }
        (args, Err(error)) => {
            let error = match errors::join(args, Err::<(), _>(error)) {
                Err(error) => error.into_compile_error(),
                Ok(_) => TokenStream::new(),
            };
            quote!(#error #item)
        }
    }
}

fn policy_and_handler(args: &Args, handler: &Handler) -> TokenStream {
    let policy = &handler.policy;
    let scope = &args.scope;
    let max_uses = match args.max_uses {
        Some(max_uses) => quote!(::core::option::Option::Some(#max_uses)),
        None => quote!(::core::option::Option::None),
    };
    let preview = args.preview;
    let policy_impls = quote! {
        #[allow(deprecated)]
        impl ::rocket_linktoken::__private::Policy for #policy {
            const SCOPE: &'static str = #scope;
            const MAX_USES: ::core::option::Option<u32> = #max_uses;
            const PREVIEW: bool = #preview;
        }

        #[allow(deprecated)]
        impl ::rocket_linktoken::__private::LinkRoute for #policy {
            fn route() -> ::rocket_linktoken::__private::rocket::Route {
                ::rocket_linktoken::__private::rocket::routes![#policy].remove(0)
            }
        }
    };
    match handler.binding {
        Binding::Argument => {
            let func = ItemFn {
                sig: handler.bound.clone(),
                ..handler.func.clone()
            };
            quote!(#policy_impls #func)
        }
        Binding::Alias => signature_in_own_module(handler, &policy_impls),
    }
}

/// The handler split in two, so that Rocket reads the signature as written while the body
/// stays where it was written:
/// - a module of the handler's own, in which `TokenUser` is bound to the route's policy,
///   holds the signature Rocket's route attribute reads, and passes the arguments on;
/// - the body, with the guard bound in its signature, becomes an associated function of the
///   route's struct under the handler's name, next to where the handler was, so it sees and
///   means what it did there (and spans and backtraces name it as before); the module reaches
///   it through the struct's type rather than by a path;
/// - the handler, Rocket's route struct and the macro `uri!` expands to are brought back
///   under their names.
fn signature_in_own_module(handler: &Handler, policy_impls: &TokenStream) -> TokenStream {
    let Handler {
        func,
        bound,
        policy,
        ..
    } = handler;
    let name = policy.unraw();
    let module = format_ident!("__linktoken_route_{name}");
    let uri_macro = format_ident!("rocket_uri_macro_{name}");
    let cfgs: Vec<_> = func
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();

    let mut signature_attrs = Vec::new();
    let mut body_attrs = Vec::new();
    for attr in &func.attrs {
        // Rocket's attribute reads the signature; docs and deprecation are the handler's,
        // which is the signature's name.
        let signature_only = handler::is_route_attribute(attr)
            || ["doc", "deprecated"]
                .iter()
                .any(|name| attr.path().is_ident(name));
        if signature_only {
            signature_attrs.push(attr.clone());
        } else {
            if let Some(lint) = lint_attribute(attr) {
                signature_attrs.push(lint);
            }
            body_attrs.push(attr.clone());
        }
    }

    let vis = &func.vis;
    let inner_vis = seen_from_inside(vis);
    let sig = passing_on(&func.sig);
    let arguments = handler::parameter_names(&sig).unwrap_or_default();
    let await_ = sig.asyncness.map(|_| quote!(.await));
    // Hygienic, so that no parameter of the handler's is shadowed by it.
    let handler_fn = Ident::new("handler", Span::mixed_site());
    let block = &func.block;
    quote! {
        #(#cfgs)*
        mod #module {
            #[allow(unused_imports)]
            use super::*;

            #[allow(deprecated)]
            type TokenUser<U> = ::rocket_linktoken::TokenUser<U, #policy>;

            #policy_impls

            #(#signature_attrs)*
            #inner_vis #sig {
                #[allow(deprecated)]
                let #handler_fn = #policy::#policy;
                #handler_fn(#(#arguments),*)#await_
            }
        }

        #(#cfgs)*
        #[allow(deprecated)]
        #vis use #module::#policy;

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub use #module::#uri_macro;

        #(#cfgs)*
        #[allow(deprecated)]
        impl #policy {
            #(#body_attrs)*
            #bound #block
        }
    }
}

/// The signature that only passes its arguments on: `mut` is the body's.
fn passing_on(sig: &Signature) -> Signature {
    let mut sig = sig.clone();
    for input in &mut sig.inputs {
        if let FnArg::Typed(param) = input {
            if let Pat::Ident(pat) = &mut *param.pat {
                pat.mutability = None;
            }
        }
    }
    sig
}

/// A lint attribute of the handler, for its signature too: as written, but an `expect`
/// becomes an `allow`, which the signature alone may leave unfulfilled.
fn lint_attribute(attr: &Attribute) -> Option<Attribute> {
    let mut attr = attr.clone();
    let Meta::List(list) = &mut attr.meta else {
        return None;
    };
    if list.path.is_ident("expect") {
        list.path = parse_quote!(allow);
    }
    ["allow", "warn", "deny", "forbid"]
        .iter()
        .any(|lint| list.path.is_ident(lint))
        .then_some(attr)
}

/// The visibility that, written one module further in, reaches as far as `vis` does where
/// the handler was written; a private handler becomes visible to its own module.
fn seen_from_inside(vis: &Visibility) -> Visibility {
    let path = match vis {
        Visibility::Inherited => return parse_quote!(pub(super)),
        Visibility::Public(_) => return vis.clone(),
        Visibility::Restricted(restricted) => &restricted.path,
    };
    match path.segments.first() {
        Some(first) if first.ident == "self" => {
            let rest = path.segments.iter().skip(1);
            parse_quote!(pub(in super #(:: #rest)*))
        }
        Some(first) if first.ident == "super" => parse_quote!(pub(in super::#path)),
        _ => vis.clone(),
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    #[test]
    fn guard_written_as_imported_is_read_by_rocket_as_written_in_a_module_of_its_own() {
        let expanded = expiring_link(
            quote!(scope = "unsubscribe", max_uses = 1),
            quote! {
                /// Unsubscribes.
                #[post("/unsubscribe/<list>", data = "<form>")]
                #[expect(clippy::needless_pass_by_value)]
                async fn unsubscribe(list: i64, user: TokenUser<Subscriber>, mut form: Form<Confirm>) -> Template {
                    todo!()
                }
            },
        );
        assert_eq!(
            expanded.to_string(),
            quote! {
                mod __linktoken_route_unsubscribe {
                    #[allow(unused_imports)]
                    use super::*;

                    #[allow(deprecated)]
                    type TokenUser<U> = ::rocket_linktoken::TokenUser<U, unsubscribe>;

                    #[allow(deprecated)]
                    impl ::rocket_linktoken::__private::Policy for unsubscribe {
                        const SCOPE: &'static str = "unsubscribe";
                        const MAX_USES: ::core::option::Option<u32> = ::core::option::Option::Some(1u32);
                        const PREVIEW: bool = false;
                    }

                    #[allow(deprecated)]
                    impl ::rocket_linktoken::__private::LinkRoute for unsubscribe {
                        fn route() -> ::rocket_linktoken::__private::rocket::Route {
                            ::rocket_linktoken::__private::rocket::routes![unsubscribe].remove(0)
                        }
                    }

                    /// Unsubscribes.
                    #[post("/unsubscribe/<list>", data = "<form>")]
                    #[allow(clippy::needless_pass_by_value)]
                    pub(super) async fn unsubscribe(
                        list: i64,
                        user: TokenUser<Subscriber>,
                        form: Form<Confirm>
                    ) -> Template {
                        #[allow(deprecated)]
                        let handler = unsubscribe::unsubscribe;
                        handler(list, user, form).await
                    }
                }

                #[allow(deprecated)]
                use __linktoken_route_unsubscribe::unsubscribe;

                #[doc(hidden)]
                #[allow(unused_imports)]
                pub use __linktoken_route_unsubscribe::rocket_uri_macro_unsubscribe;

                #[allow(deprecated)]
                impl unsubscribe {
                    #[expect(clippy::needless_pass_by_value)]
                    async fn unsubscribe(
                        list: i64,
                        user: TokenUser<Subscriber, unsubscribe>,
                        mut form: Form<Confirm>
                    ) -> Template {
                        todo!()
                    }
                }
            }
            .to_string()
        );
    }

    #[test]
    fn guard_written_with_a_path_gains_the_policy_as_second_argument() {
        let expanded = expiring_link(
            quote!(scope = "unsubscribe", preview),
            quote!(
                #[get("/")]
                pub(crate) fn confirm_page(user: rocket_linktoken::TokenUser<Subscriber>) {}
            ),
        );
        assert_eq!(
            expanded.to_string(),
            quote! {
                #[allow(deprecated)]
                impl ::rocket_linktoken::__private::Policy for confirm_page {
                    const SCOPE: &'static str = "unsubscribe";
                    const MAX_USES: ::core::option::Option<u32> = ::core::option::Option::None;
                    const PREVIEW: bool = true;
                }

                #[allow(deprecated)]
                impl ::rocket_linktoken::__private::LinkRoute for confirm_page {
                    fn route() -> ::rocket_linktoken::__private::rocket::Route {
                        ::rocket_linktoken::__private::rocket::routes![confirm_page].remove(0)
                    }
                }

                #[get("/")]
                pub(crate) fn confirm_page(user: rocket_linktoken::TokenUser<Subscriber, confirm_page>) {}
            }
            .to_string()
        );
    }

    #[test]
    fn the_module_s_conditions_and_names_follow_the_handler() {
        let expanded = expiring_link(
            quote!(scope = "a"),
            quote!(
                #[cfg(feature = "links")]
                #[get("/")]
                pub fn r#type(user: TokenUser<Subscriber>) {}
            ),
        )
        .to_string();
        assert!(
            expanded.starts_with(
                &quote!(#[cfg(feature = "links")] mod __linktoken_route_type).to_string()
            ),
            "{expanded}"
        );
        assert!(expanded.contains("pub fn r#type"), "{expanded}");
        for reexport in [
            quote!(
                #[cfg(feature = "links")]
                #[allow(deprecated)]
                pub use __linktoken_route_type::r#type;
            ),
            quote!(
                #[cfg(feature = "links")]
                #[allow(deprecated)]
                impl r#type
            ),
            quote!(
                #[cfg(feature = "links")]
                #[doc(hidden)]
                #[allow(unused_imports)]
                pub use __linktoken_route_type::rocket_uri_macro_type;
            ),
        ] {
            assert!(expanded.contains(&reexport.to_string()), "{expanded}");
        }
    }

    #[test]
    fn the_handler_reaches_as_far_from_its_module_as_it_did_where_written() {
        for (written, inside) in [
            (quote!(), quote!(pub(super))),
            (quote!(pub(self)), quote!(pub(in super))),
            (quote!(pub(in self::a)), quote!(pub(in super::a))),
            (quote!(pub(super)), quote!(pub(in super::super))),
            (quote!(pub(in super::b)), quote!(pub(in super::super::b))),
            (quote!(pub(crate)), quote!(pub(crate))),
            (quote!(pub(in crate::c)), quote!(pub(in crate::c))),
            (quote!(pub), quote!(pub)),
        ] {
            let vis: Visibility = syn::parse2(written.clone()).unwrap();
            assert_eq!(
                seen_from_inside(&vis).into_token_stream().to_string(),
                inside.to_string(),
                "{written}"
            );
        }
    }

    #[test]
    fn bad_input_emits_every_error_and_the_function_unchanged() {
        let item = quote!(
            fn page(user: TokenUser<Subscriber>) {}
        );
        let expanded = expiring_link(quote!(scope = "", max_uses = 0), item.clone()).to_string();

        let errors = expanded.matches("compile_error").count();
        assert_eq!(errors, 3, "{expanded}");
        assert!(expanded.contains("`scope` must not be empty"), "{expanded}");
        assert!(
            expanded.contains("`max_uses` must be at least 1"),
            "{expanded}"
        );
        assert!(
            expanded.contains("must be placed above the route attribute"),
            "{expanded}"
        );
        assert!(expanded.ends_with(&item.to_string()), "{expanded}");
        assert!(!expanded.contains("Policy"), "{expanded}");
    }
}
