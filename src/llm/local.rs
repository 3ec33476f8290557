//! The pool's in-process host ([`Api::Embedded`](super::Api::Embedded)): what the server
//! endpoints (`/api/tags`, `/api/version`, `/api/show`) answer for it, read from the GGUF file.

use super::{HostSpec, Llm, LlmConfig, LlmError};

#[cfg(feature = "embedded")]
impl Llm {
    /// The pool's one host when `cfg` runs the model in this process (`host`, `more_hosts` and
    /// `api` are then not used): `embedded:<file>`, taking as many requests at once as the
    /// engine decodes sequences.
    pub(super) fn embedded_host(cfg: &LlmConfig) -> Option<HostSpec> {
        let engine = cfg.embedded.as_ref()?.engine();
        Some(HostSpec {
            url: format!("embedded:{}", engine.file().path.display()),
            parallel: Some(engine.parallel()),
        })
    }

    fn worker(&self) -> Result<&super::embedded::Worker, LlmError> {
        self.embedded
            .as_deref()
            .ok_or_else(super::dispatch::no_engine)
    }

    /// The cache key's model digest: the blob's own `sha256:<hex>` for a model from an Ollama
    /// store (the digest Ollama's `/api/tags` reports), else `blake3:<hex>` of the file.
    pub(super) fn embedded_digest(&self) -> Result<Option<String>, LlmError> {
        let file = self.worker()?.engine().file();
        if let super::embedded::ModelSource::Store { .. } = file.source {
            let name = file.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(hex) = name.strip_prefix("sha256-") {
                return Ok(Some(format!("sha256:{hex}")));
            }
        }
        let mut hasher = blake3::Hasher::new();
        std::fs::File::open(&file.path)
            .and_then(|f| hasher.update_reader(f).map(drop))
            .map_err(|e| LlmError::ModelFile {
                path: file.path.clone(),
                detail: format!("cannot read it: {e}"),
            })?;
        Ok(Some(format!("blake3:{}", hasher.finalize().to_hex())))
    }

    /// `embedded llama.cpp, <arch>, <threads> threads, <file>`.
    pub(super) fn embedded_version(&self) -> Result<String, LlmError> {
        let engine = self.worker()?.engine();
        Ok(format!(
            "embedded llama.cpp, {} model, {} threads, {} sequence{}, {}",
            engine.architecture().unwrap_or("unknown"),
            engine.threads(),
            engine.parallel(),
            if engine.parallel() == 1 { "" } else { "s" },
            engine.file()
        ))
    }

    /// The GGUF's trained context length (what `/api/show` reports for it).
    pub(super) fn embedded_context_length(&self) -> Result<Option<u32>, LlmError> {
        let n = self.worker()?.engine().trained_context_length();
        Ok((n > 0).then_some(n))
    }

    /// The in-process engine's counters (prompt tokens computed vs reused from the KV cache),
    /// when this client runs one.
    pub fn embedded_stats(&self) -> Option<super::embedded::EmbeddedStats> {
        self.embedded.as_ref().map(|w| w.engine().stats())
    }

    /// The in-process engine's `--stats` line: prompt tokens decoded vs taken from the KV cache
    /// (the shared prefix of the chunks), decode calls; `None` with servers.
    pub fn engine_line(&self) -> Option<String> {
        let s = self.embedded_stats()?;
        let pct = 100.0 * s.prompt_tokens_reused as f64 / s.prompt_tokens.max(1) as f64;
        Some(format!(
            "embedded engine: {} requests, {} prompt tokens: {} decoded, {} reused from the KV cache ({pct:.0}%, {} copied between sequences); {} generated; {} decode calls",
            s.requests,
            s.prompt_tokens,
            s.prompt_tokens_computed,
            s.prompt_tokens_reused,
            s.prompt_tokens_copied,
            s.generated_tokens,
            s.decode_calls
        ))
    }
}

#[cfg(not(feature = "embedded"))]
impl Llm {
    pub(super) fn embedded_host(_cfg: &LlmConfig) -> Option<HostSpec> {
        None
    }
    /// The in-process engine's `--stats` line: never, in a build without it.
    pub fn engine_line(&self) -> Option<String> {
        None
    }
    pub(super) fn embedded_digest(&self) -> Result<Option<String>, LlmError> {
        Err(super::dispatch::no_engine())
    }
    pub(super) fn embedded_version(&self) -> Result<String, LlmError> {
        Err(super::dispatch::no_engine())
    }
    pub(super) fn embedded_context_length(&self) -> Result<Option<u32>, LlmError> {
        Err(super::dispatch::no_engine())
    }
}
