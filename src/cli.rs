//! The command-line surface: clap definitions (whose `--help` is the manual) and one function per
//! command. `main` only parses, calls [`run`], and turns the result into an exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cache::{self, Cache};
use crate::config;
use crate::input;
use crate::llm::{Llm, LlmConfig, LlmError};
use crate::pipeline::{self, Settings};
use crate::progress::{BarProgress, ProgressMode, PullBar};
use crate::prompts::{self, Prompts};
use crate::render::{self, Format};
use crate::split;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (also when the output pipe was closed early, as in `takeaways … | head`)
  1  the input, the model's answers or the output failed (the message names the file)
  2  wrong usage (unknown flag, bad value)
  3  Ollama could not be reached, or the model is not pulled (the message says what to run)
  130  interrupted (Ctrl-C); summarize writes no partial output

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
/// The writeup is split into sections, each section is sent to the model on its own (so nothing
/// is cut off by the model's context window), the takeaways are merged across sections,
/// ranked, and printed with the sections that support them.
#[derive(Debug, Parser)]
#[command(name = "takeaways", version, after_help = EXIT_CODES)]
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
}

/// Options of `takeaways doctor`: the settings a run would use, to be checked.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Model to check. Default: $TAKEAWAYS_MODEL, else `model` in the config file, else
    /// llama3.2:3b.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Server to check. Default: $OLLAMA_HOST, else `host` in the config file, else
    /// http://127.0.0.1:11434.
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
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

    /// Input format. Default: from the file extension (.md/.markdown, .html/.htm, .adoc,
    /// .rst, else plain text; a .txt with `#` headings is read as Markdown).
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

    /// Print counts and timings to stderr at the end: chunks, model calls, cache hits,
    /// retries, token counts, model time and wall time.
    #[arg(long)]
    pub stats: bool,
}

/// How each writeup is summarized: model, server, options, prompts, record/replay. Shared by
/// `summarize` and `batch`, so both build the same [`Settings`] from the same flags.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Ollama model to use (must be pulled: `ollama pull MODEL`, or pass --pull). Default:
    /// $TAKEAWAYS_MODEL, else `model` in the config file, else llama3.2:3b.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Ollama server: URL or host:port. Default: $OLLAMA_HOST, else `host` in the config file,
    /// else http://127.0.0.1:11434.
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,

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

    /// Target chunk size in estimated tokens (see `takeaways sections`).
    #[arg(long, default_value_t = split::DEFAULT_TARGET_TOKENS, value_parser = clap::value_parser!(u32).range(64..=1_000_000).map(|n| n as usize))]
    pub chunk_tokens: usize,

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

    /// Skip the final model pass that reorders the short list; print the code's ranking.
    #[arg(long)]
    pub no_final_pass: bool,

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
            host: self.host.clone(),
            top: self.top,
            num_ctx: self.num_ctx,
            prompts: self.prompts.clone(),
        }
    }

    /// Model, host, top, num_ctx and prompts from flags, environment, config file and defaults
    /// (see [`crate::config`]). Errors: a malformed config file or environment value (one line
    /// naming it).
    pub fn resolve(&self) -> Result<config::Resolved, Failure> {
        let loaded = config::load(&config::process_env).map_err(Failure::new)?;
        config::resolve(&self.flags(), &config::process_env, &loaded).map_err(Failure::new)
    }

    /// The prompt templates of the run.
    pub fn prompts(&self, resolved: &config::Resolved) -> Result<Prompts, Failure> {
        Prompts::new(resolved.prompts.value.as_deref()).map_err(Failure::new)
    }

    /// The pipeline settings these flags describe (the date from [`pipeline::today`]).
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
            final_pass: !self.no_final_pass,
            keep_going: self.keep_going,
            date: pipeline::today(),
            strategy: self.strategy,
        }
    }

    /// The model client these flags describe: with the answer cache ([`crate::cache`]) unless
    /// --no-cache or --replay.
    pub fn llm(&self, resolved: &config::Resolved) -> Result<Llm, Failure> {
        let cache = if self.no_cache || self.replay.is_some() {
            None
        } else {
            cache::default_dir().map(|(dir, _)| dir)
        };
        Llm::new(LlmConfig {
            host: resolved.host.value.clone(),
            record: self.record.clone(),
            replay: self.replay.clone(),
            idle_timeout: Some(Duration::from_secs(self.timeout)),
            cache,
        })
        .map_err(Failure::new)
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
                result.map_err(|e| Failure {
                    code: 3,
                    message: format!(
                        "{e}; check the model name (`ollama list`, ollama.com/library)"
                    ),
                })
            }
            Err(e) => Err(setup_failure(e)),
        }
    }
}

