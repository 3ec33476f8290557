//! Stage `llm`: one chat call to the model, live (Ollama's `/api/chat`), recorded, or replayed.
//!
//! CONTRACT (other stages rely on these names):
//! - [`ChatRequest`]/[`ChatResponse`] are plain data;
//! - [`Llm::chat`] makes one call and returns the whole answer;
//! - [`Llm::model_context_length`] asks `/api/show` for `<arch>.context_length`.
//!
//! How a live call works (docs/ARCHITECTURE.md, "Facts about Ollama" and "ollama-rs"):
//!
//! 1. [`chat_body`] builds the JSON body from ollama-rs's request types and adds what ollama-rs
//!    cannot send (`stream: true`, `truncate: false`, `shift: false`).
//! 2. It is POSTed to `<base>api/chat` with one shared reqwest client: connect timeout
//!    [`CONNECT_TIMEOUT`], no total timeout, and an idle timeout (default
//!    [`DEFAULT_IDLE_TIMEOUT`]) on the wait for the response head and on every read of the body
//!    (fact 8: loading a model can take minutes before the first byte).
//! 3. The status is mapped to an [`LlmError`] (fact 6); a broken connection before the answer
//!    starts and HTTP 5xx are retried with backoff (1 s, 2 s; 3 attempts by default).
//! 4. The NDJSON body is read into a byte buffer split on `\n` (never decoding a network chunk
//!    alone), `message.content` pieces are joined, an `{"error": …}` line fails the call even
//!    after HTTP 200 (fact 10), the `done: true` line carries the counters, and an end of stream
//!    without it is an error.
//! 5. The answer is checked for silent truncation (fact 1; the rules are listed on
//!    [`Llm::chat`]).
//!
//! With a cache directory ([`LlmConfig::cache`]) answers are also kept in the answer cache
//! ([`crate::cache`]) and an identical later call is answered from it without touching
//! `/api/chat` ([`Llm::chat_reply`]). Replay never uses the cache.
//!
//! With `--record DIR` every successful answer is also written to `DIR`; with `--replay DIR`
//! answers come only from `DIR` and the network is never touched. Files in `DIR` (pretty JSON,
//! written atomically via a temporary file and a rename):
//!
//! - `<request_key>.json` = `{"request": <chat_body>, "response": <ChatResponse>}`;
//! - `show-<model>.json` = `{"context_length": N | null}` for [`Llm::model_context_length`], the
//!   model name with characters other than ASCII letters, digits, `.`, `_`, `-` turned into `_`.

mod counters;
mod dispatch;
// The one place with `unsafe`: llama.cpp's C log callback, and the model that its context
// borrows (each block has its SAFETY comment).
#[cfg(feature = "embedded")]
#[allow(unsafe_code)]
pub mod embedded;
mod error;
mod host;
mod local;
mod ndjson;
mod ollama;
pub mod openai;
pub mod pool;
mod record;
pub mod retry;
mod truncation;
mod wire;

pub use counters::CallStats;
pub use error::LlmError;
pub use host::{normalize_host, DEFAULT_HOST, DEFAULT_PORT};
#[doc(hidden)]
pub use ndjson::read_ndjson;
pub use openai::Api;
pub use pool::{api_of, HostSpec, HostStats};
pub use truncation::{HALF_WINDOW_SLACK, TRUNCATION_RATIO};
pub use wire::{chat_body, request_key};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::Duration;

use crate::cache::{self, Cache, Lookup};
use counters::Counters;
use error::causes;
use truncation::check_truncation;

/// A chat message: `role` is `system`, `user` or `assistant` (Ollama's roles).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message text.
    pub content: String,
}

impl Message {
    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }
    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }
    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// The model options this tool sets (Ollama's `options` object; docs/api.md "Valid Parameters").
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    /// Context window in tokens. Always sent, the same for a whole run (docs/ARCHITECTURE.md, Ollama facts 1, 3).
    pub num_ctx: u32,
    /// Most tokens to generate.
    pub num_predict: i32,
    /// Sampling temperature; 0 for repeatable answers.
    pub temperature: f32,
    /// Sampling seed, when given.
    pub seed: Option<i32>,
    /// Penalty on repeated tokens (Ollama `repeat_penalty`; 1.0 is none), when given. Small
    /// models fall into repetition loops that run to `num_predict` without it.
    #[serde(default)]
    pub repeat_penalty: Option<f32>,
}

