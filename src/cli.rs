//! The command-line surface: clap definitions (whose `--help` is the manual) and one function per
//! command. `main` only parses, calls [`run`], and turns the result into an exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::input;
use crate::llm::{Llm, LlmConfig};
use crate::pipeline::{self, Progress, Settings};
use crate::prompts::{self, Prompts};
use crate::render::{self, Format};
use crate::split;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (also when the output pipe was closed early, as in `takeaways … | head`)
  1  the input, the model's answers or the output failed (the message names the file)
  2  wrong usage (unknown flag, bad value)
  3  Ollama could not be reached, or the model is not pulled (the message says what to run)";

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
    /// atomically. Progress goes to stderr when it is a terminal.
    Summarize(SummarizeArgs),
    /// Show how a writeup is split into sections and chunks, without calling a model.
    ///
    /// One line per section: the chunk it goes to, estimated tokens, byte range and heading
    /// path; then one line per chunk with its estimate against the budget.
    Sections(SectionsArgs),
    /// Work with the prompt templates.
    Prompts(PromptsArgs),
}

/// Options of `takeaways summarize`.
#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// The writeup: Markdown or plain text (`-` reads stdin).
    pub path: PathBuf,

    /// Ollama model to use (must be pulled: `ollama pull MODEL`).
    #[arg(long, env = "TAKEAWAYS_MODEL", default_value = DEFAULT_MODEL)]
    pub model: String,

    /// Ollama server: URL or host:port. Default: $OLLAMA_HOST, else http://127.0.0.1:11434.
    #[arg(long, env = "OLLAMA_HOST", default_value = "http://127.0.0.1:11434")]
    pub host: String,

    /// How many takeaways to print.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub top: u16,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,

    /// Write the summary to FILE (atomically: a temporary file renamed into place) instead of
    /// stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Context window in tokens, the same for every call of the run. Default: the model's own
    /// context length from Ollama's /api/show, capped at 8192.
    #[arg(long, value_parser = clap::value_parser!(u32).range(512..=1_048_576))]
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
    #[arg(long, default_value_t = split::DEFAULT_TARGET_TOKENS)]
    pub chunk_tokens: usize,

    /// Directory of prompt templates overriding the built-in ones file by file (see
    /// `takeaways prompts --export`).
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

    /// No progress display on stderr.
    #[arg(long, short)]
    pub quiet: bool,

    /// Print counts and timings to stderr at the end.
    #[arg(long)]
    pub stats: bool,
}

/// The model used when neither --model nor TAKEAWAYS_MODEL is given: Meta's Llama 3.2 3B
/// instruct, a small model that many Ollama users already have (`ollama pull llama3.2:3b`).
pub const DEFAULT_MODEL: &str = "llama3.2:3b";

/// Options of `takeaways sections`.
#[derive(Debug, Args)]
pub struct SectionsArgs {
    /// The writeup (`-` reads stdin).
    pub path: PathBuf,
    /// Context window the budget is computed for.
    #[arg(long, default_value_t = pipeline::NUM_CTX_CAP)]
    pub num_ctx: u32,
    /// Most tokens the model may generate per call.
    #[arg(long, default_value_t = pipeline::DEFAULT_NUM_PREDICT)]
    pub num_predict: u32,
    /// Target chunk size in estimated tokens.
    #[arg(long, default_value_t = split::DEFAULT_TARGET_TOKENS)]
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
    }
}

/// The entry point of `takeaways summarize`: one writeup to ranked takeaways.
async fn summarize(args: SummarizeArgs) -> Result<(), Failure> {
    let doc = input::read_path(&args.path).map_err(Failure::new)?;
    let prompts = Prompts::new(args.prompts.as_deref()).map_err(Failure::new)?;
    let llm = Llm::new(LlmConfig {
        host: args.host.clone(),
        record: args.record.clone(),
        replay: args.replay.clone(),
        idle_timeout: Some(Duration::from_secs(args.timeout)),
    })
    .map_err(Failure::new)?;
    let settings = Settings {
        model: args.model.clone(),
        num_ctx: args.num_ctx,
        num_predict: args.num_predict,
        temperature: args.temperature,
        seed: args.seed,
        repeat_penalty: args.repeat_penalty,
        top: usize::from(args.top),
        target_tokens: args.chunk_tokens,
        final_pass: !args.no_final_pass,
        keep_going: args.keep_going,
        date: pipeline::today(),
    };
    let started = std::time::Instant::now();
    let progress = BarProgress::new(!args.quiet && std::io::stderr().is_terminal());
    let result = pipeline::summarize(&doc, &llm, &prompts, &settings, &progress).await;
    progress.finish();
    let summary = result.map_err(|e| Failure {
        code: if e.is_setup_problem() { 3 } else { 1 },
        message: format!("{}: {e}", args.path.display()),
    })?;
    if args.stats {
        let s = &summary.stats;
        eprintln!(
            "stats: {} chunks, {} model calls ({} retries), prompt_eval_count {} (document estimate {}), eval_count {}, model time {:.1}s, wall time {:.1}s, num_ctx {}",
            s.chunks,
            s.model_calls,
            s.retries,
            s.prompt_eval_count,
            s.document_tokens_estimate,
            s.eval_count,
            s.model_seconds,
            started.elapsed().as_secs_f64(),
            s.num_ctx
        );
    }
    let text = render::render(&summary, args.format);
    match &args.output {
        Some(path) => write_atomically(path, &text),
        None => print_stdout(&text),
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
    tmp.persist(path).map_err(|e| fail(&e.error))?;
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
    let doc = input::read_path(&args.path).map_err(Failure::new)?;
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
    out.push_str("chunk  tokens  bytes          section\n");
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
            "{:>5}  {:>6}  {:<13}  {}\n",
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

/// Progress on stderr with indicatif: chunks done/total, the current section, elapsed and ETA.
struct BarProgress {
    bar: Option<ProgressBar>,
}

impl BarProgress {
    fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sections (eta {eta}) {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        BarProgress { bar }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for BarProgress {
    fn start(&self, total: usize) {
        if let Some(b) = &self.bar {
            b.set_length(total as u64);
        }
    }
    fn chunk_started(&self, _index: usize, label: &str) {
        if let Some(b) = &self.bar {
            b.set_message(label.to_string());
        }
    }
    fn chunk_done(&self, _index: usize) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }
    fn final_pass(&self) {
        if let Some(b) = &self.bar {
            b.set_message("final ranking pass");
        }
    }
}
