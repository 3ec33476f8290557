//! Stage `llm`: one chat call to the model, live (Ollama's `/api/chat`), recorded, or replayed.
//!
//! CONTRACT (other stages rely on these names):
//! - [`ChatRequest`]/[`ChatResponse`] are plain data;
//! - [`Llm::chat`] makes one call and returns the whole answer;
//! - [`Llm::model_context_length`] asks `/api/show` for `<arch>.context_length`.
//!
//! How a live call works (DESIGN.md "Facts about Ollama" and "ollama-rs: what to use it for"):
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

mod ndjson;
mod record;
mod wire;

pub(crate) use wire::canonical_json;
pub use wire::{chat_body, request_key};

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use crate::cache::{self, Cache, Lookup};

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
    /// Context window in tokens. Always sent, the same for a whole run (DESIGN.md facts 1, 3).
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

/// Why a model call failed. Messages are one line and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Could not connect.
    #[error("cannot reach Ollama at {url}: {detail}; start it with `ollama serve` or point --host/OLLAMA_HOST at it")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The underlying error.
        detail: String,
    },
    /// 404 model not found.
    #[error("model \"{model}\" not found on {url}; run `ollama pull {model}` (or pass --pull)")]
    ModelNotFound {
        /// The model name.
        model: String,
        /// The server.
        url: String,
    },
    /// The prompt did not fit the context window (400 from `truncate:false`, or a
    /// `prompt_eval_count` far below the estimate).
    #[error("prompt did not fit num_ctx {num_ctx}: {detail}")]
    ContextExceeded {
        /// The context used.
        num_ctx: u32,
        /// What showed it.
        detail: String,
    },
    /// Any other HTTP error status.
    #[error("Ollama at {url} answered HTTP {status}: {body}")]
    Http {
        /// The URL.
        url: String,
        /// Status code.
        status: u16,
        /// Error text from the body.
        body: String,
    },
    /// The stream broke, stalled, or carried an `{"error": …}` line.
    #[error("Ollama stream failed: {0}")]
    Stream(String),
    /// `--replay` has no recording for this request.
    #[error("no recording in {dir} for this request (key {key}); record it with --record {dir} against a running model")]
    NotRecorded {
        /// The recording directory.
        dir: PathBuf,
        /// The request key.
        key: String,
    },
    /// Reading or writing a recording failed.
    #[error("recording {path}: {detail}")]
    Recording {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// Where answers come from and where they go.
#[derive(Debug, Clone, Default)]
pub struct LlmConfig {
    /// Ollama base URL as given (`--host`, `OLLAMA_HOST`, or the default); normalised by
    /// [`normalize_host`].
    pub host: String,
    /// Save every exchange into this directory (`--record DIR`).
    pub record: Option<PathBuf>,
    /// Answer only from recordings in this directory (`--replay DIR`); no network.
    pub replay: Option<PathBuf>,
    /// Idle timeout between bytes of an answer, and for the wait for the response head; `None`
    /// means [`DEFAULT_IDLE_TIMEOUT`] (300 s: loading a model can take minutes, DESIGN.md fact 8).
    pub idle_timeout: Option<std::time::Duration>,
    /// Answer cache directory ([`crate::cache`]); `None`: no cache. Not used with `replay`.
    pub cache: Option<PathBuf>,
}

/// The server used when nothing is configured: where `ollama serve` listens by default.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:11434/";

/// Ollama's port, added by [`normalize_host`] to an address given without scheme and port.
pub const DEFAULT_PORT: u16 = 11434;

/// Longest wait for the TCP connection (DESIGN.md fact 8: short connect timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Default idle timeout ([`LlmConfig::idle_timeout`]): the longest silence accepted while waiting
/// for the response head or for the next bytes of an answer. Long, because loading a model on a
/// CPU can take minutes before the first byte (fact 8); there is no total timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Truncation rule 1 of [`Llm::chat`]: an answer whose `prompt_eval_count` is below
/// `estimated_prompt_tokens / TRUNCATION_RATIO` was cut.
///
/// Why 3: the estimate (`crate::tokens`) is pessimistic, about 1.3–1.4× the real count for
/// English prose, so an honest count sits well above a third of it, while Ollama's silent cut
/// keeps only about half of `num_ctx` (it drops the front and keeps room to generate; DESIGN.md
/// fact 1), i.e. far below the estimate of a prompt much longer than the window.
///
/// Caveats: the estimate can be ~3× too high for text a BPE packs densely (Cyrillic, Greek: the
/// estimator counts one token per non-ASCII character), which puts honest counts near this line.
/// Ollama 0.30.x before ollama/ollama#16428 counted only the prompt tokens not served from its
/// cache, so an exact repeat of a request could look cut there; other versions report the whole
/// prompt (newer ones add `prompt_eval_cached_count`, ollama/ollama#17943). Old servers omit
/// `prompt_eval_count` on a cache hit (ollama/ollama#2068, #3427): no count, no check.
pub const TRUNCATION_RATIO: u64 = 3;

/// Truncation rule 2 of [`Llm::chat`]: a prompt estimated longer than `num_ctx` whose
/// `prompt_eval_count` is at most `num_ctx / 2 + HALF_WINDOW_SLACK` was cut.
///
/// That is the signature of Ollama's silent cut: it keeps `num_keep` (default 4) tokens plus the
/// last half of the window, `num_ctx − (num_ctx − num_keep) / 2` tokens (reported measurements:
/// 9200 tokens into `num_ctx` 4096 → `prompt_eval_count` 2051; into 8192 → 4099). Rule 1 misses
/// a prompt only a little longer than the window (estimate below 1.5 × `num_ctx`); this catches
/// it. An honest count this far below a pessimistic estimate above `num_ctx` would need the
/// estimate to be 2× too high.
pub const HALF_WINDOW_SLACK: u64 = 16;

/// Attempts per call by default (the first try and two retries), see [`Llm::with_retries`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Wait before the first retry; doubled for each further one (1 s, 2 s, 4 s, …).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Normalises an Ollama address the way `OLLAMA_HOST` is read (DESIGN.md fact 7) into
/// `scheme://host:port/path/`, the base URL ollama-rs and [`Llm`] append `api/…` to.
///
/// - blank → [`DEFAULT_HOST`] (`http://127.0.0.1:11434/`);
/// - no scheme → `http://`, and without a port `:11434` (`localhost` →
///   `http://localhost:11434/`);
/// - a scheme but no port → the scheme's port, as Ollama's own client does (`envconfig.Host()` in
///   ollama/ollama: `http://box` → `http://box:80/`, `https://box` → `https://box:443/`);
/// - a port that is not a number in 0–65535 → the default port (again as Ollama does);
/// - `0.0.0.0`, `::` and an empty host (`:11434`) → loopback (`127.0.0.1`, `[::1]`): the address
///   a server listens on is not one to connect to;
/// - a bare IPv6 address gets brackets (`::1` → `http://[::1]:11434/`);
/// - the path is kept (a reverse proxy under a prefix) and ends with `/`.
pub fn normalize_host(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return DEFAULT_HOST.to_owned();
    }
    let (scheme, rest, default_port) = match s.split_once("://") {
        None => ("http".to_owned(), s, DEFAULT_PORT),
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            let port = if scheme == "https" { 443 } else { 80 };
            (scheme, rest, port)
        }
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport);
    let port = port
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(default_port);
    let host = loopback_if_unspecified(host);
    let mut path = path.to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    format!("{scheme}://{host}:{port}{path}")
}

