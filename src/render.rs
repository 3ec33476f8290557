//! Stage 5, `render`: [`Summary`] → Markdown for a wiki, or JSON for scripts.
//!
//! The JSON schema is stable and versioned by [`JSON_SCHEMA_VERSION`]; fields are only ever added.
//! See README.md, "JSON output", for the field list.

use serde::Serialize;

use crate::text::{code_span, markdown_inline, sentence};
use crate::types::{label, MissingSection, Stats, Summary};

/// Output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown: a header and a numbered list, for a wiki page.
    Markdown,
    /// JSON with a stable schema (see README.md), for `jq` and scripts.
    Json,
}

/// Version of the JSON output. Raised only when a field changes meaning or goes away.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Renders a summary in the given format; the text ends with a newline.
pub fn render(summary: &Summary, format: Format) -> String {
    match format {
        Format::Markdown => markdown(summary),
        Format::Json => json(summary),
    }
}

/// Markdown: title, source, model and date, then numbered takeaways (bold headline, one
/// sentence) each with its source sections. A takeaway that no sentence of its section supports in
/// the text is marked †, with a note at the end.
///
/// Every text that comes from the model, the writeup or an error goes through
/// [`markdown_inline`] (paths and the model name through [`code_span`]): it shows as written,
/// and nothing in it becomes HTML or Markdown structure.
pub fn markdown(summary: &Summary) -> String {
    let mut out = format!("# Key takeaways: {}\n\n", markdown_inline(&summary.title));
    // The facts about the page on one paragraph, not as a list: the only list of the page is
    // the takeaways (a reader's, or a script's, first list item is takeaway 1).
    let mut facts = vec![format!("Source: {}", code_span(&summary.source))];
    if let Some(a) = &summary.author {
        facts.push(format!("author: {}", markdown_inline(a)));
    }
    if let Some(w) = &summary.written {
        facts.push(format!("written: {}", markdown_inline(w)));
    }
    facts.push(format!(
        "summarized by {} on {}",
        code_span(&summary.model),
        markdown_inline(&summary.generated)
    ));
    out.push_str(&facts.join(" · "));
    out.push_str("\n\n");
    let mut unverified = false;
    for t in &summary.takeaways {
        let mark = if t.grounded {
            ""
        } else {
            unverified = true;
            " †"
        };
        let detail = sentence(&t.detail);
        let headline = sentence(&t.headline);
        let detail = if detail.is_empty() || detail.eq_ignore_ascii_case(&headline) {
            String::new()
        } else {
            format!(" {}", markdown_inline(&detail))
        };
        out.push_str(&format!(
            "{}. **{}**{detail}{mark}\n",
            t.rank,
            markdown_inline(&headline)
        ));
        out.push_str(&format!("   _Sections: {}_\n", sections_line(&t.sections)));
    }
    if !summary.missing_sections.is_empty() {
        out.push_str("\n**Not covered** (the model call failed for these sections):\n\n");
        for m in &summary.missing_sections {
            out.push_str(&format!(
                "- {}: {}\n",
                markdown_inline(&m.section),
                markdown_inline(&m.error)
            ));
        }
    }
    if unverified || !summary.notes.is_empty() {
        out.push('\n');
    }
    if unverified {
        out.push_str("† No sentence of the section holds most of this headline's words: check it there before relying on it.\n");
    }
    for n in &summary.notes {
        out.push_str(&format!("Note: {}\n", markdown_inline(n)));
    }
    out
}

/// Most sections the Markdown names for one takeaway; the rest are counted ("and N more").
/// The JSON lists them all.
pub const MARKDOWN_MAX_SECTIONS: usize = 4;

/// The labels of the first [`MARKDOWN_MAX_SECTIONS`] sections, `; `-separated, then "and N
/// more" for the others (a takeaway of a huge writeup can have thousands).
fn sections_line(sections: &[Vec<String>]) -> String {
    let shown: Vec<String> = sections
        .iter()
        .take(MARKDOWN_MAX_SECTIONS)
        .map(|p| markdown_inline(&label(p)))
        .collect();
    let mut line = shown.join("; ");
    if sections.len() > MARKDOWN_MAX_SECTIONS {
        line.push_str(&format!(
            "; and {} more",
            sections.len() - MARKDOWN_MAX_SECTIONS
        ));
    }
    line
}

/// The JSON document (schema version [`JSON_SCHEMA_VERSION`]).
#[derive(Serialize)]
struct JsonSummary<'a> {
    schema_version: u32,
    title: &'a str,
    source: &'a str,
    author: Option<&'a str>,
    written: Option<&'a str>,
    model: &'a str,
    generated: &'a str,
    language: &'a str,
    takeaways: Vec<JsonTakeaway<'a>>,
    missing_sections: &'a [MissingSection],
    notes: &'a [String],
    stats: &'a Stats,
}

#[derive(Serialize)]
struct JsonTakeaway<'a> {
    rank: usize,
    headline: &'a str,
    detail: &'a str,
    importance: u8,
    score: f64,
    grounded: bool,
    merged: usize,
    sections: Vec<JsonSection<'a>>,
    quotes: &'a [String],
}

#[derive(Serialize)]
struct JsonSection<'a> {
    label: String,
    heading_path: &'a [String],
}

/// JSON, pretty-printed, for `jq`.
pub fn json(summary: &Summary) -> String {
    let doc = JsonSummary {
        schema_version: JSON_SCHEMA_VERSION,
        title: &summary.title,
        source: &summary.source,
        author: summary.author.as_deref(),
        written: summary.written.as_deref(),
        model: &summary.model,
        generated: &summary.generated,
        language: &summary.language,
        takeaways: summary
            .takeaways
            .iter()
            .map(|t| JsonTakeaway {
                rank: t.rank,
                headline: &t.headline,
                detail: &t.detail,
                importance: t.importance,
                score: t.score,
                grounded: t.grounded,
                merged: t.merged,
                sections: t
                    .sections
                    .iter()
                    .map(|p| JsonSection {
                        label: label(p),
                        heading_path: p,
                    })
                    .collect(),
                quotes: &t.quotes,
            })
            .collect(),
        missing_sections: &summary.missing_sections,
        notes: &summary.notes,
        stats: &summary.stats,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data always serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_line_names_four_and_counts_the_rest() {
        let paths: Vec<Vec<String>> = (1..=7).map(|i| vec![format!("Talk {i}")]).collect();
        assert_eq!(sections_line(&paths[..4]), "Talk 1; Talk 2; Talk 3; Talk 4");
        assert_eq!(
            sections_line(&paths),
            "Talk 1; Talk 2; Talk 3; Talk 4; and 3 more"
        );
        assert_eq!(sections_line(&[vec![]]), "(intro)");
    }
}
