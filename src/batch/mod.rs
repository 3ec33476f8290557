//! `takeaways batch`: a folder of writeups → one summary per writeup (mirroring the input tree),
//! an index page and a digest of the takeaways that recur across reports.
//!
//! Every writeup goes through the same per-document flow as `takeaways summarize`
//! ([`pipeline::summarize`]). Around it, this module:
//!
//! - finds the writeups ([`discover`]): recursive, following symbolic links (walkdir detects
//!   loops and reports them as errors, which become warnings here), only the extensions the tool
//!   reads ([`crate::input::EXTENSIONS`], the list `summarize` uses too), `--include`/`--exclude`
//!   globs, no hidden files or directories, never the output folder itself;
//! - maps each one to its output path ([`output_paths`]): `OUT/a/b/report.md` for
//!   `DIR/a/b/report.txt`; names that would clash get their full file name (`report.txt.md`);
//!   every path is checked to stay inside OUT, also through symbolic links in OUT;
//! - names that are not UTF-8 keep their raw bytes in the output name; everything that shows or
//!   records a path (progress, warnings, index, failure table, manifest) uses the reversible
//!   escaped form of [`escape_name`] (`zo\xE8.md`), links percent-encode the raw bytes
//!   ([`link_target`]), and each such file gets a warning;
//! - runs up to `jobs` documents at once; memory holds one document per job plus a few lines per
//!   report (title, date, takeaway headlines) for the index and digest;
//! - resumes: the manifest [`MANIFEST`] in OUT maps each source to the blake3 of everything its
//!   summary depends on (the file's bytes, the rendered prompt templates, model, options, output
//!   format, tool version); a source whose key is unchanged and whose summary still exists is
//!   not summarized again (`force` redoes everything). The manifest is saved after every summary
//!   written, so an interrupted run resumes where it stopped;
//! - writes every file with [`crate::atomic::write_if_changed`]: atomically, and only when its
//!   content changed, so a second identical run writes nothing;
//! - keeps going past a bad file and returns the failures, with reasons, in [`BatchReport`].
//!
//! Nothing here prints: progress goes through a [`Reporter`].

mod discover;
mod manifest;
mod pages;

pub use discover::{
    discover, escape_name, extension, output_paths, unescape_name, Filters, Found, Source,
};
pub use manifest::{file_key, run_key, Brief, ReportEntry};
pub use pages::{
    digest, digest_json, digest_markdown, index_json, index_markdown, link_target, Recurring,
    MIN_DIGEST_WORDS,
};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use crate::atomic::write_if_changed;
use crate::exit::Exit;
use crate::input::{self, InputOptions};
use crate::llm::Llm;
use crate::pipeline::{self, PipelineError, Progress, Settings};
use crate::prompts::Prompts;
use crate::render::{self, Format};
use crate::types::Summary;
use discover::{check_found, output_display, safe_output_path};
use manifest::{load_manifest, Manifest};

/// The resume manifest in the output folder (hidden, JSON).
pub const MANIFEST: &str = ".takeaways-batch.json";

/// Version of the manifest layout; a manifest of another version is ignored (everything is
/// redone). 2: sources and outputs are keyed by [`escape_name`]'s form (1 used a lossy form in
/// which two names that are not UTF-8 could share one key).
pub(crate) const MANIFEST_VERSION: u32 = 2;

/// Version of `index.json` and `digest.json`.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// How many takeaways of each report the index shows.
pub const INDEX_TOP: usize = 3;

/// Least number of reports that must share a takeaway for the digest to call it recurring.
pub const MIN_SUPPORT: usize = 2;

/// What a batch run is asked to do (the summarizing itself is described by [`Settings`]).
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The folder of writeups.
    pub input: PathBuf,
    /// The output folder (created when missing).
    pub output: PathBuf,
    /// Globs a file must match (any of them) to be summarized; empty: every file.
    pub include: Vec<String>,
    /// Globs of files and folders to leave out.
    pub exclude: Vec<String>,
    /// Documents summarized at once (at least 1).
    pub jobs: usize,
    /// Summarize every file again, even when its summary is up to date.
    pub force: bool,
    /// Format of the summaries, the index and the digest.
    pub format: Format,
    /// How to decode the writeups (`--encoding`, `--input-format`).
    pub input_options: InputOptions,
    /// The date printed in the summaries, `YYYY-MM-DD` (not part of the resume key).
    pub today: String,
}

