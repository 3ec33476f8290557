//! Continuous batching over the sequences of one KV cache: admitting a request into the slot
//! that shares the longest prefix with it, decoding prompt chunks and generated tokens of all
//! active sequences together, and handing each answer out as soon as it is finished.

use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::DecodeError;

use super::sampling::Samplers;
use super::{engine, nanos, Embedded, Inner, Slot, REPEAT_LAST_N};
use crate::llm::{ChatResponse, LlmError};

/// A request turned into tokens and sampling settings.
pub(super) struct Prepared {
    pub(super) idx: usize,
    pub(super) tokens: Vec<LlamaToken>,
    pub(super) num_ctx: u32,
    pub(super) num_predict: Option<usize>,
    pub(super) temperature: f32,
    pub(super) seed: u32,
    pub(super) repeat_penalty: f32,
    pub(super) grammar: Option<String>,
    /// When the request was made: `total_duration` counts from here (waiting included).
    pub(super) queued: Instant,
}

/// Where a sequence is.
enum Phase {
    /// Waiting for the sequence in slot `from` to hold `upto` tokens, then copying them.
    Wait { from: usize, upto: usize },
    /// Decoding the prompt from token `next`.
    Prefill { next: usize },
    /// Generating; `pending` is the last sampled token, to be decoded next.
    Generate { pending: LlamaToken },
}

/// One request being answered.
struct Seq {
    idx: usize,
    slot: usize,
    prompt: Vec<LlamaToken>,
    phase: Phase,
    num_ctx: usize,
    num_predict: Option<usize>,
    samplers: Samplers,
    text: Vec<u8>,
    sampled: u64,
    reused: usize,
    copied: usize,
    queued: Instant,
    admitted: Instant,
    prompt_done: Option<Instant>,
    /// Index in the current batch of the token whose logits this sequence samples from.
    output: Option<i32>,
}

/// What one batch entry range belongs to, applied to the slots after a successful decode.
enum Planned {
    Gen { seq: usize, token: LlamaToken },
    Prompt { seq: usize, from: usize, to: usize },
}

/// Where [`Embedded::run`] takes requests from and hands answers to.
pub(super) trait Feed {
    /// The next request to admit, of context size `num_ctx`, if one is waiting. Never blocks:
    /// `None` ends the run once no sequence is active.
    fn next(&mut self, engine: &Embedded, num_ctx: u32) -> Option<Prepared>;
    /// The answer (or error) of request `idx`.
    fn deliver(&mut self, idx: usize, result: Result<ChatResponse, LlmError>);
}

