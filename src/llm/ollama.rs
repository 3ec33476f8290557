//! Ollama's native HTTP API: `/api/chat` (streamed NDJSON), `/api/show`, `/api/tags`,
//! `/api/version`, `/api/pull`, with the connect/idle timeouts, retries and status mapping the
//! module docs of [`super`] describe.

use std::sync::atomic::Ordering::Relaxed;

use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::error::{causes, error_text, mentions_context};
use super::retry::{self, Retry};
use super::{ndjson, openai, record, Api, ChatResponse, Llm, LlmError, PullProgress};

impl Llm {
    /// The digest of `model`, for the answer cache key, from the first server: Ollama's
    /// `GET /api/tags` (the name as given, or with `:latest` added when it has no tag); for an
    /// OpenAI-compatible server, which has no digest, `openai:<model>` when `/models` lists it
    /// (a model redeployed under the same name there keeps its cached answers: `takeaways
    /// cache clear` after changing it). `Ok(None)` when the model is not listed or has no
    /// digest. A pool is taken to serve one model everywhere: the cache key is the first
    /// server's, so no chunk is computed twice whichever host answers.
    ///
    /// Errors: as [`Llm::chat`] for the connection and the status. Replay: `Ok(None)`.
    pub async fn model_digest(&self, model: &str) -> Result<Option<String>, LlmError> {
        if self.replay.is_some() {
            return Ok(None);
        }
        let host = &self.pool.hosts[0];
        match host.api {
            Api::Ollama => {
                let tags = self.get_json(&host.base, "api/tags", model).await?;
                Ok(digest_in_tags(&tags, model))
            }
            Api::OpenAi => Ok(self
                .openai_models(&host.base)
                .await?
                .iter()
                .any(|m| same_model(m, model))
                .then(|| format!("openai:{model}"))),
            Api::Embedded => self.embedded_digest(),
        }
    }

    /// The first server's version: Ollama's `GET /api/version` → `version`; for an
    /// OpenAI-compatible server, `OpenAI-compatible, N models` from `/models`.
    ///
    /// Errors: as [`Llm::chat`]; an answer without a `version` string → [`LlmError::Stream`].
    pub async fn version(&self) -> Result<String, LlmError> {
        self.version_of(0).await
    }

    /// [`Llm::version`] of host `index` of the pool (in `--host` order).
    pub async fn version_of(&self, index: usize) -> Result<String, LlmError> {
        let host = &self.pool.hosts[index];
        match host.api {
            Api::Ollama => {
                let url = format!("{}api/version", host.base);
                let v = self.get_json(&host.base, "api/version", "").await?;
                v.get("version")
                    .and_then(Value::as_str)
                    .map(|v| format!("Ollama {v}"))
                    .ok_or_else(|| {
                        LlmError::Stream(format!("no version in the answer of {url}: {v}"))
                    })
            }
            Api::OpenAi => {
                let models = self.openai_models(&host.base).await?;
                Ok(format!(
                    "OpenAI-compatible, {} model{} ({})",
                    models.len(),
                    if models.len() == 1 { "" } else { "s" },
                    crate::text::shorten(&models.join(", "), 120)
                ))
            }
            Api::Embedded => self.embedded_version(),
        }
    }

    /// The base URL and API of every host, in `--host` order.
    pub fn hosts(&self) -> Vec<(String, Api)> {
        self.pool
            .hosts
            .iter()
            .map(|h| (h.base.clone(), h.api))
            .collect()
    }

    async fn get_json(&self, base: &str, path: &str, model: &str) -> Result<Value, LlmError> {
        let url = format!("{base}{path}");
        let (resp, _) = self.send(Method::GET, &url, None, model, None).await?;
        self.read_json(&url, resp).await
    }