/// One chat call, before it is sent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChatRequest {
    /// Ollama model name, e.g. `llama3.2:3b`.
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Ollama `format`: a JSON schema for structured output, or `None` for free text.
    pub format: Option<serde_json::Value>,
    /// Model options.
    pub options: Options,
    /// Estimated prompt tokens (messages + template), for the truncation check after the call.
    #[serde(skip)]
    pub estimated_prompt_tokens: usize,
}

/// The whole answer to one chat call, with Ollama's counters when the server sent them.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ChatResponse {
    /// The assistant's text, concatenated from the stream.
    pub content: String,
    /// `stop`, `length`, … (Ollama's `done_reason`).
    pub done_reason: Option<String>,
    /// Tokens in the prompt as the model saw it (Ollama `prompt_eval_count`).
    pub prompt_eval_count: Option<u64>,
    /// Tokens generated (Ollama `eval_count`).
    pub eval_count: Option<u64>,
    /// Whole call in nanoseconds (Ollama `total_duration`).
    pub total_duration: Option<u64>,
    /// Prompt processing in nanoseconds (Ollama `prompt_eval_duration`).
    pub prompt_eval_duration: Option<u64>,
    /// Generation in nanoseconds (Ollama `eval_duration`).
    pub eval_duration: Option<u64>,
}

/// Where answers come from and where they go.
#[derive(Debug, Clone, Default)]
pub struct LlmConfig {
    /// The server as given (`--host`, `OLLAMA_HOST`, or the default): `URL` or `URL#N`
    /// ([`HostSpec`]); normalised by [`normalize_host`].
    pub host: String,
    /// More servers for the pool ([`pool`]): `--host` given more than once, or `host = [...]`
    /// in the config file; each `URL` or `URL#N`.
    pub more_hosts: Vec<String>,
    /// The API every host speaks (`--api`); `None`: inferred from each URL ([`api_of`]).
    pub api: Option<Api>,
    /// The API key for OpenAI-compatible servers (`--api-key-env NAME` names the variable that
    /// holds it). Sent as `Authorization: Bearer`; never printed, cached or recorded.
    pub api_key: Option<String>,
    /// Requests in flight per host without `#N` (`--parallel`); 0 means 1.
    pub parallel: usize,
    /// Save every exchange into this directory (`--record DIR`).
    pub record: Option<PathBuf>,
    /// Answer only from recordings in this directory (`--replay DIR`); no network.
    pub replay: Option<PathBuf>,
    /// Idle timeout between bytes of an answer, and for the wait for the response head; `None`
    /// means [`DEFAULT_IDLE_TIMEOUT`] (300 s: loading a model can take minutes, docs/ARCHITECTURE.md, Ollama fact 8).
    pub idle_timeout: Option<std::time::Duration>,
    /// Answer cache directory ([`crate::cache`]); `None`: no cache. Not used with `replay`.
    pub cache: Option<PathBuf>,
    /// Run the model in this process instead (`--engine embedded`): the pool is then this one
    /// host, taking [`embedded::Embedded::parallel`] requests at once, and `host`,
    /// `more_hosts`, `api` are not used.
    #[cfg(feature = "embedded")]
    pub embedded: Option<std::sync::Arc<embedded::Worker>>,
}

/// Longest wait for the TCP connection (docs/ARCHITECTURE.md, Ollama fact 8: short connect timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Default idle timeout ([`LlmConfig::idle_timeout`]): the longest silence accepted while waiting
/// for the response head or for the next bytes of an answer. Long, because loading a model on a
/// CPU can take minutes before the first byte (fact 8); there is no total timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub use retry::{DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_BUDGET, DEFAULT_RETRY_DELAY};

/// One progress report of [`Llm::pull`] (a line of Ollama's `/api/pull` stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// `pulling manifest`, `pulling <digest>`, `verifying sha256 digest`, `success`, …
    pub status: String,
    /// The layer being downloaded, when there is one.
    pub digest: Option<String>,
    /// Size of that layer in bytes.
    pub total: Option<u64>,
    /// Bytes of that layer downloaded so far.
    pub completed: Option<u64>,
}

/// Where the answer of a chat call came from ([`Reply::source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The model answered this time.
    Live,
    /// The answer cache ([`crate::cache`]); no request reached `/api/chat`.
    Cache,
    /// A recording (`--replay`).
    Replay,
}

