//! Text helpers shared by the stages: white space, content words, markup left in model text,
//! shortening. One rule each, used everywhere (docs/ARCHITECTURE.md, "One place for each rule").

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

/// HTML elements whose tags [`strip_markup`] removes: the inline and block markup models copy
/// from writeups. Anything else between `<` and `>` is text (`std::vector<int>`, `a < b`).
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

/// Length of the HTML tag at the start of `s` (`<em>`, `</p>`, `<img src="x">`), if it is one
/// of [`HTML_TAGS`]; a tag the grammar cut off at the end of the text (`<img src=`) runs to the
/// end.
fn html_tag_len(s: &str) -> Option<usize> {
    let end = s.find('>');
    let inner = &s[1..end.unwrap_or(s.len())];
    let inner = inner.trim_start_matches('/');
    let name: String = inner
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let rest = &inner[name.len()..];
    let known = HTML_TAGS.contains(&name.to_ascii_lowercase().as_str());
    match end {
        Some(end) => {
            let well_formed = rest.is_empty() || rest.starts_with([' ', '/']);
            (well_formed && known).then_some(end + 1)
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
            (known && attr).then_some(s.len())
        }
    }
}

/// Folds white space and removes markup the model copied from the text (HTML tags of
/// [`HTML_TAGS`], `*`, backticks), which would garble the rendered Markdown. Other `<…>` text is
/// kept: `std::vector<int>` stays.
pub fn strip_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(n) = html_tag_len(rest) {
                out.push(' ');
                rest = &rest[n..];
                continue;
            }
        }
        if c != '*' && c != '`' {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    fold_space(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markup_is_removed() {
        assert_eq!(
            strip_markup("<em>The tooling</em>  **bundling**\n`continues`"),
            "The tooling bundling continues"
        );
        assert_eq!(
            strip_markup("<h1>The Database as a Value</h1>"),
            "The Database as a Value"
        );
        assert_eq!(strip_markup("<img src="), "");
        assert_eq!(
            strip_markup("p99 < 200 ms, <b>fast</b>"),
            "p99 < 200 ms, fast"
        );
        assert_eq!(
            strip_markup("std::vector<int> wins"),
            "std::vector<int> wins"
        );
        assert_eq!(strip_markup("Use <b for bold"), "Use <b for bold");
    }

    #[test]
    fn invisible_characters_are_stripped_and_counted() {
        let smuggled: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        let s = format!("a\u{200B}b\u{00AD}c\u{202E}d\u{2066}e\u{FEFF}f{smuggled}\u{E007F}.");
        assert_eq!(
            strip_invisible(&s),
            (std::borrow::Cow::Owned("abcdef.".into()), 8)
        );
        assert!(matches!(
            strip_invisible("plain é 日本"),
            (std::borrow::Cow::Borrowed(_), 0)
        ));
        // Direction marks and variation selectors stay.
        assert_eq!(strip_invisible("\u{200F}❤\u{FE0F}").1, 0);
    }

    #[test]
    fn shorten_counts_chars_and_the_ellipsis() {
        assert_eq!(shorten("héllo", 5), "héllo");
        assert_eq!(shorten("héllo world", 5), "héll…");
        assert_eq!(shorten("abc", 0), "…");
    }

    #[test]
    fn sentences_end_once() {
        assert_eq!(sentence("Containers,"), "Containers.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "");
        assert_eq!(sentence("終わり。"), "終わり。");
        assert_eq!(
            sentence("called for “responsible innovation.”"),
            "called for “responsible innovation.”"
        );
        assert_eq!(sentence("the “platform”"), "the “platform”.");
    }

    #[test]
    fn content_tokens_drop_stopwords_and_plurals() {
        let t = content_tokens("The platforms of the future");
        assert!(t.contains("platform") && t.contains("future") && !t.contains("the"));
        assert!(content_tokens("平台工程").contains("平台"));
    }
}
