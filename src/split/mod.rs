//! Stage 2, `split`: [`Document`] → [`Outline`] (title and sections) → [`Chunk`]s that fit the
//! token budget.
//!
//! First the structure, computed once per document by [`outline`]: Markdown headings come from
//! pulldown-cmark (so a `#` line inside a code fence or an HTML comment is not a heading); plain
//! text gets its heading lines detected by [`detect_text_headings`]. Each section carries its
//! heading path and byte range in the body.
//!
//! Then the chunks: a section over the budget is cut by text-splitter at the largest semantic
//! level that fits (paragraph, sentence, word, character), and consecutive small pieces are
//! packed into one chunk up to the target size, so a tiny section joins its neighbour and the
//! per-call prompt overhead is paid fewer times.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};

mod text;

pub use text::{
    detect_text_headings, TextStructure, TEXT_HEADING_MAX_CHARS, TEXT_HEADING_MIN_BODY,
};

use crate::tokens;
use crate::types::{BodyFormat, Chunk, ChunkPart, Document, Outline, Section};

/// How big chunks may be, in estimated tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Budget {
    /// Chunks are packed up to this size. See [`DEFAULT_TARGET_TOKENS`].
    pub target: usize,
    /// Hard limit: `num_ctx` − prompt overhead − `num_predict` − margin. No chunk exceeds it.
    pub max: usize,
}

impl Budget {
    /// A budget for the given context: `target` capped by the hard `max`.
    ///
    /// `max = num_ctx − overhead − num_predict − margin`, where the margin is
    /// [`SAFETY_MARGIN_PERCENT`] of `num_ctx` (our estimate is already pessimistic; the margin
    /// covers chat-template tokens the estimate does not see). Never below 64 tokens, so a
    /// misconfigured context still splits (into many small chunks) instead of failing.
    pub fn for_context(num_ctx: u32, overhead: usize, num_predict: usize, target: usize) -> Self {
        let num_ctx = num_ctx as usize;
        let margin = num_ctx * SAFETY_MARGIN_PERCENT / 100;
        let max = num_ctx
            .saturating_sub(overhead)
            .saturating_sub(num_predict)
            .saturating_sub(margin)
            .max(64);
        Budget {
            target: target.min(max).max(1),
            max,
        }
    }
}

/// Default chunk target in estimated tokens: none, chunks are packed up to the budget's hard
/// `max`, which follows the context window (`num_ctx` 8192: 5,773 estimated tokens, ~3,400 real
/// ones of English prose, since the estimate is pessimistic: see [`tokens::estimate`]).
///
/// Chosen by measurement on the seed writeup (21.8 kB, 13 sections, `num_ctx` 8192; the
/// author's own list of 10 takeaways as reference, scored by `../shared/eval`; wall times with
/// the stand-in on 1 thread, `bench/oneshot.sh`, 2026-12-01):
///
/// | model | target | chunks | prompt_eval_count (document estimate 7,997) | generated | wall | recall@10 |
/// |---|---|---|---|---|---|---|
/// | SmolLM2-135M | 1200 | 9 | 0.84-1.04× | | | 3 of 10 |
/// | SmolLM2-135M | 600 | 17 | 1.04× | | | 7 of 10 |
/// | Qwen2.5-Coder 1.5B, with quotes | 2000 | 5 | 6,142 | 593 | 223 s | 10 of 10 |
/// | Qwen2.5-Coder 1.5B, no quotes | the window | 2 | 5,306 | 310 | 165 s | 10 of 10 |
/// | … and compact JSON | the window | 2 | 5,372 | 246 | 153 s (1.19× one call) | 10 of 10 |
///
/// SmolLM2 answered once per call whatever the chunk held, so it needed one section a chunk.
/// A real instruction-tuned model gives one takeaway per listed section (the prompt asks for
/// exactly that many, `extract::takeaways_for`), so bigger chunks lose nothing and save the
/// fixed ~300-token instructions and section list of every call. One call over the whole seed
/// took 127-135 s (4,724 prompt tokens, 139 generated).
pub const DEFAULT_TARGET_TOKENS: usize = usize::MAX;

/// Share of `num_ctx` kept free in [`Budget::for_context`], in percent.
pub const SAFETY_MARGIN_PERCENT: usize = 10;

/// Sizes text for text-splitter with our token estimate.
struct EstimateSizer;

impl ChunkSizer for EstimateSizer {
    fn size(&self, chunk: &str) -> usize {
        tokens::estimate(chunk)
    }
}

