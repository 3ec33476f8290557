//! The stages wired together for one document: split → extract (map) → rank (reduce) →
//! [`Summary`]. Never prints: progress goes through a [`Progress`] the caller supplies.

use futures::StreamExt;
use serde::Serialize;

use crate::exit::Exit;
use crate::extract::{self, CallSettings, ExtractError};
use crate::language::Language;
use crate::llm::{Llm, LlmError, Options, Reply, Source};
use crate::prompts::{ExtractVars, PromptError, Prompts, RankItem, RankVars};
use crate::rank;
use crate::split::{self, Budget};
use crate::tokens;
use crate::types::{
    BodyFormat, Candidate, Chunk, Document, Dropped, MissingSection, Outline, Stats, Summary,
    Takeaway,
};

/// What a run is asked to do. Built by the CLI from flags, environment and defaults. Every
/// field changes the summary, so batch's resume key is the JSON of this struct: a field added
/// later is part of the key without anyone having to remember it there.
#[derive(Debug, Clone, Serialize)]
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
    /// Chunk target in estimated tokens; `None`: [`split::DEFAULT_TARGET_TOKENS`] (chunks as
    /// large as the context window allows, [`split::Budget::for_context`]).
    pub target_tokens: Option<usize>,
    /// Ask the model to reorder the short list at the end ([`rank::blend_order`]).
    pub final_pass: bool,
    /// Go on past a chunk that fails, and list it as missing.
    pub keep_going: bool,
    /// The language to write the takeaways in (`--language`: ISO 639-1/639-3 code or English
    /// name, checked by the CLI); `None`: the writeup's own, detected.
    pub language: Option<String>,
    /// One call per chunk of sections, or one call over the whole body ([`Strategy`]).
    pub strategy: Strategy,
}

/// How a document is cut into model calls (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `whole` when the body is likely to fit one call (and is no larger than `--chunk-tokens`,
    /// when given), else `sections`: see [`plan_chunks`].
    #[default]
    #[value(
        help = "one call when the writeup is likely to fit num_ctx (and --chunk-tokens, when given), else sections"
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

/// The largest `num_ctx` used by default. Models report 32k-128k contexts, but a big context
/// costs memory and time on a CPU for nothing; chunks fill the window ([`split::DEFAULT_TARGET_TOKENS`]),
/// so this also bounds how much text one call holds.
pub const NUM_CTX_CAP: u32 = 8192;

/// `num_ctx` when neither the flag nor `/api/show` gives one: the smallest default of current
/// Ollama versions (docs/ARCHITECTURE.md, Ollama fact 4).
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
    #[error("no takeaways left from {chunks} chunks: the model gave {candidates} candidates and the checks dropped them all ({rules}); run with --explain to see them; a larger --model usually helps")]
    NoTakeaways {
        /// Chunks processed.
        chunks: usize,
        /// Candidates that came out of the map step.
        candidates: usize,
        /// What dropped them, rule by rule (`3 echo, 1 title`).
        rules: String,
        /// The dropped candidates (for `--explain`).
        dropped: Vec<Dropped>,
    },
}

impl PipelineError {
    /// The exit status: that of the model error behind it ([`LlmError::exit`]: the server or the
    /// model is missing → [`Exit::Setup`]), else [`Exit::Failed`].
    pub fn exit(&self) -> Exit {
        match self {
            PipelineError::Llm(e)
            | PipelineError::Section {
                error: ExtractError::Llm(e),
                ..
            } => e.exit(),
            _ => Exit::Failed,
        }
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
        // The longest English language name whatlang knows, and a fence of a dozen backticks:
        // an upper bound for any chunk's prompt.
        language: "Western Frisian Esperanto",
        fence: "````````````",
    };
    let messages = prompts.extract_messages(&vars)?;
    Ok(messages
        .iter()
        .map(|m| tokens::estimate(&m.content) + 16)
        .sum())
}

