//! Finding the writeups of a folder, mapping each to its output path, and the one way file
//! names are shown and recorded ([`escape_name`]).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

use globset::{GlobSet, GlobSetBuilder};

use super::{BatchError, BatchOptions, FileFailure};
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
    /// The relative path, `/`-separated, each name in the escaped form of [`escape_name`]: what
    /// progress, warnings, the index and the resume manifest show and key by.
    pub fn display(&self) -> String {
        rel_display(&self.rel)
    }

    /// True when a name on its path is not valid UTF-8 (it then shows escaped).
    pub fn non_utf8(&self) -> bool {
        self.rel.iter().any(|c| c.to_str().is_none())
    }
}

/// Path components, `/`-separated, each one [`escape_name`]d.
pub(crate) fn rel_display<S: AsRef<OsStr>>(rel: &[S]) -> String {
    rel.iter()
        .map(|c| escape_name(c.as_ref()))
        .collect::<Vec<_>>()
        .join("/")
}

/// A file name as text, reversibly: valid UTF-8 is kept, a backslash is written `\\`, and
/// each byte that is not UTF-8 is written `\xHH` (two uppercase hex digits): `zo\xE8.md` for the
/// Latin-1 name `zoè.md`. Two different names never give the same text (unlike a lossy
/// conversion, which turns every bad byte into U+FFFD), so it can key the resume manifest, and
/// [`unescape_name`] gives the raw bytes back for a link. The bytes are the platform's
/// ([`OsStr::as_encoded_bytes`]): on Unix the name's own bytes.
pub fn escape_name(name: &OsStr) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.as_encoded_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// The raw bytes of a name (or `/`-separated path) written by [`escape_name`]; `None` when `s`
/// is not in that form (a lone backslash, or `\x` without two hex digits).
pub fn unescape_name(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
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
    /// Files and folders that `--include`/`--exclude` left out (a folder left out counts once,
    /// whatever it holds).
    pub filtered_out: usize,
}

/// `--include`/`--exclude` patterns. A pattern without `/` matches a file or folder name at any
/// depth (`*.md`, `drafts`); one with `/` matches the path relative to the input folder
/// (`2024/**/*.md`). Globs match the raw bytes of the names (a name that is not UTF-8 included).
///
/// Which files are taken ([`Filters::takes`]): without `--include`, every file with one of the
/// extensions the tool reads ([`crate::input::EXTENSIONS`]); with `--include`, the files with
/// such an extension that some include glob matches, and also files with any other extension
/// (or none) that an *explicit* include glob matches: one whose last part ends in a literal
/// extension (`*.log`, `notes/*.text`) or is a literal name (`notes/README`). So
/// `--include '*.log'` reaches log files, while `--include '2024/**'` or `--include '*'` still
/// only picks writeups, not the images beside them. A file taken is read as `summarize` would
/// read it (an unknown extension is plain text, sniffed for Markdown and HTML).
#[derive(Debug, Clone)]
pub struct Filters {
    include_name: GlobSet,
    include_path: GlobSet,
    explicit_name: GlobSet,
    explicit_path: GlobSet,
    any_include: bool,
    exclude_name: GlobSet,
    exclude_path: GlobSet,
}

impl Filters {
    /// Compiles the globs. Errors: [`BatchError::Glob`].
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filters, BatchError> {
        let (include_name, include_path) = glob_sets(include)?;
        let explicit: Vec<String> = include.iter().filter(|p| is_explicit(p)).cloned().collect();
        let (explicit_name, explicit_path) = glob_sets(&explicit)?;
        let (exclude_name, exclude_path) = glob_sets(exclude)?;
        Ok(Filters {
            include_name,
            include_path,
            explicit_name,
            explicit_path,
            any_include: !include.is_empty(),
            exclude_name,
            exclude_path,
        })
    }

    /// True when an `--exclude` glob matches the entry (`name`: its file name; `rel`: its path
    /// under the input folder).
    pub(crate) fn excluded(&self, name: impl AsRef<Path>, rel: impl AsRef<Path>) -> bool {
        self.exclude_name.is_match(name) || self.exclude_path.is_match(rel)
    }

    /// True when `--include` lets the file in (always, without `--include`); the extension is
    /// not looked at (see [`Filters::takes`]).
    pub(crate) fn included(&self, name: impl AsRef<Path>, rel: impl AsRef<Path>) -> bool {
        !self.any_include || self.include_name.is_match(name) || self.include_path.is_match(rel)
    }

