//! One function per command: each reads its arguments, runs the library, prints, and returns
//! `Ok(())` or a [`Failure`] whose [`Exit`] says how the process ends.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use clap::CommandFactory;

use super::batch_progress::{plural, BatchProgress};
use super::progress::{BarProgress, ProgressMode};
use super::{
    BatchArgs, CacheAction, CacheArgs, Cli, DoctorArgs, PromptsArgs, SectionsArgs, SummarizeArgs,
};
use crate::cache::{self, Cache};
use crate::config;
use crate::exit::{Exit, Failure};
use crate::input;
use crate::llm::Llm;
use crate::pipeline::{self, Settings};
use crate::prompts::{self, Prompts};
use crate::render;
use crate::split;
use crate::types::{Document, Outline, Stats};

/// The entry point of `takeaways summarize`: one writeup to ranked takeaways.
///
/// Ctrl-C stops it: nothing is printed or written (the output file is only ever replaced whole),
/// the message says how far it got, and the exit code is 130. Answers received so far are in
/// the cache, so a rerun repeats none of them.
pub(super) async fn summarize(args: SummarizeArgs) -> Result<(), Failure> {
    if let Some(out) = &args.output {
        check_output_path(out)?;
    }
    let resolved = args.opts.resolve()?;
    let doc = input::read_path_with(&args.path, &args.input.options()).map_err(Failure::failed)?;
    let prompts = args.opts.prompts(&resolved)?;
    let llm = args.opts.llm(&resolved).await?;
    let settings = args.opts.settings(&resolved);
    let started = std::time::Instant::now();
    let mode = ProgressMode::choose(args.quiet, args.progress);

    let pulled = unless_interrupted(args.opts.pull_if_missing(&llm, &settings.model, mode)).await;
    let Some(pulled) = pulled else {
        return Err(Failure::new(
            Exit::Interrupted,
            format!(
                "interrupted while pulling {}; nothing written",
                settings.model
            ),
        ));
    };
    pulled?;

    let progress = BarProgress::with_mode(mode);
    let today = today();
    let outcome = unless_interrupted(pipeline::summarize(
        &doc, &llm, &prompts, &settings, &today, &progress,
    ))
    .await;
    progress.finish();
    let Some(result) = outcome else {
        return Err(interrupted(&progress, &llm, args.output.as_deref()));
    };
    if let (true, Err(pipeline::PipelineError::NoTakeaways { dropped, .. })) =
        (args.explain, &result)
    {
        eprint!("{}", explain_lines(dropped));
    }
    let mut summary =
        result.map_err(|e| Failure::new(e.exit(), format!("{}: {e}", args.path.display())))?;
    // One document, one client: the client's counts are exact, and include the retries of
    // calls that failed in the end (the pipeline only sees those of calls that succeeded).
    let client = llm.stats();
    summary.stats.network_retries = client.retries as usize;
    summary.stats.requests = client.chat_requests as usize;
    if args.explain {
        eprint!("{}", explain_lines(&summary.dropped));
    }
    for notice in llm.notices() {
        eprintln!("takeaways: note: {notice}");
    }
    if args.stats {
        eprintln!(
            "{}",
            stats_line(&summary.stats, started.elapsed().as_secs_f64())
        );
        let hosts = llm.host_stats();
        if hosts.len() > 1 {
            eprint!("{}", host_lines(&hosts));
        }
        if let Some(line) = llm.engine_line() {
            eprintln!("{line}");
        }
    }
    let text = render::render(&summary, args.opts.format);
    match &args.output {
        Some(path) => write_output(path, &text),
        None => print_stdout(&text),
    }
}

/// The `--stats` line (the last part: the invisible text dropped from the writeup,
/// `types::HiddenText`).
pub fn stats_line(s: &Stats, wall_seconds: f64) -> String {
    let dropped = pipeline::drop_summary(&s.dropped);
    format!(
        "stats: {} chunks, {} model calls ({} requests to the server), {} cache hits, {} retries \
         after invalid or cut answers, {} after network errors or busy answers, {} answers \
         repaired; {} candidates, {} dropped{}; prompt_eval_count {} (document estimate {}), \
         eval_count {}; model time {:.1}s, wall time {:.1}s; num_ctx {}; hidden text dropped: \
         {} HTML comments, {} invisible characters, {} hidden elements",
        s.chunks,
        s.model_calls,
        s.requests,
        s.cache_hits,
        s.retries,
        s.network_retries,
        s.repaired,
        s.candidates,
        s.dropped.total(),
        if dropped.is_empty() {
            String::new()
        } else {
            format!(" ({dropped})")
        },
        s.prompt_eval_count,
        s.document_tokens_estimate,
        s.eval_count,
        s.model_seconds,
        wall_seconds,
        s.num_ctx,
        s.hidden.html_comments,
        s.hidden.invisible_chars,
        s.hidden.hidden_elements
    )
}

