//! Stage `prompts`: minijinja templates from `prompts/`, compiled into the binary as defaults and
//! overridable file by file from a directory (`--prompts DIR`).
//!
//! A variable that a template uses but the code does not supply is an error
//! (`UndefinedBehavior::Strict`), never an empty string: a typo in an edited template must not
//! silently send the model a prompt with a hole in it.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::llm::Message;

/// The default templates: `(file name, text)`, from `prompts/` at build time.
pub const DEFAULTS: &[(&str, &str)] = &[
    (EXTRACT_SYSTEM, include_str!("../prompts/extract.system.j2")),
    (EXTRACT_USER, include_str!("../prompts/extract.user.j2")),
    (RANK_SYSTEM, include_str!("../prompts/rank.system.j2")),
    (RANK_USER, include_str!("../prompts/rank.user.j2")),
];

/// System message of the map step.
pub const EXTRACT_SYSTEM: &str = "extract.system.j2";
/// User message of the map step; variables: `title`, `sections` (list of heading-path labels),
/// `chunk` (the chunk's text), `fence` (the line around it, [`fence_for`]), `max_takeaways`,
/// `language`. The system message ([`EXTRACT_SYSTEM`]) holds every instruction and the same text
/// for every chunk of a document (only `language` varies, per document), so that a server which
/// reuses the cache of a shared prompt prefix (real Ollama does) computes it once.
pub const EXTRACT_USER: &str = "extract.user.j2";
/// System message of the final ranking pass.
pub const RANK_SYSTEM: &str = "rank.system.j2";
/// User message of the final ranking pass; variables: `title`, `candidates` (list of
/// `{id, headline, detail}`).
pub const RANK_USER: &str = "rank.user.j2";

/// A template could not be loaded, parsed or rendered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// `--prompts DIR` is not a readable directory.
    #[error(
        "prompt directory {0}: not a directory; run `takeaways prompts --export DIR` to create one"
    )]
    NotADirectory(PathBuf),
    /// Rendering failed (syntax error, undefined variable, …).
    #[error("prompt template {name}{origin}: {detail}")]
    Render {
        /// Template file name.
        name: String,
        /// ` (from DIR)` when overridden.
        origin: String,
        /// minijinja's message, with line.
        detail: String,
    },
    /// Writing the exported templates failed.
    #[error("cannot write {path}: {detail}")]
    Export {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// Variables of [`EXTRACT_SYSTEM`] and [`EXTRACT_USER`].
#[derive(Debug, Clone, Serialize)]
pub struct ExtractVars<'a> {
    /// The writeup's title (or its file name). Templates show it with the `quote` filter.
    pub title: &'a str,
    /// Heading-path labels of the sections in the chunk.
    pub sections: Vec<String>,
    /// The chunk text.
    pub chunk: &'a str,
    /// Most takeaways to ask for.
    pub max_takeaways: usize,
    /// The language to write the takeaways in, by its English name (`French`).
    pub language: &'a str,
    /// The fence line put before and after the chunk ([`fence_for`]).
    pub fence: &'a str,
}

/// The fence that delimits `text` in a prompt so that the text cannot close it: a run of
/// backticks one longer than the longest run in the text, at least three (CommonMark's rule for
/// fenced code, which models know). A line of three double quotes or three backticks in the
/// writeup then stays inside the data instead of ending it.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// The `quote` filter of the templates: `s` on one line in double quotes, with backslashes and
/// double quotes escaped, so that a title or section label cannot end its quotes and go on as
/// instructions.
pub fn quote(s: &str) -> String {
    let one_line = crate::text::fold_space(s);
    format!(
        "\"{}\"",
        one_line.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// One line of [`RankVars::candidates`].
#[derive(Debug, Clone, Serialize)]
pub struct RankItem {
    /// 1-based number the model answers with.
    pub id: usize,
    /// The takeaway headline.
    pub headline: String,
    /// Its one-sentence detail.
    pub detail: String,
}

/// Variables of [`RANK_USER`].
#[derive(Debug, Clone, Serialize)]
pub struct RankVars<'a> {
    /// The writeup's title.
    pub title: &'a str,
    /// The short list to order.
    pub candidates: Vec<RankItem>,
}

/// The template set in use: defaults, each overridable by a file of the same name in a directory.
pub struct Prompts {
    env: Environment<'static>,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompts").field("dir", &self.dir).finish()
    }
}

