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

#[test]
fn escaped_names_are_reversible_and_never_shared() {
    use std::ffi::OsStr;
    assert_eq!(
        escape_name(OsStr::new("Zürich notes.md")),
        "Zürich notes.md"
    );
    assert_eq!(escape_name(OsStr::new(r"a\b.md")), r"a\\b.md");
    assert_eq!(unescape_name(r"a\\b.md").unwrap(), br"a\b.md");
    assert_eq!(unescape_name(r"zo\xE8.md").unwrap(), b"zo\xE8.md");
    for bad in [r"a\b", r"a\x", r"a\xE", r"a\x+F", "a\\"] {
        assert_eq!(unescape_name(bad), None, "{bad}");
    }
    // A link to an escaped path percent-encodes the raw bytes, not U+FFFD.
    assert_eq!(link_target(r"2024/zo\xE8.md"), "2024/zo%E8.md");
    assert_eq!(link_target(r"a\\b.md"), "a%5Cb.md");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let e8 = OsStr::from_bytes(b"zo\xE8.md");
        let e9 = OsStr::from_bytes(b"zo\xE9.md");
        let literal = OsStr::new(r"zo\xE8.md");
        assert_eq!(escape_name(e8), r"zo\xE8.md");
        assert_eq!(escape_name(e9), r"zo\xE9.md");
        assert_eq!(escape_name(literal), r"zo\\xE8.md");
        for name in [e8, e9, literal] {
            assert_eq!(unescape_name(&escape_name(name)).unwrap(), name.as_bytes());
        }
        // Two sources that differ only in bytes that are not UTF-8 get two outputs.
        let sources: Vec<Source> = [e8, e9]
            .iter()
            .map(|n| Source {
                path: PathBuf::from(n),
                rel: vec![n.to_os_string()],
            })
            .collect();
        let out = output_paths(&sources, Format::Markdown);
        assert_eq!(out[0].as_os_str().as_bytes(), b"zo\xE8.md");
        assert_eq!(out[1].as_os_str().as_bytes(), b"zo\xE9.md");
        assert!(sources[0].non_utf8() && !src("a.md").non_utf8());
        assert_eq!(sources[1].display(), r"zo\xE9.md");
    }
}

fn found_names(dir: &std::path::Path, include: &[&str]) -> Vec<String> {
    let include: Vec<String> = include.iter().map(|s| (*s).to_string()).collect();
    let filters = Filters::new(&include, &[]).unwrap();
    discover(dir, &filters, None)
        .sources
        .iter()
        .map(Source::display)
        .collect()
}

/// `--include` reaches any file `summarize` can read when it names it; globs that name no
/// extension still pick only writeups.
#[test]
fn include_reaches_other_extensions_only_when_it_names_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("notes")).unwrap();
    for name in [
        "a.md",
        "b.mkd",
        "c.log",
        "d.png",
        "notes/README",
        "notes/e.txt",
        "README",
    ] {
        std::fs::write(dir.path().join(name), "# T\n\ntext\n").unwrap();
    }
    assert_eq!(found_names(dir.path(), &["*.mkd"]), ["b.mkd"]);
    assert_eq!(found_names(dir.path(), &["*.log"]), ["c.log"]);
    assert_eq!(found_names(dir.path(), &["notes/README"]), ["notes/README"]);
    assert_eq!(
        found_names(dir.path(), &["README", "*.mkd"]),
        ["README", "b.mkd", "notes/README"]
    );
    assert_eq!(
        found_names(dir.path(), &["*"]),
        ["a.md", "b.mkd", "notes/e.txt"]
    );
    assert_eq!(found_names(dir.path(), &["notes/**"]), ["notes/e.txt"]);
    assert_eq!(
        found_names(dir.path(), &[]),
        ["a.md", "b.mkd", "notes/e.txt"]
    );
    // What the filters left out is counted, for the "nothing matched" error.
    let filters = Filters::new(&["*.rst".into()], &["notes".into()]).unwrap();
    let found = discover(dir.path(), &filters, None);
    assert!(found.sources.is_empty());
    assert_eq!(found.filtered_out, 3, "a.md, b.mkd and the notes folder");
}
