//! The counters of one [`Llm`](super::Llm) client: calls, retries, requests, tokens and model time, summed
//! over its calls ([`Llm::stats`](super::Llm::stats)).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::ChatResponse;

/// Totals over the calls of one [`Llm`](super::Llm), from [`Llm::stats`](super::Llm::stats).
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
    /// Retries made (an attempt after a broken connection, a busy answer or an HTTP 5xx),
    /// over all calls.
    pub retries: u64,
    /// HTTP requests sent to the server, every attempt counted (chat, show, tags, version).
    pub requests: u64,
    /// Of those, requests to the chat endpoint: what the server was asked to generate,
    /// retries included.
    pub chat_requests: u64,
    /// Sum of `prompt_eval_count` (tokens) over the answers that carried it.
    pub prompt_eval_count: u64,
    /// Sum of `eval_count` (tokens generated) over the answers that carried it.
    pub eval_count: u64,
    /// Sum of `total_duration` in nanoseconds (the server's time, not wall-clock time of this
    /// process; replayed answers count their recorded time).
    pub model_time_ns: u64,
}

/// The live counters behind [`CallStats`], shared by the calls of one [`Llm`](super::Llm).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) calls: AtomicU64,
    pub(super) replayed: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) chat_requests: AtomicU64,
    pub(super) prompt_eval_count: AtomicU64,
    pub(super) eval_count: AtomicU64,
    pub(super) model_time_ns: AtomicU64,
}

impl Counters {
    /// Counts one whole answer: a call, its tokens and its model time.
    pub(super) fn add(&self, answer: &ChatResponse) {
        self.calls.fetch_add(1, Relaxed);
        self.prompt_eval_count
            .fetch_add(answer.prompt_eval_count.unwrap_or(0), Relaxed);
        self.eval_count
            .fetch_add(answer.eval_count.unwrap_or(0), Relaxed);
        self.model_time_ns
            .fetch_add(answer.total_duration.unwrap_or(0), Relaxed);
    }

    /// The totals so far.
    pub(super) fn snapshot(&self) -> CallStats {
        CallStats {
            calls: self.calls.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            cache_hits: self.cache_hits.load(Relaxed),
            retries: self.retries.load(Relaxed),
            requests: self.requests.load(Relaxed),
            chat_requests: self.chat_requests.load(Relaxed),
            prompt_eval_count: self.prompt_eval_count.load(Relaxed),
            eval_count: self.eval_count.load(Relaxed),
            model_time_ns: self.model_time_ns.load(Relaxed),
        }
    }
}