/// A chat answer with how it was obtained, from [`Llm::chat_reply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The answer.
    pub response: ChatResponse,
    /// Where it came from.
    pub source: Source,
    /// Attempts repeated after a broken connection, a busy answer or an HTTP 5xx for this call.
    pub retries: u32,
    /// Where a live answer goes in the answer cache (entry key, model digest), once the caller
    /// has checked it ([`Llm::remember`]); `None` for cached and replayed answers, or without a
    /// cache.
    pub cache_slot: Option<(String, String)>,
}

/// The model client: live calls to Ollama, or recordings, per [`LlmConfig`].
///
/// Shared by `&` across tasks (it is `Send + Sync`); counters are atomics. One reqwest client
/// (connection pool) serves every call.
pub struct Llm {
    pool: pool::Pool,
    client: reqwest::Client,
    /// ollama-rs clients for `/api/pull`, one per host (`None` for OpenAI hosts).
    ollamas: Vec<Option<ollama_rs::Ollama>>,
    api_key: Option<String>,
    /// Things said once on stderr by the caller ([`Llm::notices`]), e.g. a schema fallback.
    notices: Mutex<Vec<String>>,
    record: Option<PathBuf>,
    replay: Option<PathBuf>,
    idle: Duration,
    retry: retry::Policy,
    counters: Counters,
    cache: Option<Cache>,
    /// Model digests from `/api/tags` (the cache key needs them), looked up once per model.
    digests: Mutex<HashMap<String, Option<String>>>,
    /// The in-process engine, when the pool's one host is [`Api::Embedded`].
    #[cfg(feature = "embedded")]
    embedded: Option<std::sync::Arc<embedded::Worker>>,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: the API key must never reach a Debug print.
        f.debug_struct("Llm")
            .field("hosts", &self.pool.hosts)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("record", &self.record)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

impl Llm {
    /// A client for `cfg.host` and `cfg.more_hosts` (each normalised by [`normalize_host`]).
    ///
    /// Errors: a host that is not a valid `http://` URL, a bad `#N`, or a URL whose API cannot
    /// be told without `--api` → [`LlmError::BadHost`] (https needs TLS, which this build leaves
    /// out: local servers only); `cfg.replay` not a directory, or `cfg.record` not creatable →
    /// [`LlmError::Recording`]. Nothing is sent to the server. With both `replay` and `record`
    /// set, replay wins and nothing is written.
    pub fn new(cfg: LlmConfig) -> Result<Llm, LlmError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| LlmError::BadHost {
                host: cfg.host.clone(),
                detail: format!("cannot set up the HTTP client: {}", causes(&e)),
            })?;
        let mut hosts = Vec::new();
        let mut ollamas = Vec::new();
        let given_hosts: Vec<&String> = match Llm::embedded_host(&cfg) {
            Some(spec) => {
                hosts.push((spec, Api::Embedded));
                ollamas.push(None);
                Vec::new()
            }
            None => std::iter::once(&cfg.host).chain(&cfg.more_hosts).collect(),
        };
        for given in given_hosts {
            let bad = |detail: String| LlmError::BadHost {
                host: given.clone(),
                detail,
            };
            let spec = HostSpec::parse(given).map_err(bad)?;
            let api = api_of(&spec.url, cfg.api).map_err(bad)?;
            let base = normalize_host(&spec.url);
            let bad_url = |detail: String| LlmError::BadHost {
                host: base.clone(),
                detail,
            };
            let url = reqwest::Url::parse(&base)
                .map_err(|e| bad_url(format!("not a valid URL ({e})")))?;
            if url.scheme() != "http" {
                return Err(bad_url(format!(
                    "scheme {}:// is not supported (plain http only; this build has no TLS)",
                    url.scheme()
                )));
            }
            ollamas.push((api == Api::Ollama).then(|| {
                ollama_rs::Ollama::builder()
                    .url(url)
                    .reqwest_client(client.clone())
                    .build()
            }));
            hosts.push((spec, api));
        }
        let pool = pool::Pool::new(hosts, cfg.parallel.max(1));
        if let Some(dir) = &cfg.replay {
            if !dir.is_dir() {
                return Err(LlmError::Recording {
                    path: dir.clone(),
                    detail: "the replay directory does not exist".into(),
                });
            }
        } else if let Some(dir) = &cfg.record {
            std::fs::create_dir_all(dir).map_err(|e| LlmError::Recording {
                path: dir.clone(),
                detail: e.to_string(),
            })?;
        }
        Ok(Llm {
            pool,
            client,
            ollamas,
            api_key: cfg.api_key,
            notices: Mutex::new(Vec::new()),
            record: cfg.record,
            replay: cfg.replay,
            idle: cfg.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT),
            retry: retry::Policy::default(),
            counters: Counters::default(),
            cache: cfg.cache.map(Cache::new),
            digests: Mutex::new(HashMap::new()),
            #[cfg(feature = "embedded")]
            embedded: cfg.embedded,
        })
    }

    /// Changes the retry policy ([`retry`]): `max_attempts` tries in all (at least 1) for
    /// errors that waiting rarely cures, and `first_delay` as the ceiling of the first wait,
    /// doubled for each further one. Defaults: [`DEFAULT_MAX_ATTEMPTS`],
    /// [`DEFAULT_RETRY_DELAY`]. `max_attempts` 1 turns retries off entirely.
    pub fn with_retries(mut self, max_attempts: u32, first_delay: Duration) -> Self {
        self.retry.max_attempts = max_attempts.max(1);
        self.retry.first_delay = first_delay;
        if max_attempts <= 1 {
            self.retry.budget = Duration::ZERO;
        }
        self
    }

    /// Changes how long a call keeps retrying a busy server (default
    /// [`DEFAULT_RETRY_BUDGET`], `--retry-for`).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry.budget = budget;
        self
    }

    /// The normalised URL of the first server, ending with `/` (e.g. `http://127.0.0.1:11434/`).
    pub fn base_url(&self) -> &str {
        &self.pool.hosts[0].base
    }

    /// The most requests this client sends at once: the sum of its hosts' limits. Chunks of one
    /// writeup are sent this many at a time.
    pub fn capacity(&self) -> usize {
        self.pool.capacity()
    }

    /// What each server of the pool did so far, in `--host` order.
    pub fn host_stats(&self) -> Vec<HostStats> {
        self.pool.stats()
    }

    /// Things worth saying once on stderr that came up during the calls (e.g. "the server does
    /// not take json_schema; json_object was sent instead"). The library never prints.
    pub fn notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn notice(&self, text: String) {
        self.notices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text);
    }

    /// Totals so far over all calls of this client.
    pub fn stats(&self) -> CallStats {
        self.counters.snapshot()
    }

    /// One chat call (live, or replay/record per config). Returns the whole answer.
    ///
    /// Live: POST [`chat_body`] to `<base>api/chat` and read the streamed answer (see the module
    /// docs). Replay: the answer recorded under [`request_key`]; the network is not touched.
    /// Record: a successful live answer is also written to the recording directory.
    ///
    /// Errors:
    /// - [`LlmError::Unreachable`]: no TCP connection to `<base>api/chat` (Ollama not running,
    ///   fact 6) or none within [`CONNECT_TIMEOUT`]; not retried;
    /// - [`LlmError::ModelNotFound`]: HTTP 404 whose JSON `error` says "not found";
    /// - [`LlmError::ContextExceeded`]: HTTP 400 whose `error` talks about the context / "too
    ///   long" / "longer than" / "exceeds" (what `truncate:false`/`shift:false` give); or a
    ///   silently truncated answer (fact 1). A truncated answer is never returned nor recorded;
    ///   with `n` = `prompt_eval_count` (no check when absent) and `est` =
    ///   [`ChatRequest::estimated_prompt_tokens`] (rules 1–2 only when `est > 0`):
    ///   1. `n < est / 3` ([`TRUNCATION_RATIO`]): detail `model saw N tokens of an estimated M…`;
    ///   2. `est > num_ctx` and `n` within 16 of `num_ctx / 2` ([`HALF_WINDOW_SLACK`]): the size
    ///      Ollama's cut leaves;
    ///   3. `n >= num_ctx - 1`: the prompt filled the whole window;
    ///   4. `done_reason` "length" and `n` + `eval_count` ≥ `num_ctx - 1`: prompt and answer
    ///      filled the window before the answer was complete (`shift: false`);
    /// - [`LlmError::Http`]: any other non-2xx status, with the `error` text of a JSON body (or
    ///   the body itself); 5xx only after the retries;
    /// - [`LlmError::Stream`]: an `{"error": …}` line after HTTP 200 (its text), an unreadable
    ///   line, `connection closed before the answer was complete`, `no data for N s …` (idle
    ///   timeout), or a connection that broke before the answer (after the retries);
    /// - [`LlmError::NotRecorded`] / [`LlmError::Recording`]: replay without a recording, or a
    ///   recording that cannot be read or written.
    ///
    /// Retries (attempts and backoff per [`Llm::with_retries`]): only a connection that broke
    /// before the response head (e.g. reset by the server) and HTTP 5xx. Never a 4xx, a refused
    /// connection, an idle timeout, or an answer that already started streaming.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let reply = self.chat_reply(req).await?;
        self.remember(req, &reply);
        Ok(reply.response)
    }

    /// [`Llm::chat`], also saying where the answer came from and how many retries it took, and
    /// **not** storing the answer in the cache: the caller checks it first and then calls
    /// [`Llm::remember`], so that an answer that fails validation is never replayed to a later
    /// run ([`Llm::chat`] remembers every answer that passed the truncation check).
    ///
    /// With a cache ([`LlmConfig::cache`], not in replay mode): the model's digest is looked up
    /// once per model (`/api/tags`, [`Llm::model_digest`]); an answer stored under
    /// [`cache::entry_key`] is returned without any request to `/api/chat`
    /// ([`Source::Cache`]; still written as a recording in record mode). A corrupt entry counts
    /// as missing and is overwritten. When the digest cannot be had (the model is not listed, or
    /// `/api/tags` fails), the call goes to the model and nothing is cached: an answer is never
    /// reused without knowing which model made it. Recordings (`--record`) keep every answer,
    /// valid or not: a replay must see the same exchanges, retries included.
    pub async fn chat_reply(&self, req: &ChatRequest) -> Result<Reply, LlmError> {
        let body = chat_body(req);
        let key = wire::key_of(&body);
        if let Some(dir) = &self.replay {
            let answer = record::read_chat(dir, &key, &body)?;
            self.counters.replayed.fetch_add(1, Relaxed);
            self.counters.add(&answer);
            check_truncation(req, &answer)?;
            return Ok(Reply {
                response: answer,
                source: Source::Replay,
                retries: 0,
                cache_slot: None,
            });
        }
        let mut slot = None;
        if let Some(cache) = &self.cache {
            if let Some(digest) = self.digest_for_cache(&req.model).await {
                let ckey = cache::entry_key(&req.model, &digest, &body);
                if let Lookup::Hit(answer) = cache.get(&ckey) {
                    if check_truncation(req, &answer).is_ok() {
                        self.counters.cache_hits.fetch_add(1, Relaxed);
                        if let Some(dir) = &self.record {
                            record::write_chat(dir, &key, &body, &answer)?;
                        }
                        return Ok(Reply {
                            response: answer,
                            source: Source::Cache,
                            retries: 0,
                            cache_slot: None,
                        });
                    }
                }
                slot = Some((ckey, digest));
            }
        }
        let (answer, retries) = self.chat_live(req, &body).await?;
        self.counters.add(&answer);
        check_truncation(req, &answer)?;
        if let Some(dir) = &self.record {
            record::write_chat(dir, &key, &body, &answer)?;
        }
        Ok(Reply {
            response: answer,
            source: Source::Live,
            retries,
            cache_slot: slot,
        })
    }

    /// Stores a live answer that the caller has checked in the answer cache, so that an
    /// identical later call is answered without the model. Does nothing for cached or replayed
    /// answers, or without a cache. A failed write is ignored: the cache is an optimisation, a
    /// failed write costs a model call next time, no more.
    pub fn remember(&self, req: &ChatRequest, reply: &Reply) {
        if let (Some(cache), Some((key, digest))) = (self.cache(), &reply.cache_slot) {
            let _ = cache.put(key, &req.model, digest, &reply.response);
        }
    }

    /// The digest of `model` for the cache key, looked up once per model per client; `None`
    /// (and nothing remembered, so a later call tries again) when `/api/tags` fails.
    async fn digest_for_cache(&self, model: &str) -> Option<String> {
        if let Some(known) = self.lock_digests().get(model) {
            return known.clone();
        }
        let digest = self.model_digest(model).await.ok()?;
        self.lock_digests().insert(model.to_owned(), digest.clone());
        digest
    }

    fn lock_digests(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
        self.digests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The answer cache in use, if any (none in replay mode).
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref().filter(|_| self.replay.is_none())
    }
}