    /// The model ids an OpenAI-compatible server lists (`GET {base}models`).
    async fn openai_models(&self, base: &str) -> Result<Vec<String>, LlmError> {
        openai::list_models(&self.client, base, self.api_key.as_deref(), self.idle).await
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

    /// The model's maximum context in tokens, the smallest over the pool's servers that say:
    /// Ollama's `/api/show` → `model_info["<arch>.context_length"]` with `<arch>` =
    /// `model_info["general.architecture"]` (docs/ARCHITECTURE.md, Ollama fact 4); an
    /// OpenAI-compatible server's `/models` entry `max_model_len` (vLLM) when it has one.
    /// `Ok(None)` when no server says.
    ///
    /// Errors: 404 → [`LlmError::ModelNotFound`]; otherwise as [`Llm::chat`]. Replay: answered
    /// from `show-<model>.json` in the recording directory ([`LlmError::NotRecorded`] when
    /// missing); record: that file is written.
    pub async fn model_context_length(&self, model: &str) -> Result<Option<u32>, LlmError> {
        if let Some(dir) = &self.replay {
            return record::read_show(dir, model);
        }
        let mut least: Option<u32> = None;
        let mut reached = 0;
        for (i, host) in self.pool.hosts.iter().enumerate() {
            let n = match self.context_length_on(host, model).await {
                Ok(n) => n,
                // In a pool, a server that does not answer is taken out; the others go on.
                Err(LlmError::Unreachable { .. }) if self.pool.hosts.len() > 1 => {
                    host.take_out();
                    if i + 1 == self.pool.hosts.len() && reached == 0 {
                        return Err(LlmError::Unreachable {
                            url: self.pool.hosts[0].base.clone(),
                            detail: "no server of the pool answers".into(),
                        });
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            reached += 1;
            if let Some(n) = n {
                least = Some(least.map_or(n, |l| l.min(n)));
            }
        }
        if let Some(dir) = &self.record {
            record::write_show(dir, model, least)?;
        }
        Ok(least)
    }

    /// The context length one host reports (see [`Llm::model_context_length`]).
    async fn context_length_on(
        &self,
        host: &super::pool::Host,
        model: &str,
    ) -> Result<Option<u32>, LlmError> {
        Ok({
            match host.api {
                Api::Ollama => {
                    let url = format!("{}api/show", host.base);
                    let resp = self
                        .post(&url, &serde_json::json!({ "model": model }), model, None)
                        .await?;
                    let info: ollama_rs::models::ModelInfo = self.read_json(&url, resp).await?;
                    context_length_of(&info.model_info)
                }
                Api::OpenAi => {
                    self.check_openai_model(&host.base, model).await?;
                    let v = self.get_json(&host.base, "models", model).await.ok();
                    v.as_ref()
                        .and_then(|v| v.get("data")?.as_array().cloned())
                        .and_then(|d| {
                            d.iter()
                                .find(|m| {
                                    m.get("id")
                                        .and_then(Value::as_str)
                                        .is_some_and(|id| same_model(id, model))
                                })
                                .and_then(|m| m.get("max_model_len")?.as_u64())
                        })
                        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                }
                Api::Embedded => self.embedded_context_length()?,
            }
        })
    }

    /// True when no server is Ollama: OpenAI-compatible servers refuse an over-long prompt
    /// (HTTP 400) and the embedded engine before decoding, instead of cutting it silently as
    /// Ollama does, so a guessed context size costs at most a re-split, never a wrong summary.
    pub fn refuses_overlong_prompts(&self) -> bool {
        self.pool.hosts.iter().all(|h| h.api != Api::Ollama)
    }

    /// Cheap check that `model` exists on every server (Ollama: POST `/api/show`;
    /// OpenAI-compatible: `/models` lists it).
    ///
    /// Errors: [`LlmError::ModelNotFound`] naming the first server without it,
    /// [`LlmError::Unreachable`], or as [`Llm::chat`]. Replay: always `Ok(())` (no server is
    /// needed).
    pub async fn check_model(&self, model: &str) -> Result<(), LlmError> {
        if self.replay.is_some() {
            return Ok(());
        }
        for host in &self.pool.hosts {
            let checked = match host.api {
                Api::Ollama => {
                    let url = format!("{}api/show", host.base);
                    self.post(&url, &serde_json::json!({ "model": model }), model, None)
                        .await
                        .map(drop)
                }
                Api::OpenAi => self.check_openai_model(&host.base, model).await,
                // The model is this host: it was loaded before the client was made.
                Api::Embedded => Ok(()),
            };
            match checked {
                Ok(()) => {}
                // In a pool, a server that does not answer is taken out; the others go on.
                Err(LlmError::Unreachable { .. }) if self.pool.hosts.len() > 1 => {
                    host.take_out();
                }
                Err(e) => return Err(e),
            }
        }
        if self.pool.hosts.len() > 1 && self.pool.is_last_up(usize::MAX) {
            return Err(LlmError::Unreachable {
                url: self.pool.hosts[0].base.clone(),
                detail: "no server of the pool answers".into(),
            });
        }
        Ok(())
    }

    async fn check_openai_model(&self, base: &str, model: &str) -> Result<(), LlmError> {
        let models = self.openai_models(base).await?;
        if models.iter().any(|m| same_model(m, model)) {
            Ok(())
        } else {
            Err(LlmError::ModelNotFound {
                model: model.to_owned(),
                url: base.to_owned(),
            })
        }
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
        for (host, ollama) in self.pool.hosts.iter().zip(&self.ollamas) {
            if let Some(ollama) = ollama {
                self.pull_on(&host.base, ollama, model, &mut progress)
                    .await?;
            }
        }
        Ok(())
    }

    async fn pull_on(
        &self,
        base: &str,
        ollama: &ollama_rs::Ollama,
        model: &str,
        progress: &mut impl FnMut(PullProgress),
    ) -> Result<(), LlmError> {
        let url = format!("{base}api/pull");
        let mut stream =
            tokio::time::timeout(self.idle, ollama.pull_model_stream(model.to_owned(), false))
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
    pub(super) async fn send_once(
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
            Err(_) => return Err((self.idle_error(url), Retry::Timeout)),
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
                url: url
                    .find("api/")
                    .map_or_else(|| url.to_owned(), |i| url[..i].to_owned()),
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

    pub(super) fn idle_error(&self, url: &str) -> LlmError {
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

/// Whether a server's model id names `model`: the same, or the same with `:latest` added to a
/// name without a tag.
fn same_model(id: &str, model: &str) -> bool {
    id == model || (!model.contains(':') && id == format!("{model}:latest"))
}
