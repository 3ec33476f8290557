//! Turning an OpenAI-compatible server's error answer into an [`LlmError`].
//!
//! Every rule below is keyed to the text a real engine sends; the source of each is cited where
//! the rule is. The tests in `tests/openai_wire.rs` replay those bodies byte for byte.
//!
//! Error bodies come in four shapes, all read by [`error_message`]:
//!
//! - `{"error": {"message": …, "type": …, "code": …}}` — OpenAI's shape; vLLM
//!   (`vllm/entrypoints/openai/engine/protocol.py` `ErrorResponse`/`ErrorInfo`, `code` = the HTTP
//!   status), llama-server (`tools/server/server-common.cpp` `format_error_response`, wrapped in
//!   `{"error": …}` by `res->error`), llama-cpp-python (`llama_cpp/server/errors.py`
//!   `ErrorResponse`), Ollama `/v1`, LiteLLM;
//! - `{"object": "error", "message": …, "type": …, "code": 400}` — SGLang's flat `ErrorResponse`;
//! - `{"error": "…", "error_type": "…"}` — TGI (`router/src/lib.rs` `ErrorResponse`);
//! - `{"detail": …}` — FastAPI's own answer (llama-cpp-python's 401 "Invalid API key").

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::super::LlmError;
use crate::text::shorten;

/// What is known about a failed answer when it is classified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure<'a> {
    /// The URL that was requested.
    pub url: &'a str,
    /// The server's base URL (`…/v1`), for [`LlmError::ModelNotFound`].
    pub base: &'a str,
    /// HTTP status, or for an error event inside a 200 stream the event's own code (0 when it
    /// has none).
    pub status: u16,
    /// Whether this is an error event inside a 200 stream (not an HTTP error status).
    pub in_stream: bool,
    /// The body (or the event's JSON) as received.
    pub body: &'a str,
    /// `Retry-After`, already parsed.
    pub retry_after: Option<Duration>,
    /// The model asked for; `None` for calls that name no model (`GET /models`).
    pub model: Option<&'a str>,
    /// The request's context window, used when the server's error does not state its own.
    pub num_ctx: u32,
    /// Whether the request carried `response_format: {"type": "json_schema", …}`.
    pub sent_json_schema: bool,
    /// The API key, removed from every text that goes into the error.
    pub api_key: Option<&'a str>,
}

/// Classifies a failed answer. Order of the rules (first match wins):
///
/// 1. HTTP 429 or 503 → [`LlmError::Busy`] with `Retry-After` (TGI 429 "Model is overloaded",
///    `router/src/server.rs`; llama-server 503 "Loading model" / `unavailable_error`; Ollama 503
///    "server busy"; routers and LiteLLM 429).
/// 2. The body says the prompt does not fit → [`LlmError::ContextExceeded`] (markers in
///    [`mentions_context_overflow`]), whatever the status.
/// 3. The request carried `json_schema` and the body rejects it → [`LlmError::SchemaUnsupported`]
///    ([`rejects_json_schema`]).
/// 4. A named model is unknown → [`LlmError::ModelNotFound`] ([`says_model_missing`]).
/// 5. Anything else → [`LlmError::Http`] with the error text.
///
/// Every text is shortened to 500 characters and has the API key replaced by `[redacted]`.
pub(crate) fn classify(f: &Failure<'_>) -> LlmError {
    let body = redact(f.body, f.api_key);
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    let msg = parsed
        .as_ref()
        .and_then(error_message)
        .unwrap_or_else(|| shorten(body.trim(), 500));
    let msg = if msg.is_empty() {
        reqwest::StatusCode::from_u16(f.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no error text")
            .to_owned()
    } else {
        shorten(&msg, 500)
    };
    let lower = body.to_lowercase();

    if matches!(f.status, 429 | 503) {
        return LlmError::Busy {
            url: f.url.to_owned(),
            status: f.status,
            retry_after: f.retry_after,
            body: msg,
        };
    }
    if mentions_context_overflow(&lower) {
        let num_ctx = parsed
            .as_ref()
            .and_then(stated_n_ctx)
            .or_else(|| context_in_text(&lower))
            .unwrap_or(f.num_ctx);
        let status = match (f.in_stream, f.status) {
            (true, 0) => "an error event".to_owned(),
            (true, code) => format!("an error event (code {code})"),
            (false, code) => format!("HTTP {code}"),
        };
        return LlmError::ContextExceeded {
            num_ctx,
            detail: format!("{} answered {status}: {msg}", f.url),
        };
    }
    if f.sent_json_schema && rejects_json_schema(f.status, &lower) {
        return LlmError::SchemaUnsupported {
            url: f.url.to_owned(),
            status: f.status,
            body: msg,
        };
    }
    if let Some(model) = f.model {
        if says_model_missing(f.status, &lower) {
            return LlmError::ModelNotFound {
                model: model.to_owned(),
                url: f.base.to_owned(),
            };
        }
    }
    LlmError::Http {
        url: f.url.to_owned(),
        status: f.status,
        body: msg,
    }
}

/// The human text of an error body in any of the four shapes of the module docs: `error` as a
/// string (TGI) or as an object's `message` (OpenAI shape), a top-level `message` (SGLang), or
/// `detail` (FastAPI; a string, or its validation list as JSON). `None` when none is there.
pub(crate) fn error_message(v: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Some(match err.get("message") {
            Some(m) => text(m),
            None => text(err),
        });
    }
    if let Some(m) = v.get("message") {
        return Some(text(m));
    }
    v.get("detail").map(text)
}

