//! What `pipeline!` writes: calls of `Term`'s combinators, located at each binding.
//!
//! - `let+ x = t and+ y = u; body` is `Term::map(&Term::pair(&t, &u), move |(x, y)| body)`;
//! - `let* x = t; body` is `Term::bind(&t, label, move |x| body)`;
//! - `component "label"; let> x = t; body` is `Term::primitive(&t, label, ...)`, whose
//!   output is `body`, a `Result` (its error, shown with `Display`, fails the box).
//!
//! Each closure gets clones of the pipeline's variables it uses (see `captures`).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::Ident;

use super::ast::{Binding, Block, Op, Stmt};
use super::captures::{bound, Known};

/// A block: `{ stmts }`.
pub(crate) fn block(b: &Block, known: &Known) -> TokenStream {
    let mut known = known.clone();
    let mut out = TokenStream::new();
    for stmt in &b.stmts {
        match stmt {
            Stmt::Rust(s) => {
                if let syn::Stmt::Local(local) = &**s {
                    known = known.with(&local.pat);
                }
                s.to_tokens(&mut out);
            }
            Stmt::LetBlock(l) => {
                let (pat, ty) = (&l.pat, &l.ty);
                let inner = block(&l.block, &known);
                let ty = ty.as_ref().map(|t| quote!(: #t));
                out.extend(quote!(let #pat #ty = #inner;));
                known = known.with(pat);
            }
            Stmt::Binding(binding) => out.extend(self::binding(binding, &known)),
        }
    }
    quote!({ #out })
}

fn binding(b: &Binding, known: &Known) -> TokenStream {
    let at = b.span;
    // The input: one term, or the pairs of all of them.
    let mut terms = b.terms.iter();
    let Some((first_pat, first)) = terms.next() else {
        return syn::Error::new(at, "a binding needs a term").into_compile_error();
    };
    let mut input = quote_spanned!(first.span()=> &(#first));
    let mut pattern = first_pat.to_token_stream();
    let mut inner = known.with(first_pat);
    let mut own = bound(first_pat);
    for (pat, term) in terms {
        let term = quote_spanned!(term.span()=> &(#term));
        input = quote_spanned!(at=> &::current::term::Term::pair(#input, #term));
        pattern = quote!((#pattern, #pat));
        inner = inner.with(pat);
        own.extend(bound(pat));
    }
    let body = block(&b.body, &inner);
    let clones = known.used_in(&body, &own).into_iter().map(clone_of);
    let label = label(b);
    // The input is taken before the clones, which shadow the variables it may use.
    let input_var = Ident::new("input", Span::mixed_site());
    let take_input = if b.terms.len() == 1 {
        // Typed, so that an expression that is not a term is named as such.
        quote_spanned!(first.span()=> let #input_var: &::current::term::Term<_> = #input;)
    } else {
        quote!(let #input_var = #input;)
    };
    let input = &input_var;
    let call = match b.op {
        Op::Map => quote_spanned!(at=>
            ::current::term::Term::map(#input, move |#pattern| #body)
        ),
        Op::Bind => quote_spanned!(at=>
            ::current::term::Term::bind(#input, #label, move |#pattern| #body)
        ),
        Op::Primitive => {
            let g = Ident::new("graph", Span::mixed_site());
            let e = Ident::new("error", Span::mixed_site());
            quote_spanned!(at=>
                ::current::term::Term::primitive(#input, #label, move |#g, #pattern| {
                    let output = ::core::result::Result::map_err(#body, |#e| {
                        ::current::term::ErrorKind::msg(::std::string::ToString::to_string(&#e))
                    });
                    #g.constant((output, ::core::option::Option::None))
                })
            )
        }
    };
    quote!({ #take_input #(#clones)* #call })
}

/// The box's label: the `component`, or for `let*` without one, the names it binds.
fn label(b: &Binding) -> TokenStream {
    match &b.label {
        Some(l) => {
            let (format, args) = (&l.format, &l.args);
            quote!(::std::format!(#format #(, #args)*))
        }
        None => {
            let names: Vec<String> = b
                .terms
                .iter()
                .map(|(pat, _)| pat.to_token_stream().to_string())
                .collect();
            let text = names.join(", ");
            quote!(#text)
        }
    }
}

fn clone_of(name: Ident) -> TokenStream {
    quote_spanned!(name.span()=> let #name = ::core::clone::Clone::clone(&#name);)
}
