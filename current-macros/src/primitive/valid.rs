//! Checks that need both the options and the function.

use super::ast::Primitive;
use super::attr::Options;

pub(crate) fn check(options: &Options, primitive: &Primitive) -> syn::Result<()> {
    if let Some(span) = options.publish {
        if primitive.keys().next().is_none() {
            return Err(syn::Error::new(
                span,
                format!(
                    "a `publish` primitive takes the value to publish as its last parameter (after `{}: &Job`), and its key before it",
                    primitive.job
                ),
            ));
        }
    }
    Ok(())
}
