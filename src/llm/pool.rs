//! The hosts a run sends its model calls to: one Ollama by default, or several servers (Ollama
//! or OpenAI-compatible: vLLM, SGLang, llama.cpp's `llama-server`, LiteLLM, a router) given
//! with `--host` more than once, each with its own limit of requests in flight (`URL#4`).
//!
//! Every model call of a run (every chunk of every document of a batch) takes a slot from this
//! pool first ([`Pool::acquire`]): the host with the fewest requests in flight under its limit,
//! skipping hosts that are backing off (they answered 429/503, with or without `Retry-After`)
//! and hosts taken out (they stopped answering). When every host is at its limit or backing
//! off, the call waits; it does not fail. So the pool's total limit bounds what the servers are
//! sent, whatever `batch --jobs` or the chunks of one writeup ask for.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::host::normalize_host;
use super::openai::{infer_api, Api};
use super::LlmError;

/// One `--host` value: `URL` or `URL#N` (at most N requests in flight on that host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// The address as given, without `#N`.
    pub url: String,
    /// The limit of requests in flight, when given with `#N`.
    pub parallel: Option<usize>,
}

impl HostSpec {
    /// Parses `URL` or `URL#N` (N from 1 to 256).
    ///
    /// Errors: a `#` not followed by a number in range (one line, for a usage error).
    pub fn parse(s: &str) -> Result<HostSpec, String> {
        match s.rsplit_once('#') {
            None => Ok(HostSpec {
                url: s.trim().to_string(),
                parallel: None,
            }),
            Some((url, n)) => match n.trim().parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => Ok(HostSpec {
                    url: url.trim().to_string(),
                    parallel: Some(n),
                }),
                _ => Err(format!(
                    "{s:?}: after # comes the number of requests the host takes at once (1 to 256), e.g. http://gpu1:8000/v1#4"
                )),
            },
        }
    }
}

/// The API a host speaks: `api` when given for all hosts, else inferred from the URL (a path
/// ending in `/v1` is OpenAI-compatible, no path is Ollama).
///
/// Errors: a URL whose path says neither (`http://router/llm`) without `api`.
pub fn api_of(url: &str, api: Option<Api>) -> Result<Api, String> {
    if url.trim().is_empty() {
        // Blank is the default server, Ollama's (`normalize_host`).
        return Ok(api.unwrap_or(Api::Ollama));
    }
    match (api, infer_api(url)) {
        (Some(a), _) => Ok(a),
        (None, Some(a)) => Ok(a),
        (None, None) => Err(format!(
            "{url}: cannot tell whether this is an Ollama or an OpenAI-compatible server from its path; pass --api ollama or --api openai"
        )),
    }
}

/// How a host is doing.
#[derive(Debug, Default)]
struct HostState {
    /// Answered busy: not used again before this.
    backoff_until: Option<Instant>,
    /// Stopped answering (refused or reset connections): taken out for the rest of the run.
    down: bool,
    /// An OpenAI-compatible server that refused `json_schema`: `json_object` is sent instead.
    json_object: bool,
}

/// Counters of one host ([`HostStats`]).
#[derive(Debug, Default)]
struct HostCounters {
    calls: AtomicU64,
    requests: AtomicU64,
    busy: AtomicU64,
    failures: AtomicU64,
    prompt_eval_count: AtomicU64,
    eval_count: AtomicU64,
    model_time_ns: AtomicU64,
    peak_in_flight: AtomicUsize,
}

/// One server of the pool.
#[derive(Debug)]
pub(crate) struct Host {
    /// The base URL (normalised, ends with `/`): Ollama's `…:11434/`, or an OpenAI base
    /// `…/v1/`.
    pub(crate) base: String,
    /// The API it speaks.
    pub(crate) api: Api,
    /// Requests it takes at once.
    pub(crate) parallel: usize,
    in_flight: AtomicUsize,
    state: Mutex<HostState>,
    counters: HostCounters,
}

impl Host {
    fn state(&self) -> std::sync::MutexGuard<'_, HostState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `json_object` is to be sent instead of `json_schema`.
    pub(crate) fn json_object(&self) -> bool {
        self.state().json_object
    }

    /// Sends `json_object` from now on; true the first time (so that it is said once).
    pub(crate) fn fall_back_to_json_object(&self) -> bool {
        !std::mem::replace(&mut self.state().json_object, true)
    }

    /// Counts one request sent to this host.
    pub(crate) fn count_request(&self) {
        self.counters.requests.fetch_add(1, Relaxed);
    }