/// `host[:port]`, `[v6][:port]` or a bare IPv6 address → (host, with brackets for IPv6; port).
fn split_host_port(hostport: &str) -> (String, Option<&str>) {
    if let Some((host, after)) = hostport
        .strip_prefix('[')
        .and_then(|inner| inner.split_once(']'))
    {
        return (format!("[{host}]"), after.strip_prefix(':'));
    }
    if hostport.parse::<Ipv6Addr>().is_ok() {
        return (format!("[{hostport}]"), None);
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), Some(port)),
        None => (hostport.to_owned(), None),
    }
}

fn loopback_if_unspecified(host: String) -> String {
    if host.is_empty() || host == "0.0.0.0" {
        return "127.0.0.1".to_owned();
    }
    let v6 = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if v6.is_some_and(|h| h.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_unspecified())) {
        return "[::1]".to_owned();
    }
    host
}

/// Totals over the calls of one [`Llm`], from [`Llm::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallStats {
    /// Chat calls that got a whole answer, live or replayed (including answers then rejected as
    /// truncated).
    pub calls: u64,
    /// Of [`CallStats::calls`], those answered from a recording (`--replay`).
    pub replayed: u64,
    /// Chat calls answered from the answer cache (not counted in [`CallStats::calls`], nor in
    /// the token and time sums: the model did no work for them).
    pub cache_hits: u64,
    /// Retries made (an attempt after a broken connection or an HTTP 5xx), over all calls.
    pub retries: u64,
    /// Sum of `prompt_eval_count` (tokens) over the answers that carried it.
    pub prompt_eval_count: u64,
    /// Sum of `eval_count` (tokens generated) over the answers that carried it.
    pub eval_count: u64,
    /// Sum of `total_duration` in nanoseconds (the server's time, not wall-clock time of this
    /// process; replayed answers count their recorded time).
    pub model_time_ns: u64,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    replayed: AtomicU64,
    cache_hits: AtomicU64,
    retries: AtomicU64,
    prompt_eval_count: AtomicU64,
    eval_count: AtomicU64,
    model_time_ns: AtomicU64,
}