/// Receives the progress of a batch. All methods default to doing nothing; they are called from
/// the task running the batch (never concurrently).
pub trait Reporter: Send + Sync {
    /// The files are found: `total` writeups will be looked at.
    fn planned(&self, _total: usize) {}
    /// Something the user should know that is not a failed file (e.g. a symbolic link loop).
    fn warning(&self, _message: &str) {}
    /// File number `id` (0-based, in path order) needs summarizing and starts.
    fn file_started(&self, _id: usize, _source: &str) {}
    /// File `id` goes to the model in `total` chunks.
    fn file_chunks(&self, _id: usize, _total: usize) {}
    /// File `id`: chunk `index` (0-based) starts; `label` names its sections.
    fn file_section(&self, _id: usize, _index: usize, _label: &str) {}
    /// File `id`: the final ranking pass starts.
    fn file_final_pass(&self, _id: usize) {}
    /// File `id` is done: summarized, up to date, or failed.
    fn file_finished(&self, _id: usize, _source: &str, _outcome: &Outcome) {}
}

/// A [`Reporter`] that ignores everything.
pub struct NoReporter;
impl Reporter for NoReporter {}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Summarized and written.
    Summarized {
        /// Takeaways in the summary.
        takeaways: usize,
        /// Wall time for this file.
        seconds: f64,
    },
    /// Its summary is up to date; nothing was done.
    UpToDate,
    /// It could not be summarized.
    Failed(String),
    /// Not attempted: the batch stopped first (the server went away).
    NotAttempted,
}

/// A file that could not be summarized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFailure {
    /// The path under the input folder (`/`-separated).
    pub source: String,
    /// Why, one line.
    pub reason: String,
}

/// The result of a batch run.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    /// Writeups found.
    pub files: usize,
    /// Summarized in this run.
    pub summarized: usize,
    /// Skipped because their summary was up to date.
    pub up_to_date: usize,
    /// The files that failed, in path order.
    pub failures: Vec<FileFailure>,
    /// Warnings (also sent to [`Reporter::warning`]).
    pub warnings: Vec<String>,
    /// The index file written (or left unchanged).
    pub index: PathBuf,
    /// The digest file.
    pub digest: PathBuf,
    /// Takeaways that recur in at least [`MIN_SUPPORT`] reports.
    pub recurring: usize,
    /// Files (summaries, index, digest, manifest) whose content changed and were written.
    pub written: usize,
}

