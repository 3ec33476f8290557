//! The command-line surface: clap definitions (whose `--help` is the manual) and [`run`], which
//! dispatches to one function per command ([`commands`]). `main` only parses, calls [`run`],
//! and ends the process with the [`Exit`] it returns.
//!
//! clap types stay in this module: the library's stages take plain values built here.

mod batch_progress;
mod commands;
pub mod progress;

pub use commands::{check_output_path, failure_table, sections_report, stats_line, today};

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};

use crate::cache;
use crate::config;
use crate::exit::{Exit, Failure};
use crate::input;
use crate::llm::{Llm, LlmConfig, LlmError};
use crate::pipeline::{self, Settings};
use crate::prompts::Prompts;
use crate::render::Format;
use progress::{ProgressMode, PullBar};

/// The end of `takeaways --help`: the exit codes (from [`Exit`]) and the files.
fn after_help() -> String {
    format!("{}\n{FILES}", crate::exit::help_table())
}

const FILES: &str = "\
Files:
  config.toml in the platform config directory (~/.config/takeaways/ on Linux), or the file
  named by $TAKEAWAYS_CONFIG: defaults for model, host, top, num_ctx and prompts, e.g.
  `model = \"llama3.2:3b\"`. Each value: flag > environment > config file > built-in default;
  `takeaways doctor` shows where each one came from.
  The answer cache lives in the platform cache directory (~/.cache/takeaways/ on Linux), or in
  $TAKEAWAYS_CACHE_DIR; see `takeaways cache info`.";

/// Summarize long conference writeups and trip reports into a short, ranked list of key
/// takeaways, with a model served by a local Ollama.
///
/// The writeup is split into sections and sent to the model in as few calls as fit its context
/// window (often one; never more than fits, so nothing is cut off), asking for one takeaway per
/// section; the takeaways are merged across sections, ranked, and printed with the sections
/// that support them.
#[derive(Debug, Parser)]
#[command(name = "takeaways", version, after_help = after_help())]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarize one writeup (a file, or `-` for stdin) into ranked takeaways.
    ///
    /// Prints Markdown (or JSON with --format json) on stdout, or writes it to -o FILE
    /// atomically. Progress goes to stderr when it is a terminal (or with --progress). Answers
    /// are cached: an identical rerun makes no model call (--no-cache to ask anyway).
    Summarize(SummarizeArgs),
    /// Show how a writeup is split into sections and chunks, without calling a model.
    ///
    /// One line per section: the chunk it goes to, estimated tokens, byte range and heading
    /// path; then one line per chunk with its estimate against the budget.
    Sections(SectionsArgs),
    /// Work with the prompt templates.
    Prompts(PromptsArgs),
    /// Summarize a folder of writeups into a wiki section: one summary per writeup (mirroring
    /// the folder tree), an index and a digest of the takeaways that recur across reports.
    ///
    /// Resumable: a writeup whose summary is up to date (same content, prompts, model and
    /// options, recorded in OUT/.takeaways-batch.json) is skipped, so a rerun after a crash or
    /// after adding reports only does the new work. A bad file does not stop the batch: the
    /// failures are listed at the end and the exit code is 1.
    Batch(BatchArgs),
    /// Check the setup: the server and its version, the model and its context length, the
    /// num_ctx a run will use, the prompt templates, the answer cache and the config file, with
    /// where each setting came from (flag, environment, config file, default).
    ///
    /// Every failing line says what to do. Exit code 3 when the server or the model is the
    /// problem, 1 for anything else that fails, 0 when all is well.
    Doctor(DoctorArgs),
    /// Show or clear the answer cache (model answers kept so that an identical rerun makes no
    /// model call; --no-cache bypasses it).
    Cache(CacheArgs),
    /// Print a shell completion script for SHELL on stdout.
    ///
    /// bash: `takeaways completions bash > ~/.local/share/bash-completion/completions/takeaways`;
    /// zsh: into a directory on $fpath as `_takeaways`; fish:
    /// `~/.config/fish/completions/takeaways.fish`; PowerShell: add the output to $PROFILE.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout: `takeaways man > takeaways.1`, then
    /// `man ./takeaways.1`, or install it under a `man1` directory on $MANPATH.
    Man,
}

