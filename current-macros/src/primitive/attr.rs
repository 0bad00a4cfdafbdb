//! The options of `#[primitive(...)]`, checked against an allow-list.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Expr, Ident, LitBool, LitInt, LitStr};

use crate::duration;

/// Every option, in the order the documentation gives them.
const ALLOWED: &[&str] = &[
    "id",
    "level",
    "auto_cancel",
    "version",
    "valid_for",
    "pool",
    "timeout",
    "latched",
    "publish",
];

/// The levels of `current::Level`, for `level = ...`.
const LEVELS: &[&str] = &[
    "Harmless",
    "MostlyHarmless",
    "Average",
    "AboveAverage",
    "Dangerous",
];

/// What the options say.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) id: Option<LitStr>,
    pub(crate) level: Option<Ident>,
    pub(crate) auto_cancel: bool,
    pub(crate) version: Option<LitInt>,
    pub(crate) valid_for: Option<Duration>,
    pub(crate) pool: Option<Expr>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) latched: bool,
    /// Where `publish` was written, if it was.
    pub(crate) publish: Option<Span>,
    seen: Vec<String>,
}

impl Options {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Options> {
        let mut options = Options::default();
        let parser = syn::meta::parser(|meta| options.one(meta));
        syn::parse::Parser::parse2(parser, args)?;
        Ok(options)
    }

    fn one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        let name = match path.get_ident() {
            Some(ident) if ALLOWED.contains(&ident.to_string().as_str()) => ident.to_string(),
            _ => {
                let written = quote::quote!(#path).to_string().replace(' ', "");
                return Err(syn::Error::new_spanned(
                    path,
                    format!(
                        "unknown option `{written}` of #[primitive]; the options are: {}",
                        ALLOWED.join(", ")
                    ),
                ));
            }
        };
        if self.seen.contains(&name) {
            return Err(syn::Error::new_spanned(
                path,
                format!("the option `{name}` is given twice"),
            ));
        }
        self.seen.push(name.clone());
        match name.as_str() {
            "id" => {
                let id: LitStr = meta.value()?.parse()?;
                if id.value().trim().is_empty() {
                    return Err(syn::Error::new_spanned(id, "the id must not be empty"));
                }
                self.id = Some(id);
            }
            "level" => {
                let level: Ident = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(e.span(), format!("expected a level: {}", LEVELS.join(", ")))
                })?;
                if !LEVELS.contains(&level.to_string().as_str()) {
                    return Err(syn::Error::new_spanned(
                        &level,
                        format!(
                            "unknown level `{level}`; the levels are: {}",
                            LEVELS.join(", ")
                        ),
                    ));
                }
                self.level = Some(level);
            }
            "auto_cancel" => self.auto_cancel = flag(&meta)?,
            "latched" => self.latched = flag(&meta)?,
            "version" => {
                let version: LitInt = meta.value()?.parse()?;
                version.base10_parse::<u32>().map_err(|_| {
                    syn::Error::new_spanned(
                        &version,
                        "the version is a number from 0 to 4294967295",
                    )
                })?;
                self.version = Some(version);
            }
            "valid_for" => self.valid_for = Some(duration_value(&meta)?),
            "timeout" => self.timeout = Some(duration_value(&meta)?),
            "pool" => self.pool = Some(meta.value()?.parse()?),
            "publish" => {
                if meta.input.peek(syn::Token![=]) {
                    return Err(meta.error("`publish` takes no value: write `publish`"));
                }
                self.publish = Some(syn::spanned::Spanned::span(&meta.path));
            }
            _ => unreachable!("every allowed option is handled"),
        }
        Ok(())
    }
}

/// `name` or `name = true/false`.
fn flag(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        let value: LitBool = meta.value()?.parse()?;
        Ok(value.value)
    } else {
        Ok(true)
    }
}

fn duration_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Duration> {
    let value = meta.value()?;
    let text: LitStr = match value.parse::<syn::Lit>()? {
        syn::Lit::Str(text) => text,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "a duration is a string of numbers with units, like \"10m\" or \"1h30m\"",
            ))
        }
    };
    duration::parse(&text.value()).map_err(|msg| syn::Error::new_spanned(&text, msg))
}