impl Embedded {
    /// Continuous batching over the requests `feed` gives (all of the context's `num_ctx`;
    /// the context is ready), until it gives none and every sequence is finished.
    pub(super) fn run(&self, inner: &mut Inner, feed: &mut dyn Feed) {
        let Inner {
            ctx,
            slots,
            stats,
            tick,
            num_ctx,
        } = inner;
        let num_ctx = *num_ctx;
        let Some(ctx) = ctx.as_mut() else {
            return;
        };
        let vocab = self.model().vocab();
        let n_batch = ctx.n_batch().max(1) as usize;
        let mut batch = LlamaBatch::new(n_batch, 1);
        let mut active: Vec<Seq> = Vec::new();
        loop {
            while active.len() < self.parallel {
                let Some(p) = feed.next(self, num_ctx) else {
                    break;
                };
                *tick += 1;
                match self.admit(p, ctx, slots, &active, *tick) {
                    Ok(seq) => active.push(seq),
                    Err((idx, e)) => feed.deliver(idx, Err(e)),
                }
            }
            if active.is_empty() {
                break;
            }
            resolve_waits(ctx, slots, &mut active);

            // Build the batch: one token per generating sequence, then prompt chunks.
            batch.clear();
            let mut plan = Vec::new();
            let mut failed: Option<String> = None;
            for (k, seq) in active.iter_mut().enumerate() {
                if let Phase::Generate { pending } = seq.phase {
                    let pos = slots[seq.slot].tokens.len();
                    if let Err(e) = batch.add(pending, pos as i32, &[seq.slot as i32], true) {
                        failed = Some(e.to_string());
                        break;
                    }
                    seq.output = Some(batch.n_tokens() - 1);
                    plan.push(Planned::Gen {
                        seq: k,
                        token: pending,
                    });
                }
            }
            for (k, seq) in active.iter_mut().enumerate() {
                if failed.is_some() {
                    break;
                }
                let Phase::Prefill { next } = seq.phase else {
                    continue;
                };
                let room = n_batch.saturating_sub(batch.n_tokens() as usize);
                let to = (next + room).min(seq.prompt.len());
                if to <= next {
                    continue;
                }
                for pos in next..to {
                    let last = pos + 1 == seq.prompt.len();
                    if let Err(e) = batch.add(seq.prompt[pos], pos as i32, &[seq.slot as i32], last)
                    {
                        failed = Some(e.to_string());
                        break;
                    }
                }
                if to == seq.prompt.len() {
                    seq.output = Some(batch.n_tokens() - 1);
                }
                plan.push(Planned::Prompt {
                    seq: k,
                    from: next,
                    to,
                });
            }
            if batch.n_tokens() == 0 && failed.is_none() {
                failed = Some("nothing to decode (sequences wait for each other)".to_owned());
            }
            if failed.is_none() {
                let mut result = ctx.decode(&mut batch);
                stats.decode_calls += 1;
                if result == Err(DecodeError::NoKvCacheSlot) {
                    // Idle slots keep their tokens for reuse; give their cells back and retry.
                    for (s, slot) in slots.iter_mut().enumerate() {
                        if !active.iter().any(|a| a.slot == s) && !slot.tokens.is_empty() {
                            let _ = ctx.clear_kv_cache_seq(Some(s as u32), None, None);
                            slot.tokens.clear();
                        }
                    }
                    result = ctx.decode(&mut batch);
                    stats.decode_calls += 1;
                }
                if let Err(e) = result {
                    failed = Some(format!("llama_decode failed: {e}"));
                }
            }
            if let Some(why) = failed {
                // The KV cache may be half-written: forget everything and fail these requests.
                ctx.clear_kv_cache();
                for slot in slots.iter_mut() {
                    slot.tokens.clear();
                }
                for seq in active.drain(..) {
                    feed.deliver(seq.idx, Err(engine(why.clone())));
                }
                continue;
            }
            for entry in plan {
                match entry {
                    Planned::Gen { seq, token } => slots[active[seq].slot].tokens.push(token),
                    Planned::Prompt { seq, from, to } => {
                        let s = &mut active[seq];
                        slots[s.slot].tokens.extend_from_slice(&s.prompt[from..to]);
                        s.phase = Phase::Prefill { next: to };
                    }
                }
            }
            resolve_waits(ctx, slots, &mut active);

            // Sample where this batch produced logits.
            let mut k = 0;
            while k < active.len() {
                let seq = &mut active[k];
                let Some(out) = seq.output.take() else {
                    k += 1;
                    continue;
                };
                let now = Instant::now();
                if seq.prompt_done.is_none() {
                    seq.prompt_done = Some(now);
                }
                let done = match self.step(seq, ctx, &vocab, slots[seq.slot].tokens.len(), out) {
                    Ok(done) => done,
                    Err(e) => {
                        let seq = active.remove(k);
                        feed.deliver(seq.idx, Err(e));
                        continue;
                    }
                };
                if let Some(reason) = done {
                    let seq = active.remove(k);
                    slots[seq.slot].last_used = *tick;
                    let end = Instant::now();
                    let prompt_done = seq.prompt_done.unwrap_or(end);
                    let n_prompt = seq.prompt.len() as u64;
                    stats.requests += 1;
                    stats.prompt_tokens += n_prompt;
                    stats.prompt_tokens_reused += seq.reused as u64;
                    stats.prompt_tokens_copied += seq.copied as u64;
                    stats.prompt_tokens_computed += n_prompt - seq.reused as u64;
                    stats.generated_tokens += seq.sampled;
                    feed.deliver(
                        seq.idx,
                        Ok(ChatResponse {
                            content: String::from_utf8_lossy(&seq.text).into_owned(),
                            done_reason: Some(reason.to_owned()),
                            prompt_eval_count: Some(n_prompt),
                            eval_count: Some(seq.sampled),
                            total_duration: Some(nanos(end - seq.queued)),
                            prompt_eval_duration: Some(nanos(prompt_done - seq.admitted)),
                            eval_duration: Some(nanos(end - prompt_done)),
                        }),
                    );
                    continue;
                }
                k += 1;
            }
        }
    }

