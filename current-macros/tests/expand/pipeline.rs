fn ci(repo: &Term<Repo>, tools: &Toolchain) -> Term<()> {
    pipeline! {
        let tools = tools.clone();
        let head = git::head(repo);
        let image = build(&tools, &head, &Term::value("x86_64".to_string()));
        component "tag";
        let* commit = head and* built = image;
        let tag = format!("{}-{}", commit.hash, built.digest);
        component "check {tag}";
        let> ok = Term::value(tag.clone());
        if ok.is_empty() { Err("no tag") } else { Ok(()) }
    }
}
