//! AsciiDoc → Markdown, at heading and paragraph level.
//!
//! `= Title` gives the title (with the author and revision lines under it); `==` … `======`
//! become `#` … `#####`; attribute entries (`:name: value`), comment lines and blocks, block
//! attributes (`[source,java]`) and block macros (`image::`, `include::`, …) are dropped;
//! listing (`----`) and literal (`....`) blocks become ``` fences; quote blocks (`____`) become
//! `>` quotes; lists, admonition paragraphs (`NOTE: …`) and text are kept, with links
//! (`link:url[text]`, `https://url[text]`) rewritten as Markdown links.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// A converted document.
pub(crate) struct AsciiDoc {
    pub markdown: String,
    pub title: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
}

static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(={1,6}|#{1,6})[ \t]+(\S.*?)(?:[ \t]+=+)?[ \t]*$").unwrap());
static ATTRIBUTE_ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^:(!?)([\w][\w-]*)(!?):(?:[ \t]+(.*))?$").unwrap());
static BLOCK_MACRO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:image|video|audio|include|toc|ifdef|ifndef|ifeval|endif)::").unwrap()
});
static BULLET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[ \t]*(\*{1,5}|-|\.{1,5})[ \t]+(\S.*)$").unwrap());
static DESCRIPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S.*?)(?:::::|:::|::|;;)(?:[ \t]+(.*))?$").unwrap());
static LINK_MACRO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:link:)+([^\s\[]+)\[([^\]]*)\]").unwrap());
static MAILTO_MACRO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"mailto:([^\s\[]+)\[([^\]]*)\]").unwrap());
static URL_MACRO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^(\w/])((?:https?|ftp|irc)://[^\s\[\]]+)\[([^\]]*)\]").unwrap()
});
static INLINE_IMAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"image:[^\s\[:][^\s\[]*\[[^\]]*\]").unwrap());
static XREF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<<([^,>]+)(?:,\s*([^>]+))?>>|xref:([^\s\[]+)\[([^\]]*)\]").unwrap()
});
static INLINE_MACRO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:kbd|btn|pass|menu|footnote|footnoteref):([^\s\[]*)\[([^\]]*)\]").unwrap()
});
static ATTRIBUTE_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{([\w][\w-]*)\}").unwrap());
static CONSTRAINED_BOLD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^\w*])\*([^\s*](?:[^*]*[^\s*])?)\*($|[^\w*])").unwrap());

enum Block {
    /// `----` listing or `....` literal: verbatim inside a fence.
    Verbatim(String),
    /// `////` comment or `++++` passthrough: dropped.
    Dropped(String),
}

