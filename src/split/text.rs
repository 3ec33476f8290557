//! Heading lines in plain text (no markup): the rule that tells headings from captions, one-line
//! closing sentences and signatures.

use std::ops::Range;

use super::Heading;

/// What [`detect_text_headings`] found in a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextStructure {
    /// The title block: the short lines before the first paragraph of body text.
    pub title_lines: Vec<String>,
    /// Heading lines, all at level 1.
    pub headings: Vec<Heading>,
}

impl TextStructure {
    /// The writeup's title: the first line of the title block with at least three words (a
    /// one- or two-word first line like "Conference summary" is a category label), else the
    /// first line.
    pub fn title(&self) -> Option<String> {
        self.title_lines
            .iter()
            .find(|l| l.split_whitespace().count() >= 3)
            .or(self.title_lines.first())
            .cloned()
    }
}

/// Longest heading line in characters. Longer lines are captions or sentences.
pub const TEXT_HEADING_MAX_CHARS: usize = 90;
/// Least body text, in bytes, between a heading line and the next heading (or the end). A short
/// line followed by less text is a caption, a signature or a sign-off, not a heading.
pub const TEXT_HEADING_MIN_BODY: usize = 200;

/// Detects heading lines in plain text.
///
/// A heading line is a block of exactly one line (blank lines around it) that:
/// - is at most [`TEXT_HEADING_MAX_CHARS`] characters and has a letter;
/// - does not end like a sentence or a lead-in (`.`, `,`, `;`, `:`), which rules out one-line
///   closing sentences ("… plenty of keynote time.") and lead-ins ("Here are my takeaways:");
/// - is not a list item (`-`, `*`, `•`, `1.`), and does not start with a lowercase letter;
/// - is followed by body text (not directly by another candidate line), at least
///   [`TEXT_HEADING_MIN_BODY`] bytes of it before the next heading.
///
/// Candidate lines before the first paragraph of body text form the title block.
/// Rule derived from the KubeCon EU 2024 writeup the product was first asked for (docs/
/// ARCHITECTURE.md, "Plain-text headings"), whose 12 headings, captions and one-line closing
/// sentences it tells apart.
pub fn detect_text_headings(body: &str) -> TextStructure {
    let blocks = blocks(body);
    let candidate: Vec<bool> = blocks
        .iter()
        .map(|b| is_heading_candidate(b, body))
        .collect();
    let mut title_lines = Vec::new();
    let mut first_body = None;
    for (i, b) in blocks.iter().enumerate() {
        let text = &body[b.clone()];
        // The title block may be one block of several short lines (title, subtitle, author).
        let short_lines = text.lines().all(|l| is_heading_line(l) || !has_letter(l));
        if candidate[i] || short_lines {
            title_lines.extend(
                text.lines()
                    .filter(|l| has_letter(l))
                    .map(|l| l.trim().to_string()),
            );
        } else {
            first_body = Some(i);
            break;
        }
    }
    let Some(first_body) = first_body else {
        return TextStructure {
            title_lines,
            headings: Vec::new(),
        };
    };
    // Candidates after the title block; accept those followed by body text.
    let mut accepted: Vec<usize> = Vec::new();
    for i in first_body..blocks.len() {
        if !candidate[i] {
            continue;
        }
        let next_is_body = blocks
            .get(i + 1)
            .is_some_and(|_| !candidate[i + 1] || is_list_block(&body[blocks[i + 1].clone()]));
        if next_is_body {
            accepted.push(i);
        }
    }
    // Enforce the minimum body: walk backwards so each heading sees the next accepted one.
    let mut headings = Vec::new();
    let mut next_start = body.len();
    for &i in accepted.iter().rev() {
        let b = &blocks[i];
        let body_len = body[b.end..next_start].trim().len();
        if body_len >= TEXT_HEADING_MIN_BODY {
            headings.push(Heading {
                start: b.start,
                level: 1,
                text: body[b.clone()].trim().to_string(),
            });
            next_start = b.start;
        }
    }
    headings.reverse();
    TextStructure {
        title_lines,
        headings,
    }
}

/// Byte ranges of blocks: maximal runs of non-blank lines (without the final newline).
fn blocks(body: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        let content_end = pos + line.trim_end_matches('\n').len();
        if line.trim().is_empty() {
            if let Some(s) = start.take() {
                out.push(s..end);
            }
        } else {
            if start.is_none() {
                start = Some(pos);
            }
            end = content_end;
        }
        pos += line.len();
    }
    if let Some(s) = start {
        out.push(s..end);
    }
    out
}

fn has_letter(s: &str) -> bool {
    s.chars().any(char::is_alphabetic)
}

fn is_list_line(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with(['-', '*', '•', '+', '–', '·']) {
        return true;
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && t[digits..].starts_with(['.', ')'])
}

fn is_list_block(block: &str) -> bool {
    block.lines().next().is_some_and(is_list_line)
}

fn is_heading_candidate(block: &Range<usize>, body: &str) -> bool {
    let text = &body[block.clone()];
    !text.contains('\n') && is_heading_line(text)
}

/// The line-level part of [`detect_text_headings`]'s rule.
fn is_heading_line(line: &str) -> bool {
    let t = line.trim();
    let chars = t.chars().count();
    if chars == 0 || chars > TEXT_HEADING_MAX_CHARS || !has_letter(t) || is_list_line(t) {
        return false;
    }
    if t.ends_with(['.', ',', ';', ':']) {
        return false;
    }
    if t.starts_with("http://") || t.starts_with("https://") {
        return false;
    }
    !t.chars().next().is_some_and(char::is_lowercase)
}