impl Prompts {
    /// Templates from `dir` where it has a file of that name, else the built-in defaults.
    ///
    /// Errors: [`PromptError::NotADirectory`] when `dir` is given but is not a directory.
    pub fn new(dir: Option<&Path>) -> Result<Self, PromptError> {
        if let Some(d) = dir {
            if !d.is_dir() {
                return Err(PromptError::NotADirectory(d.to_path_buf()));
            }
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("quote", |s: String| quote(&s));
        let override_dir = dir.map(Path::to_path_buf);
        // One loader for both sources: `add_template` would shadow any loader (docs/ARCHITECTURE.md, "minijinja").
        env.set_loader(move |name| {
            if let Some(d) = &override_dir {
                let path = d.join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("cannot read {}: {e}", path.display()),
                        )
                    });
                }
            }
            Ok(DEFAULTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| text.to_string()))
        });
        Ok(Prompts {
            env,
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// The override directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Renders template `name` with `vars`. Errors: [`PromptError::Render`].
    pub fn render(&self, name: &str, vars: impl Serialize) -> Result<String, PromptError> {
        let err = |e: minijinja::Error| {
            let origin = match &self.dir {
                Some(d) if d.join(name).is_file() => format!(" (from {})", d.display()),
                _ => String::new(),
            };
            let mut detail = e.to_string();
            if let Some(line) = e.line() {
                detail = format!("line {line}: {detail}");
            }
            PromptError::Render {
                name: name.to_string(),
                origin,
                detail,
            }
        };
        let tmpl = self.env.get_template(name).map_err(err)?;
        tmpl.render(minijinja::value::Serde(vars)).map_err(err)
    }

    /// The messages of one map-step call: system, then user.
    pub fn extract_messages(&self, vars: &ExtractVars<'_>) -> Result<Vec<Message>, PromptError> {
        Ok(vec![
            Message::system(self.render(EXTRACT_SYSTEM, vars)?.trim_end()),
            Message::user(self.render(EXTRACT_USER, vars)?.trim_end()),
        ])
    }

    /// The messages of the final ranking call: system, then user.
    pub fn rank_messages(&self, vars: &RankVars<'_>) -> Result<Vec<Message>, PromptError> {
        Ok(vec![
            Message::system(self.render(RANK_SYSTEM, vars)?.trim_end()),
            Message::user(self.render(RANK_USER, vars)?.trim_end()),
        ])
    }
}

/// Writes the default templates into `dir` (created if needed) for editing; existing files are
/// left alone. Returns the paths written.
///
/// Errors: [`PromptError::Export`] when the directory or a file cannot be written.
pub fn export(dir: &Path) -> Result<Vec<PathBuf>, PromptError> {
    let fail = |path: &Path, e: std::io::Error| PromptError::Export {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut written = Vec::new();
    for (name, text) in DEFAULTS {
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        std::fs::write(&path, text).map_err(|e| fail(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RANK_SYSTEM), "Hello {{ nobody }}").unwrap();
        let p = Prompts::new(Some(dir.path())).unwrap();
        let vars = RankVars {
            title: "t",
            candidates: vec![],
        };
        let err = p.rank_messages(&vars).unwrap_err().to_string();
        assert!(err.contains("rank.system.j2"), "{err}");
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn override_wins_and_defaults_fill_in() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RANK_SYSTEM), "Custom system").unwrap();
        let p = Prompts::new(Some(dir.path())).unwrap();
        let vars = RankVars {
            title: "t",
            candidates: vec![],
        };
        let m = p.rank_messages(&vars).unwrap();
        assert_eq!(m[0].content, "Custom system");
        assert!(m[1].content.contains("Writeup: \"t\""));
    }
}
