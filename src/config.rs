//! Defaults from a config file, and the one place where flags, environment, config file and
//! built-in defaults are combined.
//!
//! The file is TOML, `config.toml` in the platform config directory
//! (`directories::ProjectDirs::from("", "", "takeaways").config_dir()`, e.g.
//! `~/.config/takeaways/config.toml` on Linux), or the file named by `$TAKEAWAYS_CONFIG`. Every
//! key is optional; unknown keys are errors (a typo should not be ignored silently):
//!
//! ```toml
//! model = "llama3.2:3b"
//! host = "http://127.0.0.1:11434"   # or a pool: ["http://gpu1:8000/v1#4", {url = "…", parallel = 2}]
//! api = "openai"                     # else inferred from each URL (a path ending in /v1)
//! api_key_env = "VLLM_API_KEY"       # the variable holding an OpenAI-compatible server's key
//! parallel = 1                       # requests each server takes at once
//! engine = "auto"                    # ollama | embedded (llama.cpp in-process) | auto
//! top = 10
//! num_ctx = 8192
//! prompts = "prompts"          # relative to the config file's directory
//! ```
//!
//! Order, for each value: command-line flag > environment variable > config file > default.
//! The environment variables are `TAKEAWAYS_MODEL`, `OLLAMA_HOST`, `TAKEAWAYS_TOP`,
//! `TAKEAWAYS_NUM_CTX`, `TAKEAWAYS_PROMPTS`, `TAKEAWAYS_ENGINE`; an empty variable counts as unset. clap's
//! `default_value`/`env` are not used for these flags, because they would hide where a value came
//! from: [`resolve`] does it and keeps the [`Origin`] of every value for `takeaways doctor`.

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable naming the config file (overrides the platform path).
pub const CONFIG_ENV: &str = "TAKEAWAYS_CONFIG";
/// Environment variable for the model.
pub const ENV_MODEL: &str = "TAKEAWAYS_MODEL";
/// Environment variable for the server (Ollama's own, docs/ARCHITECTURE.md, Ollama fact 7).
pub const ENV_HOST: &str = "OLLAMA_HOST";
/// Environment variable for the number of takeaways.
pub const ENV_TOP: &str = "TAKEAWAYS_TOP";
/// Environment variable for `num_ctx`.
pub const ENV_NUM_CTX: &str = "TAKEAWAYS_NUM_CTX";
/// Environment variable for the prompt templates directory.
pub const ENV_PROMPTS: &str = "TAKEAWAYS_PROMPTS";
/// Environment variable for the engine (`ollama`, `embedded`, `auto`).
pub const ENV_ENGINE: &str = "TAKEAWAYS_ENGINE";
/// The engines `--engine`, `TAKEAWAYS_ENGINE` and `engine` take.
pub const ENGINES: [&str; 3] = ["auto", "ollama", "embedded"];
/// The engine used when nothing else names one: Ollama when its server answers, else the
/// embedded one when the model is found on disk (the `engine` module decides).
pub const DEFAULT_ENGINE: &str = "auto";

/// The model used when nothing else names one: Meta's Llama 3.2 3B instruct, a small model that
/// many Ollama users already have (`ollama pull llama3.2:3b`).
pub const DEFAULT_MODEL: &str = "llama3.2:3b";
/// The server used when nothing else names one (where `ollama serve` listens).
pub use crate::llm::DEFAULT_HOST;
/// How many takeaways are printed by default.
pub const DEFAULT_TOP: u16 = 10;
/// Allowed `top` values.
pub const TOP_RANGE: std::ops::RangeInclusive<u16> = 1..=100;
/// Allowed `num_ctx` values.
pub const NUM_CTX_RANGE: std::ops::RangeInclusive<u32> = 512..=1_048_576;

/// `host` in `config.toml`: one server, or a list for a pool, each a string (`URL` or
/// `URL#N`) or a table `{url = "…", parallel = N}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum HostList {
    /// `host = "http://127.0.0.1:11434"`.
    One(String),
    /// `host = ["http://gpu1:8000/v1#4", {url = "http://gpu2:8000/v1", parallel = 2}]`.
    Many(Vec<HostEntry>),
}

/// One entry of a [`HostList::Many`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum HostEntry {
    /// `"URL"` or `"URL#N"`.
    Url(String),
    /// `{url = "URL", parallel = N}`.
    Table {
        /// The server.
        url: String,
        /// Requests it takes at once.
        parallel: Option<usize>,
    },
}

