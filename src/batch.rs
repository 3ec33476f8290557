//! `takeaways batch`: a folder of writeups → one summary per writeup (mirroring the input tree),
//! an index page and a digest of the takeaways that recur across reports.
//!
//! Every writeup goes through the same per-document flow as `takeaways summarize`
//! ([`pipeline::summarize`]). Around it, this module:
//!
//! - finds the writeups ([`discover`]): recursive, following symbolic links (walkdir detects
//!   loops and reports them as errors, which become warnings here), only the extensions the tool
//!   reads ([`EXTENSIONS`]), `--include`/`--exclude` globs, no hidden files or directories, never
//!   the output folder itself;
//! - maps each one to its output path ([`output_paths`]): `OUT/a/b/report.md` for
//!   `DIR/a/b/report.txt`; names that would clash get their full file name (`report.txt.md`);
//!   every path is checked to stay inside OUT, also through symbolic links in OUT;
//! - runs up to `jobs` documents at once; memory holds one document per job plus a few lines per
//!   report (title, date, takeaway headlines) for the index and digest;
//! - resumes: the manifest [`MANIFEST`] in OUT maps each source to the blake3 of everything its
//!   summary depends on (the file's bytes, the rendered prompt templates, model, options, output
//!   format, tool version); a source whose key is unchanged and whose summary still exists is
//!   not summarized again (`force` redoes everything). The manifest is saved after every summary
//!   written, so an interrupted run resumes where it stopped;
//! - writes every file atomically (a temporary file in the same directory, renamed into place),
//!   and only when its content changed: a second identical run writes nothing;
//! - keeps going past a bad file and returns the failures, with reasons, in [`BatchReport`].
//!
//! Nothing here prints: progress goes through a [`Reporter`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use futures::StreamExt;
use globset::{GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::input::{self, InputOptions};
use crate::llm::Llm;
use crate::pipeline::{self, PipelineError, Progress, Settings, Summary};
use crate::prompts::{ExtractVars, Prompts, RankItem, RankVars};
use crate::rank;
use crate::render::{self, Format};

/// File extensions (lowercase) picked up in the input folder: the formats `input` reads.
pub const EXTENSIONS: &[&str] = &[
    "md", "markdown", "txt", "html", "htm", "adoc", "asciidoc", "rst",
];

/// The resume manifest in the output folder (hidden, JSON).
pub const MANIFEST: &str = ".takeaways-batch.json";

/// Version of the manifest layout; a manifest of another version is ignored (everything is
/// redone).
const MANIFEST_VERSION: u32 = 1;

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
    /// True for [`BatchError::Setup`] (exit code 3).
    pub fn is_setup_problem(&self) -> bool {
        matches!(self, BatchError::Setup { .. })
    }
}

/// A writeup found in the input folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where to read it.
    pub path: PathBuf,
    /// Its path relative to the input folder, as components (never `..`).
    pub rel: Vec<OsString>,
}

impl Source {
    /// The relative path, `/`-separated (lossy for names that are not UTF-8).
    pub fn display(&self) -> String {
        rel_display(&self.rel)
    }
}

