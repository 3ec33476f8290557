//! Stage 1, `input`: bytes → [`Document`].
//!
//! Decodes the bytes (BOM, UTF-8, UTF-16, legacy encodings), normalises line endings to LF,
//! lifts front matter into title/date/author, and converts other markup (HTML, AsciiDoc,
//! reStructuredText) to Markdown, so that `split` only ever sees [`BodyFormat::Markdown`] or
//! [`BodyFormat::Text`].
//!
//! The steps, in order:
//!
//! 1. [`decode`]: bytes → `String` (see there for the encoding rules) with LF line endings.
//! 2. The input format: `--input-format` if given, else the file extension
//!    ([`format_for_path`]); text whose name says nothing better is sniffed (HTML documents,
//!    Markdown with ATX headings).
//! 3. Front matter at the very top (YAML `---`, TOML `+++`, Pelican `Key: value` lines) is
//!    removed and gives title, date and author.
//! 4. HTML, AsciiDoc and reStructuredText are converted to Markdown (headings, paragraphs,
//!    lists); Markdown and text pass through unchanged.
//! 5. A title is looked for when front matter gave none: HTML `<h1>`/`<title>`, AsciiDoc
//!    `= Title`, the Markdown/RST top-level heading.
//!
//! # Invisible text
//!
//! A writeup can hold text its reader never sees, and that text must not reach the model (an
//! instruction in an HTML comment is the classic prompt injection). So, counted in
//! [`Document::hidden`] ([`HiddenText`] lists what is out of reach):
//!
//! - invisible characters ([`crate::text::is_invisible`]) go right after decoding, from every
//!   format, and once more after conversion (an HTML entity such as `&#8203;` becomes one only
//!   then);
//! - HTML comments go from Markdown (found with pulldown-cmark, never inside code) and HTML
//!   (comment nodes), before the title is looked for; in plain text a `<!--` is what the reader
//!   sees, so it stays;
//! - in HTML, elements hidden by their attributes, and `<script>`, `<style>`, `<noscript>`,
//!   `<template>`, are cut out of the page before conversion.

mod asciidoc;
mod decode;
mod front_matter;
mod html;
mod markdown;
mod rst;

use std::path::Path;

pub use crate::types::{BodyFormat, Document, HiddenText};
pub use decode::{decode, Decoded};
pub use front_matter::FrontMatterKind;

/// The file extensions (lowercase, without the dot) this tool reads, and the input format each
/// one implies: the one list `summarize` ([`format_for_path`]) and `batch` (which files of a
/// folder it picks up) both use.
pub const EXTENSIONS: &[(&str, InputFormat)] = &[
    ("md", InputFormat::Markdown),
    ("markdown", InputFormat::Markdown),
    ("mdown", InputFormat::Markdown),
    ("mkd", InputFormat::Markdown),
    ("mkdn", InputFormat::Markdown),
    ("mdwn", InputFormat::Markdown),
    ("txt", InputFormat::Text),
    ("html", InputFormat::Html),
    ("htm", InputFormat::Html),
    ("xhtml", InputFormat::Html),
    ("adoc", InputFormat::AsciiDoc),
    ("asciidoc", InputFormat::AsciiDoc),
    ("asc", InputFormat::AsciiDoc),
    ("rst", InputFormat::Rst),
    ("rest", InputFormat::Rst),
];

/// The input format of a file with extension `ext` (any case), when it is one of
/// [`EXTENSIONS`].
pub fn format_for_extension(ext: &str) -> Option<InputFormat> {
    let ext = ext.to_ascii_lowercase();
    EXTENSIONS
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, format)| *format)
}

/// The markup of the input file, before conversion (`--input-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Markdown (CommonMark/GFM); also `.txt` files that use `#` headings.
    #[value(alias = "md")]
    Markdown,
    /// Plain text.
    #[value(alias = "txt", alias = "plain")]
    Text,
    /// HTML page or fragment; converted to Markdown.
    #[value(alias = "htm")]
    Html,
    /// AsciiDoc; converted to Markdown.
    #[value(name = "asciidoc", alias = "adoc")]
    #[serde(rename = "asciidoc")]
    AsciiDoc,
    /// reStructuredText; converted to Markdown.
    #[value(alias = "rest", alias = "restructuredtext")]
    Rst,
}

impl InputFormat {
    /// The lowercase name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Markdown => "markdown",
            InputFormat::Text => "text",
            InputFormat::Html => "html",
            InputFormat::AsciiDoc => "asciidoc",
            InputFormat::Rst => "rst",
        }
    }

    /// The body format after conversion: everything but plain text becomes Markdown.
    pub fn body_format(self) -> BodyFormat {
        match self {
            InputFormat::Text => BodyFormat::Text,
            _ => BodyFormat::Markdown,
        }
    }
}

impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Choices the user can make about reading input (`--encoding`, `--input-format`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputOptions {
    /// `--encoding NAME`: a WHATWG encoding label (`utf-8`, `windows-1252`, `latin1`,
    /// `shift_jis`, `utf-16le`, …) that overrides detection.
    pub encoding: Option<String>,
    /// `--input-format`: overrides the format implied by the file name and sniffing.
    pub input_format: Option<InputFormat>,
}

/// What [`read_path_info`] / [`from_bytes_info`] found out on the way, for `--verbose` output
/// and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputInfo {
    /// The format the input was read as (after `--input-format`, extension and sniffing).
    pub input_format: InputFormat,
    /// How the bytes were decoded, e.g. `UTF-8`, `UTF-8 (BOM)`, `windows-1252 (detected)`.
    pub encoding: String,
    /// The kind of front matter that was removed, if any.
    pub front_matter: Option<FrontMatterKind>,
}

/// Why a file could not be read as a writeup. Each message is one line that names the file and
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("{source_name}: cannot read it ({err}); {hint}", hint = io_hint(.err))]
    Io {
        /// The file as the user named it.
        source_name: String,
        /// The I/O error.
        err: std::io::Error,
    },
    /// The bytes hold NUL bytes: not a text writeup.
    #[error("{0}: looks like a binary file (it has NUL bytes); give a text, Markdown or HTML writeup (for UTF-16 without a byte-order mark, pass --encoding utf-16le or utf-16be)")]
    Binary(String),
    /// Nothing left after decoding and removing front matter.
    #[error("{0}: nothing to summarize (the file is empty or only whitespace/front matter); give a writeup with some text in it")]
    Empty(String),
    /// `--encoding` named no encoding known to the WHATWG Encoding Standard.
    #[error("{source_name}: unknown encoding {label:?} given with --encoding; use a WHATWG label such as utf-8, windows-1252, iso-8859-15, shift_jis, gbk or utf-16le")]
    UnknownEncoding {
        /// The file as the user named it.
        source_name: String,
        /// The label as given.
        label: String,
    },
    /// The bytes are not valid in the encoding forced with `--encoding`.
    #[error("{source_name}: is not valid {encoding} (first bad byte at offset {offset}); pass the right --encoding, or leave --encoding out to detect it")]
    Undecodable {
        /// The file as the user named it.
        source_name: String,
        /// The encoding's canonical name.
        encoding: String,
        /// Byte offset of the first malformed sequence.
        offset: usize,
    },
}

fn io_hint(err: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => "check the path",
        ErrorKind::PermissionDenied => "check its permissions",
        ErrorKind::IsADirectory => "give a file, or use `takeaways batch DIR` for a folder",
        _ => "check that it is a readable file",
    }
}

/// Reads `path` (`-` means stdin) with default options. See [`read_path_with`].
pub fn read_path(path: &Path) -> Result<Document, InputError> {
    read_path_with(path, &InputOptions::default())
}

/// Reads `path` (`-` means stdin) and decodes it into a [`Document`].
///
/// Errors: [`InputError::Io`] when it cannot be read, [`InputError::Binary`] for NUL bytes,
/// [`InputError::Empty`] when no text is left, [`InputError::UnknownEncoding`] /
/// [`InputError::Undecodable`] for a bad `--encoding`.
pub fn read_path_with(path: &Path, opts: &InputOptions) -> Result<Document, InputError> {
    read_path_info(path, opts).map(|(doc, _)| doc)
}

/// [`read_path_with`], also telling how the file was read.
pub fn read_path_info(
    path: &Path,
    opts: &InputOptions,
) -> Result<(Document, InputInfo), InputError> {
    let name = path.display().to_string();
    let bytes = if name == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(|err| {
            InputError::Io {
                source_name: name.clone(),
                err,
            }
        })?;
        buf
    } else {
        std::fs::read(path).map_err(|err| InputError::Io {
            source_name: name.clone(),
            err,
        })?
    };
    from_bytes_info(&name, &bytes, format_for_path(path), opts)
}

/// The input format a file name implies ([`EXTENSIONS`]): `.md`/`.markdown` (and `.mdown`,
/// `.mkd`, `.mkdn`, `.mdwn`) are Markdown, `.html`/`.htm`/`.xhtml` HTML,
/// `.adoc`/`.asciidoc`/`.asc` AsciiDoc, `.rst`/`.rest` reStructuredText, everything else (and
/// stdin, `-`) text.
///
/// Text is only a default: [`from_bytes`] still sniffs it for `#` headings and HTML.
pub fn format_for_path(path: &Path) -> InputFormat {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(format_for_extension)
        .unwrap_or(InputFormat::Text)
}

/// Decodes `bytes` named `source` into a [`Document`].
///
/// `format` is what the name implies (usually [`format_for_path`]); `opts.input_format`, when
/// set, overrides it. When neither says more than [`InputFormat::Text`], the text is sniffed:
/// an HTML document is read as HTML, text with ATX headings (`# Day 1`, `## Talk`) outside code
/// fences as Markdown.
///
/// Errors as [`read_path_with`], except I/O.
pub fn from_bytes(
    source: &str,
    bytes: &[u8],
    format: InputFormat,
    opts: &InputOptions,
) -> Result<Document, InputError> {
    from_bytes_info(source, bytes, format, opts).map(|(doc, _)| doc)
}