/// The chunk budget for a document under `num_ctx`. The overhead is measured with the first six
/// section labels of the document in the prompt: the prompt names only the sections of one
/// chunk, a handful is the realistic worst case, and it keeps a 40-section document from
/// shrinking every chunk.
pub fn budget(
    outline: &Outline,
    prompts: &Prompts,
    settings: &Settings,
    num_ctx: u32,
) -> Result<Budget, PromptError> {
    let worst: Vec<String> = outline.labels().into_iter().take(6).collect();
    let overhead = prompt_overhead(prompts, &outline.title, &worst)?;
    Ok(Budget::for_context(
        num_ctx,
        overhead,
        settings.num_predict as usize,
        settings
            .target_tokens
            .unwrap_or(split::DEFAULT_TARGET_TOKENS),
    ))
}

/// What a run sends ([`plan_chunks`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// One model call each, in document order.
    pub chunks: Vec<Chunk>,
    /// When `chunks` is the one-call guess and the section plan needs more than one call: the
    /// section chunks a refused guess falls back to ([`extract_with_resplit`]).
    pub fallback: Option<Vec<Chunk>>,
}

/// The chunks of a run under `settings.strategy`: the whole body as one chunk when the strategy
/// asks for it and the body is likely to fit the context with every section label in the
/// prompt, else the section chunks under `budget`.
///
/// "Likely to fit": the body's estimate over [`tokens::TYPICAL_OVERCOUNT_PERCENT`] fits the
/// budget's `max`. The estimate is pessimistic by design (an under-estimate is a silent cut), and
/// taken at its word it split writeups that fit one call in two: the seed's estimate is 7,997
/// tokens, its real count ~4,300 (Qwen2.5) or 4,981 (SmolLM2), `max` at `num_ctx` 8192 ~5,800.
/// When the guess is wrong the server says so (requests carry `truncate: false`: HTTP 400, or
/// for an older Ollama the cut's signature, `llm::truncation`), and the run falls back to the
/// section chunks ([`Plan::fallback`]): the guess then costs one refused request.
///
/// Measured on the seed (`bench/oneshot.sh`, Qwen2.5-Coder 1.5B, stand-in on 1 thread,
/// `num_ctx` 8192, 2026-12-01; the two rows on different machines, so compare the ratios):
///
/// | plan | calls | prompt tokens | generated | wall (one call of the whole text) | ratio | recall@10 |
/// |---|---|---|---|---|---|---|
/// | section chunks filling the pessimistic `max` | 2 | 5,372 | 246 | 153-165 s (127-128 s) | 1.19-1.30 | 1.0 |
/// | one call when likely to fit | 1 | 5,105 | 235 | 150-156 s (154-159 s) | 0.94-1.01 | 0.9 |
///
/// SmolLM2-135M (`bench/live.sh`, earlier) gave about one usable takeaway per call, so one call
/// over a whole writeup lost most of it: `auto` sent only bodies under 2,000 estimated tokens
/// whole. Real models answer one takeaway per listed section (`extract::takeaways_for`), so the
/// one call loses nothing.
pub fn plan_chunks(
    doc: &Document,
    outline: &Outline,
    prompts: &Prompts,
    settings: &Settings,
    num_ctx: u32,
    budget: Budget,
) -> Result<Plan, PromptError> {
    let whole = match settings.strategy {
        Strategy::Sections => false,
        Strategy::Whole => true,
        // `--chunk-tokens` asks for chunks of that size (`budget.target` is capped at `max`,
        // so it cannot tell whether the flag was given).
        Strategy::Auto => settings
            .target_tokens
            .is_none_or(|t| tokens::estimate(&doc.body) <= t),
    };
    let sections = split::chunks(doc, outline, budget);
    if whole {
        let overhead = prompt_overhead(prompts, &outline.title, &outline.labels())?;
        let max =
            Budget::for_context(num_ctx, overhead, settings.num_predict as usize, usize::MAX).max;
        if let Some(chunk) =
            split::whole(doc, outline, max * tokens::TYPICAL_OVERCOUNT_PERCENT / 100)
        {
            return Ok(Plan {
                chunks: vec![chunk],
                fallback: (sections.len() > 1).then_some(sections),
            });
        }
    }
    Ok(Plan {
        chunks: sections,
        fallback: None,
    })
}

