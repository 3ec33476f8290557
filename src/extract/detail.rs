//! Grounding: the author's sentence that supports a headline ([`best_sentence`]), or where a
//! headline copied from the text is ([`find_quote`]), and the sentence around it, which becomes
//! the takeaway's detail ([`sentence_around`]).
//!
//! The detail is extracted, not generated: the sentence of the writeup is printed under the
//! headline. Generation is what costs on a CPU (docs/ARCHITECTURE.md, Ollama fact 11): a
//! one-sentence detail per candidate was most of the map step's generated tokens, and a copied
//! quote still ~15 of the ~40 tokens of a takeaway (issue 11). The author's own sentence is
//! also grounded by construction.

use std::sync::LazyLock;

use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use crate::text::{fold_space, markdown_words};

/// Longest detail in characters; a longer sentence is cut at a word with `…`.
pub const DETAIL_MAX_CHARS: usize = 280;

/// Byte range in `text` of the match of `quote`, comparing case-folded letters and digits only
/// (punctuation, quotes, markup and white space are skipped on both sides). `None` for quotes
/// with fewer than 8 letters or digits: too short to ground anything.
///
/// When the whole quote is not there, its longest run that is counts, if it holds at least
/// [`PREFIX_MATCH_PERCENT`] of the quote's letters and at least 20 of them: small models copy a
/// sentence exactly and then drift at its end or start (measured with Qwen2.5-Coder 1.5B: "an
/// emerging trend of “platform” ." for "an emerging trend of “platform engineering”", a Chinese
/// word in the middle of an English sentence, "Priya Raman's team had mandated one deployment
/// pipeline" for "… Her team had mandated one deployment pipeline"), and the grammar cuts a
/// quote at its length cap.
pub fn find_quote(text: &str, quote: &str) -> Option<std::ops::Range<usize>> {
    Folded::new(text).find(quote)
}

/// The letters and digits of `s`, case-folded, each with the byte offset of the character it
/// comes from.
fn fold(s: &str) -> Vec<(usize, char)> {
    s.char_indices()
        .filter(|(_, c)| c.is_alphanumeric())
        .flat_map(|(i, c)| c.to_lowercase().map(move |l| (i, l)))
        .collect()
}

/// A text folded once for [`find_quote`]: a chunk is searched for every quote and headline of
/// its answer, and folding it was most of the cost of a search.
#[derive(Debug, Clone)]
pub struct Folded<'a> {
    text: &'a str,
    hay: Vec<(usize, char)>,
}

impl<'a> Folded<'a> {
    /// Folds `text`.
    pub fn new(text: &'a str) -> Self {
        Folded {
            text,
            hay: fold(text),
        }
    }