/// Why the batch as a whole could not run (a bad file is not one of these: see
/// [`BatchReport::failures`]).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The input folder is not a directory.
    #[error("{0}: not a directory; give the folder of writeups (for one file use `takeaways summarize`)")]
    NotADirectory(PathBuf),
    /// The output folder is the input folder or holds it: summaries could overwrite writeups.
    #[error("{output}: the output folder is, or contains, the input folder {input}; choose an output folder elsewhere (one inside the input folder is fine: it is skipped)")]
    Overlap {
        /// The input folder.
        input: PathBuf,
        /// The output folder.
        output: PathBuf,
    },
    /// `--include`/`--exclude` left out every writeup of the folder: nothing is written (an
    /// existing index is not replaced by an empty one) and the exit status is 1.
    #[error("{input}: no writeup matches {filters} ({left_out} left out by them); a glob without `/` matches file names at any depth (`*.mkd`), one with `/` the path under the folder (`2024/**/*.md`)")]
    NoMatch {
        /// The input folder.
        input: PathBuf,
        /// The filters as given, e.g. `--include '*.mkd' --exclude drafts`.
        filters: String,
        /// Files and folders they left out (`Found::filtered_out`), e.g. `3 files and folders`.
        left_out: String,
    },
    /// A `--include`/`--exclude` glob is malformed.
    #[error("bad glob {pattern:?}: {detail}")]
    Glob {
        /// The glob as given.
        pattern: String,
        /// globset's message.
        detail: String,
    },
    /// The output folder cannot be created or written, or the manifest/index cannot be saved.
    #[error("{path}: {detail}")]
    Output {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A template failed to render.
    #[error(transparent)]
    Prompt(#[from] crate::prompts::PromptError),
    /// Ollama cannot be reached or the model is missing: the batch stopped. Summaries written
    /// before are kept and the manifest is saved, so a rerun resumes.
    #[error("{source_name}: {error} (the batch stopped; {done} summaries written so far are kept, rerun to resume)")]
    Setup {
        /// The file whose call showed it.
        source_name: String,
        /// The pipeline's error.
        error: Box<PipelineError>,
        /// Summaries written before it stopped.
        done: usize,
    },
}

impl BatchError {
    /// The exit status: [`Exit::Setup`] when the server or the model went missing, that of the
    /// model error; [`Exit::Usage`] for a bad glob; else [`Exit::Failed`].
    pub fn exit(&self) -> Exit {
        match self {
            BatchError::Setup { error, .. } => error.exit(),
            BatchError::Glob { .. } => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

/// Forwards one document's pipeline progress to the batch reporter.
struct FileProgress<'a> {
    reporter: &'a dyn Reporter,
    id: usize,
}

impl Progress for FileProgress<'_> {
    fn start(&self, total: usize) {
        self.reporter.file_chunks(self.id, total);
    }
    fn chunk_started(&self, index: usize, label: &str) {
        self.reporter.file_section(self.id, index, label);
    }
    fn final_pass(&self) {
        self.reporter.file_final_pass(self.id);
    }
}

/// Removes a leading `source: ` from an error message (the failure table has its own column).
fn reason(source: &str, message: &str) -> String {
    message
        .strip_prefix(source)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message)
        .to_string()
}

struct Shared<'a> {
    out: PathBuf,
    options: &'a BatchOptions,
    settings: &'a Settings,
    llm: &'a Llm,
    prompts: &'a Prompts,
    reporter: &'a dyn Reporter,
    run_key: String,
    manifest: Mutex<ManifestState>,
    stop: std::sync::atomic::AtomicBool,
}

struct ManifestState {
    manifest: Manifest,
    dirty: bool,
    written: usize,
}

enum FileResult {
    Done(Outcome),
    Setup(PipelineError),
}

