//! reStructuredText → Markdown, at heading and paragraph level.
//!
//! Section titles (underlined, or over- and underlined) become `#` headings, levels in order of
//! first appearance of each adornment style, as docutils does. Directives are dropped with their
//! indented blocks (`.. raw:: html`, `.. image::`, `.. figure::`, …) except code blocks (kept as
//! fences) and admonitions/containers (content kept). Comments and link targets are dropped.
//! A field list at the top (`:author: x`, `:date: y`) gives author and date; literal blocks
//! after `::` become fences; block quotes become `>` quotes; inline links, roles and
//! ``` ``literals`` ``` are rewritten.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// A converted document.
pub(crate) struct Rst {
    pub markdown: String,
    pub author: Option<String>,
    pub date: Option<String>,
}

static DIRECTIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\.\.\s+([\w][\w:+.-]*)::(?:\s+(.*))?$").unwrap());
static EXPLICIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\.\.(?:\s+(.*))?$").unwrap());
static FOOTNOTE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[([^\]]+)\]\s*(.*)$").unwrap());
static FIELD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^:([^:\s`][^:`]*):(?:\s+(.*))?$").unwrap());
static OPTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*:[\w-]+:").unwrap());
static LIST_ITEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)([-*+•‣⁃]|#\.|\d+\.|\(?[0-9a-zA-Z#]+\))(\s+)").unwrap());
static ROLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r":[\w][\w:+.-]*:`([^`]+)`").unwrap());
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^`])`([^`<]*?)\s*<([^`>]+)>`__?").unwrap());
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(^|[^`])`([^`]+)`__?").unwrap());
static LITERAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"``([^`]+)``").unwrap());

const ADMONITIONS: &[&str] = &[
    "note",
    "tip",
    "hint",
    "important",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "todo",
    "admonition",
    "versionadded",
    "versionchanged",
    "deprecated",
];
const CONTAINERS: &[&str] = &[
    "container",
    "compound",
    "epigraph",
    "highlights",
    "pull-quote",
    "only",
    "class",
    "topic",
    "sidebar",
];

/// Converts reStructuredText (front matter already removed) to Markdown.
pub(crate) fn convert(text: &str) -> Rst {
    let mut conv = Converter::default();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    conv.run(&lines);
    Rst {
        markdown: super::squeeze_blank_lines(&conv.out),
        author: conv.author,
        date: conv.date,
    }
}

#[derive(Default)]
struct Converter {
    out: Vec<String>,
    /// Adornment styles (character, has overline) in order of first appearance.
    styles: Vec<(char, bool)>,
    headings: usize,
    /// A paragraph, list or other body text has been written (the docinfo window is over).
    seen_content: bool,
    author: Option<String>,
    date: Option<String>,
}

/// Indentation in bytes: leading spaces and tabs (other Unicode spaces are text, e.g. U+3000).
fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A line of one repeated punctuation character (a section adornment or transition).
fn adornment(line: &str) -> Option<char> {
    let mut chars = line.chars();
    let c = chars.next()?;
    let punct = c.is_ascii_punctuation();
    (punct && line.len() >= 2 && chars.all(|x| x == c)).then_some(c)
}

