//! Issue 10, "Output is text": model text that looks like HTML or Markdown (`Vec<String>`,
//! `the <main> element`, `<script>alert(1)</script>`, a leading `#`, `|`, links, entities)
//! reaches the summary, `index.md` and `digest.md` of a real `batch` run against a local stub
//! server (wiremock), and each page is rendered with a real CommonMark implementation
//! (pulldown-cmark's HTML renderer, GFM tables and strikethrough on): no tag the model wrote
//! survives as HTML, and every word it wrote is in the rendered text.

mod common;
use common::takeaways;

use std::path::Path;

use pulldown_cmark::{html, Options, Parser};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The stub model's takeaways: (headline, quote), most important first. The same answer for
/// every chunk, so both reports share all four and the digest shows them; the index shows the
/// first three headlines. Each quote is in its own section of [`WRITEUP`], so each takeaway's
/// detail is the author's sentence there ([`DETAILS`]).
const TAKEAWAYS: &[(&str, &str)] = &[
    (
        "Use <img> tags with alt text",
        "Alt text on every <img> helps readers",
    ),
    (
        "Use Vec<String> for the <main> element",
        "Use Vec<String> for the main element",
    ),
    ("# Not a heading, 1. not a list", "A backslash"),
    (
        "<em>Emphasis</em> copied from HTML pages stays",
        "Formatting and emphasis copied from HTML pages",
    ),
];

/// The author's sentences the takeaways' details are, as a reader must see them.
const DETAILS: &[&str] = &[
    "Alt text on every <img> helps readers, and so does <br> used sparingly.",
    "Use Vec<String> for the main element of every page, with a pipe | and ~~strike~~ in it.",
    "A backslash \\ and &amp; and &#39; entities copied from HTML pages, # not a heading, 1. not a list.",
    "Formatting and emphasis copied from HTML pages stay, with <b>bold</b> words `Vec<String>` *star* _under_.",
];

/// The writeup: four sections, one sentence of [`DETAILS`] each (in its Markdown source form:
/// escaped where Markdown would read it as structure), and a heading and a title with markup
/// of their own. The title shares few words with the headlines (a headline that restates the
/// title is dropped).
const WRITEUP: &str = "---
title: \"Field notes: <Option> & the <dialog> element\"
---

## Rust <dialog> types | *globs*

Alt text on every <img> helps readers, and so does <br> used sparingly.

## Second part

Use Vec<String> for the main element of every page, with a pipe | and ~~strike~~ in it.

## Third part

A backslash \\\\ and &amp;amp; and &amp;#39; entities copied from HTML pages, # not a heading, 1. not a list.

## Fourth part

Formatting and emphasis copied from HTML pages stay, with <b>bold</b> words \\`Vec<String>\\` \\*star\\* \\_under\\_.
";

/// The tags our own pages use; anything else in the HTML came from the text.
const OUR_TAGS: &[&str] = &[
    "h1", "h2", "p", "ul", "ol", "li", "strong", "em", "code", "a", "table", "thead", "tbody",
    "tr", "th", "td", "br",
];

fn extract_answer() -> String {
    let takeaways: Vec<_> = TAKEAWAYS
        .iter()
        .enumerate()
        .map(|(i, (h, q))| json!({"headline": h, "importance": 5 - i.min(3), "quote": q}))
        .collect();
    json!({ "takeaways": takeaways }).to_string()
}

fn ndjson(content: &str) -> String {
    format!(
        "{}\n",
        json!({"model": "m", "created_at": "2025-01-01T00:00:00Z",
               "message": {"role": "assistant", "content": content}, "done": true,
               "done_reason": "stop"})
    )
}

async fn stub() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/show"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"model_info": {"general.architecture": "llama", "llama.context_length": 8192}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": []})))
        .mount(&server)
        .await;
    // The final pass asks for `"order"` in its schema.
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_string_contains("\"order\""))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(ndjson(r#"{"order": [1, 2, 3]}"#), "application/x-ndjson"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(ndjson(&extract_answer()), "application/x-ndjson"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// `markdown` as a CommonMark + GFM renderer shows it.
fn to_html(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_FOOTNOTES);
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, opts));
    out
}

