//! The silent-truncation check run on every answer (docs/ARCHITECTURE.md, Ollama fact 1:
//! Ollama answers 200 to an over-long prompt after dropping its front; the only sign is a small
//! `prompt_eval_count`).

use super::{ChatRequest, ChatResponse, LlmError};

/// Truncation rule 1 of [`Llm::chat`]: an answer whose `prompt_eval_count` is below
/// `estimated_prompt_tokens / TRUNCATION_RATIO` was cut.
///
/// Why 3: the estimate (`crate::tokens`) is pessimistic, about 1.3–1.4× the real count for
/// English prose, so an honest count sits well above a third of it, while Ollama's silent cut
/// keeps only about half of `num_ctx` (it drops the front and keeps room to generate; docs/ARCHITECTURE.md,
/// Ollama fact 1), i.e. far below the estimate of a prompt much longer than the window.
///
/// Caveats: the estimate can be ~3× too high for text a BPE packs densely (Cyrillic, Greek: the
/// estimator counts one token per non-ASCII character), which puts honest counts near this line.
/// Ollama 0.30.x before ollama/ollama#16428 counted only the prompt tokens not served from its
/// cache, so an exact repeat of a request could look cut there; other versions report the whole
/// prompt (newer ones add `prompt_eval_cached_count`, ollama/ollama#17943). Old servers omit
/// `prompt_eval_count` on a cache hit (ollama/ollama#2068, #3427): no count, no check.
pub const TRUNCATION_RATIO: u64 = 3;

/// Truncation rule 2 of [`Llm::chat`]: a prompt estimated longer than `num_ctx` whose
/// `prompt_eval_count` is within `HALF_WINDOW_SLACK` of `num_ctx / 2` was cut.
///
/// That is the signature of Ollama's silent cut: it keeps `num_keep` (default 4) tokens plus the
/// last half of the window, `num_ctx − (num_ctx − num_keep) / 2` tokens (reported measurements:
/// 9200 tokens into `num_ctx` 4096 → `prompt_eval_count` 2051; into 8192 → 4099). Rule 1 misses
/// a prompt only a little longer than the window (estimate below 1.5 × `num_ctx`); this catches
/// it. A band, not a ceiling: the one-call plan (`pipeline::plan_chunks`) sends prompts
/// estimated above `num_ctx` that really fill half of it or less (the estimate runs 2× high on
/// dense vocabularies), and an honest count rarely lands within a few tokens of the half.
pub const HALF_WINDOW_SLACK: u64 = 16;

/// The truncation check of [`Llm::chat`] (rules listed there).
pub(crate) fn check_truncation(req: &ChatRequest, answer: &ChatResponse) -> Result<(), LlmError> {
    let Some(seen) = answer.prompt_eval_count else {
        return Ok(());
    };
    let estimated = req.estimated_prompt_tokens as u64;
    let num_ctx = req.options.num_ctx;
    let window = u64::from(num_ctx);
    if estimated > 0 && seen.saturating_mul(TRUNCATION_RATIO) < estimated {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "model saw {seen} tokens of an estimated {estimated}; Ollama dropped the front \
                 of the prompt"
            ),
        });
    }
    if estimated > window && window > 0 && seen.abs_diff(window / 2) <= HALF_WINDOW_SLACK {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "model saw {seen} tokens of an estimated {estimated}, about half the window: \
                 Ollama dropped the front of the prompt"
            ),
        });
    }
    // Rule 4: the answer stopped because prompt and answer filled the window (`done_reason`
    // "length" below `num_predict`): requests carry `shift: false`, so Ollama stops there instead
    // of dropping the front of the context. Asking again would only lengthen the prompt.
    let made = answer.eval_count.unwrap_or(0);
    if answer.done_reason.as_deref() == Some("length") && window > 0 && seen + made + 1 >= window {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "the prompt ({seen} tokens) left room for only {made} tokens of answer"
            ),
        });
    }
    if window > 1 && seen >= window - 1 {
        return Err(LlmError::ContextExceeded {
            num_ctx,
            detail: format!(
                "model saw {seen} tokens, the whole context: the prompt was probably cut"
            ),
        });
    }
    Ok(())
}