/// One `--stats` line per server of a pool: what it was sent and what it did.
pub fn host_lines(hosts: &[crate::llm::HostStats]) -> String {
    let mut out = String::new();
    for h in hosts {
        out.push_str(&format!(
            "host {} ({}, {} at once): {} calls, {} requests, {} busy, {} failed, at most {} in flight; prompt_eval_count {}, eval_count {}; model time {:.1}s{}\n",
            h.url,
            h.api,
            h.parallel,
            h.calls,
            h.requests,
            h.busy,
            h.failures,
            h.peak_in_flight,
            h.prompt_eval_count,
            h.eval_count,
            h.model_seconds,
            if h.down { "; taken out (stopped answering)" } else { "" }
        ));
    }
    out
}

/// The `--explain` lines: one per dropped candidate, `dropped (RULE) [SECTION]: HEADLINE`.
pub fn explain_lines(dropped: &[crate::types::Dropped]) -> String {
    let mut out = String::new();
    for d in dropped {
        out.push_str(&format!(
            "dropped ({}) [{}]: {}\n",
            d.rule.name(),
            d.section,
            d.headline
        ));
    }
    out
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
        format!("after {done} of {}", super::progress::chunks(total))
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
    Failure::new(
        Exit::Interrupted,
        format!("interrupted {when}; {written}{rerun}"),
    )
}

/// The entry point of `takeaways doctor`.
pub(super) async fn doctor(args: DoctorArgs) -> Result<(), Failure> {
    let flags = config::Flags {
        model: args.model,
        num_ctx: args.num_ctx,
        prompts: args.prompts,
        ..args.server.flags()
    };
    let report = crate::doctor::run(
        &flags,
        &config::process_env,
        Duration::from_secs(args.timeout.max(1)),
    )
    .await;
    print_stdout(&report.to_string())?;
    match report.exit() {
        Exit::Ok => Ok(()),
        exit => Err(Failure::new(
            exit,
            format!(
                "{} of {} checks failed (the FAIL lines say what to do)",
                report.failures(),
                report.lines.len()
            ),
        )),
    }
}

