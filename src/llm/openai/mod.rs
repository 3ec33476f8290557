//! A client for OpenAI-compatible chat-completions servers: vLLM, SGLang, llama.cpp's
//! `llama-server`, llama-cpp-python's server, TGI, LiteLLM and other routers, Ollama's `/v1`.
//!
//! One call is one attempt: no retries here (a pool of hosts above decides where to retry). The
//! pieces:
//!
//! - [`chat_completions_body`]: the JSON POSTed to `{base}/chat/completions`;
//! - [`chat`]: sends it with `stream: true`, reads the server-sent events byte-buffered
//!   (`sse.rs`), with an idle timeout on the response head and on every read, and maps every
//!   failure to an [`LlmError`] from the engine's own error text (`errors.rs`);
//! - [`list_models`]: `GET {base}/models`;
//! - [`infer_api`]: which API a `--host` URL means.
//!
//! What differs from Ollama's `/api/chat` (DESIGN.md "Facts about the other engines"):
//!
//! - **No `num_ctx`.** The OpenAI API has no context-size field; the server's own setting
//!   (`--max-model-len`, `-c`, `--n_ctx`, `--context-length`) applies. Most of these servers
//!   refuse a prompt that does not fit (→ [`LlmError::ContextExceeded`]) instead of cutting it;
//!   Ollama's `/v1` cuts silently as on `/api/chat`, so the caller's truncation check is still
//!   needed there.
//! - **Token counts** come from `usage` (`stream_options.include_usage`); llama-cpp-python sends
//!   no `usage` in a stream at all (`llama_cpp/llama_chat_format.py`
//!   `_convert_text_completion_chunks_to_chat` builds chunks without it), so its counts are
//!   `None`.
//! - **Structured output** goes in `response_format` ([`SchemaMode`]); servers differ in which
//!   shape they take and whether they enforce it, so the answer must always be validated by the
//!   caller.

mod errors;
mod sse;

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::error::causes;
use super::{ndjson::CLOSED_EARLY, wire::f32_to_json, ChatRequest, ChatResponse, LlmError};
use errors::{classify, redact, Failure};
use sse::{Completion, Fault, SseParser, Step};

/// The `name` sent with a `json_schema` response format (OpenAI requires one; servers ignore it).
pub const SCHEMA_NAME: &str = "takeaways";

/// How a JSON schema ([`ChatRequest::format`]) is put into `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    /// OpenAI's shape, `{"type": "json_schema", "json_schema": {"name": "takeaways", "schema":
    /// …, "strict": true}}`: vLLM, SGLang, llama-server (it reads `json_schema.schema`,
    /// `tools/server/server-common.cpp` `oaicompat_chat_params_parse`), Ollama `/v1`, LiteLLM.
    JsonSchema,
    /// `{"type": "json_object", "schema": …}`: what llama-cpp-python takes (its
    /// `ChatCompletionRequestResponseFormat` has only `text`/`json_object` plus `schema`,
    /// `llama_cpp/llama_types.py`, turned into a grammar by `llama_chat_format.py`
    /// `_grammar_for_response_format`) and what llama-server also reads. The fallback after
    /// [`LlmError::SchemaUnsupported`].
    JsonObject,
    /// TGI's shape, `{"type": "json_schema", "value": {"name": "takeaways", "schema": …}}`: its
    /// `GrammarType` is `#[serde(tag = "type", content = "value")]` (`router/src/lib.rs`), so the
    /// OpenAI shape fails there with 422 "missing field `value`".
    TgiValue,
}

/// Which HTTP API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Ollama's native `/api/chat`.
    Ollama,
    /// OpenAI chat completions under a `/v1` base.
    OpenAi,
    /// No server: llama.cpp inside this process (`--engine embedded`, [`super::embedded`]).
    /// Never inferred from a URL.
    Embedded,
}