/// Summarizes one document: the entry point of the pipeline. `today` is the date printed in
/// the summary (`YYYY-MM-DD`): the clock belongs to the caller, so that the same settings give
/// the same summary.
///
/// Errors: [`PipelineError`]; a failing chunk fails the whole summary unless
/// `settings.keep_going`, and a summary is never built from a truncated call.
pub async fn summarize(
    doc: &Document,
    llm: &Llm,
    prompts: &Prompts,
    settings: &Settings,
    today: &str,
    progress: &dyn Progress,
) -> Result<Summary, PipelineError> {
    let num_ctx = resolve_num_ctx(llm, settings).await?;
    // The structure is computed once here and handed to every step below.
    let outline = split::outline(doc);
    let budget = budget(&outline, prompts, settings, num_ctx)?;
    let title = outline.title.clone();
    let Plan { chunks, fallback } = plan_chunks(doc, &outline, prompts, settings, num_ctx, budget)?;
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
        hidden: doc.hidden,
        ..Stats::default()
    };
    let written_in = Language::detect(&doc.body);
    let answer_in = settings
        .language
        .as_deref()
        .and_then(Language::from_code)
        .unwrap_or(written_in);
    let checks = extract::Checks::new(&outline.names(), &extract::instruction_lines(prompts)?)
        .with_injections(&extract::filters::injected_passages(&doc.body));
    let headings = extract::Headings::of_outline(&outline);
    let ctx = extract::DocContext {
        title: &title,
        body: &doc.body,
        checks: &checks,
        written_in,
        answer_in,
        headings: &headings,
    };
    let mut map = MapResult::default();
    let mut missing = Vec::new();
    progress.start(chunks.len());
    // Chunks go to the model as many at a time as the servers take (`--parallel`, `URL#N`);
    // `buffered` hands the results back in chunk order, so the summary is the same whatever
    // that number is.
    let call_ref = &call;
    let fallback_ref = fallback.as_deref();
    let mut results = futures::stream::iter(&chunks)
        .map(|chunk| async move {
            let label = chunk.section_labels().join("; ");
            progress.chunk_started(chunk.index, &label);
            let mut part = MapResult::default();
            let mut part_stats = Stats::default();
            let result = extract_with_resplit(
                llm,
                prompts,
                call_ref,
                ctx,
                doc.format,
                (chunk, fallback_ref),
                &mut part,
                &mut part_stats,
            )
            .await;
            progress.chunk_done(chunk.index);
            (label, result, part, part_stats)
        })
        .buffered(llm.capacity());
    while let Some((label, result, part, part_stats)) = results.next().await {
        add_counts(&mut stats, &part_stats);
        match result {
            Ok(()) => {
                let first = map.candidates.len();
                map.candidates
                    .extend(part.candidates.into_iter().enumerate().map(|(i, mut c)| {
                        // Numbered in document order, the ranking's tie-breaker.
                        c.ordinal = first + i;
                        c
                    }));
                map.dropped.extend(part.dropped);
            }
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
    drop(results);
    let MapResult {
        candidates,
        mut dropped,
    } = map;
    stats.candidates = candidates.len() + dropped.len();
    let emphasis = rank::emphasis(&doc.body, &outline.sections);
    let ranking = rank::rank_report(&candidates, &emphasis, settings.top);
    dropped.extend(ranking.dropped);
    for d in &dropped {
        stats.dropped.add(d.rule);
    }
    let mut takeaways = ranking.takeaways;
    if takeaways.is_empty() {
        // Never print a summary with no takeaways: say what filtered everything out.
        return Err(PipelineError::NoTakeaways {
            chunks: stats.chunks,
            candidates: stats.candidates,
            rules: drop_summary(&stats.dropped),
            dropped,
        });
    }
    let mut notes = Vec::new();
    let lost = stats.dropped.total() - stats.dropped.duplicate;
    if lost * 2 > stats.candidates {
        notes.push(format!(
            "{lost} of the model's {} candidate takeaways were dropped by the checks ({}); \
             rerun with --explain to see them, or try a larger --model",
            stats.candidates,
            drop_summary(&stats.dropped)
        ));
    }
    if stats.dropped.injection > 0 {
        notes.push(format!(
            "the writeup holds text addressed to AI models (\"ignore previous instructions\" and the like); it was read as part of the writeup, and {} candidate takeaways that followed it were dropped",
            stats.dropped.injection
        ));
    }
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
        generated: today.to_string(),
        language: answer_in.code().to_string(),
        takeaways,
        missing_sections: missing,
        notes,
        stats,
        dropped,
    })
}