impl Counters {
    fn add(&self, answer: &ChatResponse) {
        self.calls.fetch_add(1, Relaxed);
        self.prompt_eval_count
            .fetch_add(answer.prompt_eval_count.unwrap_or(0), Relaxed);
        self.eval_count
            .fetch_add(answer.eval_count.unwrap_or(0), Relaxed);
        self.model_time_ns
            .fetch_add(answer.total_duration.unwrap_or(0), Relaxed);
    }
}

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
    /// Attempts repeated after a broken connection or an HTTP 5xx for this call.
    pub retries: u32,
}

/// The model client: live calls to Ollama, or recordings, per [`LlmConfig`].
///
/// Shared by `&` across tasks (it is `Send + Sync`); counters are atomics. One reqwest client
/// (connection pool) serves every call.
#[derive(Debug)]
pub struct Llm {
    base: String,
    client: reqwest::Client,
    ollama: ollama_rs::Ollama,
    record: Option<PathBuf>,
    replay: Option<PathBuf>,
    idle: Duration,
    max_attempts: u32,
    retry_delay: Duration,
    counters: Counters,
    cache: Option<Cache>,
    /// Model digests from `/api/tags` (the cache key needs them), looked up once per model.
    digests: Mutex<HashMap<String, Option<String>>>,
}

