//! Which engine answers the model calls of a run (`--engine`, `TAKEAWAYS_ENGINE`, `engine` in
//! the config file), and loading the embedded one.
//!
//! - `ollama`: the servers of the pool (`--host`; Ollama or OpenAI-compatible);
//! - `embedded`: llama.cpp inside this process (cargo feature `embedded`), the model found by
//!   [`crate::llm::embedded::store::resolve`]: a `.gguf` path, or an Ollama name looked up in
//!   Ollama's model store on disk, without the server;
//! - `auto` (the default): Ollama when its server answers `/api/version` within
//!   [`PROBE_TIMEOUT`], else the embedded engine when the model is found on disk, else the
//!   server (whose "cannot reach Ollama" error then also names `--engine embedded`). A pool of
//!   several hosts, OpenAI-compatible hosts and `--replay` always use the servers.
//!
//! The model is loaded once here, for the whole run (every chunk, every file of a batch).

use std::time::Duration;

use crate::llm::{Api, Llm, LlmConfig, LlmError};

/// How long `auto` waits for the Ollama server to answer before looking for the model on disk.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What the embedded engine is asked for besides the model (`--threads`, `--verbose`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// CPU threads for llama.cpp; `None`: the physical cores.
    pub threads: Option<usize>,
    /// Let llama.cpp's own log through to stderr.
    pub verbose: bool,
}

/// The engine chosen for a run, and why (for `doctor` and `--stats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// `ollama` (the servers) or `embedded`.
    pub engine: &'static str,
    /// Why, in a few words (`--engine embedded`, `auto: the server answers`, …).
    pub why: String,
}

/// `servers` (the pool from [`crate::config::servers`]) turned into the client configuration
/// of the chosen engine: for `embedded`, the model resolved and loaded (on a blocking thread)
/// and served by its own thread, taking `servers.parallel` requests at once.
///
/// Errors: an unknown `engine`; with `embedded` chosen, the model not found or not loadable
/// ([`LlmError::ModelFile`], exit status "setup"), or a build without the feature.
pub async fn configure(
    engine: &str,
    model: &str,
    servers: LlmConfig,
    opts: EngineOptions,
) -> Result<(LlmConfig, Chosen), LlmError> {
    let chosen = |engine: &'static str, why: &str| Chosen {
        engine,
        why: why.to_owned(),
    };
    match engine {
        "ollama" => Ok((servers, chosen("ollama", "as asked"))),
        "embedded" => load(model, servers, opts)
            .await
            .map(|cfg| (cfg, chosen("embedded", "as asked"))),
        "auto" => {
            let single_ollama = servers.more_hosts.is_empty()
                && servers.replay.is_none()
                && servers.api.is_none_or(|a| a == Api::Ollama)
                && crate::llm::api_of(&servers.host, None) == Ok(Api::Ollama);
            if !single_ollama {
                return Ok((servers, chosen("ollama", "auto: the configured servers")));
            }
            if server_answers(&servers).await {
                return Ok((servers, chosen("ollama", "auto: the Ollama server answers")));
            }
            if !cfg!(feature = "embedded") || find(model).is_err() {
                return Ok((
                    servers,
                    chosen(
                        "ollama",
                        "auto: the server does not answer and the model is not on disk",
                    ),
                ));
            }
            load(model, servers, opts).await.map(|cfg| {
                (
                    cfg,
                    chosen(
                        "embedded",
                        "auto: the Ollama server does not answer, the model is on disk",
                    ),
                )
            })
        }
        other => Err(LlmError::Engine {
            detail: format!("unknown engine {other:?}; use auto, ollama or embedded"),
        }),
    }
}

/// True when the first server answers `/api/version` within [`PROBE_TIMEOUT`].
async fn server_answers(servers: &LlmConfig) -> bool {
    let Ok(llm) = Llm::new(LlmConfig {
        record: None,
        cache: None,
        idle_timeout: Some(PROBE_TIMEOUT),
        ..servers.clone()
    }) else {
        return false;
    };
    let llm = llm.with_retries(1, Duration::ZERO);
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, llm.version()).await,
        Ok(Ok(_))
    )
}

#[cfg(feature = "embedded")]
fn find(model: &str) -> Result<crate::llm::embedded::ModelFile, LlmError> {
    use crate::llm::embedded::{store, StoreError};
    store::resolve(model, &store::process_env).map_err(|e| {
        let path = match &e {
            StoreError::FileNotFound { path }
            | StoreError::NotGguf { path, .. }
            | StoreError::Io { path, .. }
            | StoreError::Manifest { path, .. }
            | StoreError::NoModelLayer { path, .. }
            | StoreError::BadDigest { path, .. } => path.clone(),
            StoreError::BlobMissing { blob, .. } => blob.clone(),
            StoreError::InvalidName { name, .. } | StoreError::NotFound { name, .. } => name.into(),
        };
        LlmError::ModelMissing {
            path,
            detail: e.to_string(),
        }
    })
}

#[cfg(not(feature = "embedded"))]
fn find(_model: &str) -> Result<(), LlmError> {
    Err(no_feature())
}

#[cfg(not(feature = "embedded"))]
fn no_feature() -> LlmError {
    LlmError::Engine {
        detail: "this build has no embedded engine; rebuild with the cargo feature `embedded` (on by default)".into(),
    }
}

#[cfg(feature = "embedded")]
async fn load(model: &str, servers: LlmConfig, opts: EngineOptions) -> Result<LlmConfig, LlmError> {
    use crate::llm::embedded::{Embedded, EmbeddedConfig, Worker, MAX_PARALLEL};
    let file = find(model)?;
    let cfg = EmbeddedConfig {
        threads: opts.threads,
        parallel: servers.parallel.clamp(1, MAX_PARALLEL),
        verbose: opts.verbose,
        reuse_prefix: std::env::var("TAKEAWAYS_KV_REUSE").map_or(true, |v| v != "0"),
    };
    let engine = tokio::task::spawn_blocking(move || Embedded::load(&file, &cfg))
        .await
        .map_err(|e| LlmError::Engine {
            detail: format!("loading the model failed: {e}"),
        })??;
    Ok(LlmConfig {
        embedded: Some(std::sync::Arc::new(Worker::start(engine)?)),
        ..servers
    })
}

#[cfg(not(feature = "embedded"))]
async fn load(
    _model: &str,
    _servers: LlmConfig,
    _opts: EngineOptions,
) -> Result<LlmConfig, LlmError> {
    Err(no_feature())
}