impl Converter {
    fn run(&mut self, lines: &[&str]) {
        let mut i = 0;
        // The previous paragraph ended with `::`: an indented block after it is literal.
        let mut literal_next = false;
        while i < lines.len() {
            let line = lines[i];
            let prev_blank = i == 0 || is_blank(lines[i - 1]);

            if is_blank(line) {
                self.out.push(String::new());
                i += 1;
                continue;
            }

            // Literal block after `::`.
            if literal_next && indent_of(line) > 0 {
                let end = block_end(lines, i, 0);
                self.push_fence("", &lines[i..end]);
                literal_next = false;
                i = end;
                continue;
            }
            literal_next = false;

            // Section title with overline.
            if let Some(c) = adornment(line) {
                if i + 2 < lines.len()
                    && !is_blank(lines[i + 1])
                    && adornment(lines[i + 1]).is_none()
                    && adornment(lines[i + 2]) == Some(c)
                {
                    self.heading((c, true), lines[i + 1].trim());
                    i += 3;
                    continue;
                }
            }
            // Section title with underline only.
            if prev_blank && indent_of(line) == 0 && adornment(line).is_none() {
                if let Some(c) = lines.get(i + 1).and_then(|l| adornment(l)) {
                    let len = lines[i + 1].len();
                    if len >= 4 || len >= line.chars().count() {
                        self.heading((c, false), line.trim());
                        i += 2;
                        continue;
                    }
                }
            }
            // Transition.
            if adornment(line).is_some()
                && line.len() >= 4
                && prev_blank
                && lines.get(i + 1).is_none_or(|l| is_blank(l))
            {
                self.out.push("---".to_string());
                i += 1;
                continue;
            }

            // Directives, comments, targets, footnotes.
            if let Some(c) = DIRECTIVE.captures(line) {
                let end = block_end(lines, i + 1, indent_of(line));
                let name = c[1].to_ascii_lowercase();
                let arg = c.get(2).map_or("", |m| m.as_str().trim());
                self.directive(&name, arg, &lines[i + 1..end]);
                i = end;
                continue;
            }
            if let Some(c) = EXPLICIT.captures(line) {
                let end = block_end(lines, i + 1, indent_of(line));
                let rest = c.get(1).map_or("", |m| m.as_str());
                if let Some(f) = FOOTNOTE.captures(rest) {
                    let mut note = format!("[{}] {}", &f[1], inline(&f[2]));
                    for l in &lines[i + 1..end] {
                        if !is_blank(l) {
                            note.push(' ');
                            note.push_str(&inline(l.trim()));
                        }
                    }
                    self.out.push(note.trim_end().to_string());
                    self.seen_content = true;
                }
                i = end;
                continue;
            }

            // Field lists: at the top (and right after the title) they are document metadata.
            if indent_of(line) == 0 && FIELD.is_match(line) {
                let end = field_list_end(lines, i);
                let docinfo = !self.seen_content && self.headings <= 1;
                self.field_list(&lines[i..end], docinfo);
                i = end;
                continue;
            }

            // Block quote: an indented block after a blank line that is not a list continuation.
            if indent_of(line) > 0 && prev_blank && !continues_item(lines, i) {
                let end = block_end(lines, i, 0);
                let block = dedent(&lines[i..end]);
                let inner = convert(&block).markdown;
                for l in inner.trim_end().lines() {
                    self.out.push(if l.is_empty() {
                        ">".to_string()
                    } else {
                        format!("> {l}")
                    });
                }
                self.seen_content = true;
                i = end;
                continue;
            }

            // Body text: paragraph lines and list items.
            let mut text = line.to_string();
            if let Some(c) = LIST_ITEM.captures(line) {
                if &c[2] == "#." {
                    text = format!("{}1.{}{}", &c[1], &c[3], &line[c[0].len()..]);
                }
            } else if let Some(rest) = line.trim_start().strip_prefix("| ") {
                text = format!("{}{rest}  ", " ".repeat(indent_of(line)));
            }
            if text.trim_end().ends_with("::") {
                literal_next = true;
                let t = text.trim_end();
                text = if t.trim() == "::" {
                    String::new()
                } else if let Some(before) = t.strip_suffix(" ::") {
                    before.to_string()
                } else {
                    t[..t.len() - 1].to_string()
                };
            }
            self.out.push(inline(&text));
            self.seen_content = true;
            i += 1;
        }
    }

    fn heading(&mut self, style: (char, bool), text: &str) {
        let level = match self.styles.iter().position(|s| *s == style) {
            Some(p) => p + 1,
            None => {
                self.styles.push(style);
                self.styles.len()
            }
        };
        self.headings += 1;
        self.out.push(String::new());
        self.out
            .push(format!("{} {}", "#".repeat(level.min(6)), inline(text)));
        self.out.push(String::new());
    }

    fn push_fence(&mut self, lang: &str, block: &[&str]) {
        let body = dedent(block);
        self.out.push(String::new());
        self.out.push(format!("```{lang}"));
        for l in body.trim_end_matches('\n').lines() {
            self.out.push(l.to_string());
        }
        self.out.push("```".to_string());
        self.out.push(String::new());
        self.seen_content = true;
    }

