//! Text helpers shared by the stages: white space, content words, markup left in model text,
//! Markdown escaping, shortening. One rule each, used everywhere (docs/ARCHITECTURE.md, "One place for each rule").

use std::collections::BTreeSet;

/// Collapses every run of white space (spaces, tabs, newlines) to one space and trims both ends.
pub fn fold_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` cut to at most `max` characters (counting the ellipsis), with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` as a sentence: trailing `,`, `;`, `:` dropped (a clause cut short ends with a full stop,
/// not ",."), and a full stop added unless it already ends with sentence punctuation (Latin or
/// CJK). Blank stays blank.
pub fn sentence(s: &str) -> String {
    let s = s.trim().trim_end_matches([',', ';', ':']).trim_end();
    // A closing quote or bracket after the punctuation (`…innovation.”`) ends it too.
    let core = s.trim_end_matches(['"', '\'', '”', '’', '»', ')', ']']);
    let ends = ['.', '!', '?', '…', '。', '！', '？'];
    if s.is_empty() || s.ends_with(ends) || (core.len() < s.len() && core.ends_with(ends)) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// True for the characters a reader never sees but a model reads: zero-width space, non-joiner
/// and joiner (U+200B–U+200D), word joiner and the invisible operators (U+2060–U+2064), the
/// zero-width no-break space U+FEFF (a byte-order mark inside the text), the soft hyphen U+00AD,
/// the bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069),
/// and the Unicode tag characters U+E0000–U+E007F, which spell ASCII invisibly ("ASCII
/// smuggling"). `input` drops them from every writeup (see `types::HiddenText`).
///
/// Left alone: variation selectors (emoji and CJK variants need them), U+200E/U+200F direction
/// marks (right-to-left text needs them), ordinary white space.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// `s` without its [`is_invisible`] characters, and how many there were. Borrows when there are
/// none.
pub fn strip_invisible(s: &str) -> (std::borrow::Cow<'_, str>, usize) {
    let count = s.chars().filter(|&c| is_invisible(c)).count();
    if count == 0 {
        return (std::borrow::Cow::Borrowed(s), 0);
    }
    let out: String = s.chars().filter(|&c| !is_invisible(c)).collect();
    (std::borrow::Cow::Owned(out), count)
}

/// Words left out of [`content_tokens`]: English function words that say nothing about a topic.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into",
    "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to", "was", "were",
    "will", "with", "more", "can", "not", "but", "about", "we", "you", "our", "your",
];

/// True for the CJK ideographs, kana and hangul that have no spaces between words.
pub fn is_cjk(c: char) -> bool {
    crate::tokens::is_cjk(c)
}

/// Content tokens of a text for similarity: lowercased words without stop words, a plural `s`
/// dropped; CJK runs become character bigrams (they have no spaces between words).
pub fn content_tokens(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let lower = text.to_lowercase();
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word.chars().any(is_cjk) {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() == 1 {
                out.insert(word.to_string());
            }
            for pair in chars.windows(2) {
                out.insert(pair.iter().collect());
            }
            continue;
        }
        if STOPWORDS.contains(&word) {
            continue;
        }
        let stem = match word.strip_suffix('s') {
            Some(s) if s.len() >= 3 && !s.ends_with('s') => s,
            _ => word,
        };
        out.insert(stem.to_string());
    }
    out
}

/// True when two headlines say the same thing: Jaccard similarity of their content tokens of
/// at least 0.4, or one's tokens (two or more) nearly all inside the other's (overlap
/// coefficient ≥ 0.75), or near-identical spelling (normalised Levenshtein ≥ 0.85).
pub fn same_takeaway(a: &str, b: &str) -> bool {
    let (ta, tb) = (content_tokens(a), content_tokens(b));
    if ta.is_empty() || tb.is_empty() {
        return a.trim().eq_ignore_ascii_case(b.trim());
    }
    let inter = ta.intersection(&tb).count() as f64;
    let union = ta.union(&tb).count() as f64;
    let min = ta.len().min(tb.len());
    let overlap = inter / min as f64;
    if inter / union >= 0.4 || (min >= 2 && overlap >= 0.75) {
        return true;
    }
    strsim::normalized_levenshtein(&a.to_lowercase(), &b.to_lowercase()) >= 0.85
}

/// HTML elements whose tags [`strip_format_tags`] may remove: the inline and block markup
/// models copy from converted pages. Any other name between `<` and `>` is text
/// (`std::vector<int>`, `the <main> element`, `<script>`).
const HTML_TAGS: &[&str] = &[
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "i",
    "img",
    "ins",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "td",
    "th",
    "tr",
    "u",
    "ul",
];

