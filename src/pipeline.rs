//! The stages wired together for one document: split → extract (map) → rank (reduce) →
//! [`Summary`]. Never prints: progress goes through a [`Progress`] the caller supplies.

use serde::Serialize;

use crate::extract::{self, CallSettings, Candidate, ExtractError};
use crate::input::Document;
use crate::llm::{Llm, LlmError, Options, Reply, Source};
use crate::prompts::{ExtractVars, PromptError, Prompts, RankItem, RankVars};
use crate::rank::{self, Takeaway};
use crate::split::{self, Budget, Chunk};
use crate::tokens;

/// What a run is asked to do. Built by the CLI from flags, environment and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Ollama model name.
    pub model: String,
    /// Context window in tokens; `None`: the model's own (`/api/show`), capped at
    /// [`NUM_CTX_CAP`].
    pub num_ctx: Option<u32>,
    /// Most tokens a call may generate (Ollama `num_predict`).
    pub num_predict: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Sampling seed.
    pub seed: Option<i32>,
    /// Ollama `repeat_penalty` ([`DEFAULT_REPEAT_PENALTY`]).
    pub repeat_penalty: f32,
    /// How many takeaways to print.
    pub top: usize,
    /// Chunk target in estimated tokens ([`split::DEFAULT_TARGET_TOKENS`]).
    pub target_tokens: usize,
    /// Ask the model to reorder the short list at the end ([`rank::blend_order`]).
    pub final_pass: bool,
    /// Go on past a chunk that fails, and list it as missing.
    pub keep_going: bool,
    /// The date printed in the summary, `YYYY-MM-DD`.
    pub date: String,
    /// One call per chunk of sections, or one call over the whole body ([`Strategy`]).
    pub strategy: Strategy,
}

/// How a document is cut into model calls (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `whole` for a body of at most [`AUTO_WHOLE_MAX_TOKENS`] estimated tokens, else `sections`.
    #[default]
    #[value(
        help = "whole for a writeup that fits one chunk (--chunk-tokens, 600 estimated tokens by default), else sections"
    )]
    Auto,
    /// Map-reduce: one call per chunk of sections ([`split::chunks`]), then merge and rank.
    #[value(help = "one call per chunk of sections, then merge and rank (map-reduce)")]
    Sections,
    /// One call over the whole body ([`split::whole`]), then the same ranking; `sections` when
    /// the body does not fit the context.
    #[value(
        help = "one call over the whole writeup, then the same ranking; sections when it does not fit num_ctx"
    )]
    Whole,
}

/// Largest body, in estimated tokens, that `--strategy auto` sends in one call (and never more
/// than `--chunk-tokens`): one chunk, so that `auto` sends a body whole only when the section
/// split would make that single call anyway.
///
/// Measured with `bench/live.sh` (stand-in SmolLM2-135M, `num_ctx` 8192, `num_predict` 512 (the
/// failures repeat at 1024), `--no-cache`, one run each; wall times are noisy, ±40% between
/// identical runs on the shared server):
///
/// | writeup | estimate | sections: calls, prompt tokens, wall, takeaways | whole |
/// |---|---|---|---|
/// | meetup-cp1252.md | 624 | 2, 771, 7 s, 1 | fails: no usable takeaway |
/// | rustconf-mini.md | 853 | 2, 1001, 14 s, 1 | 1, 834, 5 s, 1 |
/// | cloud-expo-crlf.txt | 984 | 3, 1253, 17 s, 3 | 1, 912, 13 s, 1 |
/// | ops-meetup.html | 1177 | 4, 1549, 19 s, 2 | fails |
/// | strangeloop-2023-slides.md | 1392 | 4, 1688, 26 s, 2 | fails |
/// | pycon-us-2025-notes-in-pre.md | 1672 | fails | 1, 1367, 17 s, 1 |
/// | devconf-markdown.md | 2155 | 6, 2508, 36 s, 3 | 1, 1674, 15 s, 1 |
/// | platform-summit-plain.txt | 2383 | 7, 2693, 37 s, 4 | 1, 1693, 6 s, 1 |
/// | datastore-days-long.md | 5194 | 12, 5348, 27 s, 8 | fails |
/// | seed (kubecon-eu-2024) | 7997 | 18, 8333, 33-48 s, 10 | does not fit 8192 |
/// | seed, `num_ctx` 16384 | 7997 | 18, 8333, 34 s, 10 | 1, 5287, 22 s, 1 |
///
/// (The seed's estimate does not fit `num_ctx` 8192 with the budget's margin, although its real
/// 4,981 tokens would: hence the run at 16384.) One call is always cheaper (17-37% fewer prompt
/// tokens, less wall time: no per-call template, no repeated decoding), but this model answers
/// about one usable takeaway per call: the whole document gave one takeaway where the sections
/// gave up to ten, and none at all on 4 of the 9 writeups the sections summarized. Cheaper is
/// not better here, so the threshold is the smallest that changes nothing. With a stronger
/// model, measure again (`bench/live.sh FILE...`) before raising it; a higher value changes the
/// requests for short writeups, so their recorded fixtures must be recorded again.
pub const AUTO_WHOLE_MAX_TOKENS: usize = split::DEFAULT_TARGET_TOKENS;