/// The structure of a document: its title, its plain-text title block and its sections, in order,
/// covering the whole body (the intro, when there is text before the first heading, has an empty
/// heading path). Computed once per document; every later stage takes it from here.
///
/// The title: front matter or H1 (`Document::title`), else for plain text the title block's
/// line ([`TextStructure::title`]), else the heading the body opens with, else the file name.
pub fn outline(doc: &Document) -> Outline {
    let (headings, title_lines, text_title) = match doc.format {
        BodyFormat::Markdown => (markdown_headings(&doc.body), Vec::new(), None),
        BodyFormat::Text => {
            let s = detect_text_headings(&doc.body);
            let title = s.title();
            (s.headings, s.title_lines, title)
        }
    };
    let sections = sections_from_headings(&doc.body, &headings);
    let title = doc
        .title
        .clone()
        .or(text_title)
        // A Markdown body that opens with a heading (several H1s, so input did not take it as
        // the title): that heading names the writeup better than its file name.
        .or_else(|| {
            sections
                .first()
                .filter(|s| s.range.start == 0 && !s.heading_path.is_empty())
                .map(|s| s.heading_path[0].clone())
        })
        .unwrap_or_else(|| {
            std::path::Path::new(&doc.source)
                .file_name()
                .map_or_else(|| doc.source.clone(), |n| n.to_string_lossy().into_owned())
        });
    Outline {
        title,
        title_lines,
        sections,
    }
}

/// A heading found in the body: where its line starts, its level (1 = outermost) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// Byte offset where the heading starts.
    pub start: usize,
    /// 1..=6.
    pub level: u8,
    /// The heading's text, inline markup removed.
    pub text: String,
}

fn sections_from_headings(body: &str, headings: &[Heading]) -> Vec<Section> {
    let mut out = Vec::new();
    let first = headings.first().map_or(body.len(), |h| h.start);
    if !body[..first].trim().is_empty() {
        out.push(Section {
            heading_path: Vec::new(),
            range: 0..first,
        });
    }
    let mut stack: Vec<(u8, String)> = Vec::new();
    for (i, h) in headings.iter().enumerate() {
        while stack.last().is_some_and(|(level, _)| *level >= h.level) {
            stack.pop();
        }
        stack.push((h.level, h.text.clone()));
        let end = headings.get(i + 1).map_or(body.len(), |n| n.start);
        out.push(Section {
            heading_path: stack.iter().map(|(_, t)| t.clone()).collect(),
            range: h.start..end,
        });
    }
    out
}

/// Markdown headings via pulldown-cmark: ATX and setext headings, plus bold-only short
/// paragraphs used as headings (a level below the current one). A single leading H1 (the
/// document's title) is left out, so it does not prefix every heading path.
fn markdown_headings(body: &str) -> Vec<Heading> {
    let mut out: Vec<Heading> = Vec::new();
    let mut current: Option<(usize, u8, String)> = None;
    // A paragraph is a pseudo-heading when it is exactly one strong span, short.
    let mut para: Option<(usize, String, bool)> = None; // (start, text, only_strong_so_far)
    let mut depth_in_strong = 0usize;
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut list_depth = 0usize;
    let mut real_level: Option<u8> = None;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((range.start, heading_level(level), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((start, level, text)) = current.take() {
                    let text = clean_heading(&text);
                    if !text.is_empty() {
                        real_level = Some(level);
                        out.push(Heading { start, level, text });
                    }
                }
            }
            Event::Start(Tag::List(_)) => list_depth += 1,
            Event::End(TagEnd::List(_)) => list_depth = list_depth.saturating_sub(1),
            Event::Start(Tag::Paragraph) if list_depth == 0 => {
                para = Some((range.start, String::new(), true));
            }
            Event::End(TagEnd::Paragraph) => {
                if let Some((start, text, only_strong)) = para.take() {
                    let text = clean_heading(&text);
                    if only_strong && !text.is_empty() && text.chars().count() <= 80 {
                        // One level below the last real heading, so that a run of bold
                        // pseudo-headings are siblings, not nested in one another.
                        let level = real_level.map_or(2, |l| (l + 1).min(6));
                        out.push(Heading { start, level, text });
                    }
                }
            }
            Event::Start(Tag::Strong) => depth_in_strong += 1,
            Event::End(TagEnd::Strong) => depth_in_strong = depth_in_strong.saturating_sub(1),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, text)) = current.as_mut() {
                    text.push_str(&t);
                }
                if let Some((_, text, only_strong)) = para.as_mut() {
                    if depth_in_strong == 0 && !t.trim().is_empty() {
                        *only_strong = false;
                    }
                    text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                // A setext heading over several lines: the line break is a space.
                if let Some((_, _, text)) = current.as_mut() {
                    text.push(' ');
                }
                if let Some((_, _, only_strong)) = para.as_mut() {
                    // A bold line followed by more lines in the same paragraph is emphasis.
                    *only_strong = false;
                }
            }
            _ => {}
        }
    }
    // A lone H1 that comes first is the document's title in practice, even when front matter
    // spells the title differently.
    let h1s = out.iter().filter(|h| h.level == 1).count();
    if out
        .first()
        .is_some_and(|first| first.level == 1 && h1s == 1)
    {
        out.remove(0);
    }
    out
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn clean_heading(text: &str) -> String {
    crate::text::fold_space(text)
}