/// The text a reader sees in `html`: tags removed, character references decoded once.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = [
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&amp;", "&"),
            ("&quot;", "\""),
            ("&#39;", "'"),
            ("&#x27;", "'"),
        ]
        .iter()
        .find(|(e, _)| rest.starts_with(e));
        match decoded {
            Some((e, c)) => {
                out.push_str(c);
                rest = &rest[e.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The element names of the tags in `html`.
fn tag_names(html: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        names.push(name.to_ascii_lowercase());
    }
    names
}

/// The model's words as a reader must find them: its formatting tags (`<em>`, `<b>`) are gone,
/// nothing else.
fn words(text: &str) -> Vec<String> {
    text.replace("<em>", " ")
        .replace("</em>", " ")
        .replace("<b>", " ")
        .replace("</b>", " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// What is wrong with one rendered page: tags from the text that survive as HTML, and words of
/// `model_texts` missing from what a reader sees.
fn check_page(name: &str, markdown: &str, model_texts: &[&str]) -> Vec<String> {
    let html = to_html(markdown);
    let lower = html.to_lowercase();
    let mut problems = Vec::new();
    let foreign: Vec<String> = tag_names(&html)
        .into_iter()
        .filter(|t| !OUR_TAGS.contains(&t.as_str()))
        .collect();
    if !foreign.is_empty() {
        problems.push(format!(
            "{name}: tags from the text survive as HTML: {foreign:?}"
        ));
    }
    for bad in [
        "<script",
        "<main",
        "<string",
        "<dialog",
        "<option",
        "<img",
        "<b>",
        "<del",
        "<em>emphasis",
        "href=\"http://x\"",
    ] {
        if lower.contains(bad) {
            problems.push(format!("{name}: {bad} in the HTML"));
        }
    }
    let text = visible_text(&html);
    for t in model_texts {
        for w in words(t) {
            if !text.contains(&w) {
                problems.push(format!(
                    "{name}: the word {w:?} is not in the rendered text"
                ));
            }
        }
    }
    if !problems.is_empty() {
        problems.push(format!(
            "--- {name}, markdown\n{markdown}\n--- {name}, as rendered\n{text}"
        ));
    }
    problems
}

#[test]
fn hostile_model_text_renders_as_text_in_summary_index_and_digest() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reports");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.md"), WRITEUP).unwrap();
    std::fs::write(
        dir.join("b.md"),
        WRITEUP.replace("Field notes:", "More notes:"),
    )
    .unwrap();
    let out = tmp.path().join("wiki");
    takeaways()
        .arg("batch")
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .args(["--model", "m", "--num-ctx", "8192", "--host", &server.uri()])
        .assert()
        .success();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();

    let all: Vec<&str> = TAKEAWAYS
        .iter()
        .map(|(h, _)| *h)
        .chain(DETAILS.iter().copied())
        .collect();
    let headlines: Vec<&str> = TAKEAWAYS.iter().take(3).map(|(h, _)| *h).collect();
    let mut problems = Vec::new();
    for (summary, title) in [
        ("a.md", "Field notes: <Option> & the <dialog> element"),
        ("b.md", "More notes: <Option> & the <dialog> element"),
    ] {
        let md = read(&out.join(summary));
        problems.extend(check_page(summary, &md, &all));
        // The title as written; the heading as the split reads it (without the HTML and
        // emphasis of the Markdown source).
        problems.extend(check_page(summary, &md, &[title, "Rust types | globs"]));
    }
    problems.extend(check_page(
        "index.md",
        &read(&out.join("index.md")),
        &headlines,
    ));
    let digest = read(&out.join("digest.md"));
    assert!(digest.contains("4 takeaways found"), "{digest}");
    problems.extend(check_page("digest.md", &digest, &all));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