    fn directive(&mut self, name: &str, arg: &str, block: &[&str]) {
        // Directive options (`:width: 300`) come first in the block.
        let content: Vec<&str> = block
            .iter()
            .copied()
            .skip_while(|l| OPTION.is_match(l) || is_blank(l))
            .collect();
        let has_content = content.iter().any(|l| !is_blank(l));
        match name {
            "code" | "code-block" | "sourcecode" | "parsed-literal" => {
                self.push_fence(arg.split_whitespace().next().unwrap_or(""), &content);
            }
            "rubric" => {
                self.out.push(format!("**{}**", inline(arg)));
                self.out.push(String::new());
                self.seen_content = true;
            }
            n if ADMONITIONS.contains(&n) || CONTAINERS.contains(&n) => {
                let label = if n == "admonition" || n == "topic" || n == "sidebar" {
                    arg.to_string()
                } else if CONTAINERS.contains(&n) {
                    String::new()
                } else {
                    let mut l = n.to_string();
                    l[..1].make_ascii_uppercase();
                    if arg.is_empty() {
                        l
                    } else {
                        format!("{l}: {arg}")
                    }
                };
                self.out.push(String::new());
                if !label.is_empty() {
                    self.out.push(format!("**{}:**", inline(&label)));
                    self.out.push(String::new());
                }
                if has_content {
                    let inner = convert(&dedent(&content)).markdown;
                    self.out
                        .extend(inner.trim_end().lines().map(str::to_string));
                }
                self.out.push(String::new());
                self.seen_content = true;
            }
            // raw, image, figure, include, toctree, meta, contents, … : not writeup text.
            _ => {}
        }
    }

    fn field_list(&mut self, lines: &[&str], docinfo: bool) {
        let mut fields: Vec<(String, String)> = Vec::new();
        for l in lines {
            if let Some(c) = FIELD.captures(l) {
                let value = c.get(2).map_or("", |m| m.as_str().trim());
                fields.push((c[1].trim().to_string(), value.to_string()));
            } else if let Some((_, v)) = fields.last_mut() {
                if !is_blank(l) {
                    v.push(' ');
                    v.push_str(l.trim());
                }
            }
        }
        for (key, value) in fields {
            let k = key.to_ascii_lowercase();
            if docinfo {
                match k.as_str() {
                    "author" | "authors" => {
                        if self.author.is_none() && !value.is_empty() {
                            self.author = Some(value.replace(';', ","));
                        }
                        continue;
                    }
                    "date" => {
                        if self.date.is_none() && !value.is_empty() {
                            self.date = Some(value);
                        }
                        continue;
                    }
                    // Before any title: file-wide settings (`:orphan:`, `:ogp_title:`), not text.
                    _ if self.headings == 0 => continue,
                    _ => {}
                }
            }
            self.out.push(format!("- {key}: {}", inline(&value)));
        }
        self.out.push(String::new());
    }
}

/// The end (exclusive) of the indented block that starts at `start`: lines that are blank or
/// indented more than `indent`; trailing blank lines are left out.
fn block_end(lines: &[&str], start: usize, indent: usize) -> usize {
    let mut end = start;
    let mut last_text = start;
    while end < lines.len() && (is_blank(lines[end]) || indent_of(lines[end]) > indent) {
        end += 1;
        if !is_blank(lines[end - 1]) {
            last_text = end;
        }
    }
    last_text.max(start)
}

/// The end of a field list starting at `start`: field lines and their indented continuations.
fn field_list_end(lines: &[&str], start: usize) -> usize {
    let mut end = start;
    while end < lines.len()
        && (FIELD.is_match(lines[end]) || (end > start && indent_of(lines[end]) > 0))
    {
        end += 1;
    }
    end
}

/// The indented line `i` (after a blank line) continues a list item above it.
fn continues_item(lines: &[&str], i: usize) -> bool {
    let indent = indent_of(lines[i]);
    lines[..i]
        .iter()
        .rev()
        .find(|l| !is_blank(l) && indent_of(l) < indent)
        .is_some_and(|l| LIST_ITEM.is_match(l) || FIELD.is_match(l.trim_start()))
}

/// The lines with their common indentation removed, joined with `\n`.
fn dedent(lines: &[&str]) -> String {
    let min = lines
        .iter()
        .filter(|l| !is_blank(l))
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for l in lines {
        out.push_str(l.get(min..).unwrap_or(""));
        out.push('\n');
    }
    out
}

/// Inline reStructuredText → Markdown: roles, hyperlinks, references, literals.
fn inline(text: &str) -> String {
    let s = ROLE.replace_all(text, |c: &Captures| {
        // `:ref:`Title <target>`` shows the title.
        let inner = &c[1];
        match inner.find('<') {
            Some(p) if inner.ends_with('>') && p > 0 => inner[..p].trim().to_string(),
            _ => inner.trim_start_matches(['~', '!']).to_string(),
        }
    });
    let s = LINK.replace_all(&s, |c: &Captures| {
        let (pre, label, url) = (&c[1], c[2].trim(), &c[3]);
        if label.is_empty() {
            format!("{pre}<{url}>")
        } else {
            format!("{pre}[{label}]({url})")
        }
    });
    let s = REFERENCE.replace_all(&s, "$1$2");
    let s = LITERAL.replace_all(&s, "`$1`");
    s.into_owned()
}