/// The entry point of `takeaways cache info|clear`.
pub(super) fn cache_command(args: CacheArgs) -> Result<(), Failure> {
    let Some((dir, origin)) = cache::default_dir() else {
        return Err(Failure::failed(format!(
            "no cache directory known (no home directory); set {}",
            cache::CACHE_DIR_ENV
        )));
    };
    let cache = Cache::new(&dir);
    let fail = |e: std::io::Error| Failure::failed(format!("cache {}: {e}", dir.display()));
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

/// Writes the summary to `-o FILE` ([`crate::atomic::write`]: a reader never sees half a
/// file, and the file keeps its mode, or gets rw-r--r--).
fn write_output(path: &Path, text: &str) -> Result<(), Failure> {
    crate::atomic::write(path, text.as_bytes()).map_err(|e| {
        Failure::failed(format!(
            "{}: cannot write the summary: {e}; check that the directory exists and is writable",
            path.display()
        ))
    })
}

/// Checks before any model work that `-o FILE` can be written: its directory exists and it is
/// not itself a directory.
pub fn check_output_path(path: &Path) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(Failure::failed(format!(
            "{}: is a directory; give a file name for -o",
            path.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Failure::failed(format!(
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
        Err(e) => Err(Failure::failed(format!("cannot write to stdout: {e}"))),
    }
}

/// The entry point of `takeaways sections`: shows the split without calling a model.
pub(super) fn sections(args: SectionsArgs) -> Result<(), Failure> {
    let doc = input::read_path_with(&args.path, &args.input.options()).map_err(Failure::failed)?;
    let prompts = Prompts::new(args.prompts.as_deref()).map_err(Failure::failed)?;
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
        language: None,
        strategy: pipeline::Strategy::Sections,
    };
    let outline = split::outline(&doc);
    let budget =
        pipeline::budget(&outline, &prompts, &settings, args.num_ctx).map_err(Failure::failed)?;
    let mut report = sections_report(&doc, &outline, budget, args.num_ctx);
    // What a default run sends can differ from the section chunks: say so, or the table misleads.
    let auto = Settings {
        strategy: pipeline::Strategy::Auto,
        ..settings
    };
    let plan = pipeline::plan_chunks(&doc, &outline, &prompts, &auto, args.num_ctx, budget)
        .map_err(Failure::failed)?;
    if plan.fallback.is_some() {
        report.push_str(&format!(
            "\nA run with --strategy auto (the default) sends the writeup in one call: its estimate of \
             {} tokens is pessimistic and likely fits; if the server refuses it, the chunks above.\n",
            plan.chunks[0].est_tokens
        ));
    }
    print_stdout(&report)
}

/// The text of `takeaways sections`.
pub fn sections_report(
    doc: &Document,
    outline: &Outline,
    budget: split::Budget,
    num_ctx: u32,
) -> String {
    let sections = &outline.sections;
    let chunks = split::chunks(doc, outline, budget);
    let mut out = format!(
        "{}: title {:?}, {} sections, {} chunks; budget per chunk: target {} / max {} estimated tokens (num_ctx {})\n\n",
        doc.source,
        outline.title,
        sections.len(),
        chunks.len(),
        budget.target,
        budget.max,
        num_ctx
    );
    out.push_str("chunks    tokens  bytes          section\n");
    for s in sections {
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
pub(super) fn export_prompts(args: PromptsArgs) -> Result<(), Failure> {
    let written = prompts::export(&args.export).map_err(Failure::failed)?;
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

/// The entry point of `takeaways batch`: a folder of writeups to summaries, an index and a
/// digest (see [`crate::batch`]). Exit code 1 when any writeup failed, 3 when Ollama cannot be
/// reached or lacks the model.
pub async fn batch(args: BatchArgs) -> Result<(), Failure> {
    let resolved = args.opts.resolve()?;
    let prompts = args.opts.prompts(&resolved)?;
    let llm = args.opts.llm(&resolved).await?;
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
        today: today(),
    };
    let started = std::time::Instant::now();
    let mode = ProgressMode::choose(args.quiet, true);
    match unless_interrupted(args.opts.pull_if_missing(&llm, &settings.model, mode)).await {
        Some(pulled) => pulled?,
        None => {
            return Err(Failure::new(
                Exit::Interrupted,
                format!("interrupted while pulling {}; nothing done", settings.model),
            ))
        }
    }
    let progress = BatchProgress::new(args.quiet, std::io::stderr().is_terminal());
    let outcome = unless_interrupted(crate::batch::run(
        &options, &settings, &llm, &prompts, &progress,
    ))
    .await;
    progress.finish();
    let Some(result) = outcome else {
        return Err(Failure::new(
            Exit::Interrupted,
            format!(
                "interrupted; the summaries finished so far are kept and recorded in {}: rerun the same command to resume",
                args.output.join(crate::batch::MANIFEST).display()
            ),
        ));
    };
    let report = result.map_err(|e| Failure::new(e.exit(), &e))?;
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
        let hosts = llm.host_stats();
        if hosts.len() > 1 {
            eprint!("{}", host_lines(&hosts));
        }
        if let Some(line) = llm.engine_line() {
            eprintln!("{line}");
        }
    }
    for notice in llm.notices() {
        eprintln!("takeaways: note: {notice}");
    }
    if report.failures.is_empty() {
        return Ok(());
    }
    eprint!("{}", failure_table(&report.failures));
    Err(Failure::failed(format!(
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

/// Prints the completion script for `shell` ([`clap_complete`]), generated from the same clap
/// definitions as `--help`.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "takeaways", &mut out);
    print_stdout(&String::from_utf8_lossy(&out))
}

/// Prints the manual page ([`clap_mangen`]), generated from the same clap definitions as
/// `--help`.
pub(super) fn man() -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::failed(format!("cannot render the manual page: {e}")))?;
    print_stdout(&String::from_utf8_lossy(&out))
}

/// Today's date as `YYYY-MM-DD` (UTC), or the date of `SOURCE_DATE_EPOCH` when set, so that
/// tests and reproducible builds get a fixed date (reproducible-builds.org convention). The
/// only clock of a run: the library takes the date as a value.
pub fn today() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`, <http://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
