//! Stage 3, `extract`: the map step. One `/api/chat` call per [`Chunk`] → [`Candidate`]
//! takeaways: the model gives a headline and an importance per listed section; the code grounds
//! each headline in the author's sentence of that section that shares the most words with it,
//! which becomes the detail printed under it ([`detail`]).
//!
//! The answer schema, parsing and the call that retries once are in [`answer`]; the rules that
//! drop a candidate before ranking, each named and counted, in [`filters`].

pub mod answer;
pub mod detail;
pub mod filters;

pub use answer::{call_json, parse_answer, repair, schema_of, Called, ExtractAnswer, RawTakeaway};
pub use detail::find_quote;
pub use filters::Checks;

use crate::language::Language;
use crate::llm::{LlmError, Options, Reply};
use crate::prompts::{fence_for, ExtractVars, PromptError, Prompts};
use crate::text::{content_tokens, fold_space, markdown_words, same_takeaway, strip_format_tags};
use crate::types::{label, Candidate, Chunk, ChunkPart, DropRule, Dropped};

/// Most takeaways asked of one chunk (the schema's `maxItems` caps every answer at this): a
/// chunk of more sections is asked for its 16 that matter most.
///
/// Measured on the seed writeup, 14 sections with text, sent in one call (`pipeline::plan_chunks`;
/// `bench/oneshot.sh`, Qwen2.5-Coder 1.5B, 2026-12-01): at 12, the model chose 12 sections and
/// left out "I, for one, welcome our new (cloud-based) AI overlords", the author's first
/// takeaway (recall@10 0.9, 215 tokens generated); at 16 it is asked one per section (see the
/// README's speed table for the row). Each takeaway costs ~15 generated tokens.
pub const MAX_TAKEAWAYS_PER_CHUNK: usize = 16;

/// Estimated tokens of one section's text per takeaway asked for: a section is asked for one
/// takeaway, and one more for every further this many tokens of it in the chunk.
///
/// Why one per section: asked for N takeaways of a chunk of several sections, models
/// (Qwen2.5-Coder 0.5B and 1.5B) took all N from the first section; asked for one per section
/// listed, they cover every section. Why not more: every takeaway costs ~25 generated tokens
/// (headline, importance, JSON; ~40 while it also had a quote), and on a CPU a generated token
/// costs as much as ~5 of prompt (docs/ARCHITECTURE.md, Ollama fact 11); see
/// `split::DEFAULT_TARGET_TOKENS`.
pub const TOKENS_PER_TAKEAWAY: usize = 1500;

/// How many takeaways to ask of a chunk whose prompt lists `sections` sections
/// ([`prompt_sections`]) in `est_tokens` estimated tokens: one per section, more for long
/// sections (see [`TOKENS_PER_TAKEAWAY`]), at most [`MAX_TAKEAWAYS_PER_CHUNK`].
pub fn takeaways_for(sections: usize, est_tokens: usize) -> usize {
    let by_size = 1 + est_tokens / TOKENS_PER_TAKEAWAY.max(1);
    sections.max(by_size).clamp(1, MAX_TAKEAWAYS_PER_CHUNK)
}

/// Least letters and digits of text a section needs in a chunk, besides its heading line, to be
/// listed in the prompt and asked for a takeaway: a parent heading with nothing of its own
/// ("Conférences" over its talks) has no point to give.
pub const MIN_SECTION_TEXT: usize = 40;