/// Splits a document into chunks that each fit `budget.max`, packed up to `budget.target`.
///
/// Sections longer than the target are cut by text-splitter (Markdown-aware for Markdown
/// bodies) at the largest boundary that fits: paragraph, then sentence, word, character.
/// Consecutive pieces are then packed greedily. The chunks cover every non-whitespace byte of the
/// body exactly once, in order (whitespace between pieces may fall outside any chunk).
pub fn chunks(doc: &Document, outline: &Outline, budget: Budget) -> Vec<Chunk> {
    let parts: Vec<ChunkPart> = outline
        .sections
        .iter()
        .filter(|s| !doc.body[s.range.clone()].trim().is_empty())
        .map(|s| trimmed_part(&doc.body, s.range.clone(), &s.heading_path))
        .collect();
    let target = budget.target;
    let mut out = pack(
        &doc.body,
        pieces(&doc.body, doc.format, parts, target),
        budget,
    );
    if doc.format == BodyFormat::Markdown {
        add_table_headers(&doc.body, &mut out, budget);
    }
    out
}

/// The whole body as one chunk (`--strategy whole`): one model call over every section, each
/// section kept as a part so takeaways are still attributed to their headings. `None` when the
/// body is blank or does not fit `max_tokens` (the caller falls back to [`chunks`]).
pub fn whole(doc: &Document, outline: &Outline, max_tokens: usize) -> Option<Chunk> {
    let parts: Vec<ChunkPart> = outline
        .sections
        .iter()
        .filter(|s| !doc.body[s.range.clone()].trim().is_empty())
        .map(|s| trimmed_part(&doc.body, s.range.clone(), &s.heading_path))
        .collect();
    let range = parts.first()?.range.start..parts.last()?.range.end;
    let est_tokens = tokens::estimate(&doc.body[range.clone()]);
    (est_tokens <= max_tokens).then_some(Chunk {
        index: 0,
        range,
        parts,
        est_tokens,
        table_header: None,
    })
}

/// Tables as (whole range, header + delimiter rows) from pulldown-cmark.
fn tables(body: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    let mut table: Option<Range<usize>> = None;
    for (event, range) in Parser::new_ext(body, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Table(_)) => table = Some(range),
            Event::End(TagEnd::TableHead) => {
                if let Some(t) = table.take() {
                    // The delimiter row is the line after the header row.
                    let after = &body[range.end..t.end];
                    let delim_end = after.find('\n').map_or(t.end, |i| range.end + i);
                    let header = body[t.start..delim_end].trim_end().to_string();
                    out.push((t, header));
                }
            }
            _ => {}
        }
    }
    out
}

/// Gives a chunk that starts inside a table (after its header) the table's header rows. If
/// the header would push the chunk over the hard limit, it is left out: the limit wins.
fn add_table_headers(body: &str, chunks: &mut [Chunk], budget: Budget) {
    let tables = tables(body);
    if tables.is_empty() {
        return;
    }
    for c in chunks.iter_mut() {
        let start = c.range.start;
        // Tables are in order and do not overlap: only the last one that starts before the
        // chunk can hold its start (a binary search, not a scan of every table per chunk).
        let before = tables.partition_point(|(t, _)| t.start < start);
        if let Some((_, header)) = before
            .checked_sub(1)
            .map(|i| &tables[i])
            .filter(|(t, h)| t.start + h.len() < start && start < t.end)
        {
            let est = c.est_tokens + tokens::estimate(header) + 1;
            if est <= budget.max {
                c.table_header = Some(header.clone());
                c.est_tokens = est;
            }
        }
    }
}