impl HostList {
    /// The servers as `URL` or `URL#N` strings, in order.
    pub fn urls(&self) -> Vec<String> {
        match self {
            HostList::One(s) => vec![s.clone()],
            HostList::Many(list) => list
                .iter()
                .map(|e| match e {
                    HostEntry::Url(s) => s.clone(),
                    HostEntry::Table {
                        url,
                        parallel: Some(n),
                    } => format!("{url}#{n}"),
                    HostEntry::Table {
                        url,
                        parallel: None,
                    } => url.clone(),
                })
                .collect(),
        }
    }
}

/// The keys of `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Ollama model name.
    pub model: Option<String>,
    /// The server, URL or host:port; or a list of them for a pool ([`HostList`]).
    pub host: Option<HostList>,
    /// `ollama` or `openai`: the API of every server (else inferred from each URL).
    pub api: Option<String>,
    /// The environment variable holding the API key of OpenAI-compatible servers.
    pub api_key_env: Option<String>,
    /// Requests each server takes at once, unless its entry says (`URL#N`).
    pub parallel: Option<usize>,
    /// `ollama`, `embedded` or `auto` ([`ENGINES`]).
    pub engine: Option<String>,
    /// How many takeaways to print.
    pub top: Option<u16>,
    /// Context window for every call.
    pub num_ctx: Option<u32>,
    /// Prompt templates directory; relative paths are relative to the config file's directory.
    pub prompts: Option<PathBuf>,
}

/// Where the config file path comes from. Either way a missing file means "no config file"
/// (`takeaways doctor` shows the path it looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathOrigin {
    /// `$TAKEAWAYS_CONFIG`.
    Env,
    /// The platform config directory.
    Platform,
}

/// The config file as found: its path (if one is known) and its contents (if it exists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The path looked at, and where it came from; `None` without a home directory.
    pub path: Option<(PathBuf, PathOrigin)>,
    /// The parsed file; `None` when it does not exist.
    pub file: Option<ConfigFile>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag (its name, e.g. `--model`).
    Flag(&'static str),
    /// An environment variable (its name).
    Env(&'static str),
    /// The config file.
    Config(PathBuf),
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "from {name}"),
            Origin::Env(name) => write!(f, "from ${name}"),
            Origin::Config(path) => write!(f, "from {}", path.display()),
            Origin::Default => write!(f, "default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub origin: Origin,
}

/// The values given on the command line (`None`: flag not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--model`.
    pub model: Option<String>,
    /// `--host` (the first one).
    pub host: Option<String>,
    /// `--host` given again: more servers for the pool.
    pub more_hosts: Vec<String>,
    /// `--api`.
    pub api: Option<String>,
    /// `--api-key-env`.
    pub api_key_env: Option<String>,
    /// `--parallel`.
    pub parallel: Option<usize>,
    /// `--engine`.
    pub engine: Option<String>,
    /// `--top`.
    pub top: Option<u16>,
    /// `--num-ctx`.
    pub num_ctx: Option<u32>,
    /// `--prompts`.
    pub prompts: Option<PathBuf>,
}

/// The combined values of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Ollama model name.
    pub model: Setting<String>,
    /// The (first) server as given (normalised later by [`crate::llm::normalize_host`]).
    pub host: Setting<String>,
    /// More servers, from the same place as `host` (flags or config file).
    pub more_hosts: Vec<String>,
    /// `ollama` or `openai` for every server; `None`: inferred from each URL.
    pub api: Setting<Option<String>>,
    /// The variable that holds the API key; `None`: no key.
    pub api_key_env: Setting<Option<String>>,
    /// Requests each server takes at once (1: one chunk at a time, as Ollama serves by
    /// default, `OLLAMA_NUM_PARALLEL`).
    pub parallel: Setting<usize>,
    /// `ollama`, `embedded` or `auto` ([`ENGINES`]).
    pub engine: Setting<String>,
    /// How many takeaways to print.
    pub top: Setting<u16>,
    /// `num_ctx`; `None`: from the model (`/api/show`), see [`crate::pipeline::resolve_num_ctx`].
    pub num_ctx: Setting<Option<u32>>,
    /// Prompt templates directory; `None`: the built-in templates.
    pub prompts: Setting<Option<PathBuf>>,
}

/// A config file or environment value that cannot be used. One line, naming the file or
/// variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("config file {}: cannot read it: {detail}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
    /// The file is not valid TOML for [`ConfigFile`], or a value is out of range.
    #[error("config file {}: {}{detail}; fix it or move it away", path.display(), line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What is wrong.
        detail: String,
    },
    /// The variable named by `--api-key-env` (or `api_key_env`) is not set.
    #[error("${var} is not set (named by --api-key-env or api_key_env, {origin}); export it with the server's API key, or leave the option out for a server without one")]
    MissingKey {
        /// The variable.
        var: String,
        /// Where its name came from.
        origin: String,
    },
    /// An environment variable has a value that cannot be used.
    #[error("${var}={value:?}: {expected}")]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is expected.
        expected: String,
    },
}

