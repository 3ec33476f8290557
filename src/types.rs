//! The plain data handed from one pipeline stage to the next (docs/ARCHITECTURE.md, "The
//! pipeline"):
//!
//! ```text
//! input ─► Document ─► split ─► Outline, Vec<Chunk> ─► extract ─► Vec<Candidate>
//!       ─► rank ─► Vec<Takeaway> ─► pipeline ─► Summary (with Stats) ─► render
//! ```
//!
//! Nothing here calls a model, reads a file or knows a rule of any stage: these are the shapes
//! the stages agree on, so that every stage depends on this module and none on another stage's
//! internals. Byte ranges index into [`Document::body`].

use std::ops::Range;

use serde::Serialize;

/// How the body of a [`Document`] is marked up, after conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// CommonMark/GFM: headings are found with pulldown-cmark.
    Markdown,
    /// Plain text: heading lines are detected by `split`'s plain-text rule.
    Text,
}

/// One writeup, decoded and normalised: the output of `input`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Where it came from, as the user named it (`-` for stdin). Shown in the output header.
    pub source: String,
    /// Title from front matter, else HTML `<h1>`/`<title>`, AsciiDoc `= Title`, or the
    /// top-level Markdown/RST heading; `None` when not found (plain text: the splitter looks).
    pub title: Option<String>,
    /// Date from front matter (or AsciiDoc/RST header, HTML meta), verbatim.
    pub date: Option<String>,
    /// Author from front matter (or AsciiDoc/RST header, HTML meta), verbatim; several
    /// authors are joined with `, `.
    pub author: Option<String>,
    /// Markup of `body`.
    pub format: BodyFormat,
    /// What `input` dropped as invisible to a reader before the text went anywhere near a
    /// prompt (counted for `--stats`).
    pub hidden: HiddenText,
    /// The text to summarise: UTF-8, LF line endings, front matter removed, converted to
    /// Markdown unless plain text; no leading blank lines, exactly one trailing `\n`. Byte
    /// ranges in sections and chunks index into this string.
    pub body: String,
}

/// Text a reader of the rendered writeup does not see, which `input` drops from the body (and
/// the title, date and author) so that an instruction hidden in it never reaches a prompt; the
/// counts go into [`Stats::hidden`] and the `--stats` line.
///
/// What is dropped (`input` module docs, "Invisible text"): HTML comments in Markdown and HTML
/// input (never inside code spans or fences); zero-width and other invisible characters
/// (`text::is_invisible`: U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, the bidi controls
/// U+202A–U+202E and U+2066–U+2069, the tag characters U+E0000–U+E007F used for "ASCII
/// smuggling"); in HTML input, elements hidden by the `hidden` attribute, `aria-hidden="true"`,
/// an inline `style` with `display: none` or `visibility: hidden`, and `<template>`,
/// `<script>`, `<style>`, `<noscript>`.
///
/// Out of reach, kept as text: anything hidden by a style sheet (a CSS class defined elsewhere),
/// white-on-white text, tiny or zero-size fonts, off-screen positioning, opacity; raw HTML
/// elements other than comments inside Markdown; variation selectors (they also carry emoji);
/// `hidden="until-found"` content (find-in-page shows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HiddenText {
    /// HTML comments (`<!-- … -->`) removed: Markdown comment blocks and inline comments, and
    /// comment nodes of an HTML page's converted content.
    pub html_comments: usize,
    /// Invisible characters removed (each code point counts one).
    pub invisible_chars: usize,
    /// HTML elements removed because they are hidden (each outermost one counts one; elements
    /// that hold nothing but white space are not counted).
    pub hidden_elements: usize,
}

/// A titled part of the body, as the author structured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Headings from the outermost to this section's own; empty for the intro before the first
    /// heading.
    pub heading_path: Vec<String>,
    /// Byte range in [`Document::body`], heading line included.
    pub range: Range<usize>,
}

impl Section {
    /// The heading path for people: `A › B`, or `(intro)` for the text before the first heading.
    pub fn label(&self) -> String {
        label(&self.heading_path)
    }
}

/// `A › B` for a heading path, `(intro)` for the empty path.
pub fn label(heading_path: &[String]) -> String {
    if heading_path.is_empty() {
        "(intro)".to_string()
    } else {
        heading_path.join(" › ")
    }
}

/// The structure of one document, computed once by `split::outline` and passed to every stage
/// that needs it (budget, chunks, filters, emphasis, the `sections` command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outline {
    /// The title shown in the summary: front matter or H1, else a plain-text title line, else
    /// the heading the body opens with, else the file name.
    pub title: String,
    /// For plain text, the lines of the title block before the first paragraph (title,
    /// subtitle, author line); empty for Markdown.
    pub title_lines: Vec<String>,
    /// The sections, in order, covering the whole body.
    pub sections: Vec<Section>,
}

