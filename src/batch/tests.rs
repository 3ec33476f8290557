//! Unit tests of discovery, output paths, links and the digest.

use std::ffi::OsString;

use super::pages::clean_headline;
use super::*;
use crate::text::markdown_inline;
use crate::text::shorten;

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
    assert_eq!(markdown_inline("a | b\n[c] <h1>"), "a \\| b \\[c\\] \\<h1>");
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

/// `batch` picks up a file of every extension `summarize` reads (one list: `input::EXTENSIONS`).
#[test]
fn every_readable_extension_is_discovered() {
    let dir = tempfile::tempdir().unwrap();
    for (ext, _) in crate::input::EXTENSIONS {
        std::fs::write(dir.path().join(format!("report.{ext}")), "# T\n\ntext\n").unwrap();
        std::fs::write(
            dir.path().join(format!("UPPER.{}", ext.to_uppercase())),
            "x",
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("notes.pdf"), "x").unwrap();
    let filters = Filters::new(&[], &[]).unwrap();
    let found = discover(dir.path(), &filters, None);
    let names: std::collections::BTreeSet<String> =
        found.sources.iter().map(Source::display).collect();
    for (ext, format) in crate::input::EXTENSIONS {
        let name = format!("report.{ext}");
        assert!(names.contains(&name), "{name} not picked up: {names:?}");
        assert_eq!(
            crate::input::format_for_path(std::path::Path::new(&name)),
            *format
        );
    }
    assert_eq!(names.len(), 2 * crate::input::EXTENSIONS.len());
    assert!(!names.contains("notes.pdf"));
}
