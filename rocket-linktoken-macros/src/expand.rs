//! The expansion of `#[expiring_link]`: the route's policy, on the struct Rocket's route
//! attribute declares for it, and the handler with its guard bound to that policy.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{parse_quote, ItemFn, LitStr, Visibility};

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
    let Handler {
        func,
        policy,
        binding,
    } = handler;
    let scope = &args.scope;
    let max_uses = match args.max_uses {
        Some(max_uses) => quote!(::core::option::Option::Some(#max_uses)),
        None => quote!(::core::option::Option::None),
    };
    let preview = args.preview;
    let policy_impls = quote! {
        impl ::rocket_linktoken::__private::Policy for #policy {
            const SCOPE: &'static str = #scope;
            const MAX_USES: ::core::option::Option<u32> = #max_uses;
            const PREVIEW: bool = #preview;
        }

        impl ::rocket_linktoken::__private::LinkRoute for #policy {
            fn route() -> ::rocket_linktoken::__private::rocket::Route {
                ::rocket_linktoken::__private::rocket::routes![#policy].remove(0)
            }
        }
    };
    match binding {
        Binding::Argument => quote!(#policy_impls #func),
        Binding::Alias => in_own_module(func, policy, &policy_impls),
    }
}

/// The handler in a module of its own, where `TokenUser` is bound to the route's policy, and
/// the names Rocket's route attribute declares brought back where the handler was written:
/// the function with its struct, and the macro `uri!` expands to.
fn in_own_module(func: &ItemFn, policy: &Ident, policy_impls: &TokenStream) -> TokenStream {
    let name = policy.unraw();
    let module = format_ident!("__linktoken_route_{name}");
    let uri_macro = format_ident!("rocket_uri_macro_{name}");
    let cfgs: Vec<_> = func
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();
    let vis = &func.vis;
    let mut func = func.clone();
    func.vis = seen_from_inside(vis);
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        mod #module {
            #[allow(unused_imports)]
            use super::*;

            type TokenUser<U> = super::TokenUser<U, #policy>;

            #policy_impls

            #func
        }

        #(#cfgs)*
        #vis use #module::#policy;

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub use #module::#uri_macro;
    }
}

/// The visibility that, written one module further in, reaches as far as `vis` does where
/// the handler was written; a private handler becomes visible to its own module.
fn seen_from_inside(vis: &Visibility) -> Visibility {
    let Visibility::Restricted(restricted) = vis else {
        return match vis {
            Visibility::Inherited => parse_quote!(pub(super)),
            _ => vis.clone(),
        };
    };
    let path = &restricted.path;
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
    fn guard_written_as_imported_is_bound_in_a_module_of_the_handler_s_own() {
        let expanded = expiring_link(
            quote!(scope = "unsubscribe", max_uses = 1),
            quote! {
                #[post("/unsubscribe/<list>", data = "<form>")]
                async fn unsubscribe(list: i64, user: TokenUser<Subscriber>, form: Form<Confirm>) -> Template {
                    todo!()
                }
            },
        );
        assert_eq!(
            expanded.to_string(),
            quote! {
                #[doc(hidden)]
                mod __linktoken_route_unsubscribe {
                    #[allow(unused_imports)]
                    use super::*;

                    type TokenUser<U> = super::TokenUser<U, unsubscribe>;

                    impl ::rocket_linktoken::__private::Policy for unsubscribe {
                        const SCOPE: &'static str = "unsubscribe";
                        const MAX_USES: ::core::option::Option<u32> = ::core::option::Option::Some(1u32);
                        const PREVIEW: bool = false;
                    }

                    impl ::rocket_linktoken::__private::LinkRoute for unsubscribe {
                        fn route() -> ::rocket_linktoken::__private::rocket::Route {
                            ::rocket_linktoken::__private::rocket::routes![unsubscribe].remove(0)
                        }
                    }

                    #[post("/unsubscribe/<list>", data = "<form>")]
                    pub(super) async fn unsubscribe(
                        list: i64,
                        user: TokenUser<Subscriber>,
                        form: Form<Confirm>
                    ) -> Template {
                        todo!()
                    }
                }

                use __linktoken_route_unsubscribe::unsubscribe;

                #[doc(hidden)]
                #[allow(unused_imports)]
                pub use __linktoken_route_unsubscribe::rocket_uri_macro_unsubscribe;
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
                impl ::rocket_linktoken::__private::Policy for confirm_page {
                    const SCOPE: &'static str = "unsubscribe";
                    const MAX_USES: ::core::option::Option<u32> = ::core::option::Option::None;
                    const PREVIEW: bool = true;
                }

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
                &quote!(#[cfg(feature = "links")] #[doc(hidden)] mod __linktoken_route_type)
                    .to_string()
            ),
            "{expanded}"
        );
        assert!(expanded.contains("pub fn r#type"), "{expanded}");
        for reexport in [
            quote!(
                #[cfg(feature = "links")]
                pub use __linktoken_route_type::r#type;
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