/// Converts AsciiDoc (front matter already removed) to Markdown.
pub(crate) fn convert(text: &str) -> AsciiDoc {
    let mut doc = AsciiDoc {
        markdown: String::new(),
        title: None,
        author: None,
        date: None,
    };
    let mut attrs: HashMap<String, String> = HashMap::new();
    let mut out: Vec<String> = Vec::new();
    let mut block: Option<Block> = None;
    let mut in_quote = false;
    let mut in_table = false;
    let mut pending_lang: Option<String> = None;
    let mut pending_label: Option<String> = None;
    // Still in the document header: only comments and attribute entries seen so far.
    let mut in_preamble = true;
    // Lines since the `= Title` line with no blank line yet: author, then revision.
    let mut header_line: Option<usize> = None;

    for raw in text.lines() {
        let line = raw.trim_end();

        // Inside a delimited verbatim or dropped block.
        if let Some(b) = &block {
            match b {
                Block::Verbatim(delim) if line == delim => {
                    out.push("```".to_string());
                    block = None;
                }
                Block::Verbatim(_) => out.push(raw.to_string()),
                Block::Dropped(delim) if line == delim => block = None,
                Block::Dropped(_) => {}
            }
            continue;
        }

        // Author and revision lines right under the document title.
        if let Some(n) = header_line {
            if line.is_empty() {
                header_line = None;
            } else if n < 2 && !line.starts_with(':') && !line.starts_with("//") {
                if n == 0 {
                    doc.author = author_line(line);
                } else {
                    doc.date = revision_date(line);
                }
                header_line = Some(n + 1);
                continue;
            }
        }

        if line.starts_with("//") && !is_delimiter(line, '/') {
            continue; // comment line
        }
        if let Some(c) = ATTRIBUTE_ENTRY.captures(line) {
            let name = c[2].to_ascii_lowercase();
            let value = c.get(4).map_or("", |m| m.as_str()).trim().to_string();
            match name.as_str() {
                "author" | "authors" if doc.author.is_none() && !value.is_empty() => {
                    doc.author = Some(value.clone());
                }
                "revdate" | "date" if doc.date.is_none() && !value.is_empty() => {
                    doc.date = Some(value.clone());
                }
                _ => {}
            }
            attrs.insert(name, value);
            continue;
        }

        // Delimited blocks.
        if is_delimiter(line, '-') || is_delimiter(line, '.') {
            let lang = pending_lang.take().unwrap_or_default();
            out.push(format!("```{lang}"));
            block = Some(Block::Verbatim(line.to_string()));
            in_preamble = false;
            continue;
        }
        if is_delimiter(line, '/') || is_delimiter(line, '+') {
            block = Some(Block::Dropped(line.to_string()));
            continue;
        }
        if is_delimiter(line, '_') {
            // Quote blocks: opening and closing delimiters are the same line, so alternate.
            in_quote = !in_quote;
            out.push(String::new());
            continue;
        }
        if is_delimiter(line, '=') || is_delimiter(line, '*') || line == "--" {
            out.push(String::new()); // example, sidebar and open blocks: keep the content
            continue;
        }
        if line.starts_with("|===") || line.starts_with(",===") || line.starts_with(":===") {
            in_table = !in_table;
            out.push(String::new());
            continue;
        }
        if in_table && line.starts_with('|') {
            // One table row per line: `|a |b` → `a | b`.
            let cells: Vec<String> = line
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| inline(c, &attrs))
                .collect();
            out.push(cells.join(" | "));
            continue;
        }
        if line == "'''" || line == "---" || line == "***" {
            out.push(String::new());
            out.push("---".to_string());
            out.push(String::new());
            continue;
        }
        if line == "<<<" {
            continue;
        }
        if line == "+" {
            out.push(String::new()); // list continuation
            continue;
        }

        // Block attributes (`[source,java]`, `[NOTE]`, `[[anchor]]`) and block titles.
        if line.starts_with('[') && line.ends_with(']') {
            let inner = line.trim_start_matches('[').trim_end_matches(']');
            let mut parts = inner.split(',').map(str::trim);
            match parts.next() {
                Some("source") => pending_lang = parts.next().map(str::to_string),
                Some(label @ ("NOTE" | "TIP" | "IMPORTANT" | "WARNING" | "CAUTION")) => {
                    pending_label = Some(label.to_string());
                }
                _ => {}
            }
            continue;
        }
        if line.starts_with('.') && line.len() > 1 && !line[1..].starts_with(['.', ' ', '\t']) {
            out.push(format!("**{}**", inline(&line[1..], &attrs)));
            out.push(String::new());
            continue;
        }
        if BLOCK_MACRO.is_match(line) {
            continue;
        }
        // AsciiDoc shows an HTML comment line as text; it is always page-generator residue.
        if line.starts_with("<!--") && line.ends_with("-->") {
            continue;
        }

        if let Some(c) = HEADING.captures(line) {
            let level = c[1].len();
            let text = inline(&c[2], &attrs);
            if level == 1 && in_preamble && doc.title.is_none() {
                doc.title = Some(text);
                header_line = Some(0);
            } else {
                out.push(String::new());
                out.push(format!(
                    "{} {}",
                    "#".repeat(level.saturating_sub(1).max(1)),
                    text
                ));
                out.push(String::new());
            }
            in_preamble = false;
            continue;
        }
        if line.is_empty() {
            out.push(String::new());
            continue;
        }
        in_preamble = false;

        // Lists and description lists.
        let mut text = if let Some(c) = BULLET.captures(line) {
            let marker = &c[1];
            let depth = if marker == "-" { 0 } else { marker.len() - 1 };
            // Markdown nests under `- ` with two spaces and under `1. ` with three.
            let (bullet, width) = if marker.starts_with('.') {
                ("1.", 3)
            } else {
                ("-", 2)
            };
            let indent = " ".repeat(width * depth);
            format!("{indent}{bullet} {}", inline(&c[2], &attrs))
        } else if let Some(c) = DESCRIPTION.captures(line) {
            let term = inline(&c[1], &attrs);
            match c
                .get(2)
                .map(|m| m.as_str().trim())
                .filter(|d| !d.is_empty())
            {
                Some(def) => format!("**{term}**: {}", inline(def, &attrs)),
                None => format!("**{term}**"),
            }
        } else {
            let hard_break = line.strip_suffix(" +").unwrap_or(line);
            inline(hard_break, &attrs)
        };
        if let Some(label) = pending_label.take() {
            text = format!("{label}: {text}");
        }
        if in_quote {
            text = format!("> {text}");
        }
        out.push(text);
    }
    if matches!(block, Some(Block::Verbatim(_))) {
        out.push("```".to_string());
    }

    doc.markdown = super::squeeze_blank_lines(&out);
    doc
}