/// A tag of [`HTML_TAGS`] at the start of `s` (which starts with `<`).
struct Tag {
    /// Its length in bytes; a tag the grammar cut off at the end of the text (`<img src=`) runs
    /// to the end.
    len: usize,
    /// `</x>`.
    closing: bool,
    /// It carries attributes (`<img src="x">`, `<a href=…>`), or was cut off inside them.
    attributes: bool,
    /// A void element (`<br>`, `<img>`): it wraps nothing.
    void: bool,
}

fn html_tag(s: &str) -> Option<Tag> {
    let end = s.find('>');
    let inner = &s[1..end.unwrap_or(s.len())];
    let closing = inner.starts_with('/');
    let inner = inner.trim_start_matches('/');
    let name: String = inner
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let rest = &inner[name.len()..];
    let name = name.to_ascii_lowercase();
    if !HTML_TAGS.contains(&name.as_str()) {
        return None;
    }
    let void = name == "br" || name == "img";
    match end {
        Some(end) => {
            let well_formed = rest.is_empty() || rest.starts_with([' ', '/']);
            let attributes = !rest.trim_start().trim_end_matches('/').trim().is_empty();
            well_formed.then_some(Tag {
                len: end + 1,
                closing,
                attributes,
                void,
            })
        }
        // Unclosed: only an element name followed by an attribute counts (`<img src=`), never
        // `<b for bold` that is text.
        None => {
            let attr = rest
                .strip_prefix(' ')
                .and_then(|r| r.split_once('='))
                .is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            attr.then_some(Tag {
                len: s.len(),
                closing,
                attributes: true,
                void,
            })
        }
    }
}

/// True when `c` may stand right after an opening tag that names an element in prose ("the
/// <p>, <div> and <span> elements"); any other character right after it means the tag wraps
/// text (`<em>Platform`).
fn ends_a_mention(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | ')' | ']' | '}')
}

/// Removes the HTML formatting tags a model copied from a converted page, keeping every word
/// they wrap: `<em>Platform</em> teams` → `Platform teams`, `<h1>Title</h1>` → `Title`,
/// `one<br>two` → `one two`, `<img src="x.png">` and a tag the grammar cut off at the end
/// (`<img src=`) → nothing. Then folds white space ([`fold_space`]).
///
/// Only tags of [`HTML_TAGS`] are touched, and only when they are formatting: a tag with
/// attributes, an opening tag followed directly by the text it wraps, a closing tag directly
/// after it, a `<br>`/`<img>` touching text on either side. A tag that is the subject of the
/// text stays (`the <main> element`, `use <br> tags`, `the <p>, <div> and <span> elements`), as
/// does every other `<…>` (`Vec<String>`, `<script>alert(1)</script>`) and all Markdown
/// characters (`*`, `` ` ``, `_`): no text of the model is deleted. Making all of it show as
/// written is the renderer's job ([`markdown_inline`]).
///
/// Applying it twice gives the same text as applying it once.
pub fn strip_format_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // The character before `rest` in `s` (not in `out`: a removed tag leaves a space there).
    let mut prev: Option<char> = None;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(tag) = html_tag(rest) {
                let next = rest[tag.len..].chars().next();
                let before =
                    prev.is_some_and(|p| !p.is_whitespace() && !matches!(p, '(' | '[' | '{'));
                let after = next.is_some_and(|n| !ends_a_mention(n));
                let formatting = tag.attributes
                    || if tag.void {
                        before || after
                    } else if tag.closing {
                        before
                    } else {
                        after
                    };
                if formatting {
                    // A space where the tag was, so words do not run together, but none
                    // before punctuation or after an opening bracket (`<em>notes</em>.`).
                    let tight = next.is_some_and(|n| {
                        matches!(n, ',' | '.' | ';' | ':' | '!' | '?' | ')' | ']' | '}')
                    }) || out.ends_with(['(', '[', '{']);
                    if !tight {
                        out.push(' ');
                    }
                    prev = Some('>');
                    rest = &rest[tag.len..];
                    continue;
                }
            }
        }
        out.push(c);
        prev = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    fold_space(&out)
}

/// The words of a fragment of the writeup's own Markdown as its reader sees them: emphasis and
/// code marks, link and image targets, and backslash escapes gone (the inline events of
/// pulldown-cmark's parser, block boundaries as spaces), then [`strip_format_tags`]. For the
/// author's text only (a detail, a heading line): the model's text keeps every character and
/// is escaped by the renderer instead.
pub fn markdown_words(s: &str) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut out = String::with_capacity(s.len());
    for event in Parser::new(s) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) | Event::Html(t) => {
                out.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::HtmlBlock,
            ) => out.push(' '),
            _ => {}
        }
    }
    strip_format_tags(&out)
}