impl Llm {
    /// A client for `cfg.host` (normalised by [`normalize_host`]).
    ///
    /// Errors: a host that is not a valid `http://` URL → [`LlmError::Unreachable`] (https needs
    /// TLS, which this build leaves out: local servers only); `cfg.replay` not a directory, or
    /// `cfg.record` not creatable → [`LlmError::Recording`]. Nothing is sent to the server.
    /// With both `replay` and `record` set, replay wins and nothing is written.
    pub fn new(cfg: LlmConfig) -> Result<Llm, LlmError> {
        let base = normalize_host(&cfg.host);
        let bad_url = |detail: String| LlmError::Unreachable {
            url: base.clone(),
            detail,
        };
        let url =
            reqwest::Url::parse(&base).map_err(|e| bad_url(format!("not a valid URL ({e})")))?;
        if url.scheme() != "http" {
            return Err(bad_url(format!(
                "scheme {}:// is not supported (plain http only; this build has no TLS)",
                url.scheme()
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| bad_url(format!("cannot set up the HTTP client: {}", causes(&e))))?;
        let ollama = ollama_rs::Ollama::builder()
            .url(url)
            .reqwest_client(client.clone())
            .build();
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
            base,
            client,
            ollama,
            record: cfg.record,
            replay: cfg.replay,
            idle: cfg.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_delay: DEFAULT_RETRY_DELAY,
            counters: Counters::default(),
            cache: cfg.cache.map(Cache::new),
            digests: Mutex::new(HashMap::new()),
        })
    }

    /// Changes the retry policy: `max_attempts` tries in all (at least 1) and `first_delay`
    /// before the first retry, doubled for each further one. Defaults: [`DEFAULT_MAX_ATTEMPTS`],
    /// [`DEFAULT_RETRY_DELAY`].
    pub fn with_retries(mut self, max_attempts: u32, first_delay: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.retry_delay = first_delay;
        self
    }

    /// The normalised server URL, ending with `/` (e.g. `http://127.0.0.1:11434/`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Totals so far over all calls of this client.
    pub fn stats(&self) -> CallStats {
        let c = &self.counters;
        CallStats {
            calls: c.calls.load(Relaxed),
            replayed: c.replayed.load(Relaxed),
            cache_hits: c.cache_hits.load(Relaxed),
            retries: c.retries.load(Relaxed),
            prompt_eval_count: c.prompt_eval_count.load(Relaxed),
            eval_count: c.eval_count.load(Relaxed),
            model_time_ns: c.model_time_ns.load(Relaxed),
        }
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
    ///   2. `est > num_ctx` and `n <= num_ctx / 2 + 16` ([`HALF_WINDOW_SLACK`]): the size
    ///      Ollama's cut leaves;
    ///   3. `n >= num_ctx - 1`: the prompt filled the whole window;
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
        self.chat_reply(req).await.map(|r| r.response)
    }

    /// [`Llm::chat`], also saying where the answer came from and how many retries it took.
    ///
    /// With a cache ([`LlmConfig::cache`], not in replay mode): the model's digest is looked up
    /// once per model (`/api/tags`, [`Llm::model_digest`]); an answer stored under
    /// [`cache::entry_key`] is returned without any request to `/api/chat`
    /// ([`Source::Cache`]; still written as a recording in record mode); otherwise the live
    /// answer is stored after it passed the truncation check. A corrupt entry counts as missing
    /// and is overwritten; a failed cache write is ignored. When the digest cannot be had (the
    /// model is not listed, or `/api/tags` fails), the call goes to the model and nothing is
    /// cached: an answer is never reused without knowing which model made it.
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
                        });
                    }
                }
                slot = Some((cache, ckey, digest));
            }
        }
        let url = format!("{}api/chat", self.base);
        let (resp, retries) = self
            .send(
                Method::POST,
                &url,
                Some(&body),
                &req.model,
                Some(req.options.num_ctx),
            )
            .await?;
        let answer = self.read_answer(resp, &url).await?;
        self.counters.add(&answer);
        check_truncation(req, &answer)?;
        if let Some((cache, ckey, digest)) = slot {
            // The cache is an optimisation: a failed write costs a model call next time, no more.
            let _ = cache.put(&ckey, &req.model, &digest, &answer);
        }
        if let Some(dir) = &self.record {
            record::write_chat(dir, &key, &body, &answer)?;
        }
        Ok(Reply {
            response: answer,
            source: Source::Live,
            retries,
        })
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

    /// The digest of `model` as `GET /api/tags` lists it (the name as given, or with `:latest`
    /// added when it has no tag); `Ok(None)` when the model is not listed or has no digest.
    ///
    /// Errors: as [`Llm::chat`] for the connection and the status. Replay: `Ok(None)`.
    pub async fn model_digest(&self, model: &str) -> Result<Option<String>, LlmError> {
        if self.replay.is_some() {
            return Ok(None);
        }
        let tags = self.get_json("api/tags", model).await?;
        Ok(digest_in_tags(&tags, model))
    }

    /// The server's version (`GET /api/version` → `version`).
    ///
    /// Errors: as [`Llm::chat`]; an answer without a `version` string → [`LlmError::Stream`].
    pub async fn version(&self) -> Result<String, LlmError> {
        let url = format!("{}api/version", self.base);
        let v = self.get_json("api/version", "").await?;
        v.get("version")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| LlmError::Stream(format!("no version in the answer of {url}: {v}")))
    }

    /// The answer cache in use, if any (none in replay mode).
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref().filter(|_| self.replay.is_none())
    }

    /// `GET <base><path>` and its JSON answer, with the retries of [`Llm::chat`].
    async fn get_json(&self, path: &str, model: &str) -> Result<Value, LlmError> {
        let url = format!("{}{path}", self.base);
        let (resp, _) = self.send(Method::GET, &url, None, model, None).await?;
        self.read_json(&url, resp).await
    }

    /// Reads a whole (non-streamed) JSON answer under the idle timeout and parses it as `T`.
    /// Errors: [`LlmError::Stream`] when the body stalls, breaks or does not parse.
    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, LlmError> {
        let bytes = tokio::time::timeout(self.idle, resp.bytes())
            .await
            .map_err(|_| self.idle_error(url))?
            .map_err(|e| {
                LlmError::Stream(format!("reading the answer of {url}: {}", causes(&e)))
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LlmError::Stream(format!("unreadable answer from {url}: {e}")))
    }

    /// The model's maximum context in tokens: `/api/show` → `model_info["<arch>.context_length"]`
    /// with `<arch>` = `model_info["general.architecture"]` (DESIGN.md fact 4). `Ok(None)` when
    /// either is absent (or not a number).
    ///
    /// Errors: 404 → [`LlmError::ModelNotFound`]; otherwise as [`Llm::chat`]. Replay: answered
    /// from `show-<model>.json` in the recording directory ([`LlmError::NotRecorded`] when
    /// missing); record: that file is written.
    pub async fn model_context_length(&self, model: &str) -> Result<Option<u32>, LlmError> {
        if let Some(dir) = &self.replay {
            return record::read_show(dir, model);
        }
        let url = format!("{}api/show", self.base);
        let resp = self
            .post(&url, &serde_json::json!({ "model": model }), model, None)
            .await?;
        let info: ollama_rs::models::ModelInfo = self.read_json(&url, resp).await?;
        let context_length = context_length_of(&info.model_info);
        if let Some(dir) = &self.record {
            record::write_show(dir, model, context_length)?;
        }
        Ok(context_length)
    }

    /// Cheap check that `model` exists on the server (POST `/api/show`).
    ///
    /// Errors: [`LlmError::ModelNotFound`], [`LlmError::Unreachable`], or as [`Llm::chat`].
    /// Replay: always `Ok(())` (no server is needed).
    pub async fn check_model(&self, model: &str) -> Result<(), LlmError> {
        if self.replay.is_some() {
            return Ok(());
        }
        let url = format!("{}api/show", self.base);
        self.post(&url, &serde_json::json!({ "model": model }), model, None)
            .await
            .map(drop)
    }

    /// Downloads `model` (`ollama pull`), calling `progress` for every status line (sizes in
    /// bytes), through ollama-rs's `pull_model_stream` (byte-buffered, surfaces `{"error"}`
    /// lines).
    ///
    /// Errors: [`LlmError::Unreachable`] when no connection; [`LlmError::Stream`] for an error
    /// reported by the server (e.g. an unknown model), an idle timeout, or a stream that ended
    /// before the `success` status. (ollama-rs drops the HTTP status of a non-2xx answer, so none
    /// of them is an [`LlmError::Http`].) Replay: `Ok(())` without doing anything.
    pub async fn pull(
        &self,
        model: &str,
        mut progress: impl FnMut(PullProgress),
    ) -> Result<(), LlmError> {
        if self.replay.is_some() {
            return Ok(());
        }
        let url = format!("{}api/pull", self.base);
        let mut stream = tokio::time::timeout(
            self.idle,
            self.ollama.pull_model_stream(model.to_owned(), false),
        )
        .await
        .map_err(|_| self.idle_error(&url))?
        .map_err(|e| pull_error(e, &url, model))?;
        let mut success = false;
        while let Some(item) = tokio::time::timeout(self.idle, stream.next())
            .await
            .map_err(|_| self.idle_error(&url))?
        {
            let status = item.map_err(|e| pull_error(e, &url, model))?;
            success |= status.message == "success";
            progress(PullProgress {
                status: status.message,
                digest: status.digest,
                total: status.total,
                completed: status.completed,
            });
        }
        if success {
            Ok(())
        } else {
            Err(LlmError::Stream(format!(
                "pulling {model}: {}",
                ndjson::CLOSED_EARLY
            )))
        }
    }

    /// POSTs `body` as JSON and returns the 2xx response, retrying per [`Llm::with_retries`].
    /// `num_ctx` is `Some` for chat calls (a 400 about the context → `ContextExceeded`).
    async fn post(
        &self,
        url: &str,
        body: &Value,
        model: &str,
        num_ctx: Option<u32>,
    ) -> Result<reqwest::Response, LlmError> {
        self.send(Method::POST, url, Some(body), model, num_ctx)
            .await
            .map(|(resp, _)| resp)
    }

    /// Sends a request (`body` as JSON when given) and returns the 2xx response and the number
    /// of retries it took, retrying per [`Llm::with_retries`].
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        model: &str,
        num_ctx: Option<u32>,
    ) -> Result<(reqwest::Response, u32), LlmError> {
        let mut attempt = 1u32;
        loop {
            match self
                .send_once(method.clone(), url, body, model, num_ctx)
                .await
            {
                Ok(resp) => return Ok((resp, attempt - 1)),
                Err((err, retriable)) => {
                    if !retriable || attempt >= self.max_attempts {
                        return Err(err);
                    }
                    let delay = self
                        .retry_delay
                        .saturating_mul(1u32 << (attempt - 1).min(16));
                    self.counters.retries.fetch_add(1, Relaxed);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt; the error comes with whether it may be retried.
    async fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        model: &str,
        num_ctx: Option<u32>,
    ) -> Result<reqwest::Response, (LlmError, bool)> {
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let send = request.send();
        let resp = match tokio::time::timeout(self.idle, send).await {
            Err(_) => return Err((self.idle_error(url), false)),
            Ok(Err(e)) if e.is_connect() || e.is_builder() => {
                let detail = causes(&e);
                return Err((
                    LlmError::Unreachable {
                        url: url.to_owned(),
                        detail,
                    },
                    false,
                ));
            }
            Ok(Err(e)) => {
                let msg = format!(
                    "the connection to {url} broke before an answer: {}",
                    causes(&e)
                );
                return Err((LlmError::Stream(msg), true));
            }
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = match tokio::time::timeout(self.idle, resp.text()).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        let (msg, from_json) = error_text(&text);
        let msg = if msg.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no error text")
                .to_owned()
        } else {
            msg
        };
        let lower = msg.to_lowercase();
        let err = match (status.as_u16(), num_ctx) {
            (404, _) if from_json && lower.contains("not found") => LlmError::ModelNotFound {
                model: model.to_owned(),
                url: self.base.clone(),
            },
            (400, Some(num_ctx)) if mentions_context(&lower) => LlmError::ContextExceeded {
                num_ctx,
                detail: format!("Ollama answered HTTP 400: {msg}"),
            },
            (code, _) => LlmError::Http {
                url: url.to_owned(),
                status: code,
                body: msg,
            },
        };
        Err((err, status.is_server_error()))
    }

    /// Reads the NDJSON answer (see [`ndjson`]), with the idle timeout on every read.
    async fn read_answer(
        &self,
        resp: reqwest::Response,
        url: &str,
    ) -> Result<ChatResponse, LlmError> {
        let mut stream = resp.bytes_stream();
        let mut lines = ndjson::LineBuffer::default();
        let mut answer = ndjson::Answer::default();
        while let Some(chunk) = tokio::time::timeout(self.idle, stream.next())
            .await
            .map_err(|_| self.idle_error(url))?
        {
            let chunk = chunk.map_err(|e| {
                LlmError::Stream(format!("{} ({})", ndjson::CLOSED_EARLY, causes(&e)))
            })?;
            for line in lines.push(&chunk) {
                if let Some(done) = answer.push_line(&line)? {
                    return Ok(done);
                }
            }
        }
        if let Some(last) = lines.finish() {
            if let Some(done) = answer.push_line(&last)? {
                return Ok(done);
            }
        }
        Err(LlmError::Stream(ndjson::CLOSED_EARLY.to_owned()))
    }

    fn idle_error(&self, url: &str) -> LlmError {
        LlmError::Stream(format!(
            "no data for {} s from {url}; the server is stuck or the model is still loading \
             (a longer idle timeout helps on a slow machine)",
            self.idle.as_secs_f64()
        ))
    }
}

/// The truncation check of [`Llm::chat`] (DESIGN.md fact 1; rules listed there).
fn check_truncation(req: &ChatRequest, answer: &ChatResponse) -> Result<(), LlmError> {
    let Some(seen) = answer.prompt_eval_count else {
        return Ok(());
    };
    let estimated = req.estimated_prompt_tokens as u64;
    let num_ctx = req.options.num_ctx;
    let window = u64::from(num_ctx);
    if estimated > 0 && seen.saturating_mul(TRUNCATION_RATIO) < estimated {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "model saw {seen} tokens of an estimated {estimated}; Ollama dropped the front \
                 of the prompt"
            ),
        });
    }
    if estimated > window && window > 0 && seen <= window / 2 + HALF_WINDOW_SLACK {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "model saw {seen} tokens of an estimated {estimated}, about half the window: \
                 Ollama dropped the front of the prompt"
            ),
        });
    }
    if window > 1 && seen >= window - 1 {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "model saw {seen} tokens, the whole context: the prompt was probably cut"
            ),
        });
    }
    Ok(())
}