/// `3 echo, 1 title` for the drops of a run (rules with none left out).
pub fn drop_summary(d: &crate::types::DropCounts) -> String {
    let parts: Vec<String> = [
        (d.debris, "debris"),
        (d.echo, "echo"),
        (d.title, "title"),
        (d.off_text, "off_text"),
        (d.heading, "heading"),
        (d.duplicate, "duplicate"),
        (d.injection, "injection"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, name)| format!("{n} {name}"))
    .collect();
    parts.join(", ")
}

/// What the map step gave so far: the candidates that passed the checks and those dropped.
#[derive(Debug, Default)]
struct MapResult {
    candidates: Vec<Candidate>,
    dropped: Vec<Dropped>,
}

/// Adds the counts of one chunk's run to the document's.
fn add_counts(stats: &mut Stats, part: &Stats) {
    stats.chunks += part.chunks;
    stats.model_calls += part.model_calls;
    stats.cache_hits += part.cache_hits;
    stats.retries += part.retries;
    stats.requests += part.requests;
    stats.repaired += part.repaired;
    stats.network_retries += part.network_retries;
    stats.prompt_eval_count += part.prompt_eval_count;
    stats.eval_count += part.eval_count;
    stats.model_seconds += part.model_seconds;
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
        stats.requests += 1 + reply.retries as usize;
        stats.prompt_eval_count += r.prompt_eval_count.unwrap_or(0);
        stats.eval_count += r.eval_count.unwrap_or(0);
        stats.model_seconds += r.total_duration.unwrap_or(0) as f64 / 1e9;
    }
}

/// The map step for one chunk; when the server shows the prompt did not fit (a 400, or a
/// `prompt_eval_count` far below the estimate: docs/ARCHITECTURE.md, Ollama fact 1), the chunk
/// is replaced by `fallback` (the section plan, when the chunk was the one-call plan's guess:
/// [`plan_chunks`]) or split in halves, and each piece is tried again, up to [`MAX_RESPLITS`]
/// times.
#[allow(clippy::too_many_arguments)]
async fn extract_with_resplit(
    llm: &Llm,
    prompts: &Prompts,
    call: &CallSettings,
    ctx: extract::DocContext<'_>,
    format: BodyFormat,
    (chunk, fallback): (&Chunk, Option<&[Chunk]>),
    map: &mut MapResult,
    stats: &mut Stats,
) -> Result<(), ExtractError> {
    let mut queue: Vec<(Chunk, usize)> = vec![(chunk.clone(), 0)];
    while let Some((c, depth)) = queue.pop() {
        stats.chunks += 1;
        let first = map.candidates.len();
        match extract::extract_chunk(llm, prompts, call, ctx, &c, first).await {
            Ok(outcome) => {
                add_stats(stats, &outcome.replies);
                stats.repaired += outcome.repaired;
                map.candidates.extend(outcome.candidates);
                map.dropped.extend(outcome.dropped);
            }
            Err((ExtractError::Llm(LlmError::ContextExceeded { .. }), replies))
                if depth < MAX_RESPLITS && c.est_tokens > 64 =>
            {
                add_stats(stats, &replies);
                // The refused or cut call was a request the server received.
                stats.model_calls += 1;
                stats.requests += 1;
                stats.retries += 1;
                stats.chunks -= 1;
                let halves = match fallback {
                    Some(plan) if depth == 0 => plan.to_vec(),
                    _ => split::resplit(ctx.body, format, &c, c.est_tokens.div_ceil(2)),
                };
                // Reverse so the first half is popped first: candidates stay in document order.
                for h in halves.into_iter().rev() {
                    queue.push((h, depth + 1));
                }
            }
            Err((e, replies)) => {
                add_stats(stats, &replies);
                return Err(e);
            }
        }
    }
    Ok(())
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
    let called = extract::call_json::<RankAnswer, _>(llm, call, messages, None, |a| {
        rank::check_order(&a.order, n).map(|()| a)
    })
    .await;
    add_stats(stats, &called.replies);
    called.value.map(|a| a.order)
}

#[cfg(test)]
mod tests;
