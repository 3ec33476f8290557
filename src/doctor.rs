//! `takeaways doctor`: checks the setup a run needs and says, for every problem, what to do.
//!
//! One line per item: status (`ok`, `warn`, `FAIL`), the item, and the detail, with where each
//! setting came from (flag, environment, config file, default; see [`crate::config`]). The
//! command fails (exit 3 when the server or the model is the problem, else 1) when any line is
//! `FAIL`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::cache::{self, Cache};
use crate::config::{self, ConfigError, Flags, Loaded, PathOrigin, Resolved};
use crate::exit::Exit;
use crate::llm::{Llm, LlmConfig, LlmError};
use crate::pipeline::{NUM_CTX_CAP, NUM_CTX_FALLBACK};
use crate::prompts::{self, Prompts};

/// The verdict of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth knowing.
    Warn,
    /// Broken; the line says what to do.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        })
    }
}

/// One checked item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The verdict.
    pub status: Status,
    /// What was checked: `config`, `server`, `model`, `context`, `prompts`, `cache`, `top`, …
    pub item: &'static str,
    /// What was found, and for a problem what to do.
    pub detail: String,
}

/// All lines of a doctor run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The lines, in order.
    pub lines: Vec<Line>,
}

impl Report {
    fn push(&mut self, status: Status, item: &'static str, detail: impl Into<String>) {
        self.lines.push(Line {
            status,
            item,
            detail: detail.into(),
        });
    }

    /// Lines that failed.
    pub fn failures(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.status == Status::Fail)
            .count()
    }

    /// The exit status: [`Exit::Setup`] when the server or the model failed, [`Exit::Failed`]
    /// when anything else did, else [`Exit::Ok`].
    pub fn exit(&self) -> Exit {
        let failed = |item: &str| {
            self.lines
                .iter()
                .any(|l| l.status == Status::Fail && l.item == item)
        };
        if failed("server") || failed("model") {
            Exit::Setup
        } else if self.failures() > 0 {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "{:<4}  {:<8} {}", l.status.to_string(), l.item, l.detail)?;
        }
        Ok(())
    }
}

/// Runs every check. `env` reads the environment (the process's in the CLI); `timeout` bounds
/// each request to the server.
pub async fn run(
    flags: &Flags,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    timeout: Duration,
) -> Report {
    let mut report = Report::default();
    let resolved = settings(flags, env, &mut report);
    check_server_and_model(&resolved, env, timeout, &mut report).await;
    check_prompts(&resolved, &mut report);
    check_cache(&mut report);
    report.push(
        Status::Ok,
        "top",
        format!("{} takeaways ({})", resolved.top.value, resolved.top.origin),
    );
    report
}

/// The config file line(s), and the resolved settings (a broken config file or environment
/// value is reported and left out, so the other checks still run).
fn settings(
    flags: &Flags,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    report: &mut Report,
) -> Resolved {
    let loaded = match config::load(env) {
        Ok(l) => {
            match (&l.path, &l.file) {
                (None, _) => report.push(
                    Status::Warn,
                    "config",
                    format!(
                        "no config directory known (no home directory); set {} to use a config file",
                        config::CONFIG_ENV
                    ),
                ),
                (Some((p, origin)), None) => report.push(
                    Status::Ok,
                    "config",
                    format!(
                        "{} ({}): not found, built-in defaults apply (keys: model, host, top, num_ctx, prompts)",
                        p.display(),
                        path_origin(origin)
                    ),
                ),
                (Some((p, origin)), Some(_)) => report.push(
                    Status::Ok,
                    "config",
                    format!("{} ({}): read", p.display(), path_origin(origin)),
                ),
            }
            l
        }
        Err(e) => {
            report.push(Status::Fail, "config", e.to_string());
            Loaded::default()
        }
    };
    // Drop environment values that cannot be used, one at a time, reporting each.
    let mut bad: Vec<&'static str> = Vec::new();
    let resolved = loop {
        let filtered = |name: &str| {
            if bad.contains(&name) {
                None
            } else {
                env(name)
            }
        };
        match config::resolve(flags, &filtered, &loaded) {
            Ok(r) => break r,
            Err(ConfigError::BadEnv {
                var,
                value,
                expected,
            }) if !bad.contains(&var) => {
                report.push(
                    Status::Fail,
                    "env",
                    format!("${var}={value:?}: {expected}; fix or unset it (ignored here)"),
                );
                bad.push(var);
            }
            Err(e) => {
                // Only environment values can fail, and each is dropped once; without any
                // environment nothing can fail.
                report.push(Status::Fail, "env", e.to_string());
                let no_env = |_: &str| None;
                if let Ok(r) = config::resolve(flags, &no_env, &loaded) {
                    break r;
                }
            }
        }
    };
    resolved
}

