use current::job::Job;
/// Build a commit; cached per commit, rebuilt when the commit changes.
///
/// Made by `#[primitive]`: the operation is [`build::Op`], the body as written is [`build::body`].
#[track_caller]
pub fn build(
    tools: &Toolchain,
    commit: &::current::term::Term<Commit>,
    target: &::current::term::Term<String>,
) -> ::current::term::Term<Image> {
    let op = ::std::sync::Arc::new(build::Op {
        tools: ::core::clone::Clone::clone(tools),
    });
    ::current::cache::build_with(
        &op,
        &::current::term::Term::pair(commit, target),
        ::current::cache::Schedule {
            valid_for: ::core::option::Option::Some(
                ::std::time::Duration::from_millis(86400000u64),
            ),
        },
    )
}
/// The operation and the body of the primitive [`build`](fn@build).
pub mod build {
    #[allow(unused_imports)]
    use super::*;
    /// The operation of [`build`](fn@build): its context, which is not part of the key.
    pub struct Op {
        pub tools: Toolchain,
    }
    /// The digest of the function's tokens: editing the function gives its keys new
    /// digests.
    pub const TOKENS: &str = "a08af8533544abb4675b8542058e7e0a31016d6d0f5e401e157e3cbb3bdcadb7";
    /// The body of [`build`](fn@build) as written: call it with a job to test it without the cache.
    pub async fn body(
        job: &Job,
        tools: &Toolchain,
        commit: Commit,
        target: &String,
    ) -> Result<Image, BuildError> {
        job.log(format_args!("building {} for {target}", commit.hash));
        tools.build(&commit, target).await
    }
    impl ::current::cache::Builder for Op {
        const ID: &'static str = ::core::module_path!();
        const LABEL: &'static str = "build";
        const VERSION: u32 = 1;
        type Key = (Commit, String);
        type Value = Image;
        fn key_digest(
            &self,
            key: &Self::Key,
        ) -> ::core::result::Result<
            ::current::digest::Digest,
            ::current::digest::EncodeError,
        > {
            ::current::digest::key_digest(
                <Self as ::current::cache::Builder>::ID,
                <Self as ::current::cache::Builder>::VERSION,
                &(TOKENS, key),
            )
        }
        fn auto_cancel(&self) -> bool {
            false
        }
        fn latched(&self) -> bool {
            false
        }
        fn level(&self, _: &Self::Key) -> ::current::Level {
            ::current::Level::Average
        }
        fn pp(&self, key: &Self::Key) -> ::std::string::String {
            ::std::format!(
                "{} {}", < Self as ::current::cache::Builder > ::LABEL,
                ::current::describe::describe(key)
            )
        }
        async fn build(
            &self,
            job: ::current::job::Job,
            key: Self::Key,
        ) -> ::core::result::Result<Image, ::std::string::String> {
            job.start(
                    ::current::Level::Average,
                    ::current::job::StartOptions {
                        pool: ::core::option::Option::None,
                        timeout: ::core::option::Option::Some(
                            ::std::time::Duration::from_millis(600000u64),
                        ),
                    },
                )
                .await
                .map_err(|e| ::std::string::ToString::to_string(&e))?;
            let (commit, target) = key;
            ::core::result::Result::map_err(
                job.cancellable(body(&job, &self.tools, commit, &target)).await?,
                |e| ::std::string::ToString::to_string(&e),
            )
        }
    }
    const _: () = {
        fn key<
            T: ::current::serde::Serialize + ::core::clone::Clone + ::core::marker::Send
                + ::core::marker::Sync + 'static,
        >() {}
        fn context<
            T: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync
                + 'static,
        >() {}
        fn error<E: ::core::fmt::Display>() {}
        fn value<
            T: ::current::serde::Serialize + ::current::serde::de::DeserializeOwned
                + ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync
                + 'static,
        >() {}
        #[allow(dead_code)]
        fn check() {
            context::<Toolchain>();
            key::<Commit>();
            key::<String>();
            value::<Image>();
            error::<BuildError>();
        }
    };
    ::current::inventory::submit! {
        ::current::registry::Registration { id : < Op as ::current::cache::Builder >
        ::ID, file : ::core::file!(), line : ::core::line!(), }
    }
}
/// Publish an image under a tag.
///
/// Made by `#[primitive]`: the operation is [`push::Op`], the body as written is [`push::body`].
#[track_caller]
fn push(
    tag: &::current::term::Term<String>,
    image: &::current::term::Term<Image>,
) -> ::current::term::Term<String> {
    let op = ::std::sync::Arc::new(push::Op {});
    ::current::cache::run_with(
        &op,
        tag,
        image,
        ::current::cache::Schedule {
            valid_for: ::core::option::Option::None,
        },
    )
}
/// The operation and the body of the primitive [`push`](fn@push).
mod push {
    #[allow(unused_imports)]
    use super::*;
    /// The operation of [`push`](fn@push): its context, which is not part of the key.
    pub struct Op {}
    /// The digest of the function's tokens: editing the function gives its keys new
    /// digests.
    pub const TOKENS: &str = "0a1ac64ea273be2e15baf2d0e667cedf9effac05f61ac1887be07591ff515028";
    /// The body of [`push`](fn@push) as written: call it with a job to test it without the cache.
    pub async fn body(_job: &Job, tag: String, image: Image) -> anyhow::Result<String> {
        Ok(format!("{tag}@{}", image.digest))
    }
    impl ::current::cache::Operation for Op {
        const ID: &'static str = ::core::module_path!();
        const LABEL: &'static str = "push";
        const VERSION: u32 = 1;
        type Key = String;
        type Value = Image;
        type Outcome = String;
        fn key_digest(
            &self,
            key: &Self::Key,
        ) -> ::core::result::Result<
            ::current::digest::Digest,
            ::current::digest::EncodeError,
        > {
            ::current::digest::key_digest(
                <Self as ::current::cache::Operation>::ID,
                <Self as ::current::cache::Operation>::VERSION,
                &(TOKENS, key),
            )
        }
        fn auto_cancel(&self) -> bool {
            true
        }
        fn latched(&self) -> bool {
            false
        }
        fn level(&self, _: &Self::Key, _: &Self::Value) -> ::current::Level {
            ::current::Level::Average
        }
        fn pp(&self, key: &Self::Key, _: &Self::Value) -> ::std::string::String {
            ::std::format!(
                "{} {}", < Self as ::current::cache::Operation > ::LABEL,
                ::current::describe::describe(key)
            )
        }
        async fn run(
            &self,
            job: ::current::job::Job,
            key: Self::Key,
            value: Self::Value,
        ) -> ::core::result::Result<String, ::std::string::String> {
            job.start(
                    ::current::Level::Average,
                    ::current::job::StartOptions {
                        pool: ::core::option::Option::None,
                        timeout: ::core::option::Option::None,
                    },
                )
                .await
                .map_err(|e| ::std::string::ToString::to_string(&e))?;
            let tag = key;
            let image = value;
            ::core::result::Result::map_err(
                job.cancellable(body(&job, tag, image)).await?,
                |e| ::std::string::ToString::to_string(&e),
            )
        }
    }
    const _: () = {
        fn key<
            T: ::current::serde::Serialize + ::core::clone::Clone + ::core::marker::Send
                + ::core::marker::Sync + 'static,
        >() {}
        fn context<
            T: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync
                + 'static,
        >() {}
        fn error<E: ::core::fmt::Display>() {}
        fn value<
            T: ::current::serde::Serialize + ::current::serde::de::DeserializeOwned
                + ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync
                + 'static,
        >() {}
        #[allow(dead_code)]
        fn check() {
            key::<String>();
            key::<Image>();
            value::<String>();
        }
    };
    ::current::inventory::submit! {
        ::current::registry::Registration { id : < Op as ::current::cache::Operation >
        ::ID, file : ::core::file!(), line : ::core::line!(), }
    }
}