    /// True when the file is taken as a writeup (not excluded is checked apart): see the type's
    /// docs. `rel` is the path under the input folder.
    pub fn takes(&self, rel: &Path) -> bool {
        let name = rel.file_name().unwrap_or(rel.as_os_str());
        if wanted_extension(rel) {
            self.included(name, rel)
        } else {
            self.explicit_name.is_match(name) || self.explicit_path.is_match(rel)
        }
    }

    /// True when some `--include` or `--exclude` was given.
    pub fn any(&self) -> bool {
        self.any_include || !self.exclude_name.is_empty() || !self.exclude_path.is_empty()
    }
}

/// An include glob that names what it wants: its last part is a literal name (`README`,
/// `notes/CHANGES`) or ends in a literal extension (`*.log`, `day-*.notes`).
fn is_explicit(pattern: &str) -> bool {
    let last = pattern
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let meta = |c: char| matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\');
    let tail = last.rsplit(meta).next().unwrap_or_default();
    if tail.len() == last.len() {
        return !last.is_empty();
    }
    tail.rfind('.').is_some_and(|dot| dot + 1 < tail.len())
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
    let filtered_out = std::cell::Cell::new(0usize);
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
            if filters.excluded(e.file_name(), rel.iter().collect::<PathBuf>()) {
                filtered_out.set(filtered_out.get() + 1);
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
                if !e.file_type().is_file() {
                    continue;
                }
                let Some(rel) = relative(input, e.path()) else {
                    continue;
                };
                if !filters.takes(&rel.iter().collect::<PathBuf>()) {
                    // Left out by --include (a file that no filter could take is not counted).
                    if filters.any() && wanted_extension(e.path()) {
                        filtered_out.set(filtered_out.get() + 1);
                    }
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
                } else if path.is_dir()
                    || relative(input, &path)
                        .is_some_and(|r| filters.takes(&r.iter().collect::<PathBuf>()))
                    || path.as_os_str().is_empty()
                {
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
    found.filtered_out = filtered_out.get();
    found
}

/// An output path relative to OUT as shown and recorded: `/`-separated, [`escape_name`]d.
pub(crate) fn output_display(out_rel: &Path) -> String {
    let parts: Vec<&std::ffi::OsStr> = out_rel.components().map(|c| c.as_os_str()).collect();
    rel_display(&parts)
}

/// `--include '*.mkd' --exclude drafts`: the filters as the user gave them, for messages.
fn filters_shown(options: &BatchOptions) -> String {
    let quote = |g: &String| {
        if g.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            g.clone()
        } else {
            format!("'{}'", g.replace('\'', "'\\''"))
        }
    };
    let mut parts = Vec::new();
    for g in &options.include {
        parts.push(format!("--include {}", quote(g)));
    }
    for g in &options.exclude {
        parts.push(format!("--exclude {}", quote(g)));
    }
    parts.join(" ")
}

/// What the user must hear about the writeups found, before anything is done: an error when
/// the filters left out every writeup ([`BatchError::NoMatch`]: nothing is written, so an
/// existing index is not replaced by an empty one); warnings (into `found.warnings`) for a folder
/// with no writeup at all and for each name that is not UTF-8. `outputs` are the sources'
/// output paths.
pub(crate) fn check_found(
    found: &mut Found,
    outputs: &[PathBuf],
    options: &BatchOptions,
) -> Result<(), BatchError> {
    if found.sources.is_empty() && found.failures.is_empty() && found.filtered_out > 0 {
        return Err(BatchError::NoMatch {
            input: options.input.clone(),
            filters: filters_shown(options),
            left_out: match found.filtered_out {
                1 => "1 file or folder".to_string(),
                n => format!("{n} files and folders"),
            },
        });
    }
    if found.sources.is_empty() && found.failures.is_empty() {
        let exts: Vec<String> = crate::input::EXTENSIONS
            .iter()
            .map(|(e, _)| format!(".{e}"))
            .collect();
        found.warnings.push(format!(
            "{}: no writeup found (the files read end in {}; --include reaches others)",
            options.input.display(),
            exts.join(" ")
        ));
    }
    for (source, out_rel) in found.sources.iter().zip(outputs) {
        if source.non_utf8() {
            found.warnings.push(format!(
                "{}: the name is not valid UTF-8; it is shown with its bad bytes as \\xHH and summarized into {}",
                source.display(),
                output_display(out_rel)
            ));
        }
    }
    Ok(())
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