/// The largest `num_ctx` used by default. Models report 32k-128k contexts, but a big context
/// costs memory and time on a CPU for nothing: chunks are ~1k tokens ([`split::DEFAULT_TARGET_TOKENS`]).
pub const NUM_CTX_CAP: u32 = 8192;

/// `num_ctx` when neither the flag nor `/api/show` gives one: the smallest default of current
/// Ollama versions (DESIGN.md, fact 4).
pub const NUM_CTX_FALLBACK: u32 = 2048;

/// Default `repeat_penalty`: Ollama's documented default of 1.1 was not enough to stop
/// SmolLM2-135M from repeating a title until `num_predict` on the seed writeup; 1.2 was.
pub const DEFAULT_REPEAT_PENALTY: f32 = 1.2;

/// Default `num_predict`: four takeaways at the schema's length caps (100 + 300 + 200
/// characters each) are ~600 tokens of JSON; at 512, SmolLM2-135M's answers were cut off
/// mid-JSON on 2 of the 18 corpus writeups.
pub const DEFAULT_NUM_PREDICT: u32 = 1024;

/// How many times a chunk is split again after a call showed it did not fit.
const MAX_RESPLITS: usize = 3;

/// The result of the whole pipeline for one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The writeup's title (front matter, H1, title line, or the file name).
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
    /// The ranked takeaways.
    pub takeaways: Vec<Takeaway>,
    /// Sections whose chunk failed (only with `keep_going`): label and error.
    pub missing_sections: Vec<MissingSection>,
    /// Things the reader should know (e.g. the final pass failed and the code's order is used).
    pub notes: Vec<String>,
    /// Counts and timings.
    pub stats: Stats,
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
    /// Calls answered from the answer cache ([`crate::cache`]) instead of the model.
    pub cache_hits: usize,
    /// Calls repeated after an invalid answer or a truncated prompt.
    pub retries: usize,
    /// Requests repeated after a broken connection or an HTTP 5xx (of the calls that succeeded
    /// in the end).
    pub network_retries: usize,
    /// Candidates before merging.
    pub candidates: usize,
    /// Estimated tokens of the document body.
    pub document_tokens_estimate: usize,
    /// Sum of Ollama `prompt_eval_count` over the model calls of this run (tokens; cached
    /// answers add nothing).
    pub prompt_eval_count: u64,
    /// Sum of Ollama `eval_count` (tokens), as `prompt_eval_count`.
    pub eval_count: u64,
    /// Sum of Ollama `total_duration` (seconds): the model's time in this run.
    pub model_seconds: f64,
}

