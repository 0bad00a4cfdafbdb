//! `#[primitive]`: a cached build or publish step from an async function.

mod ast;
mod attr;
mod expand;
mod valid;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let options = attr::Options::parse(args)?;
    let item: syn::ItemFn = syn::parse2(input)?;
    let primitive = ast::Primitive::from_item(item)?;
    valid::check(&options, &primitive)?;
    Ok(expand::expand(&options, &primitive))
}
