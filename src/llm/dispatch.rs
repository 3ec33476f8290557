//! One live chat call through the pool ([`super::pool`]): a slot on the least loaded host, the
//! request in that host's API, and what a failure means for the host and for the call.
//!
//! - busy (429/502/503/504, a reset before the answer): the host backs off (its `Retry-After`,
//!   else a jittered exponential delay) and the call goes to another host, or waits for one,
//!   for at most the retry budget ([`super::retry`]);
//! - refused connection: the host is taken out and the call goes elsewhere; with no host left,
//!   the error ends the call (a single Ollama that is not running: exit 3, as always);
//! - idle timeout: retried once on another host, when there is one (the server may still be
//!   generating the first answer: a second retry could double the load for nothing);
//! - an OpenAI-compatible server that refuses `response_format: json_schema`: from then on that
//!   host gets `json_object` (said once, [`super::Llm::notices`]); our own validation of the
//!   answer stays the same whatever the server claims;
//! - other server errors: a few retries ([`super::retry::Policy::max_attempts`]).

use std::time::Instant;

use reqwest::Method;
use serde_json::Value;

use super::openai::{self, SchemaMode};
use super::pool::Host;
use super::retry::Retry;
use super::{Api, ChatRequest, ChatResponse, Llm, LlmError};

impl Llm {
    /// The live answer to `req` (`body` is its Ollama `/api/chat` body) and the number of
    /// retries it took. Errors: the last error, once the rules above give up.
    pub(super) async fn chat_live(
        &self,
        req: &ChatRequest,
        body: &Value,
    ) -> Result<(ChatResponse, u32), LlmError> {
        use std::sync::atomic::Ordering::Relaxed;
        let started = Instant::now();
        let mut attempt = 1u32;
        let mut timeouts = 0;
        loop {
            let slot = self.pool.acquire().await?;
            let host = slot.host();
            self.counters.requests.fetch_add(1, Relaxed);
            self.counters.chat_requests.fetch_add(1, Relaxed);
            host.count_request();
            let result = match host.api {
                Api::Ollama => self.ollama_chat_once(host, req, body).await,
                Api::OpenAi => self.openai_chat_once(host, req).await,
                Api::Embedded => self.embedded_chat_once(req).await,
            };
            let (err, retry) = match result {
                Ok(answer) => {
                    host.count_answer(&answer);
                    return Ok((answer, attempt - 1));
                }
                Err(e) => e,
            };
            let index = slot.index();
            let only_host = self.pool.hosts.len() == 1;
            let delay = match (&err, retry) {
                (LlmError::SchemaUnsupported { url, .. }, _) => {
                    if host.fall_back_to_json_object() {
                        self.notice(format!(
                            "{url} does not take response_format json_schema; json_object was sent instead (the answers are still checked against the schema here)"
                        ));
                        Some(std::time::Duration::ZERO)
                    } else {
                        None
                    }
                }
                (LlmError::Unreachable { .. }, _) if !only_host => {
                    host.take_out();
                    (!self.pool.is_last_up(index)).then_some(std::time::Duration::ZERO)
                }
                (_, Retry::Timeout) => {
                    // With one server a retry would only wait as long again.
                    timeouts += 1;
                    host.count_failure();
                    (timeouts == 1 && !only_host && !self.pool.is_last_up(index))
                        .then_some(std::time::Duration::ZERO)
                }
                (_, Retry::Busy(_)) => {
                    let d = self
                        .retry
                        .next_delay(retry, attempt, started, fastrand::f64());
                    if let Some(d) = d {
                        host.back_off(d);
                    }
                    // The pool waits for this host's back-off to end (or uses another host).
                    d.map(|_| std::time::Duration::ZERO)
                }
                (_, Retry::Limited) => {
                    host.count_failure();
                    self.retry
                        .next_delay(retry, attempt, started, fastrand::f64())
                }
                (_, Retry::No) => None,
            };
            drop(slot);
            let Some(delay) = delay else {
                return Err(err);
            };
            self.counters.retries.fetch_add(1, Relaxed);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            attempt += 1;
        }
    }

    /// One `/api/chat` request to an Ollama host, its answer read whole.
    async fn ollama_chat_once(
        &self,
        host: &Host,
        req: &ChatRequest,
        body: &Value,
    ) -> Result<ChatResponse, (LlmError, Retry)> {
        let url = format!("{}api/chat", host.base);
        let resp = self
            .send_once(
                Method::POST,
                &url,
                Some(body),
                &req.model,
                Some(req.options.num_ctx),
            )
            .await?;
        self.read_answer(resp, &url).await.map_err(|e| {
            let retry = if is_idle_timeout(&e) {
                Retry::Timeout
            } else {
                Retry::No
            };
            (e, retry)
        })
    }

    /// One chat-completions request to an OpenAI-compatible host ([`openai::chat`]).
    async fn openai_chat_once(
        &self,
        host: &Host,
        req: &ChatRequest,
    ) -> Result<ChatResponse, (LlmError, Retry)> {
        let mode = if host.json_object() {
            SchemaMode::JsonObject
        } else {
            SchemaMode::JsonSchema
        };
        openai::chat(
            &self.client,
            &host.base,
            self.api_key.as_deref(),
            req,
            mode,
            self.idle,
        )
        .await
        .map_err(|e| {
            let retry = match &e {
                LlmError::Busy { retry_after, .. } => Retry::Busy(*retry_after),
                LlmError::Http { status, .. } if *status >= 500 => Retry::Limited,
                e if is_idle_timeout(e) => Retry::Timeout,
                _ => Retry::No,
            };
            (e, retry)
        })
    }
}

impl Llm {
    /// One request to the in-process engine; its errors are never retried (the same request
    /// would fail the same way).
    #[cfg(feature = "embedded")]
    async fn embedded_chat_once(
        &self,
        req: &ChatRequest,
    ) -> Result<ChatResponse, (LlmError, Retry)> {
        match &self.embedded {
            Some(worker) => worker.chat(req).await.map_err(|e| (e, Retry::No)),
            None => Err((no_engine(), Retry::No)),
        }
    }

    /// Without the `embedded` feature there is no such host.
    #[cfg(not(feature = "embedded"))]
    async fn embedded_chat_once(
        &self,
        _req: &ChatRequest,
    ) -> Result<ChatResponse, (LlmError, Retry)> {
        Err((no_engine(), Retry::No))
    }
}

/// The error of an embedded host without an engine (not reachable through [`Llm::new`]).
pub(super) fn no_engine() -> LlmError {
    LlmError::Engine {
        detail: "this build has no embedded engine (cargo feature `embedded`)".into(),
    }
}

/// True for the error of an idle timeout ([`Llm::idle_error`] and the OpenAI client's own).
fn is_idle_timeout(e: &LlmError) -> bool {
    matches!(e, LlmError::Stream(s) if s.starts_with("no data for"))
}
