//! HTML helpers: escaping, the page frame, and ANSI colours as spans.

use super::access::Identity;

/// `s` with `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The start of every page shown to `who`, with the navigation bar (and, when the site
/// has a login, a link to log in or a button to log out); `refresh` reloads it every so
/// many seconds.
pub(crate) fn head(who: &Identity, title: &str, refresh: Option<u32>) -> String {
    let refresh = refresh
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let account = match (&who.user, who.login) {
        (_, false) => String::new(),
        (Some(user), true) => format!(
            "<form id=\"logout\" method=\"post\" action=\"/logout\">{}<button>Log out {}</button></form>",
            csrf_input(who),
            escape(user)
        ),
        (None, true) => "<a id=\"login\" href=\"/login\">Log in</a>".to_string(),
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">{refresh}<title>{} - current</title>\
         <style>{STYLE}</style></head><body>\
         <nav><b>current</b> <a href=\"/\">Pipeline</a> <a href=\"/jobs\">Jobs</a> <a href=\"/query\">Query</a> \
         <a href=\"/log-rules\">Log analysis</a> <a href=\"/api/state\">API</a>{account}</nav><main>",
        escape(title)
    )
}

/// The hidden field that carries `who`'s CSRF token: every form that posts has it.
pub(crate) fn csrf_input(who: &Identity) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&who.csrf)
    )
}

/// The end of every page.
pub const TAIL: &str = "</main></body></html>\n";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0}nav{background:#333;color:#fff;padding:.5em}\
nav a{color:#fff;margin-left:1em}main{padding:1em}pre{background:#111;color:#ddd;padding:.5em;overflow-x:auto}\
pre{counter-reset:line}pre a[href]{color:#777;text-decoration:none;user-select:none;counter-increment:line}\
pre a[href]::before{content:counter(line);display:inline-block;min-width:3em;margin-right:1em;text-align:right}\
pre .hl{background:#443}table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ccc}\
form{display:inline}nav form{float:right}nav #login{float:right}.ansi-bold{font-weight:bold}.ansi-30{color:#555}.ansi-31{color:#e55}.ansi-32{color:#5c5}\
.ansi-33{color:#cc5}.ansi-34{color:#58f}.ansi-35{color:#c5c}.ansi-36{color:#5cc}.ansi-37{color:#eee}";

/// Turn ANSI colour codes (SGR: bold, the eight colours and their bright forms, reset)
/// into `<span class="ansi-..">`, escaping everything else. Other escape sequences are
/// dropped. `open` carries the spans left open from one chunk to the next.
pub fn ansi_to_html(text: &str, open: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    for span in open.iter() {
        out.push_str(&format!("<span class=\"{span}\">"));
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
            continue;
        }
        if chars.peek() != Some(&'[') {
            continue;
        }
        chars.next();
        let mut params = String::new();
        let mut end = None;
        for c in chars.by_ref() {
            if c.is_ascii_digit() || c == ';' {
                params.push(c);
            } else {
                end = Some(c);
                break;
            }
        }
        if end != Some('m') {
            continue;
        }
        for p in params.split(';') {
            let code: u32 = p.parse().unwrap_or(0);
            let class = match code {
                0 => {
                    for _ in open.drain(..) {
                        out.push_str("</span>");
                    }
                    continue;
                }
                1 => "ansi-bold".to_string(),
                30..=37 => format!("ansi-{code}"),
                90..=97 => format!("ansi-{} ansi-bold", code - 60),
                _ => continue,
            };
            out.push_str(&format!("<span class=\"{class}\">"));
            open.push(class);
        }
    }
    for _ in open.iter() {
        out.push_str("</span>");
    }
    out
}
