//! Ollama's native HTTP API: `/api/chat` (streamed NDJSON), `/api/show`, `/api/tags`,
//! `/api/version`, `/api/pull`, with the connect/idle timeouts, retries and status mapping the
//! module docs of [`super`] describe.

use std::sync::atomic::Ordering::Relaxed;

use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::error::{causes, error_text, mentions_context};
use super::retry::{self, Retry};
use super::{ndjson, record, ChatResponse, Llm, LlmError, PullProgress};

impl Llm {
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
    /// with `<arch>` = `model_info["general.architecture"]` (docs/ARCHITECTURE.md, Ollama fact 4). `Ok(None)` when
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
    /// of retries it took, retrying per the client's [`retry::Policy`] (busy servers with
    /// backoff and full jitter for the time budget, other server errors a few times).
    pub(super) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        model: &str,
        num_ctx: Option<u32>,
    ) -> Result<(reqwest::Response, u32), LlmError> {
        let started = std::time::Instant::now();
        let mut attempt = 1u32;
        loop {
            self.counters.requests.fetch_add(1, Relaxed);
            if num_ctx.is_some() {
                self.counters.chat_requests.fetch_add(1, Relaxed);
            }
            match self
                .send_once(method.clone(), url, body, model, num_ctx)
                .await
            {
                Ok(resp) => return Ok((resp, attempt - 1)),
                Err((err, retry)) => {
                    let Some(delay) =
                        self.retry
                            .next_delay(retry, attempt, started, fastrand::f64())
                    else {
                        return Err(err);
                    };
                    self.counters.retries.fetch_add(1, Relaxed);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt; the error comes with how it may be retried.
    async fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        model: &str,
        num_ctx: Option<u32>,
    ) -> Result<reqwest::Response, (LlmError, Retry)> {
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let send = request.send();
        let resp = match tokio::time::timeout(self.idle, send).await {
            Err(_) => return Err((self.idle_error(url), Retry::No)),
            Ok(Err(e)) if e.is_connect() || e.is_builder() => {
                let detail = causes(&e);
                return Err((
                    LlmError::Unreachable {
                        url: url.to_owned(),
                        detail,
                    },
                    Retry::No,
                ));
            }
            Ok(Err(e)) => {
                let msg = format!(
                    "the connection to {url} broke before an answer: {}",
                    causes(&e)
                );
                // A reset before the answer: the server shed load; waiting helps.
                return Err((LlmError::Stream(msg), Retry::Busy(None)));
            }
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let after = retry::retry_after(resp.headers());
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
            (code @ (429 | 502 | 503 | 504), _) => LlmError::Busy {
                url: url.to_owned(),
                status: code,
                retry_after: after,
                body: msg,
            },
            (code, _) => LlmError::Http {
                url: url.to_owned(),
                status: code,
                body: msg,
            },
        };
        let retry = match &err {
            LlmError::Busy { retry_after, .. } => Retry::Busy(*retry_after),
            _ if status.is_server_error() => Retry::Limited,
            _ => Retry::No,
        };
        Err((err, retry))
    }

    /// Reads the NDJSON answer (see [`ndjson`]), with the idle timeout on every read.
    pub(super) async fn read_answer(
        &self,
        resp: reqwest::Response,
        url: &str,
    ) -> Result<ChatResponse, LlmError> {
        let mut stream = resp.bytes_stream();
        let mut reader = ndjson::Reader::default();
        while let Some(chunk) = tokio::time::timeout(self.idle, stream.next())
            .await
            .map_err(|_| self.idle_error(url))?
        {
            let chunk = chunk.map_err(|e| {
                LlmError::Stream(format!("{} ({})", ndjson::CLOSED_EARLY, causes(&e)))
            })?;
            if let Some(done) = reader.push(&chunk)? {
                return Ok(done);
            }
        }
        reader.finish()
    }

    fn idle_error(&self, url: &str) -> LlmError {
        LlmError::Stream(format!(
            "no data for {} s from {url}; the server is stuck or the model is still loading \
             (a longer idle timeout helps on a slow machine)",
            self.idle.as_secs_f64()
        ))
    }
}

/// The `digest` of `model` in an `/api/tags` answer (`{"models": [{"name", "model", "digest"}]}`),
/// matching `name` or `model` exactly, or with `:latest` added to a name without a tag.
pub(crate) fn digest_in_tags(tags: &Value, model: &str) -> Option<String> {
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
