//! Finding the writeups of a folder and mapping each to its output path.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use globset::{GlobSet, GlobSetBuilder};

use super::{BatchError, FileFailure};
use crate::render::Format;

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

pub(crate) fn rel_display(rel: &[OsString]) -> String {
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

    pub(crate) fn excluded(&self, name: &str, rel: &str) -> bool {
        self.exclude_name.is_match(name) || self.exclude_path.is_match(rel)
    }

    pub(crate) fn included(&self, name: &str, rel: &str) -> bool {
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
        .and_then(crate::input::format_for_extension)
        .is_some()
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

/// The full path of `rel` under `out` (canonical), refusing any path that would land outside
/// `out`: a component other than a plain name, or a symbolic link in the output tree that points
/// elsewhere. With `create`, the folders on the way are created first; without, the deepest
/// existing one is checked (so a file that fails leaves no empty folders behind).
pub(crate) fn safe_output_path(out: &Path, rel: &Path, create: bool) -> Result<PathBuf, String> {
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
