//! The procedural macros of `current`: `#[primitive]` and `pipeline!`.
//!
//! Use them through the `current` crate (`current::primitive`, `current::pipeline`),
//! whose documentation has the examples. Each macro is built in stages, one per module:
//! `ast` models the input, `attr` parses options, `valid` checks, `expand` emits.

mod duration;
mod pipeline;
mod primitive;

#[cfg(test)]
mod expansion_tests;

use proc_macro::TokenStream;

/// Make a cached build (or publish) step of an async function. See `current::primitive`.
#[proc_macro_attribute]
pub fn primitive(args: TokenStream, input: TokenStream) -> TokenStream {
    primitive::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Wire terms together with OCurrent's binding operators. See `current::pipeline`.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    pipeline::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