/// An [`LlmError`] before any document work: exit 3 for setup problems (server, model), else 1.
fn setup_failure(e: LlmError) -> Failure {
    let code = match e {
        LlmError::Unreachable { .. } | LlmError::ModelNotFound { .. } => 3,
        _ => 1,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

/// The model used when neither --model nor TAKEAWAYS_MODEL is given: Meta's Llama 3.2 3B
/// instruct, a small model that many Ollama users already have (`ollama pull llama3.2:3b`).
pub const DEFAULT_MODEL: &str = "llama3.2:3b";

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
    #[arg(long, default_value_t = split::DEFAULT_TARGET_TOKENS, value_parser = clap::value_parser!(u32).range(64..=1_000_000).map(|n| n as usize))]
    pub chunk_tokens: usize,
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

/// A failed command: the one-line message and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// One line, naming the file and what to do.
    pub message: String,
    /// 1, or 3 for setup problems (see [`EXIT_CODES`]).
    pub code: i32,
}

impl Failure {
    fn new(message: impl std::fmt::Display) -> Self {
        Failure {
            message: message.to_string(),
            code: 1,
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Summarize(args) => summarize(args).await,
        Command::Sections(args) => sections(args),
        Command::Prompts(args) => export_prompts(args),
        Command::Batch(args) => batch(args).await,
        Command::Doctor(args) => doctor(args).await,
        Command::Cache(args) => cache_command(args),
    }
}

/// The entry point of `takeaways summarize`: one writeup to ranked takeaways.
///
/// Ctrl-C stops it: nothing is printed or written (the output file is only ever replaced whole),
/// the message says how far it got, and the exit code is 130. Answers received so far are in
/// the cache, so a rerun repeats none of them.
async fn summarize(args: SummarizeArgs) -> Result<(), Failure> {
    if let Some(out) = &args.output {
        check_output_path(out)?;
    }
    let resolved = args.opts.resolve()?;
    let doc = input::read_path_with(&args.path, &args.input.options()).map_err(Failure::new)?;
    let prompts = args.opts.prompts(&resolved)?;
    let llm = args.opts.llm(&resolved)?;
    let settings = args.opts.settings(&resolved);
    let started = std::time::Instant::now();
    let mode = ProgressMode::choose(args.quiet, args.progress);

    let pulled = unless_interrupted(args.opts.pull_if_missing(&llm, &settings.model, mode)).await;
    let Some(pulled) = pulled else {
        return Err(Failure {
            code: 130,
            message: format!(
                "interrupted while pulling {}; nothing written",
                settings.model
            ),
        });
    };
    pulled?;

    let progress = BarProgress::with_mode(mode);
    let outcome = unless_interrupted(pipeline::summarize(
        &doc, &llm, &prompts, &settings, &progress,
    ))
    .await;
    progress.finish();
    let Some(result) = outcome else {
        return Err(interrupted(&progress, &llm, args.output.as_deref()));
    };
    let mut summary = result.map_err(|e| Failure {
        code: if e.is_setup_problem() { 3 } else { 1 },
        message: format!("{}: {e}", args.path.display()),
    })?;
    // One document, one client: the client's count is exact, and includes the retries of
    // calls that failed in the end (the pipeline only sees those of calls that succeeded).
    summary.stats.network_retries = llm.stats().retries as usize;
    if args.stats {
        eprintln!(
            "{}",
            stats_line(&summary.stats, started.elapsed().as_secs_f64())
        );
    }
    let text = render::render(&summary, args.opts.format);
    match &args.output {
        Some(path) => write_atomically(path, &text),
        None => print_stdout(&text),
    }
}

/// The `--stats` line.
pub fn stats_line(s: &pipeline::Stats, wall_seconds: f64) -> String {
    format!(
        "stats: {} chunks, {} model calls, {} cache hits, {} retries after invalid or cut answers, \
         {} after network errors; prompt_eval_count {} (document estimate {}), eval_count {}; \
         model time {:.1}s, wall time {:.1}s; num_ctx {}",
        s.chunks,
        s.model_calls,
        s.cache_hits,
        s.retries,
        s.network_retries,
        s.prompt_eval_count,
        s.document_tokens_estimate,
        s.eval_count,
        s.model_seconds,
        wall_seconds,
        s.num_ctx
    )
}

/// Runs `work` unless Ctrl-C comes first (`None` then; `work` is dropped, which cancels it).
async fn unless_interrupted<F: std::future::Future>(work: F) -> Option<F::Output> {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler could be installed: never "interrupted".
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        out = work => Some(out),
        () = ctrl_c => None,
    }
}

/// The failure after Ctrl-C during the pipeline: how far it got, what was (not) written, exit 130.
fn interrupted(progress: &BarProgress, llm: &Llm, output: Option<&Path>) -> Failure {
    let (done, total) = progress.counts();
    let when = if total == 0 {
        "before the first chunk".to_owned()
    } else {
        format!("after {done} of {}", crate::progress::chunks(total))
    };
    let written = match output {
        Some(p) => format!("{} not written", p.display()),
        None => "nothing printed".to_owned(),
    };
    let rerun = if llm.cache().is_some() && done > 0 {
        "; the answers so far are cached, so a rerun skips them"
    } else {
        ""
    };
    Failure {
        code: 130,
        message: format!("interrupted {when}; {written}{rerun}"),
    }
}

/// The entry point of `takeaways doctor`.
async fn doctor(args: DoctorArgs) -> Result<(), Failure> {
    let flags = config::Flags {
        model: args.model,
        host: args.host,
        top: None,
        num_ctx: args.num_ctx,
        prompts: args.prompts,
    };
    let report = crate::doctor::run(
        &flags,
        &config::process_env,
        Duration::from_secs(args.timeout.max(1)),
    )
    .await;
    print_stdout(&report.to_string())?;
    match report.exit_code() {
        0 => Ok(()),
        code => Err(Failure {
            code,
            message: format!(
                "{} of {} checks failed (the FAIL lines say what to do)",
                report.failures(),
                report.lines.len()
            ),
        }),
    }
}

/// The entry point of `takeaways cache info|clear`.
fn cache_command(args: CacheArgs) -> Result<(), Failure> {
    let Some((dir, origin)) = cache::default_dir() else {
        return Err(Failure::new(format!(
            "no cache directory known (no home directory); set {}",
            cache::CACHE_DIR_ENV
        )));
    };
    let cache = Cache::new(&dir);
    let fail = |e: std::io::Error| Failure::new(format!("cache {}: {e}", dir.display()));
    match args.action {
        CacheAction::Info => {
            let info = cache.info().map_err(fail)?;
            print_stdout(&format!(
                "location: {} ({origin})\nentries:  {}\nsize:     {} bytes\n",
                dir.display(),
                info.entries,
                info.bytes
            ))
        }
        CacheAction::Clear => {
            let removed = cache.clear().map_err(fail)?;
            print_stdout(&format!(
                "removed {} entries ({} bytes) from {}\n",
                removed.entries,
                removed.bytes,
                dir.display()
            ))
        }
    }
}

/// Writes `text` to `path` through a temporary file in the same directory, renamed into place, so
/// a reader never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: &dyn std::fmt::Display| {
        Failure::new(format!(
            "{}: cannot write the summary: {e}; check that the directory exists and is writable",
            path.display()
        ))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| fail(&e))?;
    // tempfile creates 0600; a summary is for a team wiki: keep the mode of the file it
    // replaces, else make it readable like any new file (0644).
    let perms = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| default_permissions());
    tmp.as_file().set_permissions(perms).map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    std::fs::metadata(".")
        .map(|m| m.permissions())
        .expect("cwd")
}