/// Splits an existing chunk again into chunks of at most `target` estimated tokens, keeping each
/// part's heading path. Used when a call shows the chunk did not fit the context after all.
/// The new chunks keep the old chunk's index.
pub fn resplit(body: &str, format: BodyFormat, chunk: &Chunk, target: usize) -> Vec<Chunk> {
    let budget = Budget {
        target,
        max: target,
    };
    let mut out = pack(
        body,
        pieces(body, format, chunk.parts.clone(), target),
        budget,
    );
    for c in &mut out {
        c.index = chunk.index;
    }
    out
}

/// Cuts every part over `target` with text-splitter (Markdown-aware for Markdown bodies).
fn pieces(body: &str, format: BodyFormat, parts: Vec<ChunkPart>, target: usize) -> Vec<ChunkPart> {
    let mut out = Vec::new();
    for part in parts {
        let text = &body[part.range.clone()];
        if tokens::estimate(text) <= target {
            out.push(part);
            continue;
        }
        let config = ChunkConfig::new(target).with_sizer(EstimateSizer);
        let offsets: Vec<(usize, &str)> = match format {
            BodyFormat::Markdown => MarkdownSplitter::new(config).chunk_indices(text).collect(),
            BodyFormat::Text => TextSplitter::new(config).chunk_indices(text).collect(),
        };
        for (offset, piece) in offsets {
            let start = part.range.start + offset;
            for range in cut_by_chars(piece, target) {
                out.push(ChunkPart {
                    heading_path: part.heading_path.clone(),
                    range: start + range.start..start + range.end,
                });
            }
        }
    }
    out
}

/// `piece` cut into ranges of at most `target` estimated tokens at char boundaries; the whole
/// piece when it fits. text-splitter can give back a piece over its capacity where it finds no
/// boundary it accepts: a run of combining marks ("Zalgo" text; found by fuzzing, see
/// `tests/split_props.rs`) came back as a 42-token piece for a target of 28 and made a chunk
/// over the hard limit. A single char over `target` stays whole.
fn cut_by_chars(piece: &str, target: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if tokens::estimate(piece) <= target {
        out.push(0..piece.len());
        return out;
    }
    let (mut start, mut counts) = (0, tokens::Counts::default());
    for (i, c) in piece.char_indices() {
        let next = counts + tokens::Counts::of(&piece[i..i + c.len_utf8()]);
        if i > start && next.estimate() > target {
            out.push(start..i);
            start = i;
            counts = tokens::Counts::of(&piece[i..i + c.len_utf8()]);
        } else {
            counts = next;
        }
    }
    out.push(start..piece.len());
    out
}

fn trimmed_part(body: &str, range: Range<usize>, heading_path: &[String]) -> ChunkPart {
    let text = &body[range.clone()];
    let start = range.start + (text.len() - text.trim_start().len());
    let end = range.start + text.trim_end().len();
    ChunkPart {
        heading_path: heading_path.to_vec(),
        range: start..end,
    }
}

/// Greedy packing of consecutive pieces into chunks of at most `budget.target` estimated tokens.
fn pack(body: &str, pieces: Vec<ChunkPart>, budget: Budget) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    let mut parts: Vec<ChunkPart> = Vec::new();
    let flush = |parts: &mut Vec<ChunkPart>, out: &mut Vec<Chunk>| {
        if parts.is_empty() {
            return;
        }
        let range = parts[0].range.start..parts[parts.len() - 1].range.end;
        out.push(Chunk {
            index: out.len(),
            est_tokens: tokens::estimate(&body[range.clone()]),
            range,
            parts: std::mem::take(parts),
            table_header: None,
        });
    };
    // The counts of the text from the first part's start to the current piece's end, grown piece
    // by piece: estimating the whole joined range again for every piece made packing quadratic.
    let mut counts = tokens::Counts::default();
    for piece in pieces {
        counts = match parts.last() {
            Some(last) if last.range.end <= piece.range.start => {
                counts + tokens::Counts::of(&body[last.range.end..piece.range.end])
            }
            Some(_) => tokens::Counts::of(&body[parts[0].range.start..piece.range.end]),
            None => tokens::Counts::of(&body[piece.range.clone()]),
        };
        if !parts.is_empty() && counts.estimate() > budget.target {
            flush(&mut parts, &mut out);
            counts = tokens::Counts::of(&body[piece.range.clone()]);
        }
        parts.push(piece);
    }
    flush(&mut parts, &mut out);
    out
}

#[cfg(test)]
mod tests;