/// Options of `takeaways completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `takeaways doctor`: the settings a run would use, to be checked.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Model to check. Default: $TAKEAWAYS_MODEL, else `model` in the config file, else
    /// llama3.2:3b.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArgs,
    /// num_ctx to check against the model. Default: $TAKEAWAYS_NUM_CTX, else `num_ctx` in the
    /// config file, else the model's own, capped at 8192.
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u32).range(512..=1_048_576))]
    pub num_ctx: Option<u32>,
    /// Prompt templates directory to check. Default: $TAKEAWAYS_PROMPTS, else `prompts` in the
    /// config file, else the built-in templates.
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    /// Seconds to wait for each answer of the server.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Where the model runs: the servers, their API, how many requests each takes. Shared by
/// `summarize`, `batch` and `doctor`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The model server: Ollama (`host:port`, `http://host:11434`) or an OpenAI-compatible one
    /// (vLLM, SGLang, llama.cpp's llama-server, LiteLLM, a router: a URL ending in `/v1`).
    /// Repeat it for a pool of servers; `URL#N` lets one take N requests at once. Default:
    /// $OLLAMA_HOST, else `host` in the config file, else http://127.0.0.1:11434.
    #[arg(long, value_name = "URL[#N]")]
    pub host: Vec<String>,

    /// The API of every --host: `ollama` (its native /api/chat) or `openai` (chat
    /// completions). Default: `api` in the config file, else inferred from each URL (a path
    /// ending in /v1 is OpenAI-compatible, no path is Ollama).
    #[arg(long, value_name = "API", value_parser = ["ollama", "openai"])]
    pub api: Option<String>,

    /// The environment variable that holds the API key of OpenAI-compatible servers (sent as
    /// `Authorization: Bearer`, never printed, cached or recorded). Default: `api_key_env` in
    /// the config file, else no key.
    #[arg(long, value_name = "NAME")]
    pub api_key_env: Option<String>,

    /// Requests each server takes at once, unless its --host says `#N`. Chunks of a writeup
    /// (and writeups of a batch) are sent this many at a time per server; the summary is the
    /// same whatever the number. Ollama serves OLLAMA_NUM_PARALLEL requests at once (default
    /// 1): raise both together. Default: `parallel` in the config file, else 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub parallel: Option<usize>,

    /// Where the model runs: `ollama` (the --host servers), `embedded` (llama.cpp in this
    /// process; --model is a .gguf file or a model in Ollama's store on disk, no server
    /// needed; --parallel N decodes N chunks together), or `auto`: Ollama when its server
    /// answers, else embedded when the model is on disk. Default: $TAKEAWAYS_ENGINE, else
    /// `engine` in the config file, else auto.
    #[arg(long, value_name = "ENGINE", value_parser = ["auto", "ollama", "embedded"])]
    pub engine: Option<String>,

    /// CPU threads of the embedded engine. Default: the physical cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from))]
    pub threads: Option<usize>,

    /// Let the embedded engine's llama.cpp log through to stderr.
    #[arg(long)]
    pub verbose: bool,
}

impl ServerArgs {
    /// These flags as [`config::Flags`] fields (the rest left empty).
    pub fn flags(&self) -> config::Flags {
        config::Flags {
            host: self.host.first().cloned(),
            more_hosts: self.host.iter().skip(1).cloned().collect(),
            api: self.api.clone(),
            api_key_env: self.api_key_env.clone(),
            parallel: self.parallel,
            engine: self.engine.clone(),
            ..config::Flags::default()
        }
    }
}

/// Options of `takeaways cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CacheAction,
}

/// `takeaways cache` actions. The cache directory is $TAKEAWAYS_CACHE_DIR, else the platform
/// cache directory (e.g. ~/.cache/takeaways).
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Print the cache's location, number of entries and size in bytes.
    Info,
    /// Delete every cached answer.
    Clear,
}

/// How to read the input file (shared by the commands that read writeups).
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Text encoding of the input, a WHATWG label such as `utf-8`, `windows-1252`, `shift_jis`
    /// or `utf-16le`. Default: a BOM, else UTF-8, else detected.
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,

    /// Input format. Default: from the file extension (.md .markdown .mdown .mkd .mkdn .mdwn
    /// Markdown, .html .htm .xhtml HTML, .adoc .asciidoc .asc AsciiDoc, .rst .rest
    /// reStructuredText, else plain text; a .txt with `#` headings is read as Markdown).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<input::InputFormat>,
}