/// [`from_bytes`], also telling how the bytes were read.
pub fn from_bytes_info(
    source: &str,
    bytes: &[u8],
    format: InputFormat,
    opts: &InputOptions,
) -> Result<(Document, InputInfo), InputError> {
    let decoded = decode(source, bytes, opts.encoding.as_deref())?;
    let (text, invisible_chars) = crate::text::strip_invisible(&decoded.text);
    let hidden = HiddenText {
        invisible_chars,
        ..HiddenText::default()
    };
    from_text_info(source, &text, decoded.encoding, format, opts, hidden)
}

/// The steps after decoding: format, front matter, conversion, title. `text` has LF endings and
/// no invisible characters (counted in `hidden`, which gets the rest of the counts).
fn from_text_info(
    source: &str,
    text: &str,
    encoding: String,
    format: InputFormat,
    opts: &InputOptions,
    mut hidden: HiddenText,
) -> Result<(Document, InputInfo), InputError> {
    let empty = || InputError::Empty(source.to_string());
    let explicit = opts.input_format;
    let mut format = explicit.unwrap_or(format);

    // Pelican/MultiMarkdown `Key: value` headers only exist in Markdown and text files.
    let allow_pelican = matches!(format, InputFormat::Markdown | InputFormat::Text);
    let (fm, rest) = front_matter::split(text, allow_pelican);
    if rest.trim().is_empty() {
        return Err(empty());
    }
    if explicit.is_none() && format == InputFormat::Text {
        format = sniff(rest).unwrap_or(InputFormat::Text);
    }

    let fm = fm.unwrap_or_default();
    let mut title = fm.title;
    let mut date = fm.date;
    let mut author = fm.author;
    let body = match format {
        InputFormat::Markdown => {
            let (md, comments) = markdown::strip_comments(rest);
            hidden.html_comments += comments;
            title = title.or_else(|| markdown::title(&md));
            md
        }
        InputFormat::Text => rest.to_string(),
        InputFormat::Html => {
            let page = html::convert(rest).map_err(|err| InputError::Io {
                source_name: source.to_string(),
                err,
            })?;
            title = title.or(page.title);
            date = date.or(page.date);
            author = author.or(page.author);
            hidden.html_comments += page.comments;
            hidden.hidden_elements += page.hidden_elements;
            page.markdown
        }
        InputFormat::AsciiDoc => {
            let doc = asciidoc::convert(rest);
            title = title.or(doc.title);
            date = date.or(doc.date);
            author = author.or(doc.author);
            doc.markdown
        }
        InputFormat::Rst => {
            let doc = rst::convert(rest);
            title = title.or_else(|| markdown::title(&doc.markdown));
            date = date.or(doc.date);
            author = author.or(doc.author);
            doc.markdown
        }
    };
    // Invisible characters that conversion decoded from entities (`&#8203;`, `&shy;`).
    let mut visible = |s: &str| {
        let (s, n) = crate::text::strip_invisible(s);
        hidden.invisible_chars += n;
        s.into_owned()
    };
    let body = tidy_body(&visible(&body));
    let title = title.map(|t| visible(&t));
    let date = date.map(|d| visible(&d));
    let author = author.map(|a| visible(&a));
    if body.trim().is_empty() {
        return Err(empty());
    }
    let document = Document {
        source: source.to_string(),
        title: title.and_then(|t| clean_field(&t)),
        date: date.and_then(|d| clean_field(&d)),
        author: author.and_then(|a| clean_field(&a)),
        format: format.body_format(),
        hidden,
        body,
    };
    let info = InputInfo {
        input_format: format,
        encoding,
        front_matter: fm.kind,
    };
    Ok((document, info))
}

/// What text that was not named as markup really is: an HTML document, or Markdown when it has
/// ATX headings. `None` = plain text.
fn sniff(text: &str) -> Option<InputFormat> {
    let start = text.trim_start();
    let head: String = start
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Some(InputFormat::Html);
    }
    markdown::has_atx_headings(text).then_some(InputFormat::Markdown)
}

/// Drops leading blank lines and trailing whitespace, ends with exactly one `\n`.
fn tidy_body(body: &str) -> String {
    let mut start = 0;
    for line in body.split_inclusive('\n') {
        if line.trim().is_empty() {
            start += line.len();
        } else {
            break;
        }
    }
    let mut out = body[start..].trim_end().to_string();
    out.push('\n');
    out
}

/// A metadata value on one line: whitespace collapsed; `None` when empty.
fn clean_field(s: &str) -> Option<String> {
    let joined = crate::text::fold_space(s);
    (!joined.is_empty()).then_some(joined)
}

/// Joins converted lines, with at most one blank line in a row (outside ``` fences).
fn squeeze_blank_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = true;
    let mut in_fence = false;
    for line in lines {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        let is_blank = line.trim().is_empty();
        if is_blank && blank && !in_fence {
            continue;
        }
        blank = is_blank;
        out.push_str(line);
        out.push('\n');
    }
    out
}