/// The body POSTed to `{base}/chat/completions`.
///
/// ```json
/// {
///   "model": "qwen2.5-coder:0.5b",
///   "messages": [{"role": "system", "content": "…"}, {"role": "user", "content": "…"}],
///   "stream": true,
///   "stream_options": {"include_usage": true},
///   "max_tokens": 1024,
///   "temperature": 0.0,
///   "seed": 42,
///   "repeat_penalty": 1.1,
///   "repetition_penalty": 1.1,
///   "response_format": {"type": "json_schema", "json_schema": {"name": "takeaways", "schema": {…}, "strict": true}}
/// }
/// ```
///
/// - `max_tokens` = [`Options::num_predict`](super::Options::num_predict), only when it is
///   above 0 (Ollama's −1 "no limit" has no OpenAI spelling but leaving the field out);
/// - `temperature` always (shortest decimal of the `f32`); `seed` only when set;
/// - **no `num_ctx`**: the OpenAI API has no such field (see the module docs);
/// - the repeat penalty, only when [`Options::repeat_penalty`](super::Options::repeat_penalty)
///   is set, under both names the engines use: `repeat_penalty` (llama-server, `server-task.cpp`
///   `params_from_json_cmpl`; llama-cpp-python, whose default is **1.1** when absent,
///   `llama_cpp/server/types.py`) and `repetition_penalty` (vLLM's and SGLang's sampling
///   extension). Each server ignores the name it does not know: vLLM's `OpenAIBaseModel` is
///   `extra="allow"` (logs and ignores), SGLang's and llama-cpp-python's pydantic models ignore
///   extras, llama-server and TGI (serde without `deny_unknown_fields`) read only their fields.
///   OpenAI's own API rejects unknown arguments with 400, so a caller pointed at a strict
///   service must leave the penalty unset;
/// - `response_format` from [`ChatRequest::format`]: a schema object per `schema`
///   ([`SchemaMode`]); the string `"json"` → `{"type": "json_object"}` (TGI:
///   `{"type": "json_object", "value": {"type": "object"}}`); absent or any other value → no
///   `response_format`.
pub fn chat_completions_body(req: &ChatRequest, schema: SchemaMode) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), Value::String(req.model.clone()));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), Value::Bool(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if req.options.num_predict > 0 {
        body.insert("max_tokens".into(), json!(req.options.num_predict));
    }
    body.insert("temperature".into(), f32_to_json(req.options.temperature));
    if let Some(seed) = req.options.seed {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(p) = req.options.repeat_penalty {
        body.insert("repeat_penalty".into(), f32_to_json(p));
        body.insert("repetition_penalty".into(), f32_to_json(p));
    }
    let format = match (&req.format, schema) {
        (Some(s @ Value::Object(_)), SchemaMode::JsonSchema) => Some(json!({
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": s, "strict": true}
        })),
        (Some(s @ Value::Object(_)), SchemaMode::JsonObject) => {
            Some(json!({"type": "json_object", "schema": s}))
        }
        (Some(s @ Value::Object(_)), SchemaMode::TgiValue) => Some(json!({
            "type": "json_schema",
            "value": {"name": SCHEMA_NAME, "schema": s}
        })),
        (Some(Value::String(j)), SchemaMode::TgiValue) if j == "json" => {
            Some(json!({"type": "json_object", "value": {"type": "object"}}))
        }
        (Some(Value::String(j)), _) if j == "json" => Some(json!({"type": "json_object"})),
        _ => None,
    };
    if let Some(f) = format {
        body.insert("response_format".into(), f);
    }
    Value::Object(body)
}

/// One streamed chat completion: POST [`chat_completions_body`] to `{base}/chat/completions`
/// (`base` like `http://127.0.0.1:8000/v1`, with or without a trailing `/`) and read the whole
/// answer. One attempt, no retries.
///
/// - `api_key`: sent as `Authorization: Bearer <key>` (marked sensitive, so reqwest never
///   prints it); it is removed from every error text, and never logged.
/// - `idle`: the longest wait for the response head and between two reads of the body (no total
///   timeout: a CPU server can take minutes, DESIGN.md fact 8).
///
/// The answer ([`ChatResponse`]): `content` = the joined `choices[0].delta.content`;
/// `done_reason` = `finish_reason` as sent (`"stop"`, or `"length"` for an answer cut at
/// `max_tokens`: the caller must treat that as a cut answer); `prompt_eval_count` /
/// `eval_count` = `usage.prompt_tokens` / `usage.completion_tokens` (tokens; `None` when the
/// server sent no usage, as llama-cpp-python does); durations (ns) only from llama-server's
/// `timings`. The answer is complete once a `finish_reason` arrived and the stream then ended
/// (with `data: [DONE]` or by closing). A server that ignores `stream` and answers one
/// `application/json` `chat.completion` object is read too.
///
/// Errors (each rule and its source text are in `errors.rs`):
/// - [`LlmError::Unreachable`]: no TCP connection (refused, or none within reqwest's connect
///   timeout), or an API key that cannot be sent in a header;
/// - [`LlmError::Busy`]: HTTP 429 or 503, with `Retry-After` (seconds or an HTTP date) as a
///   delay;
/// - [`LlmError::ContextExceeded`]: the server refused the prompt as too long (vLLM, SGLang,
///   llama-server, llama-cpp-python, TGI wordings), as HTTP 4xx or as an error event inside the
///   stream; `num_ctx` is the server's stated context when it says one (llama-server `n_ctx`, the
///   number in the message), else [`Options::num_ctx`](super::Options::num_ctx). Also a 200
///   event stream that ends without a single byte: llama-cpp-python's only answer to an
///   over-long *streamed* prompt (measured, see `Context::empty_stream`);
/// - [`LlmError::SchemaUnsupported`]: the request carried a `json_schema` format and the server
///   said it does not take it (llama-cpp-python's 500): resend with [`SchemaMode::JsonObject`];
/// - [`LlmError::ModelNotFound`]: the server says the model does not exist (vLLM 404 "The model
///   `x` does not exist.", Ollama 404, LiteLLM 400);
/// - [`LlmError::Http`]: any other non-2xx status (401 for a wrong key, …) with its error text;
/// - [`LlmError::Stream`]: an error event inside a 200 stream (its text), an unreadable event,
///   `[DONE]` before any `finish_reason` (a cut answer: llama-cpp-python ends a stream that way
///   when another request interrupts it, `interrupt_requests` is on by default,
///   `llama_cpp/server/app.py` `get_event_publisher`), a stream that ended or broke before a
///   `finish_reason` ("connection closed before the answer was complete"), the idle timeout.
pub async fn chat(
    client: &reqwest::Client,
    base: &str,
    api_key: Option<&str>,
    req: &ChatRequest,
    schema: SchemaMode,
    idle: Duration,
) -> Result<ChatResponse, LlmError> {
    let url = endpoint(base, "chat/completions");
    let body = chat_completions_body(req, schema);
    let ctx = Context {
        url: &url,
        base,
        api_key,
        idle,
        model: Some(&req.model),
        num_ctx: req.options.num_ctx,
        sent_json_schema: schema != SchemaMode::JsonObject
            && req.format.as_ref().is_some_and(Value::is_object),
    };
    let resp = ctx.send(client, Method::POST, Some(&body)).await?;
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("application/json"));
    if is_json {
        let v: Value = ctx.read_json(resp).await?;
        let mut answer = Completion::default();
        answer
            .push_value(&v, &v.to_string())
            .map_err(|f| ctx.fault(f))?;
        if !answer.finished() {
            return Err(LlmError::Stream(format!(
                "the answer of {url} has no finish_reason"
            )));
        }
        return Ok(answer.into_response());
    }
    ctx.read_stream(resp).await
}

