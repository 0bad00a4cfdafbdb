//! The code `#[primitive]` writes: what a user would write by hand against the public API
//! of `current` (see the example in `current::cache`).
//!
//! For `async fn build(job: &Job, #[context] tools: &Tools, commit: Commit) -> Result<Image, E>`:
//!
//! - `fn build(tools: &Tools, commit: &Term<Commit>) -> Term<Image>`, which makes the
//!   cached step (`cache::build_with`) with the caller's source location;
//! - `mod build`, with `Op` (the context, and the `Builder` impl that starts the job and
//!   calls the body), `body` (the function as written, minus `#[context]`), `TOKENS` (the
//!   digest of the function's tokens, part of every key), checks that point at each
//!   parameter whose type lacks a needed trait, and the id's entry in the registry.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::ast::{Param, Primitive};
use super::attr::Options;

pub(crate) fn expand(o: &Options, p: &Primitive) -> TokenStream {
    let name = &p.name;
    let vis = &p.vis;
    let attrs = &p.attrs;
    let publish = o.publish.is_some();

    // Key parameters; for a publish step the last one is the value.
    let mut keys: Vec<&Param> = p.keys().collect();
    let published = if publish { keys.pop() } else { None };
    let key = Key::of(&keys, p.params_span);
    let key_ty = &key.ty;
    let key_pat = &key.pattern;
    let key_term = &key.term;

    let internal = |s: &str| Ident::new(s, Span::mixed_site());
    let (op_var, self_job, self_key, self_value) = (
        internal("op"),
        internal("job"),
        internal("key"),
        internal("value"),
    );

    // The public function: contexts as written, keys (and the value) as terms.
    let fn_params = p.params.iter().map(|param| {
        let (n, ty, owned) = (&param.name, &param.ty, &param.owned);
        if param.context {
            quote!(#n: #ty)
        } else {
            quote!(#n: &::current::term::Term<#owned>)
        }
    });
    let op_fields = p.contexts().map(|c| {
        let n = &c.name;
        if c.by_ref {
            quote!(#n: ::core::clone::Clone::clone(#n))
        } else {
            quote!(#n)
        }
    });
    let value = &p.value;
    let schedule = match o.valid_for {
        Some(d) => {
            let ms = millis(d);
            quote!(::core::option::Option::Some(::std::time::Duration::from_millis(#ms)))
        }
        None => quote!(::core::option::Option::None),
    };
    let make_step = match published {
        None => quote! {
            ::current::cache::build_with(
                &#op_var,
                #key_term,
                ::current::cache::Schedule { valid_for: #schedule },
            )
        },
        Some(v) => {
            let v = &v.name;
            quote! {
                ::current::cache::run_with(
                    &#op_var,
                    #key_term,
                    #v,
                    ::current::cache::Schedule { valid_for: #schedule },
                )
            }
        }
    };
    let doc_link = format!(
        " Made by `#[primitive]`: the operation is [`{name}::Op`], the body as written is [`{name}::body`]."
    );
    let public_fn = quote! {
        #(#attrs)*
        #[doc = ""]
        #[doc = #doc_link]
        #[track_caller]
        #vis fn #name(#(#fn_params),*) -> ::current::term::Term<#value> {
            let #op_var = ::std::sync::Arc::new(#name::Op { #(#op_fields),* });
            #make_step
        }
    };

    // The body, as written, under a name of its own.
    let mut body = p.body.clone();
    body.sig.ident = Ident::new("body", p.name.span());
    body.vis = syn::parse_quote!(pub);
    body.attrs = p
        .attrs
        .iter()
        .filter(|a| {
            ["allow", "warn", "deny", "expect", "forbid"]
                .iter()
                .any(|lint| a.path().is_ident(lint))
        })
        .cloned()
        .collect();
    let tokens_digest = blake3::hash(p.body.to_token_stream().to_string().as_bytes())
        .to_hex()
        .to_string();

    // Errors about the operation (a context that is not `Send`, keys that are not
    // `Serialize`) point at the parameter list.
    let at = p.params_span;
    let fields = p.contexts().map(|c| {
        let (n, owned) = (&c.name, &c.owned);
        quote_spanned!(at=> pub #n: #owned)
    });
    let call_args = p.params.iter().map(|param| {
        let n = &param.name;
        match (param.context, param.by_ref) {
            (true, true) => quote_spanned!(at=> &self.#n),
            (true, false) => quote_spanned!(at=> ::core::clone::Clone::clone(&self.#n)),
            (false, true) => quote_spanned!(at=> &#n),
            (false, false) => quote_spanned!(at=> #n),
        }
    });
    let error_span = super::ast::result_error(&p.output).map_or(p.output.span(), |e| e.span());
    let to_string = quote_spanned!(error_span=>
        ::core::result::Result::map_err(
            #self_job.cancellable(body(&#self_job, #(#call_args),*)).await?,
            |e| ::std::string::ToString::to_string(&e),
        )
    );
    let level_ident = o
        .level
        .clone()
        .unwrap_or_else(|| Ident::new("Average", Span::call_site()));
    let level = quote_spanned!(at=> ::current::Level::#level_ident);
    let pool = match &o.pool {
        Some(e) => quote_spanned!(e.span()=> ::core::option::Option::Some(#e)),
        None => quote_spanned!(at=> ::core::option::Option::None),
    };
    let timeout = match o.timeout {
        Some(d) => {
            let ms = millis(d);
            quote_spanned!(at=> ::core::option::Option::Some(::std::time::Duration::from_millis(#ms)))
        }
        None => quote_spanned!(at=> ::core::option::Option::None),
    };
    let start = quote_spanned! {at=>
        #self_job
            .start(#level, ::current::job::StartOptions { pool: #pool, timeout: #timeout })
            .await
            .map_err(|e| ::std::string::ToString::to_string(&e))?;
    };
    let (id, label) = match &o.id {
        Some(id) => (quote_spanned!(at=> #id), quote_spanned!(at=> #id)),
        None => (
            quote_spanned!(at=> ::core::module_path!()),
            name.to_string().into_token_stream(),
        ),
    };
    let version = match &o.version {
        Some(v) => quote_spanned!(at=> #v),
        None => quote_spanned!(at=> 1),
    };
    let (auto_cancel, latched) = (o.auto_cancel, o.latched);
    let pp_key = |trait_name: &TokenStream| {
        if keys.is_empty() {
            quote_spanned!(at=> ::std::string::ToString::to_string(<Self as #trait_name>::LABEL))
        } else {
            quote_spanned!(at=> ::std::format!(
                "{} {}",
                <Self as #trait_name>::LABEL,
                ::current::describe::describe(#self_key)
            ))
        }
    };
    let common = |trait_name: TokenStream| {
        let pp_key = pp_key(&trait_name);
        (
            quote_spanned! {at=>
                const ID: &'static str = #id;
                const LABEL: &'static str = #label;
                const VERSION: u32 = #version;
            },
            quote_spanned! {at=>
                fn key_digest(
                    &self,
                    #self_key: &Self::Key,
                ) -> ::core::result::Result<::current::digest::Digest, ::current::digest::EncodeError> {
                    ::current::digest::key_digest(
                        <Self as #trait_name>::ID,
                        <Self as #trait_name>::VERSION,
                        &(TOKENS, #self_key),
                    )
                }
                fn auto_cancel(&self) -> bool {
                    #auto_cancel
                }
                fn latched(&self) -> bool {
                    #latched
                }
            },
            pp_key,
        )
    };
    let op_impl = match published {
        None => {
            let trait_name = quote_spanned!(at=> ::current::cache::Builder);
            let (consts, methods, pp_key) = common(trait_name.clone());
            quote_spanned! {at=>
                impl #trait_name for Op {
                    #consts
                    type Key = #key_ty;
                    type Value = #value;
                    #methods
                    fn level(&self, _: &Self::Key) -> ::current::Level {
                        #level
                    }
                    fn pp(&self, #self_key: &Self::Key) -> ::std::string::String {
                        #pp_key
                    }
                    async fn build(
                        &self,
                        #self_job: ::current::job::Job,
                        #self_key: Self::Key,
                    ) -> ::core::result::Result<#value, ::std::string::String> {
                        #start
                        let #key_pat = #self_key;
                        #to_string
                    }
                }
            }
        }
        Some(v) => {
            let trait_name = quote_spanned!(at=> ::current::cache::Operation);
            let (consts, methods, pp_key) = common(trait_name.clone());
            let (v_name, v_ty) = (&v.name, &v.owned);
            quote_spanned! {at=>
                impl #trait_name for Op {
                    #consts
                    type Key = #key_ty;
                    type Value = #v_ty;
                    type Outcome = #value;
                    #methods
                    fn level(&self, _: &Self::Key, _: &Self::Value) -> ::current::Level {
                        #level
                    }
                    fn pp(&self, #self_key: &Self::Key, _: &Self::Value) -> ::std::string::String {
                        #pp_key
                    }
                    async fn run(
                        &self,
                        #self_job: ::current::job::Job,
                        #self_key: Self::Key,
                        #self_value: Self::Value,
                    ) -> ::core::result::Result<#value, ::std::string::String> {
                        #start
                        let #key_pat = #self_key;
                        let #v_name = #self_value;
                        #to_string
                    }
                }
            }
        }
    };
    let trait_name = if publish {
        quote_spanned!(at=> ::current::cache::Operation)
    } else {
        quote_spanned!(at=> ::current::cache::Builder)
    };

    // Each parameter's type is checked where it is written.
    let checks = p
        .params
        .iter()
        .map(|param| {
            let ty = &param.owned;
            if param.context {
                quote_spanned!(ty.span()=> context::<#ty>();)
            } else {
                quote_spanned!(ty.span()=> key::<#ty>();)
            }
        })
        .chain(std::iter::once(
            quote_spanned!(value.span()=> value::<#value>();),
        ));
    let line = quote_spanned!(name.span()=> ::core::line!());
    let error_check =
        super::ast::result_error(&p.output).map(|e| quote_spanned!(e.span()=> error::<#e>();));
    let module_doc = format!(" The operation and the body of the primitive [`{name}`](fn@{name}).");
    let op_doc = format!(
        " The operation of [`{name}`](fn@{name}): its context, which is not part of the key."
    );
    let op_struct = quote_spanned! {at=>
        #[doc = #op_doc]
        pub struct Op {
            #(#fields),*
        }
    };
    let body_doc = format!(
        " The body of [`{name}`](fn@{name}) as written: call it with a job to test it without the cache."
    );

    quote! {
        #public_fn

        #[doc = #module_doc]
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;

            #op_struct

            /// The digest of the function's tokens: editing the function gives its keys new
            /// digests.
            pub const TOKENS: &str = #tokens_digest;

            #[doc = #body_doc]
            #body

            #op_impl

            const _: () = {
                fn key<T: ::current::serde::Serialize + ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static>() {}
                fn context<T: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static>() {}
                fn error<E: ::core::fmt::Display>() {}
                fn value<T: ::current::serde::Serialize + ::current::serde::de::DeserializeOwned + ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static>() {}
                #[allow(dead_code)]
                fn check() {
                    #(#checks)*
                    #error_check
                }
            };

            ::current::inventory::submit! {
                ::current::registry::Registration {
                    id: <Op as #trait_name>::ID,
                    file: ::core::file!(),
                    line: #line,
                }
            }
        }
    }
}

/// The key of a step: its type, the pattern that takes it apart, and its term.
struct Key {
    ty: TokenStream,
    pattern: TokenStream,
    term: TokenStream,
}

impl Key {
    fn of(keys: &[&Param], at: Span) -> Key {
        match keys {
            [] => Key {
                ty: quote!(()),
                pattern: quote!(()),
                term: quote!(&::current::term::Term::value(())),
            },
            [one] => {
                let (n, ty) = (&one.name, &one.owned);
                Key {
                    ty: quote!(#ty),
                    pattern: quote!(#n),
                    term: quote!(#n),
                }
            }
            [first, rest @ ..] => {
                let (n, ty) = (&first.name, &first.owned);
                let (mut ty, mut pattern, mut term) = (quote!(#ty), quote!(#n), quote!(#n));
                for k in rest {
                    let (n, t): (&Ident, &Type) = (&k.name, &k.owned);
                    ty = quote_spanned!(at=> (#ty, #t));
                    pattern = quote!((#pattern, #n));
                    term = quote!(&::current::term::Term::pair(#term, #n));
                }
                Key { ty, pattern, term }
            }
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
