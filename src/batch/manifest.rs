//! The resume manifest: which summaries in OUT are up to date, and the keys that say so.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{extension, MANIFEST_VERSION};
use crate::input::InputOptions;
use crate::pipeline::Settings;
use crate::prompts::{ExtractVars, Prompts, RankItem, RankVars};
use crate::render::Format;

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
    /// The summary file, relative to OUT, `/`-separated, in the escaped form of
    /// [`super::escape_name`] (the raw name for a link: [`super::link_target`]).
    pub output: String,
    /// The report's title.
    pub title: String,
    /// Its date (front matter), verbatim.
    pub written: Option<String>,
    /// Its takeaways in rank order.
    pub takeaways: Vec<Brief>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) version: u32,
    /// Source path (relative to the input folder, `/`-separated, [`super::escape_name`]d so that
    /// the raw bytes of every name count: [`super::MANIFEST_VERSION`] 2) → its report.
    pub(crate) reports: BTreeMap<String, ReportEntry>,
}

pub(crate) fn load_manifest(path: &Path, warnings: &mut Vec<String>) -> Manifest {
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
/// (every [`Settings`] field, as JSON), output format, input options, the source of every
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
        language: "\u{1}language",
        fence: "\u{1}fence",
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
    // Every setting, as data: a field added to Settings later is part of the key without anyone
    // having to remember it here (Settings holds no clock: the date is not in the key).
    let value = serde_json::json!({
        "tool": env!("CARGO_PKG_VERSION"),
        "settings": settings,
        "format": extension(format),
        "encoding": input_options.encoding,
        "input_format": input_options.input_format.map(|f| f.name()),
        "templates": templates,
        "extract_prompt": probe(extract),
        "rank_prompt": probe(rank),
        "extract_schema": crate::extract::schema_of::<crate::extract::ExtractAnswer>(),
    });
    Ok(crate::cache::canonical_json(&value))
}

/// The resume key of one file: blake3 of the run key and the file's bytes, hex.
pub fn file_key(run_key: &str, bytes: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&(run_key.len() as u64).to_le_bytes());
    h.update(run_key.as_bytes());
    h.update(bytes);
    h.finalize().to_hex().to_string()
}