/// Why a summary could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A model call failed outside any chunk (e.g. `/api/show`).
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// A template failed.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The map step failed for a section.
    #[error("section \"{section}\": {error}")]
    Section {
        /// Heading-path label.
        section: String,
        /// What failed.
        error: ExtractError,
    },
    /// Nothing is left to print: the model's answers were empty, or every candidate was dropped
    /// as off-text (an echo of the prompt, a restatement of the title or of a bare heading).
    #[error("no takeaways left from {chunks} chunks ({candidates} candidates reached ranking): every answer of the model was empty or dropped by the checks against echoes of the prompt, restated titles and bare headings; a larger --model usually helps")]
    NoTakeaways {
        /// Chunks processed.
        chunks: usize,
        /// Candidates that came out of the map step.
        candidates: usize,
    },
}

impl PipelineError {
    /// True when the error is about the environment (server down, model missing), not the input.
    pub fn is_setup_problem(&self) -> bool {
        let llm = match self {
            PipelineError::Llm(e) => Some(e),
            PipelineError::Section {
                error: ExtractError::Llm(e),
                ..
            } => Some(e),
            _ => None,
        };
        matches!(
            llm,
            Some(LlmError::Unreachable { .. } | LlmError::ModelNotFound { .. })
        )
    }
}

/// Receives progress events. All methods default to doing nothing.
pub trait Progress: Send + Sync {
    /// The map step starts over `total` chunks.
    fn start(&self, _total: usize) {}
    /// A chunk's call starts; `label` names its sections.
    fn chunk_started(&self, _index: usize, _label: &str) {}
    /// A chunk is done (successfully or not).
    fn chunk_done(&self, _index: usize) {}
    /// The final ranking pass starts.
    fn final_pass(&self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The `num_ctx` of the run: the flag, else the model's context length from `/api/show` capped at
/// [`NUM_CTX_CAP`], else [`NUM_CTX_FALLBACK`]. Errors: the model is missing or the server is down.
pub async fn resolve_num_ctx(llm: &Llm, settings: &Settings) -> Result<u32, LlmError> {
    if let Some(n) = settings.num_ctx {
        llm.check_model(&settings.model).await?;
        return Ok(n);
    }
    let n = llm.model_context_length(&settings.model).await?;
    Ok(n.map_or(NUM_CTX_FALLBACK, |n| n.min(NUM_CTX_CAP)))
}

/// Estimated tokens of the extraction prompt without its chunk: the template overhead of a call.
/// Chat templates add a few tokens per message that the rendered text does not show; 16 per
/// message covers ChatML, Llama 3 and Gemma headers.
pub fn prompt_overhead(
    prompts: &Prompts,
    title: &str,
    sections: &[String],
) -> Result<usize, PromptError> {
    let vars = ExtractVars {
        title,
        sections: sections.to_vec(),
        chunk: "",
        max_takeaways: extract::MAX_TAKEAWAYS_PER_CHUNK,
    };
    let messages = prompts.extract_messages(&vars)?;
    Ok(messages
        .iter()
        .map(|m| tokens::estimate(&m.content) + 16)
        .sum())
}

/// The chunk budget for a document under `num_ctx`. The overhead is measured with every
/// section label of the document in the prompt, an upper bound for any one chunk.
pub fn budget(
    doc: &Document,
    prompts: &Prompts,
    settings: &Settings,
    num_ctx: u32,
) -> Result<Budget, PromptError> {
    let labels: Vec<String> = split::sections(doc).iter().map(|s| s.label()).collect();
    // The prompt names only the sections of one chunk; a handful of labels is the realistic
    // worst case and keeps a 40-section document from shrinking every chunk.
    let worst: Vec<String> = labels.into_iter().take(6).collect();
    let overhead = prompt_overhead(prompts, &title_of(doc), &worst)?;
    Ok(Budget::for_context(
        num_ctx,
        overhead,
        settings.num_predict as usize,
        settings.target_tokens,
    ))
}

/// The title shown in the summary: front matter or H1, else a plain-text title line, else the
/// heading the body opens with, else the file name.
pub fn title_of(doc: &Document) -> String {
    if let Some(t) = &doc.title {
        return t.clone();
    }
    if doc.format == crate::input::BodyFormat::Text {
        if let Some(t) = split::detect_text_headings(&doc.body).title() {
            return t;
        }
    }
    // A Markdown body that opens with a heading (several H1s, so input did not take it as the
    // title): that heading names the writeup better than its file name.
    if let Some(first) = split::sections(doc).first() {
        if first.range.start == 0 && !first.heading_path.is_empty() {
            return first.heading_path[0].clone();
        }
    }
    std::path::Path::new(&doc.source)
        .file_name()
        .map_or_else(|| doc.source.clone(), |n| n.to_string_lossy().into_owned())
}

/// The title and, for plain text, the lines of its title block, newline-separated: what a
/// headline must not merely restate ([`crate::rank::is_off_text`]).
pub fn names_of(doc: &Document, title: &str) -> String {
    let mut names = title.to_string();
    if doc.format == crate::input::BodyFormat::Text {
        for line in split::detect_text_headings(&doc.body).title_lines {
            names.push('\n');
            names.push_str(&line);
        }
    }
    names
}

/// The chunks of a run under `settings.strategy`: the whole body as one chunk when the strategy
/// asks for it and the body fits the context with every section label in the prompt, else the
/// section chunks under `budget`.
pub fn plan_chunks(
    doc: &Document,
    prompts: &Prompts,
    settings: &Settings,
    num_ctx: u32,
    budget: Budget,
    title: &str,
) -> Result<Vec<Chunk>, PromptError> {
    let whole = match settings.strategy {
        Strategy::Sections => false,
        Strategy::Whole => true,
        Strategy::Auto => {
            tokens::estimate(&doc.body) <= AUTO_WHOLE_MAX_TOKENS.min(settings.target_tokens)
        }
    };
    if whole {
        let labels: Vec<String> = split::sections(doc).iter().map(|s| s.label()).collect();
        let overhead = prompt_overhead(prompts, title, &labels)?;
        let max =
            Budget::for_context(num_ctx, overhead, settings.num_predict as usize, usize::MAX).max;
        if let Some(chunk) = split::whole(doc, max) {
            return Ok(vec![chunk]);
        }
    }
    Ok(split::chunks(doc, budget))
}

/// Summarizes one document: the entry point of the pipeline.
///
/// Errors: [`PipelineError`]; a failing chunk fails the whole summary unless
/// `settings.keep_going`, and a summary is never built from a truncated call.
pub async fn summarize(
    doc: &Document,
    llm: &Llm,
    prompts: &Prompts,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Summary, PipelineError> {
    let num_ctx = resolve_num_ctx(llm, settings).await?;
    let budget = budget(doc, prompts, settings, num_ctx)?;
    let title = title_of(doc);
    let chunks = plan_chunks(doc, prompts, settings, num_ctx, budget, &title)?;
    let call = CallSettings {
        model: settings.model.clone(),
        options: Options {
            num_ctx,
            num_predict: settings.num_predict as i32,
            temperature: settings.temperature,
            seed: settings.seed,
            repeat_penalty: Some(settings.repeat_penalty),
        },
    };
    let mut stats = Stats {
        num_ctx,
        document_tokens_estimate: tokens::estimate(&doc.body),
        ..Stats::default()
    };
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut missing = Vec::new();
    // Computed once: the title block of a plain-text writeup is found by scanning the body.
    let names = names_of(doc, &title);
    let ctx = extract::DocContext {
        title: &title,
        names: &names,
        body: &doc.body,
    };
    progress.start(chunks.len());
    for chunk in &chunks {
        let label = extract::section_labels(chunk).join("; ");
        progress.chunk_started(chunk.index, &label);
        let result = extract_with_resplit(
            llm,
            prompts,
            &call,
            ctx,
            doc.format,
            chunk,
            candidates.len(),
            &mut stats,
        )
        .await;
        progress.chunk_done(chunk.index);
        match result {
            Ok(found) => candidates.extend(found),
            Err(error) if settings.keep_going => missing.push(MissingSection {
                section: label,
                error: error.to_string(),
            }),
            Err(error) => {
                return Err(PipelineError::Section {
                    section: label,
                    error,
                })
            }
        }
    }
    stats.candidates = candidates.len();
    let sections = split::sections(doc);
    let emphasis = rank::emphasis(&doc.body, &sections);
    let mut takeaways = rank::rank(&candidates, &emphasis, settings.top);
    if takeaways.is_empty() {
        // Never print a summary with no takeaways: say what filtered everything out.
        return Err(PipelineError::NoTakeaways {
            chunks: stats.chunks,
            candidates: candidates.len(),
        });
    }
    let mut notes = Vec::new();
    if settings.final_pass && takeaways.len() > 1 {
        progress.final_pass();
        match final_pass(llm, prompts, &call, &title, &takeaways, &mut stats).await {
            Ok(order) => takeaways = rank::blend_order(takeaways, &order),
            Err(e) => notes.push(format!(
                "the final ranking pass failed ({e}); the order is the code's own ranking"
            )),
        }
    }
    Ok(Summary {
        title,
        source: doc.source.clone(),
        author: doc.author.clone(),
        written: doc.date.clone(),
        model: settings.model.clone(),
        generated: settings.date.clone(),
        takeaways,
        missing_sections: missing,
        notes,
        stats,
    })
}

fn add_stats(stats: &mut Stats, replies: &[Reply]) {
    // A repeated call answered from the cache cost nothing this time: not a retry of this run.
    stats.retries += replies
        .iter()
        .skip(1)
        .filter(|r| r.source != Source::Cache)
        .count();
    for reply in replies {
        stats.network_retries += reply.retries as usize;
        if reply.source == Source::Cache {
            stats.cache_hits += 1;
            continue;
        }
        let r = &reply.response;
        stats.model_calls += 1;
        stats.prompt_eval_count += r.prompt_eval_count.unwrap_or(0);
        stats.eval_count += r.eval_count.unwrap_or(0);
        stats.model_seconds += r.total_duration.unwrap_or(0) as f64 / 1e9;
    }
}

/// The map step for one chunk; when the server shows the prompt did not fit (a 400, or a
/// `prompt_eval_count` far below the estimate: DESIGN.md fact 1), the chunk is split in halves
/// and each half is tried again, up to [`MAX_RESPLITS`] times.
#[allow(clippy::too_many_arguments)]
async fn extract_with_resplit(
    llm: &Llm,
    prompts: &Prompts,
    call: &CallSettings,
    ctx: extract::DocContext<'_>,
    format: crate::input::BodyFormat,
    chunk: &Chunk,
    first_ordinal: usize,
    stats: &mut Stats,
) -> Result<Vec<Candidate>, ExtractError> {
    let mut queue: Vec<(Chunk, usize)> = vec![(chunk.clone(), 0)];
    let mut out: Vec<Candidate> = Vec::new();
    while let Some((c, depth)) = queue.pop() {
        stats.chunks += 1;
        match extract::extract_chunk(llm, prompts, call, ctx, &c, first_ordinal + out.len()).await {
            Ok((found, responses)) => {
                add_stats(stats, &responses);
                out.extend(found);
            }
            Err(ExtractError::Llm(LlmError::ContextExceeded { .. }))
                if depth < MAX_RESPLITS && c.est_tokens > 64 =>
            {
                stats.model_calls += 1;
                stats.retries += 1;
                stats.chunks -= 1;
                let halves = split::resplit(ctx.body, format, &c, c.est_tokens.div_ceil(2));
                // Reverse so the first half is popped first: candidates stay in document order.
                for h in halves.into_iter().rev() {
                    queue.push((h, depth + 1));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The optional reduce-side model call: the model orders the short list. Returns 1-based ids.
async fn final_pass(
    llm: &Llm,
    prompts: &Prompts,
    call: &CallSettings,
    title: &str,
    takeaways: &[Takeaway],
    stats: &mut Stats,
) -> Result<Vec<usize>, ExtractError> {
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct RankAnswer {
        order: Vec<usize>,
    }
    let vars = RankVars {
        title,
        candidates: takeaways
            .iter()
            .enumerate()
            .map(|(i, t)| RankItem {
                id: i + 1,
                headline: t.headline.clone(),
                detail: t.detail.clone(),
            })
            .collect(),
    };
    let messages = prompts.rank_messages(&vars)?;
    let n = takeaways.len();
    let result = extract::call_json::<RankAnswer, _>(llm, call, messages, |a| {
        rank::check_order(&a.order, n)
    })
    .await;
    match result {
        Ok((answer, responses)) => {
            add_stats(stats, &responses);
            Ok(answer.order)
        }
        Err(e) => {
            stats.model_calls += 2;
            stats.retries += 1;
            Err(e)
        }
    }
}

/// Today's date as `YYYY-MM-DD` (UTC), or the date of `SOURCE_DATE_EPOCH` when set, so that
/// tests and reproducible builds get a fixed date (reproducible-builds.org convention).
pub fn today() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`, <http://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(strategy: Strategy) -> Settings {
        Settings {
            model: "m".into(),
            num_ctx: Some(8192),
            num_predict: DEFAULT_NUM_PREDICT,
            temperature: 0.0,
            seed: None,
            repeat_penalty: DEFAULT_REPEAT_PENALTY,
            top: 10,
            target_tokens: split::DEFAULT_TARGET_TOKENS,
            final_pass: false,
            keep_going: false,
            date: String::new(),
            strategy,
        }
    }

    fn plan(body: &str, strategy: Strategy, num_ctx: u32) -> Vec<Chunk> {
        let doc = Document {
            source: "t.md".into(),
            title: Some("T".into()),
            date: None,
            author: None,
            format: crate::input::BodyFormat::Markdown,
            body: body.into(),
        };
        let prompts = Prompts::new(None).unwrap();
        let s = settings(strategy);
        let b = budget(&doc, &prompts, &s, num_ctx).unwrap();
        plan_chunks(&doc, &prompts, &s, num_ctx, b, "T").unwrap()
    }

    #[test]
    fn whole_is_one_chunk_when_it_fits_else_sections() {
        let para = "Some words about the talk. ".repeat(60);
        let body = format!("## A\n\n{para}\n\n## B\n\n{para}\n\n## C\n\n{para}\n");
        let sections = plan(&body, Strategy::Sections, 8192);
        assert!(sections.len() > 1);
        let whole = plan(&body, Strategy::Whole, 8192);
        assert_eq!(whole.len(), 1);
        let labels: Vec<String> = whole[0]
            .parts
            .iter()
            .map(|p| p.heading_path.join("/"))
            .collect();
        assert_eq!(labels, ["A", "B", "C"]);
        // Too big for the context: the section chunks.
        assert_eq!(
            plan(&body, Strategy::Whole, 1024),
            plan(&body, Strategy::Sections, 1024)
        );
        // Above the auto threshold: the same requests as sections.
        assert_eq!(plan(&body, Strategy::Auto, 8192), sections);
    }

    #[test]
    fn auto_changes_nothing_for_a_one_chunk_body() {
        let body = "## A\n\nshort\n\n## B\n\nalso short\n";
        let auto = plan(body, Strategy::Auto, 8192);
        assert_eq!(auto.len(), 1);
        assert_eq!(auto, plan(body, Strategy::Sections, 8192));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