impl InputArgs {
    /// The input stage's options.
    pub fn options(&self) -> input::InputOptions {
        input::InputOptions {
            encoding: self.encoding.clone(),
            input_format: self.input_format,
        }
    }
}

/// Options of `takeaways summarize`.
#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// The writeup: Markdown, plain text, HTML, AsciiDoc or reStructuredText (`-` reads stdin).
    pub path: PathBuf,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: PipelineArgs,

    /// Write the summary to FILE (atomically: a temporary file renamed into place) instead of
    /// stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// No progress display on stderr.
    #[arg(long, short, conflicts_with = "progress")]
    pub quiet: bool,

    /// Show progress on stderr even when it is not a terminal (one line per finished chunk).
    /// On a terminal a progress bar is shown anyway.
    #[arg(long)]
    pub progress: bool,

    /// Print counts and timings to stderr at the end: chunks, model calls and the requests the
    /// server received, cache hits, retries, repaired answers, candidates and how many each
    /// check dropped, token counts, model time and wall time.
    #[arg(long)]
    pub stats: bool,

    /// List on stderr every candidate takeaway that was dropped, with the rule that dropped it
    /// (echo of the prompt, restated title, bare heading, off-text, debris, duplicate).
    #[arg(long)]
    pub explain: bool,
}

/// How each writeup is summarized: model, server, options, prompts, record/replay. Shared by
/// `summarize` and `batch`, so both build the same [`Settings`] from the same flags.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Ollama model to use (must be pulled: `ollama pull MODEL`, or pass --pull). Default:
    /// $TAKEAWAYS_MODEL, else `model` in the config file, else llama3.2:3b.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArgs,

    /// How many takeaways to print (1-100). Default: $TAKEAWAYS_TOP, else `top` in the config
    /// file, else 10.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub top: Option<u16>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,

    /// Context window in tokens, the same for every call of the run. Default:
    /// $TAKEAWAYS_NUM_CTX, else `num_ctx` in the config file, else the model's own context length
    /// from Ollama's /api/show, capped at 8192.
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u32).range(512..=1_048_576))]
    pub num_ctx: Option<u32>,

    /// Most tokens the model may generate per call (Ollama num_predict).
    #[arg(long, default_value_t = pipeline::DEFAULT_NUM_PREDICT)]
    pub num_predict: u32,

    /// Sampling temperature; 0 gives repeatable answers.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,

    /// Sampling seed.
    #[arg(long)]
    pub seed: Option<i32>,

    /// Penalty on repeated tokens (Ollama repeat_penalty; 1.0 turns it off).
    #[arg(long, default_value_t = pipeline::DEFAULT_REPEAT_PENALTY)]
    pub repeat_penalty: f32,

    /// Target chunk size in estimated tokens (see `takeaways sections`). Default: as large as
    /// num_ctx leaves room for (fewer calls; each call repeats the instructions).
    #[arg(long, value_parser = clap::value_parser!(u32).range(64..=1_000_000).map(|n| n as usize))]
    pub chunk_tokens: Option<usize>,

    /// How the writeup is cut into model calls: `sections` (one call per chunk of sections, then
    /// merge and rank), `whole` (one call over the whole writeup when it fits num_ctx, then the
    /// same ranking), or `auto` (whole only for a writeup short enough to be one chunk anyway:
    /// with small models the sections give more and better takeaways).
    #[arg(long, value_enum, default_value_t = pipeline::Strategy::Auto)]
    pub strategy: pipeline::Strategy,

    /// Directory of prompt templates overriding the built-in ones file by file (see
    /// `takeaways prompts --export`). Default: $TAKEAWAYS_PROMPTS, else `prompts` in the config
    /// file, else the built-in templates.
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,

    /// After ranking, ask the model to reorder the short list (one more call). Off by default:
    /// it can only reorder the takeaways already chosen, never change which ones are printed.
    #[arg(long, overrides_with = "no_final_pass")]
    pub final_pass: bool,

    /// No final reordering pass (the default; kept for scripts written for older versions).
    #[arg(long, hide = true)]
    pub no_final_pass: bool,

    /// The language to write the takeaways in: an ISO 639-1 or 639-3 code (`fr`, `deu`) or an
    /// English name (`Japanese`). Default: the language the writeup is written in (detected).
    #[arg(long, value_name = "CODE", value_parser = parse_language)]
    pub language: Option<String>,

    /// How long to keep retrying a busy server (HTTP 429/502/503/504, reset connections) before
    /// a call fails, with exponential backoff and jitter (and the server's Retry-After).
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub retry_for: u64,

    /// Go on when a section's model call fails; the summary lists the sections it misses.
    #[arg(long)]
    pub keep_going: bool,

    /// Save every exchange with the model as a JSON file in DIR (for fixtures).
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub record: Option<PathBuf>,

    /// Answer every model call from recordings in DIR; no server is needed. A request that was
    /// not recorded fails.
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,

    /// Seconds to wait for the next byte of an answer before giving up (loading a model on a CPU
    /// can take a minute or more).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,

    /// Do not use the answer cache: ask the model even when the same request was answered
    /// before (new answers are not stored either). See `takeaways cache info`.
    #[arg(long)]
    pub no_cache: bool,

    /// When the model is not on the server, download it first (`ollama pull`), with a progress
    /// bar.
    #[arg(long)]
    pub pull: bool,
}