fn rel_display(rel: &[OsString]) -> String {
    rel.iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Found {
    /// Writeups, in path order.
    pub sources: Vec<Source>,
    /// Paths that could not be looked at (unreadable folder, broken link to a writeup).
    pub failures: Vec<FileFailure>,
    /// Symbolic link loops that were skipped.
    pub warnings: Vec<String>,
}

/// `--include`/`--exclude` patterns. A pattern without `/` matches a file or folder name at any
/// depth (`*.md`, `drafts`); one with `/` matches the path relative to the input folder
/// (`2024/**/*.md`).
#[derive(Debug, Clone)]
pub struct Filters {
    include_name: GlobSet,
    include_path: GlobSet,
    any_include: bool,
    exclude_name: GlobSet,
    exclude_path: GlobSet,
}

impl Filters {
    /// Compiles the globs. Errors: [`BatchError::Glob`].
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filters, BatchError> {
        let (include_name, include_path) = glob_sets(include)?;
        let (exclude_name, exclude_path) = glob_sets(exclude)?;
        Ok(Filters {
            include_name,
            include_path,
            any_include: !include.is_empty(),
            exclude_name,
            exclude_path,
        })
    }

    fn excluded(&self, name: &str, rel: &str) -> bool {
        self.exclude_name.is_match(name) || self.exclude_path.is_match(rel)
    }

    fn included(&self, name: &str, rel: &str) -> bool {
        !self.any_include || self.include_name.is_match(name) || self.include_path.is_match(rel)
    }
}

fn glob_sets(patterns: &[String]) -> Result<(GlobSet, GlobSet), BatchError> {
    let mut names = GlobSetBuilder::new();
    let mut paths = GlobSetBuilder::new();
    let bad = |pattern: &str, e: globset::Error| BatchError::Glob {
        pattern: pattern.to_string(),
        detail: e.kind().to_string(),
    };
    for p in patterns {
        let trimmed = p.trim_start_matches("./").trim_end_matches('/');
        let glob = globset::GlobBuilder::new(trimmed)
            .literal_separator(true)
            .build()
            .map_err(|e| bad(p, e))?;
        if trimmed.contains('/') {
            paths.add(glob);
        } else {
            names.add(glob);
        }
    }
    let build = |b: GlobSetBuilder| b.build().map_err(|e| bad(&patterns.join(" "), e));
    Ok((build(names)?, build(paths)?))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn wanted_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The relative components of `path` under `root`; `None` when it is not under `root` or has a
/// component other than a plain name.
fn relative(root: &Path, path: &Path) -> Option<Vec<OsString>> {
    let rel = path.strip_prefix(root).ok()?;
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Finds the writeups under `input` (see the module docs). `skip` is a folder never entered
/// (the output folder, canonical path), when it lies inside `input`.
pub fn discover(input: &Path, filters: &Filters, skip: Option<&Path>) -> Found {
    let mut found = Found::default();
    let walker = walkdir::WalkDir::new(input)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            if is_hidden(e.file_name()) {
                return false;
            }
            let Some(rel) = relative(input, e.path()) else {
                return false;
            };
            let name = e.file_name().to_string_lossy();
            if filters.excluded(&name, &rel_display(&rel)) {
                return false;
            }
            if e.file_type().is_dir() {
                if let Some(skip) = skip {
                    if e.path().canonicalize().is_ok_and(|c| c == skip) {
                        return false;
                    }
                }
            }
            true
        });
    for entry in walker {
        match entry {
            Ok(e) => {
                if !e.file_type().is_file() || !wanted_extension(e.path()) {
                    continue;
                }
                let Some(rel) = relative(input, e.path()) else {
                    continue;
                };
                let name = e.file_name().to_string_lossy();
                if !filters.included(&name, &rel_display(&rel)) {
                    continue;
                }
                found.sources.push(Source {
                    path: e.path().to_path_buf(),
                    rel,
                });
            }
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                let shown = relative(input, &path)
                    .map(|r| rel_display(&r))
                    .unwrap_or_else(|| path.display().to_string());
                if let Some(ancestor) = err.loop_ancestor() {
                    found.warnings.push(format!(
                        "{shown}: skipped, a symbolic link loop back to {}",
                        ancestor.display()
                    ));
                } else if path.is_dir() || wanted_extension(&path) || path.as_os_str().is_empty() {
                    let reason = err
                        .io_error()
                        .map_or_else(|| err.to_string(), ToString::to_string);
                    let reason = if path.is_symlink() && !path.exists() {
                        format!("a broken symbolic link ({reason})")
                    } else {
                        format!("cannot read it ({reason})")
                    };
                    found.failures.push(FileFailure {
                        source: shown,
                        reason,
                    });
                }
            }
        }
    }
    found
}

/// Output file names at the top of OUT that a summary must not take.
fn reserved_names(format: Format) -> [&'static str; 2] {
    match format {
        Format::Markdown => ["index.md", "digest.md"],
        Format::Json => ["index.json", "digest.json"],
    }
}

/// The extension of the files written in `format`.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Markdown => "md",
        Format::Json => "json",
    }
}

