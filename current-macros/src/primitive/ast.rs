//! A model of the function under `#[primitive]`: its job parameter, its context and key
//! parameters, and the value it returns.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type,
    Visibility,
};

/// The function, taken apart.
pub(crate) struct Primitive {
    /// The user's attributes (doc comments above all), kept on the generated function.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    /// The function as written, without `#[context]` markers: the body.
    pub(crate) body: ItemFn,
    /// The `&Job` parameter's name.
    pub(crate) job: Ident,
    /// The parameters after the job, in order.
    pub(crate) params: Vec<Param>,
    /// `T` of the `Result<T, E>` it returns.
    pub(crate) value: Type,
    /// The return type as written.
    pub(crate) output: Type,
    /// The parameter list, parentheses included: where errors about the generated
    /// operation point (a context that is not `Send`, keys that are not `Serialize`).
    pub(crate) params_span: Span,
}

/// A parameter after the job.
pub(crate) struct Param {
    pub(crate) name: Ident,
    /// The type as written.
    pub(crate) ty: Type,
    /// The type without a leading `&`: what the key or the context holds.
    pub(crate) owned: Type,
    /// Written as a reference: the body is given `&owned`.
    pub(crate) by_ref: bool,
    /// Marked `#[context]`: not part of the key.
    pub(crate) context: bool,
}

impl Primitive {
    /// Model `item`, or point at what does not fit.
    pub(crate) fn from_item(mut item: ItemFn) -> syn::Result<Primitive> {
        let sig = &item.sig;
        if sig.asyncness.is_none() {
            return Err(syn::Error::new_spanned(
                sig.fn_token,
                "#[primitive] needs an `async fn`: its body runs as a job",
            ));
        }
        if let Some(c) = &sig.constness {
            return Err(syn::Error::new_spanned(c, "a primitive cannot be `const`"));
        }
        if let Some(u) = &sig.unsafety {
            return Err(syn::Error::new_spanned(u, "a primitive cannot be `unsafe`"));
        }
        if let Some(abi) = &sig.abi {
            return Err(syn::Error::new_spanned(
                abi,
                "a primitive cannot have an `extern` ABI",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            return Err(syn::Error::new_spanned(
                &sig.generics,
                "a primitive cannot be generic: its stored results need one key type and one value type",
            ));
        }
        if let Some(v) = &sig.variadic {
            return Err(syn::Error::new_spanned(v, "a primitive cannot be variadic"));
        }
        let output = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            ReturnType::Default => {
                return Err(syn::Error::new(
                    sig.paren_token.span.close(),
                    "a primitive returns `Result<Value, Error>`: add `-> Result<...>`",
                ))
            }
        };
        let value = result_value(&output)?;

        let mut inputs = sig.inputs.iter();
        let job = match inputs.next() {
            Some(arg) => job_param(arg)?,
            None => {
                return Err(syn::Error::new(
                    sig.paren_token.span.join(),
                    "a primitive's first parameter is its job: `job: &Job`",
                ))
            }
        };
        let params = inputs.map(param).collect::<syn::Result<Vec<_>>>()?;

        // The body keeps everything but the `#[context]` markers.
        for arg in item.sig.inputs.iter_mut() {
            if let FnArg::Typed(t) = arg {
                t.attrs.retain(|a| !a.path().is_ident("context"));
            }
        }
        let attrs = std::mem::take(&mut item.attrs);
        let params_span = item.sig.paren_token.span.join();
        Ok(Primitive {
            params_span,
            attrs,
            vis: item.vis.clone(),
            name: item.sig.ident.clone(),
            body: item,
            job,
            params,
            value,
            output,
        })
    }

    /// The key parameters, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| !p.context)
    }

    /// The context parameters, in order.
    pub(crate) fn contexts(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.context)
    }
}

/// `E` of `Result<T, E>`, if it is written.
pub(crate) fn result_error(output: &Type) -> Option<&Type> {
    let Type::Path(path) = output else {
        return None;
    };
    let PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    match args.args.iter().nth(1)? {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    }
}

/// `T` of `Result<T>` or `Result<T, E>` (any path ending in `Result`).
fn result_value(output: &Type) -> syn::Result<Type> {
    let not_result = || {
        syn::Error::new_spanned(
            output,
            "a primitive returns `Result<Value, Error>` (any `Result` whose error implements `Display`)",
        )
    };
    let Type::Path(path) = output else {
        return Err(not_result());
    };
    let Some(last) = path.path.segments.last() else {
        return Err(not_result());
    };
    if last.ident != "Result" {
        return Err(not_result());
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err(not_result());
    };
    match args.args.first() {
        Some(GenericArgument::Type(ty)) => Ok(ty.clone()),
        _ => Err(not_result()),
    }
}

fn job_param(arg: &FnArg) -> syn::Result<Ident> {
    let missing = |span: Span| {
        syn::Error::new(
            span,
            "a primitive's first parameter is its job: `job: &Job`",
        )
    };
    let FnArg::Typed(t) = arg else {
        return Err(syn::Error::new_spanned(
            arg,
            "a primitive is a free function, not a method: remove `self`",
        ));
    };
    let is_job = match &*t.ty {
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Job"),
            _ => false,
        },
        _ => false,
    };
    if !is_job {
        return Err(missing(t.ty.span()));
    }
    if let Some(a) = t.attrs.iter().find(|a| a.path().is_ident("context")) {
        return Err(syn::Error::new_spanned(a, "the job is not a context"));
    }
    pat_ident(&t.pat)
}

fn param(arg: &FnArg) -> syn::Result<Param> {
    let FnArg::Typed(t) = arg else {
        return Err(syn::Error::new_spanned(
            arg,
            "a primitive is a free function, not a method: remove `self`",
        ));
    };
    let mut context = false;
    for a in &t.attrs {
        if a.path().is_ident("context") {
            if context {
                return Err(syn::Error::new_spanned(a, "`#[context]` is given twice"));
            }
            if !matches!(a.meta, syn::Meta::Path(_)) {
                return Err(syn::Error::new_spanned(
                    a,
                    "`#[context]` takes no arguments",
                ));
            }
            context = true;
        }
    }
    let name = pat_ident(&t.pat)?;
    let (owned, by_ref) = match &*t.ty {
        Type::Reference(r) => {
            if let Some(m) = &r.mutability {
                return Err(syn::Error::new_spanned(
                    m,
                    "a primitive's parameters are shared: take `&T` or `T`, not `&mut T`",
                ));
            }
            if let Some(l) = &r.lifetime {
                return Err(syn::Error::new_spanned(
                    l,
                    "a primitive's parameters are kept beyond the call: leave the lifetime out",
                ));
            }
            ((*r.elem).clone(), true)
        }
        ty => (ty.clone(), false),
    };
    if let Type::ImplTrait(i) = &owned {
        return Err(syn::Error::new_spanned(
            i,
            "a primitive's parameters need concrete types, not `impl Trait`",
        ));
    }
    Ok(Param {
        name,
        ty: (*t.ty).clone(),
        owned,
        by_ref,
        context,
    })
}

fn pat_ident(pat: &Pat) -> syn::Result<Ident> {
    match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Ok(p.ident.clone()),
        _ => Err(syn::Error::new_spanned(
            pat,
            "a primitive's parameters need plain names (they name the generated function's parameters)",
        )),
    }
}