/// Checks before any model work that `-o FILE` can be written: its directory exists and it is
/// not itself a directory.
pub fn check_output_path(path: &Path) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(Failure::new(format!(
            "{}: is a directory; give a file name for -o",
            path.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Failure::new(format!(
            "{}: the directory {} does not exist; create it first",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Prints to stdout; a closed pipe (`| head`) ends quietly.
fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(format!("cannot write to stdout: {e}"))),
    }
}

/// The entry point of `takeaways sections`: shows the split without calling a model.
fn sections(args: SectionsArgs) -> Result<(), Failure> {
    let doc = input::read_path_with(&args.path, &args.input.options()).map_err(Failure::new)?;
    let prompts = Prompts::new(args.prompts.as_deref()).map_err(Failure::new)?;
    let settings = Settings {
        model: String::new(),
        num_ctx: Some(args.num_ctx),
        num_predict: args.num_predict,
        temperature: 0.0,
        seed: None,
        repeat_penalty: pipeline::DEFAULT_REPEAT_PENALTY,
        top: 10,
        target_tokens: args.chunk_tokens,
        final_pass: false,
        keep_going: false,
        date: String::new(),
        strategy: pipeline::Strategy::Sections,
    };
    let budget = pipeline::budget(&doc, &prompts, &settings, args.num_ctx).map_err(Failure::new)?;
    print_stdout(&sections_report(&doc, budget, args.num_ctx))
}

/// The text of `takeaways sections`.
pub fn sections_report(doc: &input::Document, budget: split::Budget, num_ctx: u32) -> String {
    let sections = split::sections(doc);
    let chunks = split::chunks(doc, budget);
    let mut out = format!(
        "{}: title {:?}, {} sections, {} chunks; budget per chunk: target {} / max {} estimated tokens (num_ctx {})\n\n",
        doc.source,
        pipeline::title_of(doc),
        sections.len(),
        chunks.len(),
        budget.target,
        budget.max,
        num_ctx
    );
    out.push_str("chunks    tokens  bytes          section\n");
    for s in &sections {
        let in_chunks: Vec<String> = chunks
            .iter()
            .filter(|c| {
                c.parts
                    .iter()
                    .any(|p| p.range.start < s.range.end && s.range.start < p.range.end)
            })
            .map(|c| (c.index + 1).to_string())
            .collect();
        let chunk = if in_chunks.is_empty() {
            "-".to_string()
        } else {
            in_chunks.join(",")
        };
        out.push_str(&format!(
            "{:<8}  {:>6}  {:<13}  {}\n",
            chunk,
            crate::tokens::estimate(&doc.body[s.range.clone()]),
            format!("{}..{}", s.range.start, s.range.end),
            s.label()
        ));
    }
    out.push_str("\nchunk  tokens/max    bytes\n");
    for c in &chunks {
        let warn = if c.est_tokens * 10 > budget.max * 9 {
            "  ! near the limit"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:>5}  {:>5}/{:<5}  {}..{}{warn}\n",
            c.index + 1,
            c.est_tokens,
            budget.max,
            c.range.start,
            c.range.end
        ));
    }
    out
}

