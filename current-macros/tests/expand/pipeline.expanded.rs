fn ci(repo: &Term<Repo>, tools: &Toolchain) -> Term<()> {
    {
        let tools = tools.clone();
        let head = git::head(repo);
        let image = build(&tools, &head, &Term::value("x86_64".to_string()));
        {
            let input = &::current::term::Term::pair(&(head), &(image));
            ::current::term::Term::bind(
                input,
                ::std::format!("tag"),
                move |(commit, built)| {
                    let tag = format!("{}-{}", commit.hash, built.digest);
                    {
                        let input: &::current::term::Term<_> = &(Term::value(
                            tag.clone(),
                        ));
                        ::current::term::Term::primitive(
                            input,
                            ::std::format!("check {tag}"),
                            move |graph, ok| {
                                let output = ::core::result::Result::map_err(
                                    { if ok.is_empty() { Err("no tag") } else { Ok(()) } },
                                    |error| {
                                        ::current::term::ErrorKind::msg(
                                            ::std::string::ToString::to_string(&error),
                                        )
                                    },
                                );
                                graph.constant((output, ::core::option::Option::None))
                            },
                        )
                    }
                },
            )
        }
    }
}