    /// Samples the next token of `seq` from batch output `out`; `Some(done_reason)` when the
    /// sequence is finished. `held` = tokens its slot holds now.
    fn step(
        &self,
        seq: &mut Seq,
        ctx: &LlamaContext<'_>,
        vocab: &llama_cpp_2::vocab::LlamaVocab<'_>,
        held: usize,
        out: i32,
    ) -> Result<Option<&'static str>, LlmError> {
        if seq.num_predict == Some(0) {
            return Ok(Some("length"));
        }
        let token = seq.samplers.sample(ctx, out)?;
        seq.sampled += 1;
        let is_end = vocab.is_eog(token);
        seq.samplers.accept(token, is_end)?;
        if is_end {
            return Ok(Some("stop"));
        }
        seq.text
            .extend_from_slice(&vocab.token_to_piece(token, false, None));
        // The context is full when prompt + generated tokens reach num_ctx (llama-server without
        // context shift: `n_past + 1 >= n_ctx` after sampling; the last token is never decoded).
        if seq.num_predict.is_some_and(|n| seq.sampled as usize >= n) || held + 1 >= seq.num_ctx {
            return Ok(Some("length"));
        }
        seq.phase = Phase::Generate { pending: token };
        Ok(None)
    }

    /// Places a request in a free slot, reusing the longest KV prefix available.
    fn admit(
        &self,
        p: Prepared,
        ctx: &mut LlamaContext<'static>,
        slots: &mut [Slot],
        active: &[Seq],
        tick: u64,
    ) -> Result<Seq, (usize, LlmError)> {
        let idx = p.idx;
        let samplers = self.samplers(&p).map_err(|e| (idx, e))?;
        let n = p.tokens.len();
        let cap = n - 1; // at least the last prompt token is decoded, for its logits
        let busy: Vec<usize> = active.iter().map(|a| a.slot).collect();
        let share = |tokens: &[LlamaToken]| {
            if self.recurrent || !self.reuse_prefix {
                0
            } else {
                lcp(tokens, &p.tokens).min(cap)
            }
        };
        let Some((slot, own)) = (0..self.parallel)
            .filter(|s| !busy.contains(s))
            .map(|s| (s, share(&slots[s].tokens)))
            .max_by(|a, b| {
                a.1.cmp(&b.1)
                    .then(slots[b.0].last_used.cmp(&slots[a.0].last_used))
            })
        else {
            return Err((idx, engine("no free sequence slot")));
        };
        let copy = (0..self.parallel)
            .filter(|&o| o != slot)
            .map(|o| (o, share(&slots[o].tokens)))
            .max_by_key(|c| c.1)
            .filter(|c| c.1 > own);
        let wait = active
            .iter()
            .filter(|a| !matches!(a.phase, Phase::Generate { .. }))
            .map(|a| (a.slot, share(&a.prompt)))
            .max_by_key(|c| c.1)
            .filter(|c| c.1 > own.max(copy.map_or(0, |c| c.1)));
        let s = slot as i32;
        let (phase, reused, copied) = if let Some((from, upto)) = wait {
            let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
            slots[slot].tokens.clear();
            (Phase::Wait { from, upto }, 0, 0)
        } else if let Some((from, k)) = copy {
            let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
            ctx.copy_kv_cache_seq(from as i32, s, Some(0), Some(k as u32))
                .map_err(|e| (idx, engine(e.to_string())))?;
            slots[slot].tokens = p.tokens[..k].to_vec();
            (Phase::Prefill { next: k }, k, k)
        } else {
            let kept = match ctx.clear_kv_cache_seq(Some(slot as u32), Some(own as u32), None) {
                Ok(true) => own,
                _ => {
                    // Partial removal is not possible for every cache type (e.g. sliding window).
                    let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
                    0
                }
            };
            slots[slot].tokens.truncate(kept);
            (Phase::Prefill { next: kept }, kept, 0)
        };
        slots[slot].last_used = tick;
        let mut samplers = samplers;
        if let Some(pen) = &mut samplers.penalties {
            let from = n.saturating_sub(REPEAT_LAST_N as usize);
            pen.accept_many(&p.tokens[from..]);
        }
        Ok(Seq {
            idx,
            slot,
            prompt: p.tokens,
            phase,
            num_ctx: p.num_ctx as usize,
            num_predict: p.num_predict,
            samplers,
            text: Vec::new(),
            sampled: 0,
            reused,
            copied,
            queued: p.queued,
            admitted: Instant::now(),
            prompt_done: None,
            output: None,
        })
    }
}

/// Copies the shared prefix into waiting sequences whose source now holds it; a source that
/// is gone (it failed) leaves the waiter to decode its prompt itself.
fn resolve_waits(ctx: &mut LlamaContext<'static>, slots: &mut [Slot], active: &mut [Seq]) {
    let sources: Vec<usize> = active.iter().map(|a| a.slot).collect();
    for seq in active.iter_mut() {
        let Phase::Wait { from, upto } = seq.phase else {
            continue;
        };
        let held = &slots[from].tokens;
        if held.len() >= upto && held[..upto] == seq.prompt[..upto] {
            let _ = ctx.clear_kv_cache_seq(Some(seq.slot as u32), None, None);
            if ctx
                .copy_kv_cache_seq(from as i32, seq.slot as i32, Some(0), Some(upto as u32))
                .is_ok()
            {
                slots[seq.slot].tokens = seq.prompt[..upto].to_vec();
                seq.reused = upto;
                seq.copied = upto;
                seq.phase = Phase::Prefill { next: upto };
                continue;
            }
        }
        if !sources.contains(&from) {
            slots[seq.slot].tokens.clear();
            seq.phase = Phase::Prefill { next: 0 };
        }
    }
}

fn lcp(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
