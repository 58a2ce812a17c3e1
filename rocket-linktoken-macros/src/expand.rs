//! The expansion of `#[expiring_link]`: the route's policy, on the struct Rocket's route
//! attribute declares for it, and the rewritten handler.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

use crate::args::{self, Args};
use crate::errors;
use crate::handler::{self, Handler};

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
    let Handler { func, policy } = handler;
    let scope = &args.scope;
    let max_uses = match args.max_uses {
        Some(max_uses) => quote!(::core::option::Option::Some(#max_uses)),
        None => quote!(::core::option::Option::None),
    };
    let preview = args.preview;
    quote! {
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

        #func
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_link_declares_its_policy_and_binds_the_handler() {
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
                async fn unsubscribe(
                    list: i64,
                    user: TokenUser<Subscriber, unsubscribe>,
                    form: Form<Confirm>
                ) -> Template {
                    todo!()
                }
            }
            .to_string()
        );
    }

    #[test]
    fn preview_policy_has_no_use_limit() {
        let expanded = expiring_link(
            quote!(scope = "unsubscribe", preview),
            quote!(
                #[get("/")]
                pub(crate) fn confirm_page(user: TokenUser<Subscriber>) {}
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
                pub(crate) fn confirm_page(user: TokenUser<Subscriber, confirm_page>) {}
            }
            .to_string()
        );
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