/// The sections the prompt lists for `chunk`, by their own heading (the last of the heading
/// path: "Conférences › Dans les coulisses" is listed as "Dans les coulisses", which the model
/// then does not copy into its headlines), leaving out those with less than
/// [`MIN_SECTION_TEXT`] of text of their own. Never empty: a chunk of bare headings lists them
/// all.
pub fn prompt_sections(chunk: &Chunk, body: &str) -> Vec<String> {
    let leaf = |path: &[String]| path.last().cloned().unwrap_or_else(|| label(path));
    let mut out: Vec<String> = Vec::new();
    for part in &chunk.parts {
        let own = &body[own_range(part, body)];
        let letters = own.chars().filter(|c| c.is_alphanumeric()).count();
        let name = leaf(&part.heading_path);
        if letters >= MIN_SECTION_TEXT && !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() {
        for part in &chunk.parts {
            let name = leaf(&part.heading_path);
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Byte range in `body` of `part`'s own text: without its first line when that line is its
/// section's heading (a heading grounds nothing and explains nothing).
pub fn own_range(part: &ChunkPart, body: &str) -> std::ops::Range<usize> {
    let text = &body[part.range.clone()];
    match (text.split_once('\n'), part.heading_path.last()) {
        (Some((first, _)), Some(h)) if markdown_words(first).contains(h.as_str()) => {
            part.range.start + first.len() + 1..part.range.end
        }
        (None, Some(h)) if markdown_words(text).contains(h.as_str()) => {
            part.range.end..part.range.end
        }
        _ => part.range.clone(),
    }
}

/// Byte ranges, relative to the chunk's text, of the own text ([`own_range`]) of the chunk's
/// parts whose own heading is `name` (one listed section, [`prompt_sections`]), or of every
/// part when `name` is `None`.
pub fn section_regions(
    chunk: &Chunk,
    body: &str,
    name: Option<&str>,
) -> Vec<std::ops::Range<usize>> {
    let leaf = |p: &ChunkPart| {
        p.heading_path
            .last()
            .cloned()
            .unwrap_or_else(|| label(&p.heading_path))
    };
    chunk
        .parts
        .iter()
        .filter(|p| name.is_none_or(|n| leaf(p) == n))
        .map(|p| {
            let r = own_range(p, body);
            r.start - chunk.range.start..r.end - chunk.range.start
        })
        .collect()
}

/// Why the map step failed for a chunk.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The model call failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// A template failed.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The model's answer was invalid twice.
    #[error(
        "the model's answer was not valid JSON for the schema ({detail}); it began: {raw_start:?}"
    )]
    Invalid {
        /// What was wrong with the second answer.
        detail: String,
        /// The first 200 characters of the raw answer.
        raw_start: String,
    },
}

/// The settings of every call in a run (one `num_ctx` for the whole run: docs/ARCHITECTURE.md,
/// Ollama fact 3).
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Ollama model name.
    pub model: String,
    /// Options sent with every call.
    pub options: Options,
}

/// What the map step needs to know of the document a chunk comes from, computed once per
/// document.
#[derive(Debug, Clone, Copy)]
pub struct DocContext<'a> {
    /// The writeup's title, for the prompt.
    pub title: &'a str,
    /// The document body the chunk's byte ranges index into.
    pub body: &'a str,
    /// The checks every candidate must pass ([`Checks`]: the title's and the prompt's words).
    pub checks: &'a Checks,
    /// The language the writeup is written in.
    pub written_in: Language,
    /// The language the takeaways are asked in (the writeup's, unless `--language` says
    /// otherwise).
    pub answer_in: Language,
    /// Every section's own heading (the last of its heading path), indexed, for
    /// [`Headings::misattributed`] and [`Headings::restated`].
    pub headings: &'a Headings,
}

/// Every section's own heading (the last of its heading path), indexed for lookups by
/// headline (`text::similar`), built once per document: every candidate of every chunk asks
/// whether it restates a heading, and a huge writeup has thousands (issue 10: comparing each
/// candidate with each heading was most of a 20 MB run).
///
/// The answers are those of comparing with each heading ([`misattributed`],
/// [`same_takeaway`]) unless one content token or trigram is in more headings than the index
/// lists under a key (`text::similar::MAX_PER_KEY`, `MAX_PER_TRIGRAM`): a lookup then costs a
/// bounded time, and a heading that shares only such common keys with a headline is not found.
#[derive(Debug)]
pub struct Headings {
    /// The distinct headings, in order of first appearance: the index numbers them.
    texts: Vec<String>,
    /// Lookups need scratch space: one at a time (the chunks of a run share this).
    index: std::sync::Mutex<crate::text::similar::Index>,
}

impl Headings {
    /// Indexes the own heading of every section of `outline`.
    pub fn of_outline(outline: &crate::types::Outline) -> Self {
        let headings: Vec<String> = outline
            .sections
            .iter()
            .filter_map(|s| s.heading_path.last().cloned())
            .collect();
        Headings::new(&headings)
    }

    /// Indexes `headings` (repeats are indexed once).
    pub fn new(headings: &[String]) -> Self {
        let mut seen = std::collections::HashSet::new();
        let texts: Vec<String> = headings
            .iter()
            .filter(|h| seen.insert(h.as_str()))
            .cloned()
            .collect();
        let index = crate::text::similar::Index::of(&texts);
        Headings {
            texts,
            index: std::sync::Mutex::new(index),
        }
    }

