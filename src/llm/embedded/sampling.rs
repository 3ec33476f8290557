//! Sampling one token: the repeat penalty, the grammar made from `format`, and the
//! greedy or top-k/top-p/temperature chain (Ollama's option semantics, see [`super`]).

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

use super::batch::Prepared;
use super::{engine, grammar, Embedded, REPEAT_LAST_N, TOP_K, TOP_P};
use crate::llm::LlmError;

pub(super) struct Samplers {
    pub(super) penalties: Option<LlamaSampler>,
    grammar: Option<LlamaSampler>,
    chain: LlamaSampler,
}

impl Samplers {
    /// Samples from output `i` of the last decode. As llama.cpp's `common_sampler_sample`
    /// (and Ollama's sampler): sample without the grammar first, check that one token against
    /// it, and only when it is rejected apply the grammar to the whole vocabulary and sample
    /// again (the grammar over ~150k tokens is the expensive part).
    pub(super) fn sample(
        &mut self,
        ctx: &LlamaContext<'_>,
        i: i32,
    ) -> Result<LlamaToken, LlmError> {
        let mut cur = self.candidates(ctx, i);
        cur.apply_sampler(&mut self.chain);
        let mut token = selected(&cur)?;
        if let Some(grammar) = &mut self.grammar {
            let mut one =
                LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 0.0, 0.0)], false);
            one.apply_sampler(grammar);
            if one
                .data
                .first()
                .is_none_or(|d| d.logit() == f32::NEG_INFINITY)
            {
                let mut cur = self.candidates(ctx, i);
                if let Some(grammar) = &mut self.grammar {
                    cur.apply_sampler(grammar);
                }
                cur.apply_sampler(&mut self.chain);
                token = selected(&cur)?;
            }
        }
        Ok(token)
    }

    /// Logits of output `i` with the repeat penalty applied.
    fn candidates(&mut self, ctx: &LlamaContext<'_>, i: i32) -> LlamaTokenDataArray {
        let mut cur = ctx.token_data_array_ith(i);
        if let Some(p) = &mut self.penalties {
            cur.apply_sampler(p);
        }
        cur
    }

    /// Records a sampled token: the penalty window always, the grammar unless it is the end
    /// token (llama.cpp aborts on an end token the grammar is not finished for; generation
    /// stops there anyway).
    pub(super) fn accept(&mut self, token: LlamaToken, is_end: bool) -> Result<(), LlmError> {
        if let Some(p) = &mut self.penalties {
            p.accept(token);
        }
        if !is_end {
            if let Some(g) = &mut self.grammar {
                g.try_accept(token).map_err(|e| LlmError::Engine {
                    detail: format!("the grammar rejected sampled token {}: {e}", token.0),
                })?;
            }
        }
        Ok(())
    }
}

fn selected(cur: &LlamaTokenDataArray) -> Result<LlamaToken, LlmError> {
    cur.selected_token().ok_or_else(|| LlmError::Engine {
        detail: "the sampler selected no token (the grammar allows none?)".to_owned(),
    })
}

impl Embedded {
    pub(super) fn samplers(&self, p: &Prepared) -> Result<Samplers, LlmError> {
        let model = self.model();
        let penalties = (p.repeat_penalty != 1.0).then(|| {
            LlamaSampler::penalties(model.n_vocab(), REPEAT_LAST_N, p.repeat_penalty, 0.0, 0.0)
        });
        let grammar = match &p.grammar {
            None => None,
            Some(g) => Some(LlamaSampler::grammar(model, g, grammar::ROOT).map_err(|e| {
                engine(format!(
                    "llama.cpp rejected the grammar made from the format: {e}"
                ))
            })?),
        };
        let chain = if p.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_k(TOP_K),
                LlamaSampler::top_p(TOP_P, 1),
                LlamaSampler::temp(p.temperature),
                LlamaSampler::dist(p.seed),
            ])
        };
        Ok(Samplers {
            penalties,
            grammar,
            chain,
        })
    }
}