impl Outline {
    /// The title and the lines of the title block, newline-separated: what a headline must not
    /// merely restate.
    pub fn names(&self) -> String {
        let mut names = self.title.clone();
        for line in &self.title_lines {
            names.push('\n');
            names.push_str(line);
        }
        names
    }

    /// The heading-path label of every section, in order.
    pub fn labels(&self) -> Vec<String> {
        self.sections.iter().map(Section::label).collect()
    }
}

/// One piece of a section inside a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkPart {
    /// The section's heading path.
    pub heading_path: Vec<String>,
    /// Byte range of this part in [`Document::body`].
    pub range: Range<usize>,
}

/// The unit of one model call in the map step: consecutive text that fits the budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// 0-based position in the document.
    pub index: usize,
    /// Byte range in [`Document::body`] (from the first part's start to the last part's end).
    pub range: Range<usize>,
    /// The sections (or pieces of one section) this chunk holds, in order.
    pub parts: Vec<ChunkPart>,
    /// Estimated tokens of the chunk text (`tokens::estimate`), the repeated table header
    /// included.
    pub est_tokens: usize,
    /// When the chunk starts inside a Markdown table that began in an earlier chunk: that
    /// table's header and delimiter rows, repeated in front of the chunk text so the model
    /// still knows what the columns are.
    pub table_header: Option<String>,
}

impl Chunk {
    /// The chunk's text, borrowed from the body it was split from.
    pub fn text<'a>(&self, body: &'a str) -> &'a str {
        &body[self.range.clone()]
    }

    /// The text sent to the model: the repeated table header, if any, then the chunk's text.
    pub fn prompt_text<'a>(&self, body: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.table_header {
            Some(h) => std::borrow::Cow::Owned(format!("{h}\n{}", self.text(body))),
            None => std::borrow::Cow::Borrowed(self.text(body)),
        }
    }

    /// The heading path of the part that holds byte `offset` (absolute, in the body); the first
    /// part's when none does.
    pub fn heading_path_at(&self, offset: usize) -> &[String] {
        self.parts
            .iter()
            .find(|p| p.range.contains(&offset))
            .unwrap_or(&self.parts[0])
            .heading_path
            .as_slice()
    }

    /// Distinct heading-path labels of the chunk's parts, in order.
    pub fn section_labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.parts {
            let l = label(&p.heading_path);
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }
}

/// A takeaway candidate from one chunk (the map step's output), before merging and ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Index of the chunk it came from.
    pub chunk: usize,
    /// Position among all candidates of the document (chunk order, then answer order); the
    /// deterministic tie-breaker of the ranking.
    pub ordinal: usize,
    /// Short headline.
    pub headline: String,
    /// One-sentence detail.
    pub detail: String,
    /// The model's importance, 1..=5.
    pub importance: u8,
    /// The supporting quote the model gave.
    pub quote: String,
    /// Whether the quote was found in the chunk text (after folding case, punctuation and
    /// white space). A quote that is not there is a hallucination signal.
    pub quote_found: bool,
    /// Heading path of the section that holds the quote; when the quote was not found, of the
    /// part of the chunk that shares the most words with the headline and detail.
    pub heading_path: Vec<String>,
}

/// Why a candidate did not reach the summary: the rule that dropped it (counted in
/// [`Stats::dropped`], listed by `--explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropRule {
    /// Template or JSON debris, too short, a lead-in ("The takeaways are:") or an aside ("Thanks
    /// for reading!").
    Debris,
    /// An echo of the prompt: its own words, or only generic category words ("Key takeaways",
    /// "Leçons").
    Echo,
    /// It restates the writeup's title.
    Title,
    /// Its quote was not found and its words are not the chunk's (same language only).
    OffText,
    /// It restates its section's heading and the author does not list that heading among the
    /// highlights.
    Heading,
    /// The same point as another candidate (the same supporting sentence, or a near-duplicate
    /// headline): merged into it.
    Duplicate,
    /// It follows instructions written into the writeup for an AI ("ignore previous
    /// instructions", "your new task is…"): its headline repeats such a passage, or its quote
    /// comes from one.
    Injection,
}

impl DropRule {
    /// The rule's name as in `--stats`, `--explain` and the JSON `stats.dropped`.
    pub fn name(self) -> &'static str {
        match self {
            DropRule::Debris => "debris",
            DropRule::Echo => "echo",
            DropRule::Title => "title",
            DropRule::OffText => "off_text",
            DropRule::Heading => "heading",
            DropRule::Duplicate => "duplicate",
            DropRule::Injection => "injection",
        }
    }
}

/// A candidate that did not reach the summary, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The rule.
    pub rule: DropRule,
    /// The headline as the model gave it (cleaned of markup).
    pub headline: String,
    /// The heading-path label of its section (or of its chunk's sections).
    pub section: String,
}

