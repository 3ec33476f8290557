//! The embedded engine: llama.cpp inside the process (crate `llama-cpp-2`, feature `embedded`),
//! answering the same [`ChatRequest`]s as Ollama without a server.
//!
//! - [`store::resolve`] finds the GGUF file: a path, or an Ollama name looked up in Ollama's
//!   model store on disk.
//! - [`Embedded::load`] loads it once; [`Embedded::chat`] answers one request and
//!   [`Embedded::chat_many`] several, decoding up to [`EmbeddedConfig::parallel`] of them
//!   together as llama.cpp sequences of one batch. Both block: call them from
//!   `tokio::task::spawn_blocking`. Calls on one [`Embedded`] are serialised (one KV cache).
//!
//! What each request option means, and where the rule comes from (Ollama 2026-08 runs
//! llama-server and passes its options through, `llm/llama_server.go`; defaults from
//! `api/types.go` `DefaultOptions`):
//!
//! | option | here |
//! |---|---|
//! | `num_ctx` | tokens per sequence; capped at the model's trained context as Ollama does (`llm/server.go`); `0` → [`DEFAULT_NUM_CTX`]. A request with another value than the loaded one re-creates the context (as Ollama reloads the model, DESIGN.md fact 3). |
//! | `num_predict` | most tokens to sample, the end token included; negative = until the end token or a full context |
//! | `temperature` | `<= 0` → greedy; else llama.cpp's chain top-k [`TOP_K`] → top-p [`TOP_P`] → temperature → random pick (Ollama's defaults for the options this crate does not send) |
//! | `seed` | the random pick's seed; `None` or negative → random (Ollama's `-1`) |
//! | `repeat_penalty` | llama.cpp's penalties sampler over the last [`REPEAT_LAST_N`] tokens, prompt included (llama-server feeds the prompt to the sampler); `None` → 1.0 = off (Ollama's default) |
//! | `format` | JSON schema → GBNF ([`grammar_for_format`]) → grammar sampler; `"json"` → any object |
//!
//! No silent cut: a prompt of `N` tokens (the model's real tokenizer, chat template applied)
//! with `N + 1 > num_ctx` is [`LlmError::ContextExceeded`] before anything is decoded.
//! Generation stops at an end-of-generation token (`done_reason` `"stop"`), at `num_predict`
//! or when prompt + generated tokens reach `num_ctx` (`"length"`; no context shift), so a
//! prompt of `num_ctx - 1` tokens gets exactly one token.
//!
//! The engine owns the KV cache. Each of the [`EmbeddedConfig::parallel`] sequence slots
//! remembers the tokens it holds; a new request takes the free slot sharing the longest token
//! prefix with its prompt, removes the KV cells after that prefix and decodes only the rest.
//! A longer prefix held by another slot is copied (`llama_memory_seq_cp`: with the unified KV
//! cache this shares the cells, no data is copied), and requests admitted together that share a
//! prefix no slot holds yet wait for the first of them to decode it once, then copy it.
//! [`Embedded::stats`] reports the prompt tokens computed vs reused.

mod batch;
mod cpu;
pub(crate) mod grammar;
mod log;
#[cfg(test)]
mod measure;
mod sampling;
pub mod store;
#[cfg(test)]
mod tests;
mod worker;

pub use cpu::physical_cores;

pub use grammar::{grammar_for_format, JSON_OBJECT_GRAMMAR};
pub use store::{resolve, ModelFile, ModelSource, StoreError};

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use batch::{Feed, Prepared};
use cpu::check_cpu;
pub use worker::Worker;

use crate::llm::{ChatRequest, ChatResponse, LlmError, Message};

/// Context per sequence when a request asks `num_ctx: 0` (Ollama's usual default).
pub const DEFAULT_NUM_CTX: u32 = 4096;
/// Tokens the repeat penalty looks back over (Ollama's `repeat_last_n` default).
pub const REPEAT_LAST_N: i32 = 64;
/// Top-k of the sampling chain (Ollama's `top_k` default).
pub const TOP_K: i32 = 40;
/// Top-p of the sampling chain (Ollama's `top_p` default).
pub const TOP_P: f32 = 0.9;
/// Most tokens per `llama_decode` call (llama.cpp `n_batch`/`n_ubatch`; 512 is llama.cpp's
/// default physical batch).
pub const N_BATCH: u32 = 512;
/// Most sequences decoded together (llama.cpp's `LLAMA_MAX_SEQ` is 256; more than a handful
/// only costs memory on a CPU).
pub const MAX_PARALLEL: usize = 64;

