//! Which of the pipeline's own variables a closure uses, so that each closure gets clones
//! of them.
//!
//! A binding's body becomes a `move` closure that the engine may call many times; a
//! variable of the pipeline it uses (a term made earlier, a value of an outer binding) is
//! cloned just before the closure is made, so that the closure owns a copy and the
//! variable stays usable after it. Only variables bound inside the macro are known: a
//! value from outside is brought in with a plain `let` at the top of the pipeline.

use proc_macro2::{Ident, TokenStream, TokenTree};
use syn::visit::Visit;
use syn::Pat;

/// The variables bound so far, innermost last.
#[derive(Clone, Default)]
pub(crate) struct Known(Vec<String>);

impl Known {
    /// With the variables that `pat` binds.
    pub(crate) fn with(&self, pat: &Pat) -> Known {
        let mut known = self.clone();
        known
            .0
            .extend(bound(pat).into_iter().map(|i| i.to_string()));
        known
    }

    /// The known variables that `body` uses, each once, as first written there, except
    /// those in `except`.
    pub(crate) fn used_in(&self, body: &TokenStream, except: &[Ident]) -> Vec<Ident> {
        let mut used: Vec<Ident> = Vec::new();
        scan(body.clone(), &mut |ident| {
            let name = ident.to_string();
            if self.0.contains(&name)
                && !except.iter().any(|e| *e == name)
                && !used.iter().any(|u| *u == name)
            {
                used.push(ident.clone());
            }
        });
        used
    }
}

/// The variables a pattern binds (not unit variants or constants, which are capitalised).
pub(crate) fn bound(pat: &Pat) -> Vec<Ident> {
    struct Names(Vec<Ident>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            if !p.ident.to_string().starts_with(char::is_uppercase) {
                self.0.push(p.ident.clone());
            }
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut names = Names(Vec::new());
    names.visit_pat(pat);
    names.0
}

/// Call `f` on each identifier that can be a variable: not a field or method after `.`,
/// not a macro's name, not a segment of a path, not before a `:`; and on each variable a
/// string literal names as a format argument (`"{name}"`, `"{name:>8}"`).
fn scan(tokens: TokenStream, f: &mut impl FnMut(&Ident)) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            TokenTree::Group(g) => scan(g.stream(), f),
            TokenTree::Ident(ident) => {
                let before = i.checked_sub(1).and_then(|j| tokens.get(j));
                let after = tokens.get(i + 1);
                let punct = |t: Option<&TokenTree>, c: char| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c);
                if punct(before, '.')
                    || punct(before, ':')
                    || punct(after, '!')
                    || punct(after, ':')
                {
                    continue;
                }
                f(ident);
            }
            TokenTree::Literal(lit) => {
                for name in format_args_of(&lit.to_string()) {
                    f(&Ident::new(&name, lit.span()));
                }
            }
            _ => {}
        }
    }
}

/// The variables a string literal's text names as format arguments.
fn format_args_of(literal: &str) -> Vec<String> {
    if !(literal.starts_with('"') || literal.starts_with("r\"") || literal.starts_with("r#")) {
        return Vec::new();
    }
    let mut names = Vec::new();
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '{' {
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            continue;
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_')).collect();
        let starts_well = name.starts_with(|c: char| c.is_alphabetic() || c == '_');
        if starts_well && matches!(chars.peek(), Some('}' | ':')) && name != "_" {
            names.push(name);
        }
    }
    names
}