/// Candidates dropped per rule ([`DropRule`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DropCounts {
    /// [`DropRule::Debris`].
    pub debris: usize,
    /// [`DropRule::Echo`].
    pub echo: usize,
    /// [`DropRule::Title`].
    pub title: usize,
    /// [`DropRule::OffText`].
    pub off_text: usize,
    /// [`DropRule::Heading`].
    pub heading: usize,
    /// [`DropRule::Duplicate`] (merged into another takeaway).
    pub duplicate: usize,
    /// [`DropRule::Injection`].
    pub injection: usize,
}

impl DropCounts {
    /// Counts one drop.
    pub fn add(&mut self, rule: DropRule) {
        match rule {
            DropRule::Debris => self.debris += 1,
            DropRule::Echo => self.echo += 1,
            DropRule::Title => self.title += 1,
            DropRule::OffText => self.off_text += 1,
            DropRule::Heading => self.heading += 1,
            DropRule::Duplicate => self.duplicate += 1,
            DropRule::Injection => self.injection += 1,
        }
    }

    /// All drops.
    pub fn total(&self) -> usize {
        self.debris
            + self.echo
            + self.title
            + self.off_text
            + self.heading
            + self.duplicate
            + self.injection
    }
}

/// One final takeaway (the reduce step's output).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Takeaway {
    /// 1-based position in the summary.
    pub rank: usize,
    /// Bold headline.
    pub headline: String,
    /// One sentence.
    pub detail: String,
    /// Highest importance (1..=5) the model gave any merged candidate.
    pub importance: u8,
    /// Ranking score in 0..=1 (`rank::score`).
    pub score: f64,
    /// Heading paths of the supporting sections, in document order, distinct. An empty path is
    /// the intro.
    pub sections: Vec<Vec<String>>,
    /// The supporting quotes that were found in their chunks.
    pub quotes: Vec<String>,
    /// True when at least one supporting quote was found in its chunk.
    pub grounded: bool,
    /// How many candidates were merged into this takeaway.
    pub merged: usize,
    /// Position of the first merged candidate in the document (tie-breaker).
    #[serde(skip)]
    pub ordinal: usize,
}

/// The result of the whole pipeline for one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The writeup's title ([`Outline::title`]).
    pub title: String,
    /// The input path as given (`-` for stdin).
    pub source: String,
    /// Author from front matter.
    pub author: Option<String>,
    /// Date from front matter.
    pub written: Option<String>,
    /// The model used.
    pub model: String,
    /// The day the summary was made, `YYYY-MM-DD`.
    pub generated: String,
    /// The language the takeaways are written in: an ISO 639-1 code (`en`, `fr`) where one
    /// exists, else ISO 639-3; detected from the writeup, or forced with `--language`.
    pub language: String,
    /// The ranked takeaways.
    pub takeaways: Vec<Takeaway>,
    /// Sections whose chunk failed (only with `keep_going`): label and error.
    pub missing_sections: Vec<MissingSection>,
    /// Things the reader should know (e.g. the final pass failed and the code's order is used).
    pub notes: Vec<String>,
    /// Counts and timings.
    pub stats: Stats,
    /// The candidates that were dropped, with their rule (for `--explain`; not rendered).
    #[serde(skip)]
    pub dropped: Vec<Dropped>,
}

/// A section the summary does not cover because its model call failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingSection {
    /// Heading-path label.
    pub section: String,
    /// The error, one line.
    pub error: String,
}

/// Counts and timings of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// `num_ctx` used for every call.
    pub num_ctx: u32,
    /// Chunks after splitting (and re-splitting).
    pub chunks: usize,
    /// Model calls made (including retries after invalid answers); answers from the cache are
    /// not model calls.
    pub model_calls: usize,
    /// Calls answered from the answer cache instead of the model.
    pub cache_hits: usize,
    /// Calls repeated after an invalid answer or a truncated prompt.
    pub retries: usize,
    /// HTTP requests the server received for the model calls of this run, every retry
    /// included (busy answers, resets, invalid answers, re-split chunks); cached answers send
    /// none.
    pub requests: usize,
    /// Answers repaired instead of refused: importances clamped into 1..=5, lists longer than
    /// asked cut.
    pub repaired: usize,
    /// Requests repeated after a broken connection or an HTTP 5xx (of the calls that succeeded
    /// in the end).
    pub network_retries: usize,
    /// Candidates the model gave (before any was dropped or merged).
    pub candidates: usize,
    /// Candidates dropped, per rule ([`DropRule`]).
    pub dropped: DropCounts,
    /// Estimated tokens of the document body.
    pub document_tokens_estimate: usize,
    /// Sum of Ollama `prompt_eval_count` over the model calls of this run (tokens; cached
    /// answers add nothing).
    pub prompt_eval_count: u64,
    /// Sum of Ollama `eval_count` (tokens), as `prompt_eval_count`.
    pub eval_count: u64,
    /// Sum of Ollama `total_duration` (seconds): the model's time in this run.
    pub model_seconds: f64,
    /// Invisible text dropped from the writeup before any prompt ([`Document::hidden`]).
    pub hidden: HiddenText,
}