/// True when the text at the start of `s` (just after a `&`) would make a CommonMark entity or
/// numeric character reference: `name;`, `#123;`, `#x1F;`.
fn entity_like(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, hex: bool| {
        let n = b[from..]
            .iter()
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        n > 0 && b.get(from + n) == Some(&b';')
    };
    match b.first() {
        Some(b'#') => match b.get(1) {
            Some(b'x' | b'X') => digits(2, true),
            _ => digits(1, false),
        },
        Some(c) if c.is_ascii_alphabetic() => {
            let n = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
            b.get(n) == Some(&b';')
        }
        _ => false,
    }
}

/// Text from the model, the writeup or an error, placed inside a line of Markdown (a heading
/// after its `#`, a list item after its marker, a table cell, link text, after other text):
/// white space folded onto one line ([`fold_space`]), and every character a CommonMark/GFM
/// renderer would read as raw HTML or as inline structure backslash-escaped (CommonMark 0.31,
/// "Backslash escapes": any ASCII punctuation may be escaped and then shows as itself), so that
/// the text shows exactly as written and nothing in it becomes a tag, a link or emphasis:
///
/// - `\`, `<` (raw HTML, autolinks, comments), `*` and `_` (emphasis), `` ` `` (code spans),
///   `[` and `]` (links, images, footnotes), `|` (GFM table cells; escaped also outside
///   tables, where `\|` shows as `|`), `~` (GFM strikethrough), and `&` when it starts an
///   entity-like run (`&amp;`, `&#39;`: shown as typed, not decoded);
/// - a final run of `#` after a space (at the end of a heading it would be the closing
///   sequence and vanish).
///
/// Text that begins a line needs [`markdown_paragraph`] instead (`#`, `>`, `-`, `1.` there
/// start blocks).
///
/// Escaping was chosen over putting code-like spans (`Vec<String>`) in backticks: it needs no
/// guess of where a span starts and ends, works the same inside tables, links and headings,
/// and shows the model's text exactly as it wrote it (its own backticks included).
pub fn markdown_inline(s: &str) -> String {
    markdown_escape(s, false)
}

/// [`markdown_inline`] for text that begins a line (a paragraph of its own): also escapes what
/// would start a block there: a leading `#` (heading), `>` (block quote), `-`, `+`, `=` (list
/// item, thematic break, setext underline), and the `.` or `)` of a leading ordered-list
/// marker (`1. `).
pub fn markdown_paragraph(s: &str) -> String {
    markdown_escape(s, true)
}

fn markdown_escape(s: &str, line_start: bool) -> String {
    let one_line = fold_space(s);
    let mut out = String::with_capacity(one_line.len() + 8);
    // An ordered-list marker: 1 to 9 digits, then `.` or `)`, then a space or the end.
    let digits = one_line.bytes().take_while(u8::is_ascii_digit).count();
    let list_number = line_start
        && (1..=9).contains(&digits)
        && one_line[digits..].starts_with(['.', ')'])
        && matches!(one_line.as_bytes().get(digits + 1), None | Some(b' '));
    // A closing sequence of a heading: a final run of `#` after a space, or the whole text.
    let hashes_from = one_line.trim_end_matches('#').len();
    let closing_hashes = hashes_from < one_line.len()
        && (hashes_from == 0 || one_line[..hashes_from].ends_with(' '));
    for (i, c) in one_line.char_indices() {
        let escape = match c {
            '\\' | '<' | '*' | '_' | '`' | '[' | ']' | '|' | '~' => true,
            '&' => entity_like(&one_line[i + 1..]),
            '#' => (line_start && i == 0) || (closing_hashes && i == hashes_from),
            '>' | '-' | '+' | '=' => line_start && i == 0,
            '.' | ')' => list_number && i == digits,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Markdown code span showing `s` verbatim (a path, a model name): fenced with one more
/// backtick than the longest run of backticks inside, padded with a space where CommonMark
/// would otherwise read the fence wrong or strip one (CommonMark 0.31, "Code spans"). Line
/// breaks become spaces, as a renderer would show them (and a line break would end a table
/// row).
pub fn code_span(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && !s.trim().is_empty());
    if pad {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// [`code_span`] for a GFM table cell: a `|` inside must be written `\|` even in a code span
/// (GFM 0.29, "Tables": the cell is split before inline parsing; the renderer shows `|`).
pub fn table_code_span(s: &str) -> String {
    code_span(s).replace('|', "\\|")
}

pub(crate) mod similar;

#[cfg(test)]
mod tests;
