//! Why a model call failed, and the text helpers that turn a server's error answer into one line.

use std::error::Error as StdError;
use std::path::PathBuf;

use serde_json::Value;

use crate::exit::Exit;

/// Why a model call failed. Messages are one line and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Could not connect.
    #[error("cannot reach Ollama at {url}: {detail}; start it with `ollama serve` or point --host/OLLAMA_HOST at it, or run the model in this process with --engine embedded (a .gguf file or a model in Ollama's store)")]
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
    /// The server is busy: HTTP 429 (too many requests), 502/504 (a router with no free
    /// replica), 503 (Ollama's "server busy" past `OLLAMA_MAX_QUEUE`), after the retries of
    /// [`super::retry`] ran out.
    #[error("{url} is busy (HTTP {status}{}): {body}; it stayed busy for the whole retry time (--retry-for)", retry_after_text(.retry_after))]
    Busy {
        /// The URL.
        url: String,
        /// Status code.
        status: u16,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<std::time::Duration>,
        /// Error text from the body.
        body: String,
    },
    /// An OpenAI-compatible server refused `response_format` `json_schema` (llama-cpp-python
    /// answers 500); the same request with [`super::openai::SchemaMode::JsonObject`] may work.
    #[error("{url} does not take response_format json_schema (HTTP {status}): {body}")]
    SchemaUnsupported {
        /// The URL.
        url: String,
        /// Status code.
        status: u16,
        /// Error text from the body.
        body: String,
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
    /// `--host` (or `OLLAMA_HOST`, or `host` in the config file) is not a usable address.
    #[error("bad server address {host:?}: {detail}; give host:port or an http:// URL, e.g. http://127.0.0.1:11434")]
    BadHost {
        /// The address as given (normalised).
        host: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The embedded engine could not find or load this model file (not GGUF, an architecture
    /// llama.cpp does not know, a damaged file, a CPU without the SIMD the build needs).
    #[error("model file {path}: {detail}")]
    ModelFile {
        /// The GGUF file (or the manifest, or the name, when no file was found).
        path: PathBuf,
        /// What went wrong and what to do.
        detail: String,
    },
    /// The embedded engine found no model file for `--model` (the message names the file or
    /// the manifests tried, [`super::embedded::StoreError`]).
    #[error("{detail}")]
    ModelMissing {
        /// The file, manifest or name it is about.
        path: PathBuf,
        /// The resolver's one-line message.
        detail: String,
    },
    /// The embedded llama.cpp engine failed after loading (context, decoding, grammar).
    #[error("embedded llama.cpp engine: {detail}")]
    Engine {
        /// What went wrong.
        detail: String,
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

fn retry_after_text(after: &Option<std::time::Duration>) -> String {
    after.map_or_else(String::new, |d| format!(", Retry-After {} s", d.as_secs()))
}

impl LlmError {
    /// The exit status this error ends a command with: the server or the model is missing →
    /// [`Exit::Setup`], a malformed address → [`Exit::Usage`], anything else → [`Exit::Failed`].
    /// The one place that decides "is this a setup problem".
    pub fn exit(&self) -> Exit {
        match self {
            LlmError::Unreachable { .. }
            | LlmError::ModelNotFound { .. }
            | LlmError::ModelFile { .. }
            | LlmError::ModelMissing { .. } => Exit::Setup,
            LlmError::BadHost { .. } => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

/// Words of a 400 `error` that mean "the prompt did not fit": `shift:false` gives "the prompt is
/// longer than the context length…", `truncate:false` "request (N tokens) exceeds the available
/// context size…".
pub(crate) fn mentions_context(lower: &str) -> bool {
    ["context", "too long", "longer than", "exceed"]
        .iter()
        .any(|w| lower.contains(w))
}

/// The error text of a non-2xx body and whether it came from JSON: `{"error": "…"}` (also when
/// that string is itself JSON `{"error": {"message": …}}`, as llama.cpp errors relayed by Ollama
/// are), else the body itself, shortened.
pub(crate) fn error_text(body: &str) -> (String, bool) {
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
        None => (crate::text::shorten(body.trim(), 500), false),
    }
}

/// The causes of an error, innermost last, without reqwest's top line (which repeats the URL).
pub(crate) fn causes(e: &(dyn StdError + 'static)) -> String {
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