/// Words of a 400 `error` that mean "the prompt did not fit": `shift:false` gives "the prompt is
/// longer than the context length…", `truncate:false` "request (N tokens) exceeds the available
/// context size…".
fn mentions_context(lower: &str) -> bool {
    ["context", "too long", "longer than", "exceed"]
        .iter()
        .any(|w| lower.contains(w))
}

/// The error text of a non-2xx body and whether it came from JSON: `{"error": "…"}` (also when
/// that string is itself JSON `{"error": {"message": …}}`, as llama.cpp errors relayed by Ollama
/// are), else the body itself, shortened.
fn error_text(body: &str) -> (String, bool) {
    fn message_of(v: &Value) -> Option<String> {
        match v.get("error")? {
            Value::String(s) => Some(
                serde_json::from_str::<Value>(s)
                    .ok()
                    .and_then(|inner| message_of(&inner))
                    .unwrap_or_else(|| s.clone()),
            ),
            Value::Object(o) => Some(
                o.get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| Value::Object(o.clone()).to_string(), str::to_owned),
            ),
            other => Some(other.to_string()),
        }
    }
    match serde_json::from_str::<Value>(body)
        .ok()
        .as_ref()
        .and_then(message_of)
    {
        Some(msg) => (msg, true),
        None => (ndjson::shorten(body.trim(), 500), false),
    }
}

