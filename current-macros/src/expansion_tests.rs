//! The expansions of one primitive and one pipeline, compared with the checked-in files
//! `tests/expand/*.expanded.rs`, so that every change to the generated code is reviewed.
//! After a deliberate change, regenerate them with `CURRENT_EXPAND=overwrite`.

use std::path::Path;

use proc_macro2::TokenStream;
use syn::visit_mut::VisitMut;

/// Expand every `#[primitive]` function and `pipeline!` call of a file.
fn expand_file(source: &str) -> syn::Result<String> {
    let file: syn::File = syn::parse_str(source)?;
    let mut items = Vec::new();
    for mut item in file.items {
        if let syn::Item::Fn(f) = &mut item {
            if let Some(at) = f.attrs.iter().position(|a| a.path().is_ident("primitive")) {
                let attr = f.attrs.remove(at);
                let args = match attr.meta {
                    syn::Meta::List(list) => list.tokens,
                    _ => TokenStream::new(),
                };
                let expanded = crate::primitive::expand(args, quote::quote!(#f))?;
                items.extend(syn::parse2::<syn::File>(expanded)?.items);
                continue;
            }
        }
        let mut pipelines = Pipelines(Ok(()));
        pipelines.visit_item_mut(&mut item);
        pipelines.0?;
        items.push(item);
    }
    Ok(prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: file.attrs,
        items,
    }))
}

/// Replaces each `pipeline! { ... }` with its expansion.
struct Pipelines(syn::Result<()>);

impl VisitMut for Pipelines {
    fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
        if let syn::Expr::Macro(m) = e {
            if m.mac.path.is_ident("pipeline") {
                match crate::pipeline::expand(m.mac.tokens.clone()).and_then(syn::parse2) {
                    Ok(expanded) => *e = expanded,
                    Err(err) => self.0 = Err(err),
                }
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }

    fn visit_stmt_mut(&mut self, s: &mut syn::Stmt) {
        if let syn::Stmt::Macro(m) = s {
            if m.mac.path.is_ident("pipeline") {
                let expr = syn::Expr::Macro(syn::ExprMacro {
                    attrs: m.attrs.clone(),
                    mac: m.mac.clone(),
                });
                *s = syn::Stmt::Expr(expr, m.semi_token);
            }
        }
        syn::visit_mut::visit_stmt_mut(self, s);
    }
}

fn check(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let input = dir.join(format!("{name}.rs"));
    let expected = dir.join(format!("{name}.expanded.rs"));
    let source = std::fs::read_to_string(&input)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", input.display()));
    let actual =
        expand_file(&source).unwrap_or_else(|e| panic!("{} does not expand: {e}", input.display()));
    if std::env::var("CURRENT_EXPAND").as_deref() == Ok("overwrite") {
        std::fs::write(&expected, &actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", expected.display()));
        return;
    }
    let want = std::fs::read_to_string(&expected).unwrap_or_default();
    assert!(
        want == actual,
        "the expansion of {} changed; if that is intended, run with CURRENT_EXPAND=overwrite \
         and review the diff of {}.\n--- now:\n{actual}",
        input.display(),
        expected.display()
    );
}

#[test]
fn primitive_expansion() {
    check("primitive");
}

#[test]
fn pipeline_expansion() {
    check("pipeline");
}