/// The output path (relative to OUT) of each source, in the same order: the source's relative
/// path with its extension replaced by `.md`/`.json`. When two sources of one folder would get the
/// same name (`a.txt`, `a.md`), or a top-level one would take the index or digest's name, they
/// keep their full name (`a.txt.md`); a name still taken gets `-2`, `-3`, …
pub fn output_paths(sources: &[Source], format: Format) -> Vec<PathBuf> {
    let ext = extension(format);
    let primary = |s: &Source| -> PathBuf {
        let mut p: PathBuf = s.rel[..s.rel.len() - 1].iter().collect();
        let file = Path::new(&s.rel[s.rel.len() - 1]);
        let stem = file.file_stem().unwrap_or(file.as_os_str());
        let mut name = stem.to_os_string();
        name.push(".");
        name.push(ext);
        p.push(name);
        p
    };
    let mut counts: HashMap<PathBuf, usize> = HashMap::new();
    for s in sources {
        *counts.entry(primary(s)).or_default() += 1;
    }
    let mut taken: HashSet<PathBuf> = reserved_names(format).iter().map(PathBuf::from).collect();
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let first = primary(s);
        let dir: PathBuf = s.rel[..s.rel.len() - 1].iter().collect();
        let full = {
            let mut name = s.rel[s.rel.len() - 1].clone();
            name.push(".");
            name.push(ext);
            dir.join(name)
        };
        let mut candidate = if counts[&first] > 1 || taken.contains(&first) {
            full.clone()
        } else {
            first
        };
        let mut n = 2;
        while taken.contains(&candidate) {
            let mut name = Path::new(&s.rel[s.rel.len() - 1])
                .as_os_str()
                .to_os_string();
            name.push(format!("-{n}.{ext}"));
            candidate = dir.join(name);
            n += 1;
        }
        taken.insert(candidate.clone());
        out.push(candidate);
    }
    out
}

/// One takeaway as kept for the index and digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    /// The headline.
    pub headline: String,
    /// The one-sentence detail.
    pub detail: String,
}

/// What the index and digest need of one report (also stored in the manifest, so that an
/// up-to-date report needs no reading).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// blake3 of everything the summary depends on (see [`file_key`]).
    pub key: String,
    /// The summary file, relative to OUT, `/`-separated.
    pub output: String,
    /// The report's title.
    pub title: String,
    /// Its date (front matter), verbatim.
    pub written: Option<String>,
    /// Its takeaways in rank order.
    pub takeaways: Vec<Brief>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// Source path (relative to the input folder, `/`-separated) → its report.
    reports: BTreeMap<String, ReportEntry>,
}

fn load_manifest(path: &Path, warnings: &mut Vec<String>) -> Manifest {
    let fresh = Manifest {
        version: MANIFEST_VERSION,
        ..Manifest::default()
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fresh,
        Err(e) => {
            warnings.push(format!(
                "{}: cannot read the resume manifest ({e}); every file is summarized again",
                path.display()
            ));
            return fresh;
        }
    };
    match serde_json::from_slice::<Manifest>(&bytes) {
        Ok(m) if m.version == MANIFEST_VERSION => m,
        Ok(_) => fresh,
        Err(e) => {
            warnings.push(format!(
                "{}: unreadable resume manifest ({e}); every file is summarized again",
                path.display()
            ));
            fresh
        }
    }
}