    /// Counts a whole answer with its token counts and time.
    pub(crate) fn count_answer(&self, answer: &super::ChatResponse) {
        let c = &self.counters;
        c.calls.fetch_add(1, Relaxed);
        c.prompt_eval_count
            .fetch_add(answer.prompt_eval_count.unwrap_or(0), Relaxed);
        c.eval_count
            .fetch_add(answer.eval_count.unwrap_or(0), Relaxed);
        c.model_time_ns
            .fetch_add(answer.total_duration.unwrap_or(0), Relaxed);
    }

    /// The host answered busy: no request before `delay` from now.
    pub(crate) fn back_off(&self, delay: Duration) {
        self.counters.busy.fetch_add(1, Relaxed);
        let until = Instant::now() + delay;
        let mut st = self.state();
        if st.backoff_until.is_none_or(|t| t < until) {
            st.backoff_until = Some(until);
        }
    }

    /// The host stopped answering: taken out of the pool.
    pub(crate) fn take_out(&self) {
        self.counters.failures.fetch_add(1, Relaxed);
        self.state().down = true;
    }

    /// Counts a failed request (kept in the pool).
    pub(crate) fn count_failure(&self) {
        self.counters.failures.fetch_add(1, Relaxed);
    }
}

/// What one host did in a run, for `--stats` and `doctor`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HostStats {
    /// The base URL.
    pub url: String,
    /// `ollama` or `openai`.
    pub api: &'static str,
    /// Requests it takes at once.
    pub parallel: usize,
    /// Whole answers it gave.
    pub calls: u64,
    /// Requests it was sent, retries included.
    pub requests: u64,
    /// Busy answers (429/503): each made the pool back off from it for a while.
    pub busy: u64,
    /// Requests that failed otherwise (refused, reset, timed out, server errors).
    pub failures: u64,
    /// Most requests it had in flight at once.
    pub peak_in_flight: usize,
    /// Sum of `prompt_eval_count` (tokens).
    pub prompt_eval_count: u64,
    /// Sum of `eval_count` (tokens).
    pub eval_count: u64,
    /// Sum of the server's `total_duration` (seconds).
    pub model_seconds: f64,
    /// Taken out after it stopped answering.
    pub down: bool,
}

/// The hosts, and the signal that a slot was released.
#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) hosts: Vec<Host>,
    released: Notify,
}

/// A request slot on one host, held for the whole request (answer read included); released on
/// drop.
pub(crate) struct Slot<'a> {
    pool: &'a Pool,
    index: usize,
}

impl Slot<'_> {
    /// The host of this slot.
    pub(crate) fn host(&self) -> &Host {
        &self.pool.hosts[self.index]
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pool.hosts[self.index].in_flight.fetch_sub(1, Relaxed);
        self.pool.released.notify_waiters();
    }
}

impl Pool {
    /// A pool of `hosts` (`(spec, api)`), each taking `default_parallel` requests at once unless
    /// its spec says otherwise.
    pub(crate) fn new(hosts: Vec<(HostSpec, Api)>, default_parallel: usize) -> Pool {
        Pool {
            hosts: hosts
                .into_iter()
                .map(|(spec, api)| Host {
                    base: if api == Api::Embedded {
                        spec.url
                    } else {
                        normalize_host(&spec.url)
                    },
                    api,
                    parallel: spec.parallel.unwrap_or(default_parallel).max(1),
                    in_flight: AtomicUsize::new(0),
                    state: Mutex::new(HostState::default()),
                    counters: HostCounters::default(),
                })
                .collect(),
            released: Notify::new(),
        }
    }

    /// The most requests the pool sends at once: the sum of the hosts' limits.
    pub(crate) fn capacity(&self) -> usize {
        self.hosts.iter().map(|h| h.parallel).sum::<usize>().max(1)
    }