/// How [`Embedded::load`] sets up the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// CPU threads for llama.cpp (prompt and generation); `None` → [`physical_cores`].
    pub threads: Option<usize>,
    /// Sequences decoded together by [`Embedded::chat_many`], `1..=`[`MAX_PARALLEL`]. The KV
    /// cache holds `parallel × num_ctx` tokens.
    pub parallel: usize,
    /// Let llama.cpp's own log lines through to stderr (otherwise they are dropped).
    pub verbose: bool,
    /// Reuse the KV cells of a shared prompt prefix (on by default; off only to measure what
    /// the reuse gains: `TAKEAWAYS_KV_REUSE=0`, read by the `engine` module).
    pub reuse_prefix: bool,
}

impl Default for EmbeddedConfig {
    /// `threads: None, parallel: 1, verbose: false, reuse_prefix: true`.
    fn default() -> Self {
        Self {
            threads: None,
            parallel: 1,
            verbose: false,
            reuse_prefix: true,
        }
    }
}

/// Counters over the life of one [`Embedded`], from [`Embedded::stats`]. Token counts are
/// model tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EmbeddedStats {
    /// Requests answered (an answer, including `done_reason: "length"`).
    pub requests: u64,
    /// Prompt tokens of those requests (sum of `prompt_eval_count`).
    pub prompt_tokens: u64,
    /// Of [`EmbeddedStats::prompt_tokens`], those decoded by this request.
    pub prompt_tokens_computed: u64,
    /// Of [`EmbeddedStats::prompt_tokens`], those already in the KV cache (own slot or copied).
    pub prompt_tokens_reused: u64,
    /// Of [`EmbeddedStats::prompt_tokens_reused`], those copied from another sequence.
    pub prompt_tokens_copied: u64,
    /// Tokens sampled (sum of `eval_count`, end tokens included).
    pub generated_tokens: u64,
    /// `llama_decode` calls.
    pub decode_calls: u64,
    /// Contexts (KV caches) created: 1 plus one per `num_ctx` change.
    pub contexts_created: u64,
}

/// A GGUF model loaded into this process, with one llama.cpp context (KV cache) of
/// [`EmbeddedConfig::parallel`] sequences.
pub struct Embedded {
    /// Context, slots, counters. Declared before `model`, and dropped first in `Drop`.
    inner: Mutex<Inner>,
    /// Owned model (from `Box::into_raw`), freed in `Drop` after the context that borrows it.
    model: NonNull<LlamaModel>,
    file: ModelFile,
    threads: usize,
    parallel: usize,
    template: LlamaChatTemplate,
    template_note: Option<String>,
    fallback_said: AtomicBool,
    architecture: Option<String>,
    n_ctx_train: u32,
    recurrent: bool,
    reuse_prefix: bool,
}

// SAFETY: `LlamaModel` is `Send + Sync` (llama.cpp models are immutable after loading); the only
// non-`Sync` part, the context, is behind the `Mutex`, and `model` is only read.
unsafe impl Send for Embedded {}
// SAFETY: as above.
unsafe impl Sync for Embedded {}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("file", &self.file)
            .field("threads", &self.threads)
            .field("parallel", &self.parallel)
            .field("architecture", &self.architecture)
            .finish_non_exhaustive()
    }
}

struct Inner {
    ctx: Option<LlamaContext<'static>>,
    /// Tokens per sequence of `ctx`.
    num_ctx: u32,
    slots: Vec<Slot>,
    stats: EmbeddedStats,
    tick: u64,
}

/// One sequence of the KV cache: the tokens it holds at positions `0..tokens.len()`.
#[derive(Clone, Default)]
struct Slot {
    tokens: Vec<LlamaToken>,
    last_used: u64,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        inner.ctx = None;
        // SAFETY: `model` came from `Box::into_raw` in `load` and is freed only here, after the
        // context (the only borrower) is gone.
        unsafe { drop(Box::from_raw(self.model.as_ptr())) };
    }
}

static BACKEND: OnceLock<Option<LlamaBackend>> = OnceLock::new();

/// The process-wide llama.cpp backend, initialised once (after the log callback is in place).
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    log::install();
    BACKEND
        .get_or_init(|| LlamaBackend::init().ok())
        .as_ref()
        .ok_or_else(|| LlmError::Engine {
            detail: "llama.cpp's backend could not be initialised".to_owned(),
        })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn engine(detail: impl Into<String>) -> LlmError {
    LlmError::Engine {
        detail: detail.into(),
    }
}