/// The part of the resume key shared by all files of a run: tool version, model and options
/// (every [`Settings`] field but the date), output format, input options, the source of every
/// prompt template in use, and the extract and rank prompts rendered with fixed probe values (so
/// an edited template in `--prompts DIR` counts as a change).
pub fn run_key(
    settings: &Settings,
    prompts: &Prompts,
    format: Format,
    input_options: &InputOptions,
) -> Result<String, crate::prompts::PromptError> {
    let extract = prompts.extract_messages(&ExtractVars {
        title: "\u{1}title",
        sections: vec!["\u{1}section".into()],
        chunk: "\u{1}chunk",
        max_takeaways: crate::extract::MAX_TAKEAWAYS_PER_CHUNK,
    })?;
    let rank = prompts.rank_messages(&RankVars {
        title: "\u{1}title",
        candidates: vec![RankItem {
            id: 1,
            headline: "\u{1}headline".into(),
            detail: "\u{1}detail".into(),
        }],
    })?;
    let probe = |m: Vec<crate::llm::Message>| -> Vec<(String, String)> {
        m.into_iter().map(|m| (m.role, m.content)).collect()
    };
    // The source of every template in use (built in, or from the override directory).
    let templates: Vec<(&str, String)> = crate::prompts::DEFAULTS
        .iter()
        .map(|(name, text)| {
            let over = prompts
                .dir()
                .map(|d| d.join(name))
                .and_then(|p| std::fs::read_to_string(p).ok());
            (*name, over.unwrap_or_else(|| (*text).to_string()))
        })
        .collect();
    // Every setting but the date, by its Debug form: a field added to Settings later is part of
    // the key without anyone having to remember it here.
    let mut settings = settings.clone();
    settings.date = String::new();
    let value = serde_json::json!({
        "tool": env!("CARGO_PKG_VERSION"),
        "settings": format!("{settings:?}"),
        "format": extension(format),
        "encoding": input_options.encoding,
        "input_format": input_options.input_format.map(|f| f.name()),
        "templates": templates,
        "extract_prompt": probe(extract),
        "rank_prompt": probe(rank),
        "extract_schema": crate::extract::schema_of::<crate::extract::ExtractAnswer>(),
    });
    Ok(value.to_string())
}

/// The resume key of one file: blake3 of the run key and the file's bytes, hex.
pub fn file_key(run_key: &str, bytes: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&(run_key.len() as u64).to_le_bytes());
    h.update(run_key.as_bytes());
    h.update(bytes);
    h.finalize().to_hex().to_string()
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then a rename) unless
/// the file already holds exactly these bytes. Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".takeaways-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // A temporary file is private (0600); a wiki page is not: keep the old file's mode, else
    // rw-r--r--.
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => default_permissions(tmp.as_file())?,
    };
    tmp.as_file().set_permissions(mode)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(true)
}

#[cfg(unix)]
fn default_permissions(_file: &std::fs::File) -> std::io::Result<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions(file: &std::fs::File) -> std::io::Result<std::fs::Permissions> {
    Ok(file.metadata()?.permissions())
}

