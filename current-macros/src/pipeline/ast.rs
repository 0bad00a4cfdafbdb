//! The language of `pipeline!`: statements of a block, where a binding (`let+`, `let*`,
//! `let>`) takes the rest of the block as its body, as OCaml's `let+ x = t in body` does.
//!
//! ```text
//! block   := stmt* binding?
//! stmt    := 'let' pat (':' type)? '=' '{' block '}' ';'    a plain let of a nested block
//!          | any Rust statement or the final expression
//! binding := label? 'let' op pat '=' expr ('and' op pat '=' expr)* ';' block
//! op      := '+' (map) | '*' (bind) | '>' (primitive)
//! label   := 'component' "format string" (',' expr)* ';'?
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{braced, Expr, Ident, LitStr, Pat, Token, Type};

/// A block of the pipeline language.
pub(crate) struct Block {
    pub(crate) stmts: Vec<Stmt>,
}

pub(crate) enum Stmt {
    /// `let pat = { block };`: the nested block is a pipeline block too.
    LetBlock(Box<LetBlock>),
    /// A binding; it is always the last statement of its block.
    Binding(Box<Binding>),
    /// Ordinary Rust.
    Rust(Box<syn::Stmt>),
}

/// `let pat (: ty)? = { block };`
pub(crate) struct LetBlock {
    pub(crate) pat: Pat,
    pub(crate) ty: Option<Type>,
    pub(crate) block: Block,
}

/// Which binding operator.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `let+`: [`Term::map`].
    Map,
    /// `let*`: [`Term::bind`].
    Bind,
    /// `let>`: [`Term::primitive`].
    Primitive,
}

impl Op {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Map => "+",
            Op::Bind => "*",
            Op::Primitive => ">",
        }
    }
}

/// `component "text {x}", args;`
pub(crate) struct Label {
    pub(crate) format: LitStr,
    pub(crate) args: Vec<Expr>,
}

pub(crate) struct Binding {
    pub(crate) op: Op,
    /// Where the binding starts (its `let`): its location in diagrams.
    pub(crate) span: Span,
    pub(crate) label: Option<Label>,
    /// Each `pat = term`.
    pub(crate) terms: Vec<(Pat, Expr)>,
    /// The rest of the block.
    pub(crate) body: Block,
}

impl Parse for Block {
    fn parse(input: ParseStream<'_>) -> syn::Result<Block> {
        let mut stmts = Vec::new();
        while !input.is_empty() {
            if let Some(label) = parse_label(input)? {
                let binding = parse_binding(input, Some(label))?;
                stmts.push(Stmt::Binding(Box::new(binding)));
                break;
            }
            if input.peek(Token![let]) && peek_op(input, 1).is_some() {
                let binding = parse_binding(input, None)?;
                stmts.push(Stmt::Binding(Box::new(binding)));
                break;
            }
            if let Some(stmt) = parse_let_block(input)? {
                stmts.push(stmt);
                continue;
            }
            stmts.push(Stmt::Rust(Box::new(parse_rust(input)?)));
        }
        Ok(Block { stmts })
    }
}

/// A Rust statement, or the block's final expression.
fn parse_rust(input: ParseStream<'_>) -> syn::Result<syn::Stmt> {
    let fork = input.fork();
    if let Ok(expr) = fork.parse::<Expr>() {
        if fork.is_empty() {
            use syn::parse::discouraged::Speculative;
            input.advance_to(&fork);
            return Ok(syn::Stmt::Expr(expr, None));
        }
    }
    input.parse()
}

/// The binding operator `n` tokens ahead, if there is one.
fn peek_op(input: ParseStream<'_>, n: usize) -> Option<Op> {
    let fork = input.fork();
    for _ in 0..n {
        if fork.parse::<proc_macro2::TokenTree>().is_err() {
            return None;
        }
    }
    if fork.peek(Token![+]) {
        Some(Op::Map)
    } else if fork.peek(Token![*]) {
        Some(Op::Bind)
    } else if fork.peek(Token![>]) && !fork.peek(Token![>=]) {
        Some(Op::Primitive)
    } else {
        None
    }
}