/// The config file path: `$TAKEAWAYS_CONFIG` when set and not empty, else `config.toml` in the
/// platform config directory; `None` when neither is known.
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, PathOrigin)> {
    if let Some(p) = env(CONFIG_ENV) {
        return Some((PathBuf::from(p), PathOrigin::Env));
    }
    directories::ProjectDirs::from("", "", "takeaways")
        .map(|d| (d.config_dir().join("config.toml"), PathOrigin::Platform))
}

/// A variable of the process environment; empty counts as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Finds and reads the config file (see [`config_path`]).
///
/// Errors: [`ConfigError`]; a missing file is not an error.
pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
    let Some((path, origin)) = config_path(env) else {
        return Ok(Loaded::default());
    };
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => Some(parse(&path, &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ConfigError::Unreadable {
                path,
                detail: e.to_string(),
            })
        }
    };
    Ok(Loaded {
        path: Some((path, origin)),
        file,
    })
}

/// Parses and checks the text of a config file; `path` is for messages and for relative
/// `prompts` paths.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let malformed = |line: Option<usize>, detail: String| ConfigError::Malformed {
        path: path.to_path_buf(),
        line,
        detail,
    };
    let mut file: ConfigFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        malformed(line, e.message().trim().replace('\n', " "))
    })?;
    if let Some(top) = file.top {
        if !TOP_RANGE.contains(&top) {
            return Err(malformed(
                None,
                format!("top = {top}: expected 1 to {}", TOP_RANGE.end()),
            ));
        }
    }
    if let Some(n) = file.num_ctx {
        if !NUM_CTX_RANGE.contains(&n) {
            return Err(malformed(
                None,
                format!(
                    "num_ctx = {n}: expected {} to {}",
                    NUM_CTX_RANGE.start(),
                    NUM_CTX_RANGE.end()
                ),
            ));
        }
    }
    if file.model.as_deref().is_some_and(|v| v.trim().is_empty()) {
        return Err(malformed(None, "model is empty".to_string()));
    }
    if let Some(hosts) = &file.host {
        let urls = hosts.urls();
        if urls.is_empty() || urls.iter().any(|u| u.trim().is_empty()) {
            return Err(malformed(None, "host is empty".to_string()));
        }
    }
    if let Some(api) = &file.api {
        if !matches!(api.as_str(), "ollama" | "openai") {
            return Err(malformed(
                None,
                format!("api = {api:?}: expected \"ollama\" or \"openai\""),
            ));
        }
    }
    if let Some(e) = file.engine.as_deref().filter(|e| !ENGINES.contains(e)) {
        return Err(malformed(
            None,
            format!("engine: expected auto, ollama or embedded, not {e:?}"),
        ));
    }
    if file.parallel.is_some_and(|n| !(1..=256).contains(&n)) {
        return Err(malformed(None, "parallel: expected 1 to 256".to_string()));
    }
    if let Some(p) = &file.prompts {
        if p.is_relative() {
            let base = path.parent().unwrap_or(Path::new(""));
            file.prompts = Some(base.join(p));
        }
    }
    Ok(file)
}