/// The full path of `rel` under `out` (canonical), refusing any path that would land outside
/// `out`: a component other than a plain name, or a symbolic link in the output tree that points
/// elsewhere. With `create`, the folders on the way are created first; without, the deepest
/// existing one is checked (so a file that fails leaves no empty folders behind).
fn safe_output_path(out: &Path, rel: &Path, create: bool) -> Result<PathBuf, String> {
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "output path {} is not a plain relative path",
            rel.display()
        ));
    }
    let full = out.join(rel);
    let parent = full.parent().unwrap_or(out);
    if create {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {} ({e})", parent.display()))?;
    }
    let existing = parent.ancestors().find(|a| a.exists()).unwrap_or(out);
    let real = existing
        .canonicalize()
        .map_err(|e| format!("cannot resolve {} ({e})", existing.display()))?;
    if !real.starts_with(out) {
        return Err(format!(
            "{} leads outside the output folder (to {}); remove that symbolic link",
            existing.display(),
            real.display()
        ));
    }
    Ok(full)
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
        let output = out_rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
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
        let result =
            pipeline::summarize(&doc, self.llm, self.prompts, self.settings, &progress).await;
        drop(doc);
        let summary = match result {
            Ok(s) => s,
            Err(e) if e.is_setup_problem() => {
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
            Err(e) => return failed(format!("cannot write {} ({e})", out_path.display())),
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
    let mut warnings = std::mem::take(&mut found.warnings);
    for w in &warnings {
        reporter.warning(w);
    }
    let manifest = load_manifest(&out.join(MANIFEST), &mut warnings);
    let outputs = output_paths(&found.sources, options.format);
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

/// A takeaway that recurs across reports: the mentions of one group, at most one per report.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurring {
    /// The headline shown (the best-ranked mention's).
    pub headline: String,
    /// Its detail.
    pub detail: String,
    /// The supporting reports: index into the report list, and the takeaway's 1-based rank there.
    pub mentions: Vec<(usize, usize)>,
}

/// A headline as the digest compares and shows it: HTML tags removed (small models copy `<h1>`,
/// `<em>` and the start of `<img src=` from converted pages), an unclosed tag at the end dropped,
/// white space collapsed.
pub fn clean_headline(headline: &str) -> String {
    let mut out = String::with_capacity(headline.len());
    let mut rest = headline;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let looks_like_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match after.find('>') {
            Some(close) if looks_like_tag => rest = &after[close + 1..],
            None if looks_like_tag => {
                rest = "";
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Least number of content words ([`rank::content_tokens`]) a cleaned headline needs to take part
/// in the digest: a bare topic ("Databases", "The keynote") is not a takeaway two reports can be
/// said to share.
pub const MIN_DIGEST_WORDS: usize = 2;

/// Groups the takeaways of all reports and keeps the groups that at least [`MIN_SUPPORT`]
/// distinct reports support.
///
/// Headlines are compared after [`clean_headline`], with [`rank::same_takeaway`]; a takeaway
/// joins the first group whose first takeaway (its seed) it matches, in report order then rank
/// order. Comparing with the seed only, not with any member as [`rank::merge`] does within one
/// report, keeps a chain of loosely similar headlines from different reports from growing into
/// one group. Headlines with fewer than [`MIN_DIGEST_WORDS`] content words are left out.
///
/// Ordered by the number of reports, then by the sum of the takeaway's rank in them (higher in
/// the reports first), then by first appearance. The headline shown is the best-ranked mention's
/// (the earliest report on a tie).
pub fn digest(reports: &[(String, &ReportEntry)]) -> Vec<Recurring> {
    // (report, rank, cleaned headline, &Brief)
    type Member<'a> = (usize, usize, String, &'a Brief);
    let mut groups: Vec<Vec<Member<'_>>> = Vec::new();
    for (r, (_, entry)) in reports.iter().enumerate() {
        for (i, t) in entry.takeaways.iter().enumerate() {
            let clean = clean_headline(&t.headline);
            if rank::content_tokens(&clean).len() < MIN_DIGEST_WORDS {
                continue;
            }
            match groups
                .iter_mut()
                .find(|g| rank::same_takeaway(&g[0].2, &clean))
            {
                Some(g) => g.push((r, i + 1, clean, t)),
                None => groups.push(vec![(r, i + 1, clean, t)]),
            }
        }
    }
    let mut out: Vec<(usize, Recurring)> = groups
        .into_iter()
        .enumerate()
        .filter_map(|(order, group)| {
            // One mention per report: its best-ranked takeaway in the group.
            let mut best: BTreeMap<usize, (usize, &str, &Brief)> = BTreeMap::new();
            for (r, rank, clean, t) in &group {
                let e = best.entry(*r).or_insert((*rank, clean, t));
                if *rank < e.0 {
                    *e = (*rank, clean, t);
                }
            }
            if best.len() < MIN_SUPPORT {
                return None;
            }
            let (_, (_, shown, brief)) = best
                .iter()
                .min_by_key(|(r, (rank, _, _))| (*rank, **r))
                .expect("at least two mentions");
            Some((
                order,
                Recurring {
                    headline: (*shown).to_string(),
                    detail: brief.detail.clone(),
                    mentions: best.iter().map(|(r, (rank, _, _))| (*r, *rank)).collect(),
                },
            ))
        })
        .collect();
    out.sort_by_key(|(order, g)| {
        (
            std::cmp::Reverse(g.mentions.len()),
            g.mentions.iter().map(|(_, rank)| rank).sum::<usize>(),
            *order,
        )
    });
    out.into_iter().map(|(_, g)| g).collect()
}

/// A relative link target: every byte but unreserved ASCII and `/` percent-encoded (spaces,
/// parentheses, `|`, `#`, non-ASCII letters), so it works in any Markdown renderer and inside a
/// table.
pub fn link_target(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len());
    for b in rel.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Model text in Markdown (a heading, a list item, a table cell, link text): on one line, with the characters
/// that would start markup or raw HTML escaped, so that a headline like `<h1>…` or `[x](y)` shows
/// as written.
fn inline(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len());
    for c in one_line.chars() {
        if matches!(c, '\\' | '<' | '>' | '[' | ']' | '*' | '_' | '`' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` cut to at most `max` characters, with `…` when cut (long error messages in tables).
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Longest failure reason shown in the index.
const REASON_MAX: usize = 240;

/// A code span for a path (pipes escaped for tables).
fn code(s: &str) -> String {
    let s = s.replace('|', "\\|");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The report's first [`INDEX_TOP`] takeaway headlines, cleaned ([`clean_headline`]); headlines
/// that are nothing but markup debris are passed over.
fn top_headlines(e: &ReportEntry) -> Vec<String> {
    e.takeaways
        .iter()
        .map(|t| clean_headline(&t.headline))
        .filter(|h| h.chars().any(char::is_alphanumeric))
        .take(INDEX_TOP)
        .collect()
}

/// `index.md`: one table row per report (title linking to its summary, date, source path, top
/// takeaways), then the files that could not be summarized.
pub fn index_markdown(
    reports: &[(String, &ReportEntry)],
    failures: &[FileFailure],
    model: &str,
    digest_name: &str,
) -> String {
    let mut out = String::from("# Trip report takeaways\n\n");
    if reports.is_empty() {
        out.push_str("No report was summarized.\n");
    } else {
        out.push_str(&format!(
            "{} summarized with `{model}`; what recurs across them is in [the digest]({}).\n\n",
            plural(reports.len(), "report", "reports"),
            link_target(digest_name)
        ));
        out.push_str("| Report | Date | Source | Top takeaways |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for (source, e) in reports {
            let top: Vec<String> = top_headlines(e)
                .iter()
                .enumerate()
                .map(|(i, h)| format!("{}. {}", i + 1, inline(h)))
                .collect();
            out.push_str(&format!(
                "| [{}]({}) | {} | {} | {} |\n",
                inline(&e.title),
                link_target(&e.output),
                e.written.as_deref().map_or_else(|| "–".to_string(), inline),
                code(source),
                top.join("<br>")
            ));
        }
    }
    if !failures.is_empty() {
        out.push_str("\n## Not summarized\n\n");
        out.push_str("| Source | Reason |\n| --- | --- |\n");
        for f in failures {
            out.push_str(&format!(
                "| {} | {} |\n",
                code(&f.source),
                inline(&shorten(&f.reason, REASON_MAX))
            ));
        }
    }
    out
}

/// `digest.md`: the recurring takeaways, most-supported first, each with the reports that make
/// it (linked) and how they phrase it; or a plain statement that nothing recurs.
pub fn digest_markdown(reports: &[(String, &ReportEntry)], digest: &[Recurring]) -> String {
    let mut out = String::from("# Recurring takeaways\n\n");
    if reports.is_empty() {
        out.push_str("No report was summarized, so nothing can recur.\n");
        return out;
    }
    if reports.len() < MIN_SUPPORT {
        out.push_str(&format!(
            "Only {} summarized: a takeaway recurs when at least {MIN_SUPPORT} reports make it.\n",
            plural(reports.len(), "report was", "reports were"),
        ));
        return out;
    }
    if digest.is_empty() {
        out.push_str(&format!(
            "No takeaway recurs: none of the {} reports shares a takeaway with another.\n",
            reports.len()
        ));
        return out;
    }
    out.push_str(&format!(
        "{} found in at least {MIN_SUPPORT} of the {} reports, the most widely supported first.\n",
        plural(digest.len(), "takeaway", "takeaways"),
        reports.len()
    ));
    for (i, g) in digest.iter().enumerate() {
        out.push_str(&format!(
            "\n## {}. {} ({} reports)\n\n",
            i + 1,
            inline(&g.headline),
            g.mentions.len()
        ));
        if !g.detail.trim().is_empty() {
            out.push_str(&format!("{}\n\n", inline(&g.detail)));
        }
        for (r, rank) in &g.mentions {
            let (_, e) = &reports[*r];
            let said = &e.takeaways[rank - 1].headline;
            out.push_str(&format!(
                "- [{}]({}) (#{rank}): {}\n",
                inline(&e.title),
                link_target(&e.output),
                inline(&clean_headline(said))
            ));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonIndex<'a> {
    schema_version: u32,
    model: &'a str,
    reports: Vec<JsonReport<'a>>,
    failures: &'a [FileFailure],
}

#[derive(Serialize)]
struct JsonReport<'a> {
    title: &'a str,
    date: Option<&'a str>,
    source: &'a str,
    summary: &'a str,
    top_takeaways: &'a [Brief],
}

/// `index.json`: the index as data (schema version [`JSON_SCHEMA_VERSION`]).
pub fn index_json(
    reports: &[(String, &ReportEntry)],
    failures: &[FileFailure],
    model: &str,
) -> String {
    let doc = JsonIndex {
        schema_version: JSON_SCHEMA_VERSION,
        model,
        reports: reports
            .iter()
            .map(|(source, e)| JsonReport {
                title: &e.title,
                date: e.written.as_deref(),
                source,
                summary: &e.output,
                top_takeaways: &e.takeaways[..e.takeaways.len().min(INDEX_TOP)],
            })
            .collect(),
        failures,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data always serializes");
    s.push('\n');
    s
}

#[derive(Serialize)]
struct JsonDigest<'a> {
    schema_version: u32,
    reports: usize,
    min_support: usize,
    recurring: Vec<JsonRecurring<'a>>,
}

#[derive(Serialize)]
struct JsonRecurring<'a> {
    headline: &'a str,
    detail: &'a str,
    support: usize,
    reports: Vec<JsonMention<'a>>,
}

#[derive(Serialize)]
struct JsonMention<'a> {
    source: &'a str,
    title: &'a str,
    summary: &'a str,
    rank: usize,
    headline: &'a str,
}

/// `digest.json`: the digest as data.
pub fn digest_json(reports: &[(String, &ReportEntry)], digest: &[Recurring]) -> String {
    let doc = JsonDigest {
        schema_version: JSON_SCHEMA_VERSION,
        reports: reports.len(),
        min_support: MIN_SUPPORT,
        recurring: digest
            .iter()
            .map(|g| JsonRecurring {
                headline: &g.headline,
                detail: &g.detail,
                support: g.mentions.len(),
                reports: g
                    .mentions
                    .iter()
                    .map(|(r, rank)| {
                        let (source, e) = &reports[*r];
                        JsonMention {
                            source,
                            title: &e.title,
                            summary: &e.output,
                            rank: *rank,
                            headline: &e.takeaways[rank - 1].headline,
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data always serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(rel: &str) -> Source {
        Source {
            path: PathBuf::from(rel),
            rel: rel.split('/').map(OsString::from).collect(),
        }
    }

    #[test]
    fn outputs_mirror_the_tree_and_avoid_clashes() {
        let sources = [
            src("a/b/report.txt"),
            src("a/b/report.md"),
            src("a/notes day 1.html"),
            src("index.md"),
            src("Zürich.rst"),
        ];
        let out: Vec<String> = output_paths(&sources, Format::Markdown)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            out,
            [
                "a/b/report.txt.md",
                "a/b/report.md.md",
                "a/notes day 1.md",
                "index.md.md",
                "Zürich.md"
            ]
        );
        let json: Vec<String> = output_paths(&sources[2..], Format::Json)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(json, ["a/notes day 1.json", "index.md.json", "Zürich.json"]);
    }

    #[test]
    fn a_full_name_that_is_taken_gets_a_number() {
        // `x.txt` and `x.md` both want `x.md`; `x.txt` takes its full name `x.txt.md`, which
        // `x.txt.md` wanted: that one takes its own full name.
        let sources = [src("x.txt"), src("x.md"), src("x.txt.md")];
        let out: Vec<String> = output_paths(&sources, Format::Markdown)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(out, ["x.txt.md", "x.md.md", "x.txt.md.md"]);
        // In the other order `x.txt.md` keeps `x.txt.md`, so `x.txt` gets a number.
        let sources = [src("x.txt.md"), src("x.txt"), src("x.md")];
        let out: Vec<String> = output_paths(&sources, Format::Markdown)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(out, ["x.txt.md", "x.txt-2.md", "x.md.md"]);
    }

    #[test]
    fn links_escape_spaces_and_non_ascii() {
        assert_eq!(link_target("a b/c(1).md"), "a%20b/c%281%29.md");
        assert_eq!(link_target("Zürich.md"), "Z%C3%BCrich.md");
        assert_eq!(inline("a | b\n[c] <h1>"), "a \\| b \\[c\\] \\<h1\\>");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }

    #[test]
    fn globs_without_slash_match_names_at_any_depth() {
        let f = Filters::new(&["*.md".into()], &["drafts".into(), "2024/old/*".into()]).unwrap();
        assert!(f.included("x.md", "a/b/x.md"));
        assert!(!f.included("x.txt", "a/x.txt"));
        assert!(f.excluded("drafts", "a/drafts"));
        assert!(f.excluded("y.md", "2024/old/y.md"));
        assert!(!f.excluded("y.md", "2024/new/y.md"));
        assert!(Filters::new(&["a[".into()], &[]).is_err());
    }

    fn entry(title: &str, headlines: &[&str]) -> ReportEntry {
        ReportEntry {
            key: String::new(),
            output: format!("{title}.md"),
            title: title.into(),
            written: None,
            takeaways: headlines
                .iter()
                .map(|h| Brief {
                    headline: (*h).into(),
                    detail: format!("{h} detail."),
                })
                .collect(),
        }
    }

    #[test]
    fn digest_counts_reports_not_mentions() {
        let a = entry("a", &["Observability needs budgets", "Rust adoption grows"]);
        let b = entry(
            "b",
            &[
                "Rust adoption is growing",
                "Platform teams own golden paths",
            ],
        );
        let c = entry(
            "c",
            &[
                "Golden paths for platform teams",
                "Observability budgets matter",
                "Rust adoption growing fast",
            ],
        );
        let d = entry(
            "d",
            &[
                "Observability needs budgets",
                "Observability budgets needed",
            ],
        );
        let reports: Vec<(String, &ReportEntry)> = vec![
            ("a.md".into(), &a),
            ("b.md".into(), &b),
            ("c.md".into(), &c),
            ("d.md".into(), &d),
        ];
        let g = digest(&reports);
        let heads: Vec<(&str, usize)> = g
            .iter()
            .map(|r| (r.headline.as_str(), r.mentions.len()))
            .collect();
        assert_eq!(
            heads,
            [
                ("Observability needs budgets", 3),
                ("Rust adoption is growing", 3),
                ("Golden paths for platform teams", 2)
            ]
        );
        // d supports the first group once, with its best rank.
        assert_eq!(g[0].mentions, vec![(0, 1), (2, 2), (3, 1)]);
    }

    #[test]
    fn headlines_lose_markup_debris() {
        assert_eq!(
            clean_headline("<h1>The Database as a Value</h1>"),
            "The Database as a Value"
        );
        assert_eq!(clean_headline("<img src="), "");
        assert_eq!(
            clean_headline("<em>The Rise of Real-Time</em>"),
            "The Rise of Real-Time"
        );
        assert_eq!(
            clean_headline("p99 < 200 ms, <b>fast</b>"),
            "p99 < 200 ms, fast"
        );
    }

    #[test]
    fn digest_ignores_debris_and_bare_topics_and_does_not_chain() {
        let a = entry("a", &["<img src=", "Databases", "Rust adoption grows"]);
        let b = entry(
            "b",
            &[
                "<img src =",
                "<h1>Databases</h1>",
                "Rust adoption grows in embedded teams",
            ],
        );
        // Like b's third takeaway, but not like a's, the group's seed: it does not join.
        let c = entry("c", &["Embedded teams grow"]);
        let reports: Vec<(String, &ReportEntry)> = vec![
            ("a.md".into(), &a),
            ("b.md".into(), &b),
            ("c.md".into(), &c),
        ];
        let g = digest(&reports);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].headline, "Rust adoption grows");
        assert_eq!(g[0].mentions, vec![(0, 3), (1, 3)]);
    }

    #[test]
    fn digest_says_plainly_when_nothing_recurs() {
        let a = entry("a", &["Observability needs budgets"]);
        let b = entry("b", &["Rust adoption grows"]);
        let reports: Vec<(String, &ReportEntry)> = vec![("a.md".into(), &a), ("b.md".into(), &b)];
        let text = digest_markdown(&reports, &digest(&reports));
        assert!(text.contains("No takeaway recurs"), "{text}");
    }
}
