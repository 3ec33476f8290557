//! The engine's own thread: the pool's concurrent calls ([`crate::llm::Llm`]) become jobs on a
//! channel, and one thread owns the KV cache and decodes every request it has together
//! (continuous batching, [`Embedded::run`]). A request that arrives while others are decoding
//! joins them at the next decode step when a sequence slot is free.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

use super::batch::{Feed, Prepared};
use super::{engine, Embedded};
use crate::llm::{ChatRequest, ChatResponse, LlmError};

type Answer = Result<ChatResponse, LlmError>;

/// One request waiting for the engine thread.
struct Job {
    req: ChatRequest,
    queued: Instant,
    reply: oneshot::Sender<Answer>,
}

/// A loaded [`Embedded`] engine served by its own thread. Dropping the last handle ends the
/// thread once it has answered what it was given.
pub struct Worker {
    engine: Arc<Embedded>,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Starts the thread that serves `engine`.
    ///
    /// Errors: [`LlmError::Engine`] when the thread cannot be started.
    pub fn start(engine: Embedded) -> Result<Worker, LlmError> {
        let engine = Arc::new(engine);
        let (jobs, rx) = mpsc::channel();
        let served = Arc::clone(&engine);
        std::thread::Builder::new()
            .name("llama.cpp".into())
            .spawn(move || serve(&served, &rx))
            .map_err(|e| self::engine(format!("cannot start the engine thread: {e}")))?;
        Ok(Worker { engine, jobs })
    }

    /// The engine (file, architecture, counters).
    pub fn engine(&self) -> &Embedded {
        &self.engine
    }

    /// Answers `req` as [`Embedded::chat`] does, decoded together with the other requests in
    /// flight; `total_duration` counts from this call (waiting for a free sequence included).
    pub async fn chat(&self, req: &ChatRequest) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                req: req.clone(),
                queued: Instant::now(),
                reply,
            })
            .map_err(|_| engine("the engine thread has stopped"))?;
        answer
            .await
            .unwrap_or_else(|_| Err(engine("the engine thread stopped before answering")))
    }
}

/// Requests taken off the channel, prepared, waiting to be admitted.
struct ChannelFeed<'a> {
    rx: &'a mpsc::Receiver<Job>,
    queue: VecDeque<Prepared>,
    replies: HashMap<usize, oneshot::Sender<Answer>>,
    next_id: usize,
}

impl ChannelFeed<'_> {
    fn take(&mut self, eng: &Embedded, job: Job) {
        let id = self.next_id;
        self.next_id += 1;
        match eng.prepare(id, &job.req, job.queued) {
            Ok(p) => {
                self.replies.insert(id, job.reply);
                self.queue.push_back(p);
            }
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }

    fn drain(&mut self, eng: &Embedded) {
        while let Ok(job) = self.rx.try_recv() {
            self.take(eng, job);
        }
    }
}

impl Feed for ChannelFeed<'_> {
    fn next(&mut self, eng: &Embedded, num_ctx: u32) -> Option<Prepared> {
        self.drain(eng);
        let i = self.queue.iter().position(|p| p.num_ctx == num_ctx)?;
        self.queue.remove(i)
    }

    fn deliver(&mut self, idx: usize, result: Answer) {
        if let Some(reply) = self.replies.remove(&idx) {
            // The caller may have gone (an interrupted run): nothing to tell then.
            let _ = reply.send(result);
        }
    }
}

/// The thread's loop: wait for a request, then decode until nothing is left, one `num_ctx` at
/// a time (the pipeline uses one per run, Ollama fact 3).
fn serve(eng: &Embedded, rx: &mpsc::Receiver<Job>) {
    let mut feed = ChannelFeed {
        rx,
        queue: VecDeque::new(),
        replies: HashMap::new(),
        next_id: 0,
    };
    while let Ok(job) = rx.recv() {
        feed.take(eng, job);
        feed.drain(eng);
        while let Some(num_ctx) = feed.queue.front().map(|p| p.num_ctx) {
            let mut inner = eng.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = eng.ensure_context(&mut inner, num_ctx) {
                let msg = e.to_string();
                let (failed, kept): (Vec<Prepared>, Vec<Prepared>) =
                    feed.queue.drain(..).partition(|p| p.num_ctx == num_ctx);
                feed.queue = kept.into();
                for p in failed {
                    feed.deliver(p.idx, Err(engine(msg.clone())));
                }
                continue;
            }
            eng.run(&mut inner, &mut feed);
        }
    }
}