impl PipelineArgs {
    /// The values given by flags, for [`config::resolve`].
    pub fn flags(&self) -> config::Flags {
        config::Flags {
            model: self.model.clone(),
            top: self.top,
            num_ctx: self.num_ctx,
            prompts: self.prompts.clone(),
            ..self.server.flags()
        }
    }

    /// Model, host, top, num_ctx and prompts from flags, environment, config file and defaults
    /// (see [`crate::config`]). Errors: a malformed config file or environment value (one line
    /// naming it).
    pub fn resolve(&self) -> Result<config::Resolved, Failure> {
        let loaded = config::load(&config::process_env).map_err(Failure::failed)?;
        config::resolve(&self.flags(), &config::process_env, &loaded).map_err(Failure::failed)
    }

    /// The prompt templates of the run.
    pub fn prompts(&self, resolved: &config::Resolved) -> Result<Prompts, Failure> {
        Prompts::new(resolved.prompts.value.as_deref()).map_err(Failure::failed)
    }

    /// The pipeline settings these flags describe.
    pub fn settings(&self, resolved: &config::Resolved) -> Settings {
        Settings {
            model: resolved.model.value.clone(),
            num_ctx: resolved.num_ctx.value,
            num_predict: self.num_predict,
            temperature: self.temperature,
            seed: self.seed,
            repeat_penalty: self.repeat_penalty,
            top: usize::from(resolved.top.value),
            target_tokens: self.chunk_tokens,
            final_pass: self.final_pass && !self.no_final_pass,
            keep_going: self.keep_going,
            language: self.language.clone(),
            strategy: self.strategy,
        }
    }

    /// The model client these flags describe: with the answer cache ([`crate::cache`]) unless
    /// --no-cache or --replay; on the engine --engine chooses ([`crate::engine`]), the
    /// embedded one loaded here, once for the run.
    pub async fn llm(&self, resolved: &config::Resolved) -> Result<Llm, Failure> {
        let cache = if self.no_cache || self.replay.is_some() {
            None
        } else {
            cache::default_dir().map(|(dir, _)| dir)
        };
        let servers = config::servers(resolved, &config::process_env).map_err(Failure::failed)?;
        let opts = crate::engine::EngineOptions {
            threads: self.server.threads,
            verbose: self.server.verbose,
        };
        let servers = LlmConfig {
            record: self.record.clone(),
            replay: self.replay.clone(),
            idle_timeout: Some(Duration::from_secs(self.timeout)),
            cache,
            ..servers
        };
        let (cfg, _) =
            crate::engine::configure(&resolved.engine.value, &resolved.model.value, servers, opts)
                .await
                .map_err(|e| Failure::new(e.exit(), e))?;
        Llm::new(cfg)
            .map(|llm| llm.with_retry_budget(Duration::from_secs(self.retry_for)))
            .map_err(|e| Failure::new(e.exit(), e))
    }

