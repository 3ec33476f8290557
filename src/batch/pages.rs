//! The pages a batch writes besides the summaries: `index.md`/`index.json` (one row per report)
//! and `digest.md`/`digest.json` (the takeaways that recur across reports).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Brief, FileFailure, ReportEntry, INDEX_TOP, JSON_SCHEMA_VERSION, MIN_SUPPORT};
use crate::text::{
    code_span, content_tokens, markdown_inline, markdown_paragraph, same_takeaway, shorten,
    strip_format_tags, table_code_span,
};

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

/// A headline as the index and the digest compare and show it: [`strip_format_tags`], the
/// rule `extract` applies to every headline (so a no-op on the headlines of this version's
/// summaries; kept for records written by other versions). No word of the model is removed.
pub fn clean_headline(headline: &str) -> String {
    strip_format_tags(headline)
}

/// Least number of content words ([`content_tokens`]) a cleaned headline needs to take part
/// in the digest: a bare topic ("Databases", "The keynote") is not a takeaway two reports can be
/// said to share.
pub const MIN_DIGEST_WORDS: usize = 2;

/// Groups the takeaways of all reports and keeps the groups that at least [`MIN_SUPPORT`]
/// distinct reports support.
///
/// Headlines are compared after [`clean_headline`], with [`same_takeaway`]; a takeaway
/// joins the first group whose first takeaway (its seed) it matches, in report order then rank
/// order. Comparing with the seed only, not with any member as [`crate::rank::merge`] does within one
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
            if content_tokens(&clean).len() < MIN_DIGEST_WORDS {
                continue;
            }
            match groups.iter_mut().find(|g| same_takeaway(&g[0].2, &clean)) {
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

/// A relative link target for a path in the escaped form of [`super::escape_name`] (as the
/// manifest keeps it): the raw bytes of the file name, every byte but unreserved ASCII and `/`
/// percent-encoded (spaces, parentheses, `|`, `#`, non-ASCII letters, bytes that are not UTF-8:
/// `zo\xE8.md` → `zo%E8.md`, the file's real name), so it works in any Markdown renderer and
/// inside a table.
pub fn link_target(rel: &str) -> String {
    let raw = super::unescape_name(rel).unwrap_or_else(|| rel.as_bytes().to_vec());
    let mut out = String::with_capacity(raw.len());
    for &b in &raw {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Longest failure reason shown in the index.
const REASON_MAX: usize = 240;

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
            "{} summarized with {}; what recurs across them is in [the digest]({}).\n\n",
            plural(reports.len(), "report", "reports"),
            code_span(model),
            link_target(digest_name)
        ));
        out.push_str("| Report | Date | Source | Top takeaways |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for (source, e) in reports {
            let top: Vec<String> = top_headlines(e)
                .iter()
                .enumerate()
                .map(|(i, h)| format!("{}. {}", i + 1, markdown_inline(h)))
                .collect();
            out.push_str(&format!(
                "| [{}]({}) | {} | {} | {} |\n",
                markdown_inline(&e.title),
                link_target(&e.output),
                e.written
                    .as_deref()
                    .map_or_else(|| "–".to_string(), markdown_inline),
                table_code_span(source),
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
                table_code_span(&f.source),
                markdown_inline(&shorten(&f.reason, REASON_MAX))
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
            markdown_inline(&g.headline),
            g.mentions.len()
        ));
        if !g.detail.trim().is_empty() {
            out.push_str(&format!("{}\n\n", markdown_paragraph(&g.detail)));
        }
        for (r, rank) in &g.mentions {
            let (_, e) = &reports[*r];
            let said = &e.takeaways[rank - 1].headline;
            out.push_str(&format!(
                "- [{}]({}) (#{rank}): {}\n",
                markdown_inline(&e.title),
                link_target(&e.output),
                markdown_inline(&clean_headline(said))
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