/// The entry point of `takeaways prompts --export DIR`.
fn export_prompts(args: PromptsArgs) -> Result<(), Failure> {
    let written = prompts::export(&args.export).map_err(Failure::new)?;
    if written.is_empty() {
        eprintln!(
            "{}: every template is already there; nothing written",
            args.export.display()
        );
    }
    for p in written {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// Options of `takeaways batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The folder of writeups, searched recursively (symbolic links are followed; loops are
    /// skipped). Files ending in .md .markdown .txt .html .htm .adoc .asciidoc .rst are read;
    /// hidden files and folders are not.
    pub dir: PathBuf,

    /// The output folder (created if needed): one summary per writeup at the same relative path
    /// (a/b/report.txt → OUT/a/b/report.md), plus OUT/index.md and OUT/digest.md.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,

    /// Only summarize files matching GLOB (repeatable). A glob without `/` matches a file name at
    /// any depth (`*.md`); one with `/` matches the path under DIR (`2024/**/*.md`).
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

/// The entry point of `takeaways batch`: a folder of writeups to summaries, an index and a
/// digest (see [`crate::batch`]). Exit code 1 when any writeup failed, 3 when Ollama cannot be
/// reached or lacks the model.
pub async fn batch(args: BatchArgs) -> Result<(), Failure> {
    let resolved = args.opts.resolve()?;
    let prompts = args.opts.prompts(&resolved)?;
    let llm = args.opts.llm(&resolved)?;
    let settings = args.opts.settings(&resolved);
    let pull_display = ProgressMode::choose(args.quiet, false);
    args.opts
        .pull_if_missing(&llm, &settings.model, pull_display)
        .await?;
    let options = crate::batch::BatchOptions {
        input: args.dir.clone(),
        output: args.output.clone(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        jobs: usize::from(args.jobs),
        force: args.force,
        format: args.opts.format,
        input_options: args.input.options(),
    };
    let started = std::time::Instant::now();
    let mode = ProgressMode::choose(args.quiet, true);
    match unless_interrupted(args.opts.pull_if_missing(&llm, &settings.model, mode)).await {
        Some(pulled) => pulled?,
        None => {
            return Err(Failure {
                code: 130,
                message: format!("interrupted while pulling {}; nothing done", settings.model),
            })
        }
    }
    let progress = BatchProgress::new(args.quiet, std::io::stderr().is_terminal());
    let outcome = unless_interrupted(crate::batch::run(
        &options, &settings, &llm, &prompts, &progress,
    ))
    .await;
    progress.finish();
    let Some(result) = outcome else {
        return Err(Failure {
            code: 130,
            message: format!(
                "interrupted; the summaries finished so far are kept and recorded in {}: rerun the same command to resume",
                args.output.join(crate::batch::MANIFEST).display()
            ),
        });
    };
    let report = result.map_err(|e| Failure {
        code: if e.is_setup_problem() { 3 } else { 1 },
        message: e.to_string(),
    })?;
    if !args.quiet {
        let calls = llm.stats().calls;
        eprintln!(
            "batch: {}: {} summarized, {} up to date, {} failed; {} written; {}; {} recurring takeaways in {}; {:.1} s",
            plural(report.files, "writeup", "writeups"),
            report.summarized,
            report.up_to_date,
            report.failures.len(),
            plural(report.written, "file", "files"),
            plural(calls as usize, "model call", "model calls"),
            report.recurring,
            report.digest.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if report.failures.is_empty() {
        return Ok(());
    }
    eprint!("{}", failure_table(&report.failures));
    Err(Failure::new(format!(
        "{} of {} could not be summarized (listed above); the others are in {}",
        report.failures.len(),
        plural(
            report.files.max(report.failures.len()),
            "writeup",
            "writeups"
        ),
        report.index.display()
    )))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The failures of a batch as an aligned two-column table.
pub fn failure_table(failures: &[crate::batch::FileFailure]) -> String {
    let width = failures
        .iter()
        .map(|f| f.source.chars().count())
        .max()
        .unwrap_or(0)
        .max("file".len());
    let mut out = format!("\nFailed:\n  {:<width$}  reason\n", "file");
    for f in failures {
        out.push_str(&format!("  {:<width$}  {}\n", f.source, f.reason));
    }
    out
}

/// Progress of `takeaways batch` on stderr: with a terminal, an overall bar (files done/total,
/// failures, ETA) and one line per file in flight with its current section; without one, plain
/// log lines; with --quiet, nothing.
struct BatchProgress {
    mode: BatchProgressMode,
    total: std::sync::atomic::AtomicUsize,
    finished: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
}

enum BatchProgressMode {
    Quiet,
    Lines,
    Bars {
        multi: indicatif::MultiProgress,
        overall: ProgressBar,
        /// File id → its line and its number of chunks.
        files: std::sync::Mutex<std::collections::HashMap<usize, (ProgressBar, usize)>>,
    },
}

impl BatchProgress {
    fn new(quiet: bool, terminal: bool) -> Self {
        let mode = if quiet {
            BatchProgressMode::Quiet
        } else if terminal {
            let multi = indicatif::MultiProgress::new();
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            BatchProgressMode::Bars {
                multi,
                overall,
                files: std::sync::Mutex::new(std::collections::HashMap::new()),
            }
        } else {
            BatchProgressMode::Lines
        };
        BatchProgress {
            mode,
            total: 0.into(),
            finished: 0.into(),
            failed: 0.into(),
        }
    }

    fn finish(&self) {
        if let BatchProgressMode::Bars { overall, files, .. } = &self.mode {
            for (bar, _) in files.lock().expect("progress lock").values() {
                bar.finish_and_clear();
            }
            overall.finish_and_clear();
        }
    }

    fn file_message(&self, id: usize, message: impl FnOnce(usize) -> String) {
        if let BatchProgressMode::Bars { files, .. } = &self.mode {
            if let Some((bar, chunks)) = files.lock().expect("progress lock").get(&id) {
                bar.set_message(message(*chunks));
            }
        }
    }
}

impl crate::batch::Reporter for BatchProgress {
    fn planned(&self, total: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.total.store(total, Relaxed);
        match &self.mode {
            BatchProgressMode::Bars { overall, .. } => {
                // Drawn from here on: before, its length is unknown.
                overall.set_message("0 failed");
                overall.set_length(total as u64);
                overall.enable_steady_tick(Duration::from_millis(200));
            }
            BatchProgressMode::Lines => {
                eprintln!("batch: {}", plural(total, "writeup", "writeups"))
            }
            BatchProgressMode::Quiet => {}
        }
    }

    fn warning(&self, message: &str) {
        match &self.mode {
            BatchProgressMode::Bars { multi, .. } => {
                let _ = multi.println(format!("warning: {message}"));
            }
            _ => eprintln!("warning: {message}"),
        }
    }

    fn file_started(&self, id: usize, source: &str) {
        match &self.mode {
            BatchProgressMode::Bars {
                multi,
                overall,
                files,
            } => {
                let bar = multi.insert_before(overall, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix}: {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(source.to_string());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(200));
                files.lock().expect("progress lock").insert(id, (bar, 0));
            }
            BatchProgressMode::Lines => eprintln!("{source}: started"),
            BatchProgressMode::Quiet => {}
        }
    }

    fn file_chunks(&self, id: usize, total: usize) {
        if let BatchProgressMode::Bars { files, .. } = &self.mode {
            if let Some(entry) = files.lock().expect("progress lock").get_mut(&id) {
                entry.1 = total;
            }
        }
    }

    fn file_section(&self, id: usize, index: usize, label: &str) {
        self.file_message(id, |chunks| {
            format!("section {}/{chunks}: {label}", index + 1)
        });
    }

    fn file_final_pass(&self, id: usize) {
        self.file_message(id, |_| "final ranking pass".to_string());
    }

    fn file_finished(&self, id: usize, source: &str, outcome: &crate::batch::Outcome) {
        use crate::batch::Outcome;
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.finished.fetch_add(1, Relaxed) + 1;
        if matches!(outcome, Outcome::Failed(_)) {
            self.failed.fetch_add(1, Relaxed);
        }
        let what = match outcome {
            Outcome::Summarized { takeaways, seconds } => format!(
                "summarized, {} ({seconds:.1} s)",
                plural(*takeaways, "takeaway", "takeaways")
            ),
            Outcome::UpToDate => "up to date".to_string(),
            Outcome::Failed(reason) => format!("FAILED: {reason}"),
            Outcome::NotAttempted => "not attempted".to_string(),
        };
        match &self.mode {
            BatchProgressMode::Bars {
                multi,
                overall,
                files,
            } => {
                if let Some((bar, _)) = files.lock().expect("progress lock").remove(&id) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                if !matches!(outcome, Outcome::UpToDate) {
                    let _ = multi.println(format!("{source}: {what}"));
                }
                overall.set_message(format!("{} failed", self.failed.load(Relaxed)));
                overall.inc(1);
            }
            BatchProgressMode::Lines => {
                let total = self.total.load(Relaxed);
                eprintln!("[{n}/{total}] {source}: {what}");
            }
            BatchProgressMode::Quiet => {}
        }
    }
}