    /// With --pull (and not replaying): pulls the model when the server does not have it, with
    /// progress per `mode`. Otherwise nothing: the pipeline's own check reports a missing model.
    pub async fn pull_if_missing(
        &self,
        llm: &Llm,
        model: &str,
        mode: ProgressMode,
    ) -> Result<(), Failure> {
        if !self.pull || self.replay.is_some() {
            return Ok(());
        }
        match llm.check_model(model).await {
            Ok(()) => Ok(()),
            Err(LlmError::ModelNotFound { .. }) => {
                let bar = PullBar::new(mode, model);
                let result = llm.pull(model, |p| bar.update(&p)).await;
                bar.finish();
                result.map_err(|e| {
                    Failure::new(
                        Exit::Setup,
                        format!("{e}; check the model name (`ollama list`, ollama.com/library)"),
                    )
                })
            }
            Err(e) => Err(Failure::new(e.exit(), e)),
        }
    }
}

/// `--language`: a code or name [`crate::language::Language::from_code`] knows, normalised to
/// its ISO code.
fn parse_language(s: &str) -> Result<String, String> {
    crate::language::Language::from_code(s)
        .map(|l| l.code().to_string())
        .ok_or_else(|| {
            format!("unknown language {s:?}; give an ISO 639-1 code such as en, fr, de, ja")
        })
}

/// Options of `takeaways sections`.
#[derive(Debug, Args)]
pub struct SectionsArgs {
    /// The writeup (`-` reads stdin).
    pub path: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
    /// Context window the budget is computed for.
    #[arg(long, default_value_t = pipeline::NUM_CTX_CAP, value_parser = clap::value_parser!(u32).range(512..=1_048_576))]
    pub num_ctx: u32,
    /// Most tokens the model may generate per call.
    #[arg(long, default_value_t = pipeline::DEFAULT_NUM_PREDICT)]
    pub num_predict: u32,
    /// Target chunk size in estimated tokens.
    #[arg(long, value_parser = clap::value_parser!(u32).range(64..=1_000_000).map(|n| n as usize))]
    pub chunk_tokens: Option<usize>,
    /// Prompt templates directory (the prompt's size is part of the budget).
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
}

/// Options of `takeaways prompts`.
#[derive(Debug, Args)]
pub struct PromptsArgs {
    /// Write the built-in templates into DIR for editing (existing files are kept); then use
    /// them with `--prompts DIR`.
    #[arg(long, value_name = "DIR")]
    pub export: PathBuf,
}

/// Options of `takeaways batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The folder of writeups, searched recursively (symbolic links are followed; loops are
    /// skipped). Files ending in .md .markdown .mdown .mkd .mkdn .mdwn .txt .html .htm .xhtml
    /// .adoc .asciidoc .asc .rst .rest are read (the extensions `summarize` knows); hidden files
    /// and folders are not. A name that is not UTF-8 is shown with its bad bytes as \xHH.
    pub dir: PathBuf,

    /// The output folder (created if needed): one summary per writeup at the same relative path
    /// (a/b/report.txt → OUT/a/b/report.md), plus OUT/index.md and OUT/digest.md.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,

    /// Only summarize files matching GLOB (repeatable). A glob without `/` matches a file name at
    /// any depth (`*.md`); one with `/` matches the path under DIR (`2024/**/*.md`). A glob that
    /// ends in a literal extension or names a file also takes files of other extensions, read as
    /// `summarize` reads them (`--include '*.log'`, `--include notes/README`); others (`2024/**`)
    /// pick among the extensions above. When --include/--exclude leave out every writeup,
    /// nothing is written and the exit status is 1.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out files and folders matching GLOB (repeatable; same rules as --include, e.g.
    /// `drafts` or `README.md`).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Writeups summarized at once. Ollama serves OLLAMA_NUM_PARALLEL requests at once (default
    /// 1), so more jobs than that only queue at the server; raise both together.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Summarize every writeup again, even those whose summary is up to date.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: PipelineArgs,

    /// No progress display on stderr (the failures are still listed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs a parsed command line: the entry point of every command. Errors are a [`Failure`]
/// (status and one-line message) for `main` to print and exit with.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Summarize(args) => commands::summarize(args).await,
        Command::Sections(args) => commands::sections(args),
        Command::Prompts(args) => commands::export_prompts(args),
        Command::Batch(args) => commands::batch(args).await,
        Command::Doctor(args) => commands::doctor(args).await,
        Command::Cache(args) => commands::cache_command(args),
        Command::Completions(args) => commands::completions(args.shell),
        Command::Man => commands::man(),
    }
}