/// Combines flags, environment (read through `env`) and the config file into the values of a
/// run: flag > environment > config file > default, for each value separately.
///
/// Errors: an environment value that is not a number in range ([`ConfigError::BadEnv`]).
pub fn resolve(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
    config: &Loaded,
) -> Result<Resolved, ConfigError> {
    let file = config.file.clone().unwrap_or_default();
    let config_path = config
        .path
        .as_ref()
        .map(|(p, _)| p.clone())
        .unwrap_or_default();
    let from_config = || Origin::Config(config_path.clone());

    fn pick<T>(
        flag: Option<T>,
        flag_name: &'static str,
        env: Option<(T, &'static str)>,
        config: Option<T>,
        config_origin: Origin,
        default: T,
    ) -> Setting<T> {
        if let Some(value) = flag {
            return Setting {
                value,
                origin: Origin::Flag(flag_name),
            };
        }
        if let Some((value, var)) = env {
            return Setting {
                value,
                origin: Origin::Env(var),
            };
        }
        if let Some(value) = config {
            return Setting {
                value,
                origin: config_origin,
            };
        }
        Setting {
            value: default,
            origin: Origin::Default,
        }
    }

    let env_str = |var: &'static str| env(var).map(|v| (v, var));
    let env_num =
        |var: &'static str, lo: u64, hi: u64| -> Result<Option<(u64, &'static str)>, ConfigError> {
            let Some(raw) = env(var) else { return Ok(None) };
            match raw.trim().parse::<u64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(Some((n, var))),
                _ => Err(ConfigError::BadEnv {
                    var,
                    value: raw,
                    expected: format!("expected a whole number from {lo} to {hi}"),
                }),
            }
        };

    let top_env = env_num(
        ENV_TOP,
        u64::from(*TOP_RANGE.start()),
        u64::from(*TOP_RANGE.end()),
    )?
    .map(|(n, v)| (n as u16, v));
    let ctx_env = env_num(
        ENV_NUM_CTX,
        u64::from(*NUM_CTX_RANGE.start()),
        u64::from(*NUM_CTX_RANGE.end()),
    )?
    .map(|(n, v)| (Some(n as u32), v));

    let engine_env = match env(ENV_ENGINE) {
        Some(v) if !ENGINES.contains(&v.trim()) => {
            return Err(ConfigError::BadEnv {
                var: ENV_ENGINE,
                value: v,
                expected: "expected auto, ollama or embedded".into(),
            })
        }
        v => v.map(|v| (v.trim().to_owned(), ENV_ENGINE)),
    };
    let config_hosts = file.host.as_ref().map(HostList::urls).unwrap_or_default();
    let host = pick(
        flags.host.clone(),
        "--host",
        env_str(ENV_HOST),
        config_hosts.first().cloned(),
        from_config(),
        DEFAULT_HOST.to_owned(),
    );
    let more_hosts = match &host.origin {
        Origin::Flag(_) => flags.more_hosts.clone(),
        Origin::Config(_) => config_hosts.iter().skip(1).cloned().collect(),
        _ => Vec::new(),
    };
    Ok(Resolved {
        host,
        more_hosts,
        api: pick(
            flags.api.clone().map(Some),
            "--api",
            None,
            file.api.clone().map(Some),
            from_config(),
            None,
        ),
        api_key_env: pick(
            flags.api_key_env.clone().map(Some),
            "--api-key-env",
            None,
            file.api_key_env.clone().map(Some),
            from_config(),
            None,
        ),
        parallel: pick(
            flags.parallel,
            "--parallel",
            None,
            file.parallel,
            from_config(),
            1,
        ),
        engine: pick(
            flags.engine.clone(),
            "--engine",
            engine_env,
            file.engine.clone(),
            from_config(),
            DEFAULT_ENGINE.to_owned(),
        ),
        model: pick(
            flags.model.clone(),
            "--model",
            env_str(ENV_MODEL),
            file.model,
            from_config(),
            DEFAULT_MODEL.to_owned(),
        ),
        top: pick(
            flags.top,
            "--top",
            top_env,
            file.top,
            from_config(),
            DEFAULT_TOP,
        ),
        num_ctx: pick(
            flags.num_ctx.map(Some),
            "--num-ctx",
            ctx_env,
            file.num_ctx.map(Some),
            from_config(),
            None,
        ),
        prompts: pick(
            flags.prompts.clone().map(Some),
            "--prompts",
            env_str(ENV_PROMPTS).map(|(v, var)| (Some(PathBuf::from(v)), var)),
            file.prompts.map(Some),
            from_config(),
            None,
        ),
    })
}

/// The servers part of the model client's configuration ([`crate::llm::LlmConfig`]): the hosts,
/// their API, the requests each takes at once, and the API key read from the variable
/// `api_key_env` names.
///
/// Errors: `api_key_env` names a variable that is not set ([`ConfigError::BadEnv`]).
pub fn servers(
    resolved: &Resolved,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::llm::LlmConfig, ConfigError> {
    let api_key = match &resolved.api_key_env.value {
        None => None,
        Some(var) => Some(env(var).ok_or_else(|| ConfigError::MissingKey {
            var: var.clone(),
            origin: resolved.api_key_env.origin.to_string(),
        })?),
    };
    Ok(crate::llm::LlmConfig {
        host: resolved.host.value.clone(),
        more_hosts: resolved.more_hosts.clone(),
        api: resolved.api.value.as_deref().map(|a| match a {
            "openai" => crate::llm::Api::OpenAi,
            _ => crate::llm::Api::Ollama,
        }),
        api_key,
        parallel: resolved.parallel.value,
        ..crate::llm::LlmConfig::default()
    })
}

#[cfg(test)]
mod tests;