impl Shared<'_> {
    fn manifest_path(&self) -> PathBuf {
        self.out.join(MANIFEST)
    }

    /// Saves the manifest when it changed: after every summary written, so that an interrupted
    /// run loses at most the files in flight.
    fn save_manifest(&self) -> Result<(), BatchError> {
        let mut st = self.manifest.lock().expect("manifest lock");
        if !st.dirty {
            return Ok(());
        }
        let mut text =
            serde_json::to_string_pretty(&st.manifest).expect("plain data always serializes");
        text.push('\n');
        let path = self.manifest_path();
        let wrote = write_if_changed(&path, text.as_bytes()).map_err(|e| BatchError::Output {
            path: path.clone(),
            detail: format!("cannot save the resume manifest ({e})"),
        })?;
        st.written += usize::from(wrote);
        st.dirty = false;
        Ok(())
    }

    async fn process(&self, id: usize, source: &Source, out_rel: &Path) -> FileResult {
        use std::sync::atomic::Ordering::Relaxed;
        let name = source.display();
        let failed = |message: String| FileResult::Done(Outcome::Failed(reason(&name, &message)));
        if self.stop.load(Relaxed) {
            return FileResult::Done(Outcome::NotAttempted);
        }
        let bytes = match std::fs::read(&source.path) {
            Ok(b) => b,
            Err(e) => return failed(format!("cannot read it ({e})")),
        };
        let key = file_key(&self.run_key, &bytes);
        let output = output_display(out_rel);
        let out_path = match safe_output_path(&self.out, out_rel, false) {
            Ok(p) => p,
            Err(e) => return failed(e),
        };
        if !self.options.force {
            let st = self.manifest.lock().expect("manifest lock");
            if let Some(e) = st.manifest.reports.get(&name) {
                if e.key == key && e.output == output && out_path.is_file() {
                    return FileResult::Done(Outcome::UpToDate);
                }
            }
        }
        let doc = match input::from_bytes(
            &name,
            &bytes,
            input::format_for_path(&source.path),
            &self.options.input_options,
        ) {
            Ok(d) => d,
            Err(e) => {
                self.forget(&name);
                return failed(e.to_string());
            }
        };
        drop(bytes);
        let started = Instant::now();
        self.reporter.file_started(id, &name);
        let progress = FileProgress {
            reporter: self.reporter,
            id,
        };
        let result = pipeline::summarize(
            &doc,
            self.llm,
            self.prompts,
            self.settings,
            &self.options.today,
            &progress,
        )
        .await;
        drop(doc);
        let summary = match result {
            Ok(s) => s,
            Err(e) if e.exit() == Exit::Setup => {
                self.stop.store(true, Relaxed);
                return FileResult::Setup(e);
            }
            Err(e) => {
                self.forget(&name);
                return failed(e.to_string());
            }
        };
        let text = render::render(&summary, self.options.format);
        let written = safe_output_path(&self.out, out_rel, true)
            .and_then(|p| write_if_changed(&p, text.as_bytes()).map_err(|e| e.to_string()));
        let wrote = match written {
            Ok(w) => w,
            Err(e) => return failed(format!("cannot write {output} in the output folder ({e})")),
        };
        let entry = entry_of(&summary, key, output);
        {
            let mut st = self.manifest.lock().expect("manifest lock");
            st.written += usize::from(wrote);
            st.manifest.reports.insert(name.clone(), entry);
            st.dirty = true;
        }
        FileResult::Done(Outcome::Summarized {
            takeaways: summary.takeaways.len(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Drops a file's manifest entry (its content changed and no longer gives a summary).
    fn forget(&self, name: &str) {
        let mut st = self.manifest.lock().expect("manifest lock");
        if st.manifest.reports.remove(name).is_some() {
            st.dirty = true;
        }
    }
}

fn entry_of(summary: &Summary, key: String, output: String) -> ReportEntry {
    ReportEntry {
        key,
        output,
        title: summary.title.clone(),
        written: summary.written.clone(),
        takeaways: summary
            .takeaways
            .iter()
            .map(|t| Brief {
                headline: t.headline.clone(),
                detail: t.detail.clone(),
            })
            .collect(),
    }
}

/// Runs a batch: finds the writeups, summarizes those not up to date (up to `options.jobs` at
/// once), writes the index and the digest, and saves the manifest.
///
/// A file that fails is listed in [`BatchReport::failures`] and does not stop the others.
/// Errors ([`BatchError`]): the input is not a folder, a glob is bad, OUT cannot be written, a
/// template fails, or Ollama cannot be reached / lacks the model (the batch stops at once; what
/// was done is kept).
pub async fn run(
    options: &BatchOptions,
    settings: &Settings,
    llm: &Llm,
    prompts: &Prompts,
    reporter: &dyn Reporter,
) -> Result<BatchReport, BatchError> {
    if !options.input.is_dir() {
        return Err(BatchError::NotADirectory(options.input.clone()));
    }
    let filters = Filters::new(&options.include, &options.exclude)?;
    let out_err = |path: &Path, e: std::io::Error| BatchError::Output {
        path: path.to_path_buf(),
        detail: format!("cannot create the output folder ({e})"),
    };
    std::fs::create_dir_all(&options.output).map_err(|e| out_err(&options.output, e))?;
    let out = options
        .output
        .canonicalize()
        .map_err(|e| out_err(&options.output, e))?;
    let input_real = options
        .input
        .canonicalize()
        .map_err(|_| BatchError::NotADirectory(options.input.clone()))?;
    if input_real.starts_with(&out) {
        return Err(BatchError::Overlap {
            input: options.input.clone(),
            output: options.output.clone(),
        });
    }
    let run_key = run_key(settings, prompts, options.format, &options.input_options)?;

    let mut found = discover(&options.input, &filters, Some(&out));
    let outputs = output_paths(&found.sources, options.format);
    check_found(&mut found, &outputs, options)?;
    let mut warnings = std::mem::take(&mut found.warnings);
    let manifest = load_manifest(&out.join(MANIFEST), &mut warnings);
    for w in &warnings {
        reporter.warning(w);
    }
    reporter.planned(found.sources.len());

    let shared = Shared {
        out: out.clone(),
        options,
        settings,
        llm,
        prompts,
        reporter,
        run_key,
        manifest: Mutex::new(ManifestState {
            manifest,
            dirty: false,
            written: 0,
        }),
        stop: std::sync::atomic::AtomicBool::new(false),
    };

    let mut report = BatchReport {
        files: found.sources.len(),
        ..BatchReport::default()
    };
    let mut outcomes: Vec<Option<Outcome>> = vec![None; found.sources.len()];
    let mut setup_error: Option<(String, PipelineError)> = None;
    {
        let shared = &shared;
        let mut results = futures::stream::iter(found.sources.iter().zip(&outputs).enumerate())
            .map(|(id, (source, out_rel))| async move {
                (id, shared.process(id, source, out_rel).await)
            })
            .buffer_unordered(options.jobs.max(1));
        while let Some((id, result)) = results.next().await {
            let name = found.sources[id].display();
            let outcome = match result {
                FileResult::Done(o) => o,
                FileResult::Setup(e) => {
                    let o = Outcome::Failed(e.to_string());
                    if setup_error.is_none() {
                        setup_error = Some((name.clone(), e));
                    }
                    o
                }
            };
            reporter.file_finished(id, &name, &outcome);
            match &outcome {
                Outcome::Summarized { .. } => report.summarized += 1,
                Outcome::UpToDate => report.up_to_date += 1,
                Outcome::Failed(_) | Outcome::NotAttempted => {}
            }
            outcomes[id] = Some(outcome);
            shared.save_manifest()?;
        }
    }
    shared.save_manifest()?;
    if let Some((source_name, error)) = setup_error {
        return Err(BatchError::Setup {
            source_name,
            error: Box::new(error),
            done: report.summarized,
        });
    }

    // Failures in path order: walk problems and failed files merged.
    let mut failures = std::mem::take(&mut found.failures);
    for (source, outcome) in found.sources.iter().zip(&outcomes) {
        if let Some(Outcome::Failed(reason)) = outcome {
            failures.push(FileFailure {
                source: source.display(),
                reason: reason.clone(),
            });
        }
    }
    failures.sort_by(|a, b| a.source.cmp(&b.source));

    // The reports of this run, in path order, from the manifest (new and up-to-date alike).
    let st = shared.manifest.into_inner().expect("manifest lock");
    let mut written = st.written;
    let reports: Vec<(String, &ReportEntry)> = found
        .sources
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Some(Outcome::Summarized { .. } | Outcome::UpToDate)))
        .filter_map(|(s, _)| {
            let name = s.display();
            st.manifest.reports.get(&name).map(|e| (name, e))
        })
        .collect();
    let digest = digest(&reports);
    report.recurring = digest.len();
    let (index_name, digest_name) = match options.format {
        Format::Markdown => ("index.md", "digest.md"),
        Format::Json => ("index.json", "digest.json"),
    };
    let (index_text, digest_text) = match options.format {
        Format::Markdown => (
            index_markdown(&reports, &failures, &settings.model, digest_name),
            digest_markdown(&reports, &digest),
        ),
        Format::Json => (
            index_json(&reports, &failures, &settings.model),
            digest_json(&reports, &digest),
        ),
    };
    for (name, text) in [(index_name, &index_text), (digest_name, &digest_text)] {
        let path = out.join(name);
        let wrote = write_if_changed(&path, text.as_bytes()).map_err(|e| BatchError::Output {
            path: path.clone(),
            detail: format!("cannot write it ({e})"),
        })?;
        written += usize::from(wrote);
    }
    report.index = options.output.join(index_name);
    report.digest = options.output.join(digest_name);
    report.failures = failures;
    report.warnings = warnings;
    report.written = written;
    Ok(report)
}

#[cfg(test)]
mod tests;