    /// A slot on the host with the fewest requests in flight under its limit (the first such
    /// host on a tie), skipping hosts backing off or taken out; waits while there is none.
    ///
    /// Errors: every host was taken out ([`LlmError::Unreachable`] naming the first).
    pub(crate) async fn acquire(&self) -> Result<Slot<'_>, LlmError> {
        loop {
            // Created before looking, so that a release in between still wakes us.
            let released = self.released.notified();
            let now = Instant::now();
            let mut any_up = false;
            let mut wake_at: Option<Instant> = None;
            let mut best: Option<(usize, usize)> = None;
            for (i, h) in self.hosts.iter().enumerate() {
                let st = h.state();
                if st.down {
                    continue;
                }
                any_up = true;
                if let Some(t) = st.backoff_until.filter(|t| *t > now) {
                    wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
                    continue;
                }
                let n = h.in_flight.load(Relaxed);
                if n < h.parallel && best.is_none_or(|(_, m)| n < m) {
                    best = Some((i, n));
                }
            }
            if !any_up {
                return Err(LlmError::Unreachable {
                    url: self.hosts[0].base.clone(),
                    detail: "every server of the pool stopped answering".into(),
                });
            }
            if let Some((i, _)) = best {
                let h = &self.hosts[i];
                let took = h
                    .in_flight
                    .fetch_update(Relaxed, Relaxed, |n| (n < h.parallel).then_some(n + 1));
                if let Ok(before) = took {
                    h.counters.peak_in_flight.fetch_max(before + 1, Relaxed);
                    return Ok(Slot {
                        pool: self,
                        index: i,
                    });
                }
                continue;
            }
            match wake_at {
                Some(t) => {
                    tokio::select! {
                        () = released => {}
                        () = tokio::time::sleep_until(t.into()) => {}
                    }
                }
                None => released.await,
            }
        }
    }

    /// True when no other host than `index` is still up: a failure there has nowhere to go.
    pub(crate) fn is_last_up(&self, index: usize) -> bool {
        !self
            .hosts
            .iter()
            .enumerate()
            .any(|(i, h)| i != index && !h.state().down)
    }

    /// The stats of every host, in `--host` order.
    pub(crate) fn stats(&self) -> Vec<HostStats> {
        self.hosts
            .iter()
            .map(|h| {
                let c = &h.counters;
                HostStats {
                    url: h.base.clone(),
                    api: match h.api {
                        Api::Ollama => "ollama",
                        Api::OpenAi => "openai",
                        Api::Embedded => "embedded",
                    },
                    parallel: h.parallel,
                    calls: c.calls.load(Relaxed),
                    requests: c.requests.load(Relaxed),
                    busy: c.busy.load(Relaxed),
                    failures: c.failures.load(Relaxed),
                    peak_in_flight: c.peak_in_flight.load(Relaxed),
                    prompt_eval_count: c.prompt_eval_count.load(Relaxed),
                    eval_count: c.eval_count.load(Relaxed),
                    model_seconds: c.model_time_ns.load(Relaxed) as f64 / 1e9,
                    down: h.state().down,
                }
            })
            .collect()
    }
}

impl Slot<'_> {
    /// The index of the slot's host in the pool.
    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(limits: &[usize]) -> Pool {
        Pool::new(
            limits
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        HostSpec {
                            url: format!("127.0.0.1:{}", 9000 + i),
                            parallel: Some(*n),
                        },
                        Api::Ollama,
                    )
                })
                .collect(),
            1,
        )
    }

    #[test]
    fn host_specs_parse() {
        assert_eq!(
            HostSpec::parse("http://gpu1:8000/v1#4").unwrap(),
            HostSpec {
                url: "http://gpu1:8000/v1".into(),
                parallel: Some(4)
            }
        );
        assert_eq!(HostSpec::parse("127.0.0.1:11434").unwrap().parallel, None);
        assert!(HostSpec::parse("box#0").is_err());
        assert!(HostSpec::parse("box#lots").is_err());
        assert_eq!(api_of("http://gpu:8000/v1", None), Ok(Api::OpenAi));
        assert_eq!(api_of("127.0.0.1:11434", None), Ok(Api::Ollama));
        assert!(api_of("http://router/llm", None).is_err());
        assert_eq!(
            api_of("http://router/llm", Some(Api::OpenAi)),
            Ok(Api::OpenAi)
        );
    }

    #[tokio::test]
    async fn slots_go_to_the_least_loaded_host_under_its_limit() {
        let p = pool(&[2, 1]);
        assert_eq!(p.capacity(), 3);
        let a = p.acquire().await.unwrap();
        let b = p.acquire().await.unwrap();
        let c = p.acquire().await.unwrap();
        let mut got = [a.index(), b.index(), c.index()];
        got.sort_unstable();
        assert_eq!(got, [0, 0, 1]);
        // All full: the next one waits until a slot is released.
        let waiting = tokio::time::timeout(Duration::from_millis(50), p.acquire()).await;
        assert!(waiting.is_err(), "a full pool waits");
        drop(b);
        let d = tokio::time::timeout(Duration::from_secs(1), p.acquire())
            .await
            .unwrap()
            .unwrap();
        drop((a, c, d));
    }

    #[tokio::test]
    async fn busy_hosts_are_skipped_and_dead_ones_taken_out() {
        let p = pool(&[1, 1]);
        p.hosts[0].back_off(Duration::from_secs(60));
        let a = p.acquire().await.unwrap();
        assert_eq!(a.index(), 1);
        drop(a);
        p.hosts[1].take_out();
        assert!(p.is_last_up(0) || p.hosts[0].state().down);
        // Host 0 is backing off and host 1 is down: the call waits for host 0.
        let waiting = tokio::time::timeout(Duration::from_millis(50), p.acquire()).await;
        assert!(waiting.is_err());
        p.hosts[0].take_out();
        assert!(matches!(
            p.acquire().await,
            Err(LlmError::Unreachable { .. })
        ));
    }
}