/// The `digest` of `model` in an `/api/tags` answer (`{"models": [{"name", "model", "digest"}]}`),
/// matching `name` or `model` exactly, or with `:latest` added to a name without a tag.
fn digest_in_tags(tags: &Value, model: &str) -> Option<String> {
    let latest = format!("{model}:latest");
    let matches = |n: &str| n == model || (!model.contains(':') && n == latest);
    tags.get("models")?
        .as_array()?
        .iter()
        .find(|m| {
            ["name", "model"]
                .iter()
                .any(|k| m.get(*k).and_then(Value::as_str).is_some_and(matches))
        })?
        .get("digest")?
        .as_str()
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
}

/// `<arch>.context_length` from `/api/show`'s `model_info` (saturated to `u32`).
fn context_length_of(info: &serde_json::Map<String, Value>) -> Option<u32> {
    let arch = info.get("general.architecture")?.as_str()?;
    let n = info.get(&format!("{arch}.context_length"))?.as_u64()?;
    Some(u32::try_from(n).unwrap_or(u32::MAX))
}

/// An ollama-rs error of [`Llm::pull`] as an [`LlmError`].
fn pull_error(e: ollama_rs::error::OllamaError, url: &str, model: &str) -> LlmError {
    use ollama_rs::error::OllamaError;
    match e {
        OllamaError::ReqwestError(e) if e.is_connect() => LlmError::Unreachable {
            url: url.to_owned(),
            detail: causes(&e),
        },
        OllamaError::ReqwestError(e) => {
            LlmError::Stream(format!("pulling {model}: {}", causes(&e)))
        }
        OllamaError::InternalError(e) => {
            LlmError::Stream(format!("pulling {model}: {}", e.message))
        }
        OllamaError::Other(body) => {
            LlmError::Stream(format!("pulling {model}: {}", error_text(&body).0))
        }
        OllamaError::JsonError(e) => {
            LlmError::Stream(format!("pulling {model}: unreadable progress line ({e})"))
        }
        other => LlmError::Stream(format!("pulling {model}: {other}")),
    }
}

/// The causes of an error, innermost last, without reqwest's top line (which repeats the URL).
fn causes(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}