fn path_origin(origin: &PathOrigin) -> String {
    match origin {
        PathOrigin::Env => format!("from ${}", config::CONFIG_ENV),
        PathOrigin::Platform => "platform default".into(),
    }
}

async fn check_server_and_model(
    resolved: &Resolved,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    timeout: Duration,
    report: &mut Report,
) {
    let model = &resolved.model;
    let host = &resolved.host;
    let not_checked = |report: &mut Report, why: &str| {
        report.push(
            Status::Fail,
            "model",
            format!("{} ({}): not checked; {why}", model.value, model.origin),
        );
    };
    let servers = match config::servers(resolved, env) {
        Ok(s) => s,
        Err(e) => {
            report.push(Status::Fail, "server", e.to_string());
            not_checked(report, "fix the server settings first");
            return;
        }
    };
    let engine = &resolved.engine;
    let servers = match crate::engine::configure(
        &engine.value,
        &model.value,
        servers,
        crate::engine::EngineOptions::default(),
    )
    .await
    {
        Ok((servers, chosen)) => {
            report.push(
                Status::Ok,
                "engine",
                format!(
                    "{} ({}, {}{})",
                    chosen.engine,
                    engine.origin,
                    chosen.why,
                    embedded_file(&servers)
                ),
            );
            servers
        }
        Err(e) => {
            report.push(
                Status::Fail,
                "engine",
                format!("{} ({}): {e}", engine.value, engine.origin),
            );
            not_checked(report, "make the model loadable first");
            return;
        }
    };
    let llm = match Llm::new(LlmConfig {
        idle_timeout: Some(timeout),
        ..servers
    }) {
        Ok(llm) => llm.with_retries(1, Duration::ZERO),
        Err(e) => {
            report.push(
                Status::Fail,
                "server",
                format!("{} ({}): {e}", host.value, host.origin),
            );
            not_checked(report, "fix the server address first");
            return;
        }
    };
    for (i, (base, api)) in llm.hosts().into_iter().enumerate() {
        let api = match api {
            crate::llm::Api::Ollama => "Ollama API",
            crate::llm::Api::OpenAi => "OpenAI-compatible API",
            crate::llm::Api::Embedded => "embedded llama.cpp",
        };
        match llm.version_of(i).await {
            Ok(v) => report.push(
                Status::Ok,
                "server",
                format!("{base} ({}, {api}): reachable, {v}", host.origin),
            ),
            Err(e) => {
                report.push(
                    Status::Fail,
                    "server",
                    format!("{base} ({}, {api}): {}", host.origin, server_advice(&e)),
                );
                not_checked(report, "make the server reachable first");
                return;
            }
        }
    }
    let context = match llm.model_context_length(&model.value).await {
        Ok(c) => c,
        Err(LlmError::ModelNotFound { .. }) => {
            report.push(
                Status::Fail,
                "model",
                format!(
                    "{} ({}): not on the server; run `ollama pull {}` (or `takeaways summarize --pull`)",
                    model.value, model.origin, model.value
                ),
            );
            return;
        }
        Err(e) => {
            report.push(
                Status::Fail,
                "model",
                format!(
                    "{} ({}): cannot read its details: {e}",
                    model.value, model.origin
                ),
            );
            return;
        }
    };
    let digest = match llm.model_digest(&model.value).await {
        Ok(Some(d)) => {
            let hex = d.strip_prefix("sha256:").unwrap_or(&d);
            format!("digest {}", hex.get(..12).unwrap_or(hex))
        }
        Ok(None) => "no digest in /api/tags (answers will not be cached)".into(),
        Err(e) => format!("no digest ({e}; answers will not be cached)"),
    };
    report.push(
        Status::Ok,
        "model",
        format!("{} ({}): present, {digest}", model.value, model.origin),
    );
    let num_ctx = &resolved.num_ctx;
    let line = match (context, num_ctx.value) {
        (Some(max), Some(n)) if n > max => (
            Status::Warn,
            format!(
                "model maximum {max} tokens; num_ctx {n} ({}) is larger, Ollama will use at most {max}; lower it",
                num_ctx.origin
            ),
        ),
        (Some(max), Some(n)) => (
            Status::Ok,
            format!(
                "model maximum {max} tokens; num_ctx used: {n} ({})",
                num_ctx.origin
            ),
        ),
        (Some(max), None) => (
            Status::Ok,
            format!(
                "model maximum {max} tokens; num_ctx used: {} (the model's maximum, capped at {NUM_CTX_CAP})",
                max.min(NUM_CTX_CAP)
            ),
        ),
        (None, Some(n)) => (
            Status::Ok,
            format!(
                "the server does not report the model's maximum; num_ctx used: {n} ({})",
                num_ctx.origin
            ),
        ),
        (None, None) => (
            Status::Warn,
            format!(
                "the server does not report the model's maximum; num_ctx used: {NUM_CTX_FALLBACK} (fallback); set --num-ctx or num_ctx in the config file"
            ),
        ),
    };
    report.push(line.0, "context", line.1);
}