fn parse_label(input: ParseStream<'_>) -> syn::Result<Option<Label>> {
    let fork = input.fork();
    match fork.parse::<Ident>() {
        Ok(k) if k == "component" && fork.peek(LitStr) => {}
        _ => return Ok(None),
    }
    let keyword: Ident = input.parse()?;
    let format: LitStr = input.parse()?;
    let mut args = Vec::new();
    while input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
        args.push(input.parse()?);
    }
    if input.peek(Token![;]) {
        input.parse::<Token![;]>()?;
    }
    if !(input.peek(Token![let]) && peek_op(input, 1).is_some_and(|op| op != Op::Map)) {
        return Err(syn::Error::new_spanned(
            &keyword,
            "`component` labels the `let>` or `let*` that comes right after it",
        ));
    }
    Ok(Some(Label { format, args }))
}

fn parse_binding(input: ParseStream<'_>, label: Option<Label>) -> syn::Result<Binding> {
    let let_token: Token![let] = input.parse()?;
    let op = parse_op(input)?;
    let mut terms = Vec::new();
    loop {
        if input.peek(Token![;]) || input.is_empty() {
            let what = if terms.is_empty() {
                format!(
                    "`let{}` needs a binding: `let{} x = term;`",
                    op.symbol(),
                    op.symbol()
                )
            } else {
                format!(
                    "`and{}` needs a binding: `and{} y = term`",
                    op.symbol(),
                    op.symbol()
                )
            };
            return Err(input.error(what));
        }
        let pat = Pat::parse_single(input)?;
        input.parse::<Token![=]>()?;
        let term: Expr = input.parse()?;
        terms.push((pat, term));
        let fork = input.fork();
        match fork.parse::<Ident>() {
            Ok(and) if and == "and" => {
                input.parse::<Ident>()?;
                let next = parse_op(input)?;
                if next != op {
                    return Err(syn::Error::new_spanned(
                        and,
                        format!(
                            "`and{}` after `let{}`: the bindings of one `let{}` are joined with `and{}`",
                            next.symbol(),
                            op.symbol(),
                            op.symbol(),
                            op.symbol()
                        ),
                    ));
                }
            }
            _ => break,
        }
    }
    input.parse::<Token![;]>().map_err(|_| {
        input.error(format!(
            "expected `;` after the binding, then the body of the `let{}`",
            op.symbol()
        ))
    })?;
    let body: Block = input.parse()?;
    if body.stmts.is_empty() {
        return Err(syn::Error::new_spanned(
            let_token,
            format!(
                "a `let{}` needs a body after its `;`: {}",
                op.symbol(),
                match op {
                    Op::Map => "the value it makes",
                    Op::Bind => "the term it makes",
                    Op::Primitive => "the `Result` it outputs",
                }
            ),
        ));
    }
    if op == Op::Primitive && label.is_none() {
        return Err(syn::Error::new_spanned(
            let_token,
            "a `let>` is a box in the diagram and needs a label: write `component \"label\";` before it",
        ));
    }
    Ok(Binding {
        op,
        span: let_token.span,
        label,
        terms,
        body,
    })
}

fn parse_op(input: ParseStream<'_>) -> syn::Result<Op> {
    if input.peek(Token![+]) {
        input.parse::<Token![+]>()?;
        Ok(Op::Map)
    } else if input.peek(Token![*]) {
        input.parse::<Token![*]>()?;
        Ok(Op::Bind)
    } else if input.peek(Token![>]) {
        input.parse::<Token![>]>()?;
        Ok(Op::Primitive)
    } else {
        Err(input.error("expected a binding operator: `+`, `*` or `>`"))
    }
}

/// `let pat (: ty)? = { ... };`, if that is what comes next.
fn parse_let_block(input: ParseStream<'_>) -> syn::Result<Option<Stmt>> {
    if !input.peek(Token![let]) {
        return Ok(None);
    }
    let fork = input.fork();
    fork.parse::<Token![let]>()?;
    let Ok(pat) = Pat::parse_single(&fork) else {
        return Ok(None);
    };
    let ty = if fork.peek(Token![:]) {
        fork.parse::<Token![:]>()?;
        match fork.parse::<Type>() {
            Ok(ty) => Some(ty),
            Err(_) => return Ok(None),
        }
    } else {
        None
    };
    if !(fork.peek(Token![=]) && fork.peek2(syn::token::Brace)) {
        return Ok(None);
    }
    fork.parse::<Token![=]>()?;
    let content;
    braced!(content in fork);
    if !fork.peek(Token![;]) {
        // `let x = { ... } else { ... };` or a block followed by more: plain Rust.
        return Ok(None);
    }
    let block: Block = content.parse()?;
    fork.parse::<Token![;]>()?;
    use syn::parse::discouraged::Speculative;
    input.advance_to(&fork);
    Ok(Some(Stmt::LetBlock(Box::new(LetBlock { pat, ty, block }))))
}
