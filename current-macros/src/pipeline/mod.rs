//! `pipeline!`: OCurrent's binding operators (`let+`, `let*`, `let>`) as a small
//! language inside a block of ordinary Rust.

mod ast;
mod captures;
mod expand;

use proc_macro2::TokenStream;

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let block: ast::Block = syn::parse2(input)?;
    Ok(expand::block(&block, &captures::Known::default()))
}