    /// [`find_quote`] of `quote` in the folded text.
    pub fn find(&self, quote: &str) -> Option<std::ops::Range<usize>> {
        let (text, hay) = (self.text, &self.hay);
        let needle: Vec<char> = fold(quote).into_iter().map(|(_, c)| c).collect();
        if needle.len() < 8 || hay.is_empty() {
            return None;
        }
        let range_of = |i: usize, n: usize| -> std::ops::Range<usize> {
            let (last, c) = hay[i + n - 1];
            let end = last
                + text[last..]
                    .chars()
                    .next()
                    .map_or(c.len_utf8(), char::len_utf8);
            hay[i].0..end
        };
        // A whole match first (the common case, and cheap).
        if let Some(i) = (0..=hay.len().saturating_sub(needle.len())).find(|&i| {
            hay.len() >= needle.len()
                && hay[i..i + needle.len()]
                    .iter()
                    .map(|(_, c)| *c)
                    .eq(needle.iter().copied())
        }) {
            return Some(range_of(i, needle.len()));
        }
        // Else the longest run of the quote found in the text (dynamic programming over the
        // folded letters: a quote is at most a few dozen letters, so this is cheap).
        let mut prev = vec![0usize; needle.len() + 1];
        let mut cur = vec![0usize; needle.len() + 1];
        let (mut best_len, mut best_end) = (0usize, 0usize);
        for (i, (_, h)) in hay.iter().enumerate() {
            for (j, c) in needle.iter().enumerate() {
                cur[j + 1] = if h == c { prev[j] + 1 } else { 0 };
                if cur[j + 1] > best_len {
                    best_len = cur[j + 1];
                    best_end = i + 1;
                }
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        (best_len >= 20 && best_len * 100 >= needle.len() * PREFIX_MATCH_PERCENT)
            .then(|| range_of(best_end - best_len, best_len))
    }
}

/// Share of a quote's letters and digits, in percent, that a prefix found in the text must hold
/// for [`find_quote`] to accept it.
pub const PREFIX_MATCH_PERCENT: usize = 60;

/// The block of `text` (a paragraph, a list item or a table row: lines up to a blank line or
/// the next list item) that holds byte `at`, as a byte range.
fn block_around(text: &str, at: usize) -> std::ops::Range<usize> {
    let mut start = 0;
    let mut pos = 0;
    let mut end = text.len();
    for line in text.split_inclusive('\n') {
        let line_start = pos;
        pos += line.len();
        let t = line.trim();
        let breaks = t.is_empty() || is_item_start(t);
        if line_start <= at {
            if t.is_empty() {
                start = pos;
            } else if breaks {
                start = line_start;
            }
        } else if breaks {
            end = line_start;
            break;
        }
    }
    start.min(at)..end.max(at)
}

fn is_item_start(line: &str) -> bool {
    if line.starts_with(['-', '*', '+', '•', '|', '#', '>']) {
        return true;
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && line[digits..].starts_with(['.', ')'])
}

/// The author's sentence(s) in `text` that hold `quote_range` (from [`find_quote`]), with list
/// markers, headings marks and inline markup removed, white space folded, at most
/// [`DETAIL_MAX_CHARS`]. Also whether that text introduces something (ends with `:`): a quote
/// from a lead-in ("Here are my highlights:") grounds no takeaway.
pub fn sentence_around(text: &str, quote_range: std::ops::Range<usize>) -> (String, bool) {
    let block = block_around(text, quote_range.start);
    // Hard-wrapped lines are one sentence: without this, UAX #29 ends a sentence at every line
    // break. ('\n' → ' ' keeps every byte offset.)
    let unwrapped = text[block.clone()].replace('\n', " ");
    let block_text = unwrapped.as_str();
    let mut from = 0;
    let mut to = block_text.len();
    // Split where URLs are masked (same offsets), take the text from the unmasked block.
    for (i, s) in mask_urls(block_text).split_sentence_bound_indices() {
        let (s_start, s_end) = (block.start + i, block.start + i + s.len());
        if s_end <= quote_range.start {
            from = i + s.len();
        }
        if s_start >= quote_range.end && s.trim().chars().any(char::is_alphanumeric) {
            to = to.min(i);
            break;
        }
    }
    let raw = &block_text[from..to.max(from)];
    let cleaned = markdown_words(&strip_line_marks(raw));
    let lead_in = cleaned.trim_end().ends_with(':');
    (cut(&fold_space(&cleaned), DETAIL_MAX_CHARS), lead_in)
}

/// The sentences of `text` within `regions` (byte ranges of `text`), as byte ranges, in order:
/// each block (a paragraph, a list item, a table row) split by UAX #29 with its line breaks
/// read as spaces (hard-wrapped lines are one sentence).
fn sentences(text: &str, regions: &[std::ops::Range<usize>]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut push_block = |block: std::ops::Range<usize>| {
        let unwrapped = text[block.clone()].replace('\n', " ");
        for (i, s) in mask_urls(&unwrapped).split_sentence_bound_indices() {
            let trimmed = s.trim_end();
            if trimmed.chars().any(char::is_alphanumeric) {
                let start = block.start + i + (trimmed.len() - trimmed.trim_start().len());
                out.push(start..block.start + i + trimmed.len());
            }
        }
    };
    for region in regions {
        let mut pos = region.start;
        let mut block_start = None;
        for line in text[region.clone()].split_inclusive('\n') {
            let line_start = pos;
            pos += line.len();
            let t = line.trim();
            if t.is_empty() || is_item_start(t) {
                if let Some(s) = block_start.take() {
                    push_block(s..line_start);
                }
            }
            if !t.is_empty() {
                block_start.get_or_insert(line_start);
            }
        }
        if let Some(s) = block_start {
            push_block(s..pos);
        }
    }
    out
}

/// `text` with every URL (`http://`, `https://` up to white space or a closing bracket) overwritten
/// by `x` bytes of the same length, so that byte offsets stay valid: UAX #29 ends a sentence at the `?` of a
/// query string, and a detail then began inside a link ("s=20&t=c8vl…) qui a fait des
/// sketchnotes", devoxx-fr-2022-cecile.md).
fn mask_urls(text: &str) -> std::borrow::Cow<'_, str> {
    static URL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"https?://[^\s)\]>"]+"#).expect("a valid pattern"));
    URL.replace_all(text, |c: &regex::Captures| {
        // Not the punctuation of the sentence the URL ends.
        let url = &c[0];
        let kept = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        format!("{}{}", "x".repeat(kept.len()), &url[kept.len()..])
    })
}

/// Least letters and digits of a sentence that [`best_sentence`] and [`first_sentence`] pick:
/// fewer is a fragment ("Opening keynote.") that explains nothing.
pub const MIN_SENTENCE_CHARS: usize = 20;

/// Least content words a detail adds to its headline ([`best_sentence`]).
pub const MIN_NEW_WORDS: usize = 3;

/// A sentence that may be a detail: long enough ([`MIN_SENTENCE_CHARS`]), not a lead-in
/// (ending with `:`) and not an aside such as a sign-off (`filters::is_aside`).
fn explains(sentence: &str) -> bool {
    !sentence.trim_end().ends_with(':')
        && !super::filters::is_aside(sentence)
        && sentence.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_SENTENCE_CHARS
}

/// The sentence of `text` within `regions` (byte ranges of `text`) that holds the most of the
/// content words of `headline` (`text::content_tokens`), the earliest on a tie, as a byte range
/// of `text`, with how many of them it holds; `None` when none holds at least half of them (the
/// rule of the off-text check, `filters::Checks::judge`). Only sentences that
/// may be a detail count ([`explains`]), and not one that only says the headline again: fewer
/// than [`MIN_NEW_WORDS`] content words of its own ("And I, for one, welcome our new AI
/// overlords." under that headline).
pub fn best_sentence(
    text: &str,
    regions: &[std::ops::Range<usize>],
    headline: &str,
) -> Option<(std::ops::Range<usize>, usize)> {
    let words = crate::text::content_tokens(headline);
    let mut best: Option<(std::ops::Range<usize>, usize)> = None;
    for r in sentences(text, regions) {
        let s = &text[r.clone()];
        let own = crate::text::content_tokens(s);
        if !explains(s) || own.difference(&words).count() < MIN_NEW_WORDS {
            continue;
        }
        let shared = own.intersection(&words).count();
        // At least half of the headline's words: one shared word grounds nothing (SmolLM2's
        // "C: This is a bad way of doing things" shared "way" with an unrelated sentence).
        if shared > 0 && shared * 2 >= words.len() && best.as_ref().is_none_or(|(_, b)| shared > *b)
        {
            best = Some((r, shared));
        }
    }
    best
}

/// The first sentence within `regions` of `text` that may be a detail ([`explains`]).
pub fn first_sentence(
    text: &str,
    regions: &[std::ops::Range<usize>],
) -> Option<std::ops::Range<usize>> {
    sentences(text, regions)
        .into_iter()
        .find(|r| explains(&text[r.clone()]))
}

/// Removes list markers, heading marks and table pipes at the start of each line.
fn strip_line_marks(s: &str) -> String {
    s.lines()
        .map(|l| {
            let t = l.trim_start();
            let t = t.trim_start_matches(['#', '>', '|']).trim_start();
            let t = match t.strip_prefix(['-', '*', '+', '•']) {
                Some(r) if r.starts_with(' ') => r,
                _ => {
                    let digits = t.chars().take_while(char::is_ascii_digit).count();
                    match t[digits..].strip_prefix(['.', ')']) {
                        Some(r) if digits > 0 => r,
                        _ => t,
                    }
                }
            };
            // A table row's cells read as a list; a `|` in prose is the author's.
            if l.trim_start().starts_with('|') {
                t.replace(" | ", "; ").trim_end_matches('|').to_string()
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` cut to at most `max` characters at a word boundary, with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max.saturating_sub(1)).collect();
    let at = head.rfind(' ').unwrap_or(head.len());
    format!("{}…", head[..at].trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_found_ignoring_case_and_punctuation() {
        let text = "We saw that “Platform engineering” takes centre stage, again.";
        let r = find_quote(text, "platform engineering takes centre").unwrap();
        assert_eq!(&text[r], "Platform engineering” takes centre");
        assert_eq!(find_quote(text, "platform teams are dead"), None);
        assert_eq!(find_quote(text, "we"), None);
        // A quote that drifts at its end is still found by its long prefix.
        let text = "At KubeCon EU in 2024, a few of us spoke about an emerging trend of “platform engineering” in the hallways.";
        let r = find_quote(
            text,
            "At KubeCon EU in 2024, a few of us spoke about an emerging trend of “platform” .",
        )
        .unwrap();
        assert!(text[r].starts_with("At KubeCon EU in 2024"));
        // A short shared start is not enough.
        assert_eq!(
            find_quote(text, "At KubeCon EU we saw nothing of the kind at all"),
            None
        );
    }

    #[test]
    fn the_detail_is_the_sentence_that_holds_the_quote() {
        let text = "## Talk\n\nFirst sentence here. Teams should measure lead time,\nnot \
                    velocity. Last one.\n\n- a list item about caching layers\n- another\n";
        let r = find_quote(text, "measure lead time, not velocity").unwrap();
        assert_eq!(
            sentence_around(text, r),
            (
                "Teams should measure lead time, not velocity.".to_string(),
                false
            )
        );
        let r = find_quote(text, "list item about caching").unwrap();
        assert_eq!(
            sentence_around(text, r).0,
            "a list item about caching layers"
        );
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // a list of one region: the whole text
    fn the_sentence_sharing_most_words_grounds_a_headline() {
        let text = "Opening keynote.\n\nWe moved every build to remote caches, and CI\ntime \
                    fell from 38 to 11 minutes. Caches need an owner, the speaker said.\n\n\
                    Here is what else I saw:\n\n- a talk on flaky tests and how to quarantine them\n";
        let all = [0..text.len()];
        let (r, _) = best_sentence(text, &all, "Remote build caches cut CI time").unwrap();
        assert_eq!(
            &text[r],
            "We moved every build to remote caches, and CI\ntime fell from 38 to 11 minutes."
        );
        let (r, _) = best_sentence(text, &all, "Quarantine flaky tests").unwrap();
        assert_eq!(
            sentence_around(text, r).0,
            "a talk on flaky tests and how to quarantine them"
        );
        // Nothing shared: none. A fragment or a lead-in is never picked.
        assert_eq!(best_sentence(text, &all, "Kubernetes pricing"), None);
        assert_eq!(
            best_sentence(text, &all, "What else was there: the opening keynote"),
            None
        );
        // A sentence that says the headline again explains nothing, and one shared word of
        // five ("caches") grounds nothing.
        assert_eq!(
            best_sentence(text, &all, "Caches need an owner, the speaker said"),
            None
        );
        // The first sentence that explains something, within a region only.
        let r = first_sentence(text, &all).unwrap();
        assert!(text[r].starts_with("We moved every build"));
        let tail = text.find("Caches need").unwrap()..text.len();
        let r = first_sentence(text, &[tail]).unwrap();
        assert_eq!(&text[r], "Caches need an owner, the speaker said.");
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // a list of one region: the whole text
    fn a_url_never_ends_a_sentence() {
        let text = "Merci à [Amélie](https://twitter.com/a/status/1?s=20&t=c8vl) qui a fait des sketchnotes de la keynote. Puis la suite du programme.";
        let got: Vec<&str> = sentences(text, &[0..text.len()])
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            got,
            [
                "Merci à [Amélie](https://twitter.com/a/status/1?s=20&t=c8vl) qui a fait des sketchnotes de la keynote. ",
                "Puis la suite du programme."
            ]
            .map(str::trim_end)
        );
        let text2 = "Puis [Thomas](https://example.org/t) parle. Pour finir, voir https://example.org/x. Fin.";
        assert_eq!(sentences(text2, &[0..text2.len()]).len(), 3, "{text2}");
        let at = text.find("qui a fait").unwrap();
        let (detail, _) = sentence_around(text, at..at + 10);
        assert!(detail.starts_with("Merci à Amélie"), "{detail}");
        assert!(detail.ends_with("de la keynote."), "{detail}");
    }

    #[test]
    fn a_lead_in_is_flagged_and_long_sentences_are_cut() {
        let text = "Below I would like to highlight some of the sessions I enjoyed:\n\n- one\n";
        let r = find_quote(text, "highlight some of the sessions").unwrap();
        assert!(sentence_around(text, r).1);
        let long = format!("{} end.", "word ".repeat(100));
        let r = find_quote(&long, "word word word word").unwrap();
        let (s, _) = sentence_around(&long, r);
        assert!(
            s.chars().count() <= DETAIL_MAX_CHARS && s.ends_with('…'),
            "{s}"
        );
    }
}