/// The model ids a server offers: `GET {base}/models` → `data[].id` (OpenAI's list shape; vLLM,
/// SGLang, llama-server, llama-cpp-python (its `--model_alias`), TGI, Ollama `/v1` all answer
/// it). Use it to check that a model exists: llama-cpp-python and llama-server (one model)
/// answer a chat for an unknown model name with their own model instead of an error.
///
/// Errors: as [`chat`] for the connection, the status ([`LlmError::Busy`], [`LlmError::Http`]; a
/// 404 here is an [`LlmError::Http`], not a missing model) and the idle timeout; an answer without
/// a `data` array → [`LlmError::Stream`].
pub async fn list_models(
    client: &reqwest::Client,
    base: &str,
    api_key: Option<&str>,
    idle: Duration,
) -> Result<Vec<String>, LlmError> {
    let url = endpoint(base, "models");
    let ctx = Context {
        url: &url,
        base,
        api_key,
        idle,
        model: None,
        num_ctx: 0,
        sent_json_schema: false,
    };
    let resp = ctx.send(client, Method::GET, None).await?;
    let v: Value = ctx.read_json(resp).await?;
    let data = v.get("data").and_then(Value::as_array).ok_or_else(|| {
        LlmError::Stream(format!(
            "no data[] in the answer of {url}: {}",
            crate::text::shorten(&redact(&v.to_string(), api_key), 200)
        ))
    })?;
    Ok(data
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

/// Which API a server URL means, when its path says so:
///
/// - a path ending in `/v1` or `/v1/` → [`Api::OpenAi`] (`http://gpu:8000/v1`; Ollama's own
///   OpenAI endpoint `http://127.0.0.1:11434/v1` too — it then has no `num_ctx`, see the module
///   docs);
/// - no path or `/` (`127.0.0.1:11434`, `http://box:11434/`) → [`Api::Ollama`], the tool's
///   default;
/// - anything else (`/api`, `/v1/chat/completions`, `/openai`, a router prefix) or an empty
///   string → `None`: ambiguous, the user must say which (`--api`).
///
/// The scheme is optional; a query or fragment is ignored.
pub fn infer_api(url: &str) -> Option<Api> {
    let s = url.trim();
    if s.is_empty() {
        return None;
    }
    let rest = s.split_once("://").map_or(s, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    if path.is_empty() || path == "/" {
        return Some(Api::Ollama);
    }
    if path.trim_end_matches('/').ends_with("/v1") {
        return Some(Api::OpenAi);
    }
    None
}

/// `{base}/{path}` with exactly one `/` between.
fn endpoint(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// What one call needs for sending and for its errors.
struct Context<'a> {
    url: &'a str,
    base: &'a str,
    api_key: Option<&'a str>,
    idle: Duration,
    model: Option<&'a str>,
    num_ctx: u32,
    sent_json_schema: bool,
}

impl Context<'_> {
    /// Sends the request; a 2xx response is returned, anything else is classified.
    async fn send(
        &self,
        client: &reqwest::Client,
        method: Method,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, LlmError> {
        let mut request = client.request(method, self.url);
        if let Some(key) = self.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                LlmError::Unreachable {
                    url: self.url.to_owned(),
                    detail: "the API key cannot be sent: it has characters an HTTP header \
                             cannot carry"
                        .into(),
                }
            })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let resp = match tokio::time::timeout(self.idle, request.send()).await {
            Err(_) => return Err(self.idle_error()),
            Ok(Err(e)) if e.is_connect() || e.is_builder() => {
                return Err(LlmError::Unreachable {
                    url: self.url.to_owned(),
                    detail: redact(&causes(&e), self.api_key),
                })
            }
            Ok(Err(e)) => {
                return Err(LlmError::Stream(format!(
                    "the connection to {} broke before an answer: {}",
                    self.url,
                    redact(&causes(&e), self.api_key)
                )))
            }
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = errors::retry_after(
            resp.headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            SystemTime::now(),
        );
        let text = match tokio::time::timeout(self.idle, resp.text()).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        Err(classify(&Failure {
            url: self.url,
            base: self.base,
            status: status.as_u16(),
            in_stream: false,
            body: &text,
            retry_after,
            model: self.model,
            num_ctx: self.num_ctx,
            sent_json_schema: self.sent_json_schema,
            api_key: self.api_key,
        }))
    }

    /// A whole JSON body, under the idle timeout.
    async fn read_json(&self, resp: reqwest::Response) -> Result<Value, LlmError> {
        let bytes = tokio::time::timeout(self.idle, resp.bytes())
            .await
            .map_err(|_| self.idle_error())?
            .map_err(|e| {
                LlmError::Stream(format!(
                    "reading the answer of {}: {}",
                    self.url,
                    redact(&causes(&e), self.api_key)
                ))
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LlmError::Stream(format!("unreadable answer from {}: {e}", self.url)))
    }

    /// Reads the event stream (see [`sse`]) with the idle timeout on every read.
    async fn read_stream(&self, resp: reqwest::Response) -> Result<ChatResponse, LlmError> {
        let mut stream = resp.bytes_stream();
        let mut parser = SseParser::default();
        let mut answer = Completion::default();
        let mut any_bytes = false;
        loop {
            let next = tokio::time::timeout(self.idle, stream.next())
                .await
                .map_err(|_| self.idle_error())?;
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                // A break after the finish_reason loses at most the usage chunk.
                Some(Err(_)) if answer.finished() => return Ok(answer.into_response()),
                Some(Err(e)) => {
                    return Err(LlmError::Stream(format!(
                        "{CLOSED_EARLY} ({})",
                        redact(&causes(&e), self.api_key)
                    )))
                }
            };
            any_bytes |= !chunk.is_empty();
            for ev in parser.push(&chunk) {
                if answer.push(&ev).map_err(|f| self.fault(f))? == Step::Done {
                    return self.done(answer);
                }
            }
        }
        if let Some(ev) = parser.finish() {
            if answer.push(&ev).map_err(|f| self.fault(f))? == Step::Done {
                return self.done(answer);
            }
        }
        if answer.finished() {
            return Ok(answer.into_response());
        }
        if !any_bytes {
            return Err(self.empty_stream());
        }
        Err(LlmError::Stream(CLOSED_EARLY.to_owned()))
    }

    /// A 200 event stream that ended cleanly without a single byte. Measured on
    /// llama-cpp-python 0.3.36: a prompt longer than its `n_ctx` gets exactly this (head, then
    /// the chunked end `0\r\n\r\n`), because the `ValueError("Requested tokens (N) exceed
    /// context window of M")` is raised inside the stream's generator after the head went out
    /// (`llama_cpp/llama.py` `_create_completion`, `server/app.py` `get_event_publisher`) and
    /// is only logged. Every other engine here reports the overflow in words, and
    /// llama-cpp-python itself streams a role chunk first whenever generation starts, so an
    /// empty stream is read as [`LlmError::ContextExceeded`] (the request's `num_ctx`, since
    /// the server states none).
    fn empty_stream(&self) -> LlmError {
        LlmError::ContextExceeded {
            num_ctx: self.num_ctx,
            detail: format!(
                "{} answered HTTP 200 with an empty event stream, which is how llama-cpp-python \
                 reports a prompt longer than its n_ctx (a non-streamed request gets its 400 \
                 context_length_exceeded)",
                self.url
            ),
        }
    }

    /// After `data: [DONE]`: the answer, if a `finish_reason` came before it.
    fn done(&self, answer: Completion) -> Result<ChatResponse, LlmError> {
        if answer.finished() {
            return Ok(answer.into_response());
        }
        Err(LlmError::Stream(format!(
            "{} ended the stream with [DONE] before any finish_reason: the answer was cut \
             (llama-cpp-python does this when another request interrupts it)",
            self.url
        )))
    }

    /// An event that stopped the stream, as an error: a server error event is classified like an
    /// HTTP error body (so a context overflow reported mid-stream is still
    /// [`LlmError::ContextExceeded`]); what would be a plain [`LlmError::Http`] becomes
    /// [`LlmError::Stream`] with the server's text.
    fn fault(&self, fault: Fault) -> LlmError {
        match fault {
            Fault::Unreadable(msg) => LlmError::Stream(redact(&msg, self.api_key)),
            Fault::Server {
                raw,
                status,
                message,
            } => match classify(&Failure {
                url: self.url,
                base: self.base,
                status,
                in_stream: true,
                body: &raw,
                retry_after: None,
                model: self.model,
                num_ctx: self.num_ctx,
                sent_json_schema: self.sent_json_schema,
                api_key: self.api_key,
            }) {
                LlmError::Http { .. } => LlmError::Stream(format!(
                    "{} reported an error in the answer: {}",
                    self.url,
                    redact(&message, self.api_key)
                )),
                other => other,
            },
        }
    }

    fn idle_error(&self) -> LlmError {
        LlmError::Stream(format!(
            "no data for {} s from {}; the server is stuck or the model is still loading \
             (a longer idle timeout helps on a slow machine)",
            self.idle.as_secs_f64(),
            self.url
        ))
    }
}

#[cfg(test)]
mod tests;