impl Embedded {
    /// Loads `file` (memory-mapped, CPU only) and creates its context lazily on the first
    /// request (its size depends on the request's `num_ctx`).
    ///
    /// llama.cpp's log lines go to stderr only with `cfg.verbose` (process-wide: the last load
    /// decides). When the GGUF has no chat template, or one llama.cpp cannot apply (it knows a
    /// fixed list: ChatML, Llama 2/3, Gemma, Phi, Mistral, …), ChatML is used and a one-line note
    /// says so on stderr.
    ///
    /// Errors: [`LlmError::ModelFile`] naming the file when it is not GGUF, when llama.cpp
    /// rejects it (unknown architecture, damaged file: the message quotes llama.cpp's reason), or
    /// when the CPU lacks the SIMD the build needs; [`LlmError::Engine`] for `parallel` outside
    /// `1..=`[`MAX_PARALLEL`] or `threads: Some(0)`.
    pub fn load(file: &ModelFile, cfg: &EmbeddedConfig) -> Result<Embedded, LlmError> {
        let path = &file.path;
        let fail = |detail: String| LlmError::ModelFile {
            path: path.clone(),
            detail,
        };
        if !(1..=MAX_PARALLEL).contains(&cfg.parallel) {
            return Err(engine(format!(
                "parallel must be 1 to {MAX_PARALLEL}, not {}",
                cfg.parallel
            )));
        }
        if cfg.threads == Some(0) {
            return Err(engine("threads must be at least 1"));
        }
        check_cpu().map_err(fail)?;
        match store::check_gguf(path) {
            Ok(_) => {}
            Err(StoreError::NotGguf { detail, .. }) => {
                return Err(fail(format!(
                    "not a GGUF file ({detail}); pass a .gguf model file"
                )))
            }
            Err(StoreError::Io { detail, .. }) => return Err(fail(detail)),
            Err(other) => return Err(fail(other.to_string())),
        }
        log::install();
        log::set_verbose(cfg.verbose);
        let backend = backend()?;
        log::clear_last_error();
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| {
                let why = log::last_error().unwrap_or_else(|| e.to_string());
                fail(format!(
                    "llama.cpp could not load it ({why}); it may be an architecture this \
                     llama.cpp does not support or a damaged download (run with --verbose for \
                     llama.cpp's log)"
                ))
            })?;
        let architecture = model.meta_val_str("general.architecture").ok();
        let n_ctx_train = model.n_ctx_train();
        let recurrent = model.is_recurrent() || model.is_hybrid();
        let probe = [
            LlamaChatMessage::new("system".into(), "s".into()),
            LlamaChatMessage::new("user".into(), "u".into()),
        ];
        let probe: Vec<LlamaChatMessage> = probe.into_iter().filter_map(Result::ok).collect();
        let chatml = || LlamaChatTemplate::new("chatml").map_err(|e| engine(e.to_string()));
        let (template, template_note) = match model.chat_template(None) {
            Ok(t) if model.apply_chat_template(&t, &probe, true).is_ok() => (t, None),
            Ok(_) => (
                chatml()?,
                Some("llama.cpp cannot apply its chat template".to_owned()),
            ),
            Err(_) => (chatml()?, Some("it has no chat template".to_owned())),
        };
        if let Some(why) = &template_note {
            eprintln!(
                "takeaways: model file {}: {why}; using the ChatML template",
                path.display()
            );
        }
        let threads = cfg.threads.unwrap_or_else(physical_cores);
        let model = NonNull::from(Box::leak(Box::new(model)));
        Ok(Embedded {
            inner: Mutex::new(Inner {
                ctx: None,
                num_ctx: 0,
                slots: vec![Slot::default(); cfg.parallel],
                stats: EmbeddedStats::default(),
                tick: 0,
            }),
            model,
            file: file.clone(),
            threads,
            parallel: cfg.parallel,
            template,
            fallback_said: AtomicBool::new(template_note.is_some()),
            template_note,
            architecture,
            n_ctx_train,
            recurrent,
            reuse_prefix: cfg.reuse_prefix,
        })
    }

    fn model(&self) -> &LlamaModel {
        // SAFETY: `model` is valid from `load` until `Drop`.
        unsafe { self.model.as_ref() }
    }

    /// The context length the model was trained for, in tokens (GGUF `<arch>.context_length`,
    /// what Ollama's `/api/show` reports); `num_ctx` is capped at it.
    pub fn trained_context_length(&self) -> u32 {
        self.n_ctx_train
    }

    /// The file this engine was loaded from.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// GGUF `general.architecture` (e.g. `qwen2`, `llama`), when present.
    pub fn architecture(&self) -> Option<&str> {
        self.architecture.as_deref()
    }

    /// CPU threads llama.cpp uses.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Sequences decoded together ([`EmbeddedConfig::parallel`]).
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// Why the ChatML template is used instead of the model's, or `None` when the model's own
    /// template is used.
    pub fn template_fallback(&self) -> Option<&str> {
        self.template_note.as_deref()
    }

    /// The counters so far.
    pub fn stats(&self) -> EmbeddedStats {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stats
    }

    /// The prompt of `messages` as the model sees it (chat template applied, generation prompt
    /// of the assistant appended), tokenized with the model's tokenizer (a BOS token added when
    /// the model wants one, special tokens parsed). Its length is `prompt_eval_count`.
    ///
    /// Errors: [`LlmError::Engine`] for a NUL byte in a message.
    pub fn tokenize_chat(&self, messages: &[Message]) -> Result<Vec<LlamaToken>, LlmError> {
        let msgs = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| engine(format!("a message cannot be passed to llama.cpp: {e}")))?;
        let model = self.model();
        let text = match model.apply_chat_template(&self.template, &msgs, true) {
            Ok(t) => t,
            Err(e) => {
                let chatml = LlamaChatTemplate::new("chatml").map_err(|e| engine(e.to_string()))?;
                if !self.fallback_said.swap(true, Relaxed) {
                    eprintln!(
                        "takeaways: model file {}: llama.cpp could not apply its chat template \
                         ({e}); using the ChatML template",
                        self.file.path.display()
                    );
                }
                model
                    .apply_chat_template(&chatml, &msgs, true)
                    .map_err(|e| engine(format!("applying the ChatML template failed: {e}")))?
            }
        };
        let vocab = model.vocab();
        let mut tokens = vocab.tokenize(text.as_bytes(), true, true);
        // A template that writes the BOS text itself, plus the tokenizer's BOS: keep one.
        if tokens.len() >= 2
            && vocab.should_add_bos()
            && tokens[0] == tokens[1]
            && tokens[0] == vocab.bos()
        {
            tokens.remove(0);
        }
        Ok(tokens)
    }

    /// Answers one request: [`Embedded::chat_many`] with one element. Blocking.
    ///
    /// The answer is filled as Ollama's final stream line: `content`; `done_reason` `"stop"`
    /// (end token) or `"length"` (`num_predict` reached or context full); `prompt_eval_count`
    /// = all prompt tokens (reused ones included, as Ollama counts them);
    /// `eval_count` = tokens sampled, the end token included (llama-server's `n_decoded`);
    /// `total_duration` (call start to answer), `prompt_eval_duration` (prompt decoding),
    /// `eval_duration` (first sampled token to answer), all in nanoseconds.
    ///
    /// Errors: [`LlmError::ContextExceeded`] (`detail` "prompt is N tokens, num_ctx is M")
    /// before any decoding when the prompt does not leave one token of room;
    /// [`LlmError::Engine`] for a bad `format`, a schema llama.cpp cannot convert, a context
    /// that cannot be allocated, or a failed decode.
    pub fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.chat_many(std::slice::from_ref(req))
            .pop()
            .unwrap_or_else(|| Err(engine("no answer")))
    }

    /// Answers several requests, decoding up to [`EmbeddedConfig::parallel`] of them at once as
    /// sequences of one llama.cpp batch (continuous batching: a finished sequence's slot takes
    /// the next request). Answers come back in the order of `reqs`, each as [`Embedded::chat`]
    /// describes; one failing request does not fail the others. Requests with different
    /// `num_ctx` are run one `num_ctx` at a time (the current one first), re-creating the
    /// context in between. `total_duration` counts from the start of this call, so it includes
    /// the time a request waited for a free sequence.
    pub fn chat_many(&self, reqs: &[ChatRequest]) -> Vec<Result<ChatResponse, LlmError>> {
        let started = Instant::now();
        let mut results: Vec<Option<Result<ChatResponse, LlmError>>> =
            reqs.iter().map(|_| None).collect();
        let mut prepared = Vec::new();
        for (idx, req) in reqs.iter().enumerate() {
            match self.prepare(idx, req, started) {
                Ok(p) => prepared.push(p),
                Err(e) => results[idx] = Some(Err(e)),
            }
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sizes: Vec<u32> = Vec::new();
        for p in &prepared {
            if !sizes.contains(&p.num_ctx) {
                sizes.push(p.num_ctx);
            }
        }
        if let Some(i) = sizes
            .iter()
            .position(|&n| inner.ctx.is_some() && n == inner.num_ctx)
        {
            let current = sizes.remove(i);
            sizes.insert(0, current);
        }
        for num_ctx in sizes {
            let (group, rest): (Vec<Prepared>, Vec<Prepared>) =
                prepared.into_iter().partition(|p| p.num_ctx == num_ctx);
            prepared = rest;
            if let Err(e) = self.ensure_context(&mut inner, num_ctx) {
                let msg = e.to_string();
                for p in group {
                    results[p.idx] = Some(Err(engine(msg.clone())));
                }
                continue;
            }
            let mut feed = ListFeed {
                pending: group.into(),
                results: &mut results,
            };
            self.run(&mut inner, &mut feed);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(engine("no answer was produced"))))
            .collect()
    }

    /// `num_ctx` as used: `0` → [`DEFAULT_NUM_CTX`], capped at the trained context.
    fn effective_num_ctx(&self, asked: u32) -> u32 {
        let n = if asked == 0 { DEFAULT_NUM_CTX } else { asked };
        if self.n_ctx_train > 0 {
            n.min(self.n_ctx_train)
        } else {
            n
        }
    }

    /// `req` as tokens and sampling settings, checked to fit its context; `queued` is when it
    /// was asked for.
    fn prepare(
        &self,
        idx: usize,
        req: &ChatRequest,
        queued: Instant,
    ) -> Result<Prepared, LlmError> {
        let opts = &req.options;
        let num_ctx = self.effective_num_ctx(opts.num_ctx);
        let tokens = self.tokenize_chat(&req.messages)?;
        if tokens.is_empty() {
            return Err(engine(
                "the prompt is empty after applying the chat template",
            ));
        }
        if tokens.len() + 1 > num_ctx as usize {
            let capped = if num_ctx < opts.num_ctx {
                format!(" (the model's trained context; {} was asked)", opts.num_ctx)
            } else {
                String::new()
            };
            return Err(LlmError::ContextExceeded {
                num_ctx,
                detail: format!(
                    "prompt is {} tokens, num_ctx is {num_ctx}{capped}",
                    tokens.len()
                ),
            });
        }
        let grammar = grammar_for_format(req.format.as_ref())?;
        Ok(Prepared {
            idx,
            tokens,
            num_ctx,
            num_predict: usize::try_from(opts.num_predict).ok(),
            temperature: opts.temperature,
            seed: opts
                .seed
                .and_then(|s| u32::try_from(s).ok())
                .unwrap_or(u32::MAX),
            repeat_penalty: opts.repeat_penalty.unwrap_or(1.0),
            grammar,
            queued,
        })
    }

    /// Makes `inner.ctx` a context of `parallel × num_ctx` cells (unified KV cache, so
    /// sequences can share prefix cells), re-creating it when `num_ctx` changed.
    fn ensure_context(&self, inner: &mut Inner, num_ctx: u32) -> Result<(), LlmError> {
        if inner.ctx.is_some() && inner.num_ctx == num_ctx {
            return Ok(());
        }
        inner.ctx = None;
        inner.slots = vec![Slot::default(); self.parallel];
        let parallel = u32::try_from(self.parallel).unwrap_or(1);
        let total = num_ctx.saturating_mul(parallel);
        let n_batch = N_BATCH.min(total).max(1);
        let threads = i32::try_from(self.threads).unwrap_or(i32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(total))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_seq_max(parallel)
            .with_kv_unified(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let backend = backend()?;
        // SAFETY: the model outlives the context: `Drop` frees the context first.
        let model: &'static LlamaModel = unsafe { &*self.model.as_ptr() };
        log::clear_last_error();
        let ctx = model.new_context(backend, params).map_err(|e| {
            let why = log::last_error().unwrap_or_else(|| e.to_string());
            engine(format!(
                "could not create a context of {total} tokens ({parallel} × num_ctx {num_ctx}): \
                 {why}; use a smaller num_ctx or fewer parallel sequences"
            ))
        })?;
        inner.ctx = Some(ctx);
        inner.num_ctx = num_ctx;
        inner.stats.contexts_created += 1;
        Ok(())
    }
}

/// The requests of one [`Embedded::chat_many`] call of one `num_ctx`.
struct ListFeed<'a> {
    pending: VecDeque<Prepared>,
    results: &'a mut [Option<Result<ChatResponse, LlmError>>],
}

impl Feed for ListFeed<'_> {
    fn next(&mut self, _engine: &Embedded, _num_ctx: u32) -> Option<Prepared> {
        self.pending.pop_front()
    }

    fn deliver(&mut self, idx: usize, result: Result<ChatResponse, LlmError>) {
        self.results[idx] = Some(result);
    }
}