/// What to do about a server that does not answer `/api/version`.
fn server_advice(e: &LlmError) -> String {
    match e {
        LlmError::Unreachable { detail, .. } => format!(
            "not reachable ({detail}); start Ollama with `ollama serve`, or point --host, $OLLAMA_HOST or `host` in the config file at it"
        ),
        LlmError::Http { status, body, .. } => format!(
            "answered HTTP {status} to /api/version ({body}); is this an Ollama server? check --host / $OLLAMA_HOST"
        ),
        other => format!("{other}; check that this is an Ollama server and that it is not stuck"),
    }
}

fn check_prompts(resolved: &Resolved, report: &mut Report) {
    let prompts = &resolved.prompts;
    let dir = prompts.value.as_deref();
    let result = Prompts::new(dir).and_then(|p| {
        crate::pipeline::prompt_overhead(&p, "Doctor check", &["Introduction".to_owned()])
    });
    match (dir, result) {
        (None, Ok(_)) => report.push(
            Status::Ok,
            "prompts",
            format!("built-in templates ({})", prompts.origin),
        ),
        (Some(d), Ok(_)) => report.push(
            Status::Ok,
            "prompts",
            format!(
                "{} ({}): {} of {} templates overridden, the rest built in",
                d.display(),
                prompts.origin,
                overridden(d),
                prompts::DEFAULTS.len()
            ),
        ),
        (_, Err(e)) => report.push(
            Status::Fail,
            "prompts",
            format!(
                "{e} ({}); fix the templates, or export fresh ones with `takeaways prompts --export DIR`",
                prompts.origin
            ),
        ),
    }
}

fn overridden(dir: &Path) -> usize {
    prompts::DEFAULTS
        .iter()
        .filter(|(name, _)| dir.join(name).is_file())
        .count()
}

fn check_cache(report: &mut Report) {
    let Some((dir, origin)) = cache::default_dir() else {
        report.push(
            Status::Fail,
            "cache",
            format!(
                "no cache directory known (no home directory); set {} to a writable directory",
                cache::CACHE_DIR_ENV
            ),
        );
        return;
    };
    let cache = Cache::new(&dir);
    let info = match cache.info() {
        Ok(i) => i,
        Err(e) => {
            report.push(
                Status::Fail,
                "cache",
                format!(
                    "{} ({origin}): cannot read it: {e}; fix its permissions or run `takeaways cache clear`",
                    dir.display()
                ),
            );
            return;
        }
    };
    if dir.is_dir() {
        if let Err(e) = tempfile::tempfile_in(&dir) {
            report.push(
                Status::Fail,
                "cache",
                format!(
                    "{} ({origin}): not writable ({e}); fix its permissions or set {} elsewhere",
                    dir.display(),
                    cache::CACHE_DIR_ENV
                ),
            );
            return;
        }
    }
    report.push(
        Status::Ok,
        "cache",
        format!(
            "{} ({origin}): {} answers, {} bytes{}",
            dir.display(),
            info.entries,
            info.bytes,
            if dir.is_dir() {
                ""
            } else {
                " (created on first use)"
            }
        ),
    );
}

/// `; model file <path> (<size> MiB)…` for an embedded engine, else nothing.
fn embedded_file(cfg: &LlmConfig) -> String {
    #[cfg(feature = "embedded")]
    if let Some(worker) = &cfg.embedded {
        return format!("; model file {}", worker.engine().file());
    }
    let _ = cfg;
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_is_3_for_server_or_model_else_1() {
        let mut r = Report::default();
        r.push(Status::Ok, "server", "fine");
        r.push(Status::Warn, "context", "hmm");
        assert_eq!(r.exit(), Exit::Ok);
        r.push(Status::Fail, "prompts", "broken");
        assert_eq!(r.exit(), Exit::Failed);
        r.push(Status::Fail, "model", "missing");
        assert_eq!(r.exit(), Exit::Setup);
        assert_eq!(r.failures(), 2);
        assert!(r.to_string().contains("FAIL  model    missing\n"));
    }
}