    /// True when a heading is the same takeaway as `headline` ([`same_takeaway`]).
    pub fn restated(&self, headline: &str) -> bool {
        self.lock().any(headline)
    }

    /// [`misattributed`] against these headings.
    pub fn misattributed(&self, headline: &str, quote_section: &[String]) -> bool {
        let own = quote_section.last();
        let other = {
            let mut index = self.lock();
            let q = index.prepare(headline);
            index
                .matches(&q)
                .into_iter()
                .any(|id| Some(&self.texts[id]) != own)
        };
        other && !own.is_some_and(|h| same_takeaway(h, headline))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, crate::text::similar::Index> {
        // Poisoned only by a panic in a lookup, which ends this document's run anyway (each
        // document has its own headings).
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// True when `headline` restates the heading of a section other than `quote_section`, the
/// one its found quote is in: the model put another section's point on this section's
/// evidence (seen with Qwen2.5-Coder 1.5B: an intro list item as headline, a sentence of the
/// next section as quote). Such a candidate is dropped as off-text: its quote does not support
/// it, and the other section's own candidate says the same.
pub fn misattributed(headline: &str, quote_section: &[String], headings: &[String]) -> bool {
    let own = quote_section.last();
    headings
        .iter()
        .filter(|h| Some(*h) != own)
        .any(|h| same_takeaway(h, headline))
        && !own.is_some_and(|h| same_takeaway(h, headline))
}

/// The non-blank lines of the map-step prompt rendered without any writeup (no title, sections
/// or text): what a headline that echoes the instructions ("The point in at most 12 words")
/// repeats. Rendered once per document, not once per chunk.
///
/// Errors: a template fails to render.
pub fn instruction_lines(prompts: &Prompts) -> Result<Vec<String>, PromptError> {
    Ok(prompts
        .extract_messages(&ExtractVars {
            title: "",
            sections: Vec::new(),
            chunk: "",
            max_takeaways: MAX_TAKEAWAYS_PER_CHUNK,
            language: "",
            fence: "",
        })?
        .iter()
        .flat_map(|m| m.content.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect())
}

/// The messages of the map-step call for `chunk` of a writeup titled `title` whose body is
/// `body`, asking for takeaways in `language`, and how many takeaways they ask for: the sections
/// listed ([`prompt_sections`]), the count ([`takeaways_for`]), the chunk between a fence it
/// cannot close ([`fence_for`]).
///
/// Errors: a template fails to render.
pub fn chunk_prompt(
    prompts: &Prompts,
    title: &str,
    language: Language,
    body: &str,
    chunk: &Chunk,
) -> Result<(Vec<crate::llm::Message>, usize), PromptError> {
    let prompt_text = chunk.prompt_text(body);
    let sections = prompt_sections(chunk, body);
    let max = takeaways_for(sections.len(), chunk.est_tokens);
    let fence = fence_for(&prompt_text);
    let vars = ExtractVars {
        title,
        sections,
        chunk: &prompt_text,
        max_takeaways: max,
        language: language.name(),
        fence: &fence,
    };
    Ok((prompts.extract_messages(&vars)?, max))
}

/// What the map step made of one chunk.
#[derive(Debug, Default)]
pub struct ChunkOutcome {
    /// The candidates that passed the checks, in answer order.
    pub candidates: Vec<Candidate>,
    /// The candidates the checks dropped, with their rule.
    pub dropped: Vec<Dropped>,
    /// Answers repaired instead of refused (0 or 1 per chunk).
    pub repaired: usize,
    /// Every reply the model gave for this chunk, the failed ones too.
    pub replies: Vec<Reply>,
}

/// The map step for one chunk: renders the prompt, calls the model, grounds the quotes, widens
/// them to the author's sentences, and applies the checks ([`Checks::judge`]; a quote whose
/// sentence is already another candidate's is that candidate's duplicate).
///
/// `first_ordinal` numbers the candidates. Errors: see [`call_json`] and [`ExtractError`];
/// with the replies received so far.
pub async fn extract_chunk(
    llm: &crate::llm::Llm,
    prompts: &Prompts,
    call: &CallSettings,
    doc: DocContext<'_>,
    chunk: &Chunk,
    first_ordinal: usize,
) -> Result<ChunkOutcome, (ExtractError, Vec<Reply>)> {
    let text = chunk.text(doc.body);
    let (messages, max) = chunk_prompt(prompts, doc.title, doc.answer_in, doc.body, chunk)
        .map_err(|e| (e.into(), Vec::new()))?;
    let mut format = schema_of::<ExtractAnswer>();
    // Exactly the number asked: left free, small models answer one takeaway for a chunk of
    // five sections.
    for bound in ["minItems", "maxItems"] {
        if let Some(items) = format.pointer_mut(&format!("/properties/takeaways/{bound}")) {
            *items = max.into();
        }
    }
    let called = call_json::<ExtractAnswer, _>(llm, call, messages, Some(format), Ok).await;
    let answer = match called.value {
        Ok(a) => a,
        Err(e) => return Err((e, called.replies)),
    };
    let (answer, repairs) = repair(answer, max);
    let mut out = ChunkOutcome {
        repaired: usize::from(!repairs.is_empty()),
        replies: called.replies,
        ..ChunkOutcome::default()
    };
    let chunk_words = content_tokens(text);
    let folded = detail::Folded::new(text);
    let labels = chunk.section_labels().join("; ");
    // Asked for one takeaway per listed section, the model answers them in that order: the
    // n-th takeaway is looked for in the n-th section first.
    let sections = prompt_sections(chunk, doc.body);
    let by_position = max == sections.len();
    let everywhere = section_regions(chunk, doc.body, None);
    for (n, t) in answer.takeaways.into_iter().enumerate() {
        // Clean first, then judge: a headline such as `<img src=…>` is empty once its markup
        // is gone, and must be dropped, not printed as `****`.
        let headline = shorten_cut(&strip_format_tags(&t.headline), HEADLINE_MAX_CHARS);
        let same_language = doc.written_in.holds(&headline, doc.answer_in);
        // A headline that restates a listed section's heading belongs to that section, wherever
        // else its words are (the seed's intro lists every heading); else to the section at its
        // place in the answer.
        let named = sections.iter().find(|s| same_takeaway(s, &headline));
        let own = match (named, sections.get(n)) {
            (Some(name), _) => section_regions(chunk, doc.body, Some(name)),
            (None, Some(name)) if by_position => section_regions(chunk, doc.body, Some(name)),
            _ => Vec::new(),
        };
        let found = ground(
            text,
            &folded,
            doc.headings,
            &headline,
            (&own, named.is_some()),
            &everywhere,
        )
        // A headline in another language than the writeup shares no words with it: its
        // section's place in the list is then all that grounds it.
        .or_else(|| {
            (!same_language)
                .then(|| detail::first_sentence(text, &own))
                .flatten()
        });
        let quote = found
            .as_ref()
            .map(|r| fold_space(&text[r.clone()]))
            .unwrap_or_default();
        let (mut detail, lead_in) = match &found {
            Some(r) => detail::sentence_around(text, r.clone()),
            None => (String::new(), false),
        };
        // A quote from a sentence that introduces a list ("… received some good keynote
        // time:") grounds the headline but explains nothing: no detail. A headline that only
        // repeats that lead-in ("Below I would like to highlight some sessions") is no point.
        let restates_lead_in = lead_in && {
            let h = content_tokens(&headline);
            let d = content_tokens(&detail);
            !h.is_empty() && h.intersection(&d).count() * 2 >= h.len()
        };
        // A detail that only says the headline again (a headline copied from the text is its
        // own sentence) explains nothing.
        if lead_in || {
            let h = content_tokens(&headline);
            content_tokens(&detail).difference(&h).count() < detail::MIN_NEW_WORDS
        } {
            detail.clear();
        }
        let heading_path = match &found {
            Some(r) => chunk.heading_path_at(chunk.range.start + r.start).to_vec(),
            None => best_part(doc.body, chunk, &headline),
        };
        let mut rule = doc.checks.judge(
            &headline,
            found.is_some(),
            restates_lead_in,
            same_language,
            &chunk_words,
        );
        if doc.checks.follows_injection(&headline, &quote) {
            rule = Some(DropRule::Injection);
        }
        if rule.is_none() && found.is_some() && doc.headings.misattributed(&headline, &heading_path)
        {
            rule = Some(DropRule::OffText);
        }
        if rule.is_none() && !detail.is_empty() && out.candidates.iter().any(|c| c.detail == detail)
        {
            rule = Some(DropRule::Duplicate);
        }
        if let Some(rule) = rule {
            out.dropped.push(Dropped {
                rule,
                headline,
                section: if heading_path.is_empty() && found.is_none() {
                    labels.clone()
                } else {
                    label(&heading_path)
                },
            });
            continue;
        }
        out.candidates.push(Candidate {
            chunk: chunk.index,
            ordinal: first_ordinal + out.candidates.len(),
            headline,
            detail,
            importance: t.importance.clamp(1, 5) as u8,
            quote,
            quote_found: found.is_some(),
            heading_path,
        });
    }
    Ok(out)
}

/// Where `headline` is grounded in the chunk `text` (byte range): the headline itself when it
/// is copied from the text (an intro list item, a heading that states its point; not a
/// heading restated, whose line grounds nothing), else the sentence of the chunk (`everywhere`,
/// byte ranges of `text`) that shares the most content words with it, one of its own section
/// (`own`) on a tie; when `named` (the headline restates that section's heading), always one of
/// its own section, the first that explains something when none shares a word. `None` when no
/// sentence shares a word.
///
/// Why the code finds the sentence and the model does not quote it: a quote cost ~15 of the
/// ~40 generated tokens of every takeaway (Qwen2.5-Coder's tokenizer), and generation is most of
/// a run's time on a CPU (issue 11). Why the words decide and the order of the answer only
/// breaks ties: asked for one takeaway per section in order, Qwen2.5-Coder 1.5B still skipped
/// the intro of the seed writeup, and every later takeaway would have gone to the section
/// before its own.
fn ground(
    text: &str,
    folded: &detail::Folded<'_>,
    headings: &Headings,
    headline: &str,
    (own, named): (&[std::ops::Range<usize>], bool),
    everywhere: &[std::ops::Range<usize>],
) -> Option<std::ops::Range<usize>> {
    if !headings.restated(headline) {
        if let Some(r) = folded.find(headline.trim_end_matches('…')) {
            return Some(r);
        }
    }
    let in_own = detail::best_sentence(text, own, headline);
    if named {
        // Its heading's section, even when no sentence there repeats its words: the first one
        // that explains something.
        return in_own
            .map(|(r, _)| r)
            .or_else(|| detail::first_sentence(text, own));
    }
    let anywhere = detail::best_sentence(text, everywhere, headline);
    match (in_own, anywhere) {
        (Some((o, so)), Some((_, sa))) if so >= sa => Some(o),
        (_, a) => a.map(|(r, _)| r),
    }
}

/// Heading path of the chunk part whose text shares the most content words with `text` (the
/// first part on a tie): where a takeaway without a found quote most likely comes from.
fn best_part(body: &str, chunk: &Chunk, text: &str) -> Vec<String> {
    let words = content_tokens(text);
    let mut best = (0usize, &chunk.parts[0]);
    for part in &chunk.parts {
        let part_words = content_tokens(&body[part.range.clone()]);
        let shared = words.intersection(&part_words).count();
        if shared > best.0 {
            best = (shared, part);
        }
    }
    best.1.heading_path.clone()
}

/// Longest headline in characters: the schema's `maxLength`, which the server's grammar
/// enforces by cutting the string, often mid-word.
pub const HEADLINE_MAX_CHARS: usize = 100;

/// A headline that reached `max` characters was cut by the grammar: end it at its first
/// sentence when there is one, else at its first clause (before `:`, `;` or `—`) when that has
/// five words or more, else at the last whole word, with an ellipsis.
fn shorten_cut(headline: &str, max: usize) -> String {
    // Within two characters of the cap counts as cut: folding white space may shorten it.
    if headline.chars().count() + 2 < max {
        return headline.to_string();
    }
    if let Some(i) = headline.find(". ") {
        return headline[..=i].to_string();
    }
    // The first clause when it says enough: "Build caches are the cheapest speed-up we are
    // not using" of "…: one speaker cut CI time from 38 to 11…".
    if let Some(i) = headline.find([':', ';', '—']) {
        if headline[..i].split_whitespace().count() >= 5 {
            return headline[..i].trim_end().to_string();
        }
    }
    match headline.rfind(' ') {
        Some(i) => format!("{}…", headline[..i].trim_end_matches([',', ';', ':', ' '])),
        None => headline.to_string(),
    }
}

#[cfg(test)]
mod tests;