/// The status an error event inside a 200 stream claims for itself: `error.code` when it is a
/// number (vLLM, llama-server, SGLang), `error.http_status_code` (TGI's
/// `router/src/infer/mod.rs` `OpenaiErrorEvent`), or a top-level `code`.
pub(crate) fn event_status(v: &Value) -> Option<u16> {
    let err = v.get("error");
    [
        err.and_then(|e| e.get("code")),
        err.and_then(|e| e.get("http_status_code")),
        v.get("code"),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_u64)
    .and_then(|n| u16::try_from(n).ok())
}

/// Whether a (lowercased) error body says that the prompt did not fit the context. The markers,
/// each the engine's own wording:
///
/// - llama-server: type `exceed_context_size_error`, "request (N tokens) exceeds the available
///   context size (M tokens), try increasing it" (`tools/server/server-context.cpp`,
///   `server-task.cpp` adds `n_prompt_tokens`, `n_ctx`); "input (N tokens) is larger than the max
///   context size" for non-splittable tasks;
/// - llama-cpp-python: code `context_length_exceeded`, "This model's maximum context length is N
///   tokens. However, you requested …" (`llama_cpp/server/errors.py`);
/// - vLLM: "This model's maximum context length is N tokens…" (older `serving_engine.py`), and
///   "…However, the model's context length is only N tokens, resulting in a maximum input length
///   of M tokens…" (`vllm/renderers/params.py` `_token_len_check`/`_text_len_check`);
/// - SGLang: "The input (N tokens) is longer than the model's context length (M tokens)." and
///   "Requested token count exceeds the model's maximum context length of N tokens…"
///   (`python/sglang/srt/managers/tokenizer_manager.py`);
/// - TGI: "`inputs` tokens + `max_new_tokens` must be <= N…" and "`inputs` must have less than N
///   tokens" (`router/src/validation.rs` `MaxTotalTokens`, `InputLength`).
pub(crate) fn mentions_context_overflow(lower: &str) -> bool {
    [
        "exceed_context_size_error",
        "exceeds the available context size",
        "is larger than the max context size",
        "context_length_exceeded",
        "maximum context length",
        "context length is only",
        "longer than the model's context length",
        "`inputs` tokens + `max_new_tokens` must be <=",
        "`inputs` must have less than",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

/// `n_ctx` as llama-server states it in its `exceed_context_size_error` (`error.n_ctx`).
fn stated_n_ctx(v: &Value) -> Option<u32> {
    let n = v.get("error")?.get("n_ctx")?.as_u64()?;
    u32::try_from(n).ok()
}

/// The context size stated in an overflow message's words (first match of: "maximum context
/// length is N", "context length is only N", "context length (N", "context size (N",
/// "must be <= N").
fn context_in_text(lower: &str) -> Option<u32> {
    [
        "maximum context length is ",
        "maximum context length of ",
        "context length is only ",
        "context length (",
        "context size (",
        "must be <= ",
    ]
    .iter()
    .find_map(|marker| {
        let rest = &lower[lower.find(marker)? + marker.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// Whether a (lowercased) error body to a `json_schema` request says that `response_format` type
/// is not accepted, so that the same request with `json_object` may work:
///
/// - llama-cpp-python answers **500** because its request model only has `Literal["text",
///   "json_object"]` (`llama_cpp/llama_types.py` `ChatCompletionRequestResponseFormat`) and its
///   error route turns the validation error into `internal_server_error`
///   (`llama_cpp/server/errors.py` `RouteErrorHandler`): the text names `response_format` and
///   pydantic's "Input should be 'text' or 'json_object'";
/// - older llama-server (before it read `json_schema`): 400 "response_format type must be one
///   of \"text\" or \"json_object\", but got: json_schema" (`examples/server/utils.hpp`
///   `oaicompat_completion_params_parse`; today's `tools/server/server-common.cpp` still throws
///   it for unknown types);
/// - TGI: 422 from axum's JSON extractor, "…response_format: missing field `value`…" (its
///   `GrammarType` is `#[serde(tag = "type", content = "value")]`, `router/src/lib.rs`);
/// - generic "json_schema … not supported".
///
/// Only statuses 400, 422, 500 and 501 count, and the body must name `response_format` or
/// `json_schema`.
pub(crate) fn rejects_json_schema(status: u16, lower: &str) -> bool {
    if !matches!(status, 400 | 422 | 500 | 501) {
        return false;
    }
    if !(lower.contains("response_format") || lower.contains("json_schema")) {
        return false;
    }
    [
        "input should be 'text' or 'json_object'",
        "must be one of",
        "missing field `value`",
        "unknown variant",
        "not supported",
        "unsupported",
        "literal_error",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

/// Whether a (lowercased) error body says the requested model does not exist:
///
/// - vLLM: 404 "The model `x` does not exist." (`vllm/entrypoints/openai/engine/serving.py`
///   `_check_model`, type `NotFoundError`);
/// - Ollama `/v1`: 404 "model \"x\" not found, try pulling it first";
/// - llama-cpp-python: 400 code `model_not_found`, "The model `path` does not exist"
///   (`llama_cpp/server/errors.py`; it only happens for a model file that is missing: an unknown
///   alias silently gets the default model, `llama_cpp/server/model.py` `LlamaProxy.__call__`);
/// - llama-server in router mode: 404/400 "model not found";
/// - LiteLLM: 400 "Invalid model name passed in model=x".
pub(crate) fn says_model_missing(status: u16, lower: &str) -> bool {
    if lower.contains("model_not_found") || lower.contains("invalid model name") {
        return true;
    }
    matches!(status, 400 | 404)
        && lower.contains("model")
        && (lower.contains("does not exist") || lower.contains("not found"))
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date turned into the time left
/// from `now` (zero when it is past). `None` when absent or unreadable.
pub(crate) fn retry_after(value: Option<&str>, now: SystemTime) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `text` with every occurrence of the API key replaced by `[redacted]` (keys shorter than 4
/// characters are not searched for: they would match ordinary text).
pub(crate) fn redact(text: &str, api_key: Option<&str>) -> String {
    match api_key {
        Some(key) if key.len() >= 4 => text.replace(key, "[redacted]"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, body: &str) -> Failure<'_> {
        Failure {
            url: "http://h/v1/chat/completions",
            base: "http://h/v1",
            status,
            in_stream: false,
            body,
            retry_after: None,
            model: Some("m"),
            num_ctx: 4096,
            sent_json_schema: true,
            api_key: None,
        }
    }

    #[test]
    fn context_size_comes_from_n_ctx_then_text_then_request() {
        let llama = r#"{"error":{"code":400,"message":"request (9000 tokens) exceeds the available context size (8192 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9000,"n_ctx":8192}}"#;
        match classify(&failure(400, llama)) {
            LlmError::ContextExceeded { num_ctx, .. } => assert_eq!(num_ctx, 8192),
            other => panic!("{other:?}"),
        }
        let sglang = r#"{"object":"error","message":"The input (43028 tokens) is longer than the model's context length (40960 tokens).","type":"BadRequestError","param":null,"code":400}"#;
        match classify(&failure(400, sglang)) {
            LlmError::ContextExceeded { num_ctx, .. } => assert_eq!(num_ctx, 40960),
            other => panic!("{other:?}"),
        }
        match classify(&failure(400, r#"{"error":"context_length_exceeded"}"#)) {
            LlmError::ContextExceeded { num_ctx, .. } => assert_eq!(num_ctx, 4096),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_of_every_shape() {
        let m = |s: &str| error_message(&serde_json::from_str(s).unwrap());
        assert_eq!(m(r#"{"error":{"message":"a"}}"#).as_deref(), Some("a"));
        assert_eq!(m(r#"{"error":"b","error_type":"x"}"#).as_deref(), Some("b"));
        assert_eq!(
            m(r#"{"object":"error","message":"c"}"#).as_deref(),
            Some("c")
        );
        assert_eq!(m(r#"{"detail":"d"}"#).as_deref(), Some("d"));
        assert_eq!(m(r#"{"ok":1}"#), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after(Some("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(Some("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(Some("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
    }

    #[test]
    fn schema_rejection_needs_the_schema_and_the_words() {
        let old_llama = r#"{"error":{"code":400,"message":"response_format type must be one of \"text\" or \"json_object\", but got: json_schema","type":"invalid_request_error"}}"#;
        assert!(matches!(
            classify(&failure(400, old_llama)),
            LlmError::SchemaUnsupported { status: 400, .. }
        ));
        let mut f = failure(400, old_llama);
        f.sent_json_schema = false;
        assert!(matches!(classify(&f), LlmError::Http { status: 400, .. }));
        assert!(!rejects_json_schema(500, "internal error"));
    }

    #[test]
    fn key_is_redacted() {
        assert_eq!(
            redact("bad key sk-123456", Some("sk-123456")),
            "bad key [redacted]"
        );
        assert_eq!(redact("abc", Some("a")), "abc");
        let mut f = failure(
            401,
            r#"{"error":{"message":"Incorrect API key: sk-123456"}}"#,
        );
        f.api_key = Some("sk-123456");
        assert!(!classify(&f).to_string().contains("sk-123456"));
    }
}