/// A delimiter line: four or more of `c` and nothing else.
fn is_delimiter(line: &str, c: char) -> bool {
    line.len() >= 4 && line.chars().all(|x| x == c)
}

/// `Name <mail>; Other Name <mail>` → `Name, Other Name`.
fn author_line(line: &str) -> Option<String> {
    let names: Vec<String> = line
        .split(';')
        .map(|a| a.split('<').next().unwrap_or("").trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// `v1.0, 2024-09-19: remark` → `2024-09-19`; `2024-09-19` → itself; `v1.0` → none.
fn revision_date(line: &str) -> Option<String> {
    let without_remark = line.split(':').next().unwrap_or(line);
    let date = match without_remark.split_once(',') {
        Some((_, date)) => date.trim(),
        None if without_remark.starts_with(['v', 'V']) => return None,
        None => without_remark.trim(),
    };
    (!date.is_empty()).then(|| date.to_string())
}

/// Inline AsciiDoc → Markdown: links, cross references, attribute references, bold.
fn inline(text: &str, attrs: &HashMap<String, String>) -> String {
    let s = ATTRIBUTE_REF.replace_all(text, |c: &Captures| {
        let name = c[1].to_ascii_lowercase();
        match name.as_str() {
            "nbsp" | "sp" | "zwsp" => " ".to_string(),
            "empty" => String::new(),
            "plus" => "+".to_string(),
            "amp" => "&".to_string(),
            "lt" => "<".to_string(),
            "gt" => ">".to_string(),
            _ => attrs
                .get(&name)
                .cloned()
                .unwrap_or_else(|| c[0].to_string()),
        }
    });
    let s = INLINE_IMAGE.replace_all(&s, "");
    let s = LINK_MACRO.replace_all(&s, |c: &Captures| md_link(&c[2], &c[1]));
    let s = MAILTO_MACRO.replace_all(&s, |c: &Captures| {
        md_link(&c[2], &format!("mailto:{}", &c[1]))
    });
    let s = URL_MACRO.replace_all(&s, |c: &Captures| {
        format!("{}{}", &c[1], md_link(&c[3], &c[2]))
    });
    let s = XREF.replace_all(&s, |c: &Captures| {
        if let Some(target) = c.get(1) {
            c.get(2)
                .map_or(target.as_str(), |t| t.as_str())
                .trim()
                .to_string()
        } else {
            let text = c[4].trim();
            if text.is_empty() {
                c[3].to_string()
            } else {
                text.to_string()
            }
        }
    });
    let s = INLINE_MACRO.replace_all(&s, |c: &Captures| {
        let (target, content) = (&c[1], &c[2]);
        if c[0].starts_with("footnote") {
            if content.is_empty() {
                String::new()
            } else {
                format!(" ({content})")
            }
        } else if content.is_empty() {
            target.to_string()
        } else {
            content.to_string()
        }
    });
    let s = CONSTRAINED_BOLD.replace_all(&s, "$1**$2**$3");
    // `text footnote:[x]` became `text  (x)`.
    s.replace("  (", " (")
}

fn md_link(text: &str, url: &str) -> String {
    // `[text, window=_blank]`: drop the attributes, keep commas that belong to the text.
    let text = text
        .split(',')
        .filter(|part| !part.contains('='))
        .collect::<Vec<_>>()
        .join(",");
    let text = text.trim().trim_matches('"').trim_end_matches('^');
    if text.is_empty() {
        format!("<{url}>")
    } else {
        format!("[{text}]({url})")
    }
}
