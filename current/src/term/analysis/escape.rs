//! Quoting text for graphviz.

/// The longest error shown in a tooltip, in characters; longer ones are cut with `...`.
pub(crate) const MAX_TOOLTIP: usize = 4096;

/// `s` as a double-quoted dot string that `dot` displays exactly as written.
///
/// Quotes and backslashes are escaped, a newline becomes dot's `\n` line break, `&`, `<`
/// and `>` become HTML entities (which graphviz decodes in every output format, so text
/// that happens to look like an entity is not decoded by mistake), other control characters
/// become spaces. Everything else, non-ASCII included, stays UTF-8.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `msg`, cut to [`MAX_TOOLTIP`] characters with `...` if longer.
pub(crate) fn truncate(msg: &str) -> String {
    match msg.char_indices().nth(MAX_TOOLTIP) {
        None => msg.to_string(),
        Some((end, _)) => format!("{}...", &msg[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(quote("one\ntwo\r"), r#""one\ntwo""#);
        assert_eq!(quote("<a&b>"), r#""&lt;a&amp;b&gt;""#);
        assert_eq!(quote("caf\u{e9} \u{2714}\u{7}"), "\"caf\u{e9} \u{2714} \"");
    }

    #[test]
    fn truncation() {
        let long = "\u{e9}".repeat(MAX_TOOLTIP + 1);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_TOOLTIP + 3);
        assert!(cut.ends_with("\u{e9}..."));
        assert_eq!(truncate("short"), "short");
    }
}
