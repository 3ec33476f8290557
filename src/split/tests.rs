//! Unit tests of the split: headings, the plain-text rule, chunk budgets.

use super::*;
use crate::types::{BodyFormat, Document};

fn text_doc(body: &str) -> Document {
    Document {
        source: "t.txt".into(),
        title: None,
        date: None,
        author: None,
        format: BodyFormat::Text,
        hidden: Default::default(),
        body: body.into(),
    }
}

fn md_doc(body: &str) -> Document {
    Document {
        format: BodyFormat::Markdown,
        ..text_doc(body)
    }
}

#[test]
fn bold_pseudo_headings_are_siblings() {
    let doc = md_doc("## Talks\n\n**Problem I: one**\n\ntext\n\n**Problem II: two**\n\ntext\n");
    let labels: Vec<String> = outline(&doc).sections.iter().map(Section::label).collect();
    assert_eq!(
        labels,
        vec!["Talks", "Talks › Problem I: one", "Talks › Problem II: two"]
    );
}

#[test]
fn hash_lines_in_fences_are_not_headings() {
    let doc = md_doc("# T\n\nintro\n\n## A\n\n```sh\n# not a heading\n```\n\n~~~\n## nor this\n~~~\n\n## B\n\ntext\n");
    let labels: Vec<String> = outline(&doc).sections.iter().map(Section::label).collect();
    assert_eq!(labels, vec!["(intro)", "A", "B"]);
}

#[test]
fn text_heading_needs_body_and_no_final_period() {
    let para = "Body text that goes on for a while. ".repeat(8);
    let body = format!(
        "My Trip Report From A Conference\n\n{para}\n\nFirst topic\n\n{para}\n\nThis is a closing sentence.\n\nSecond topic!\n\n{para}\n\nA caption\n\nshort\n"
    );
    let s = detect_text_headings(&body);
    let texts: Vec<&str> = s.headings.iter().map(|h| h.text.as_str()).collect();
    assert_eq!(texts, vec!["First topic", "Second topic!"]);
    assert_eq!(
        s.title().as_deref(),
        Some("My Trip Report From A Conference")
    );
}

#[test]
fn chunks_fit_and_cover() {
    let para = "Word ".repeat(400);
    let body = format!("# A\n\n{para}\n\n{para}\n\n# B\n\nsmall\n");
    let doc = md_doc(&body);
    let budget = Budget {
        target: 300,
        max: 300,
    };
    let chunks = chunks(&doc, &outline(&doc), budget);
    assert!(chunks.len() >= 4);
    for c in &chunks {
        assert!(
            c.est_tokens <= budget.max,
            "{} > {}",
            c.est_tokens,
            budget.max
        );
    }
    let joined: String = chunks.iter().map(|c| c.text(&doc.body)).collect();
    let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert_eq!(strip(&joined), strip(&doc.body));
}

#[test]
fn a_setext_heading_over_two_lines_has_a_space_at_the_break() {
    let doc = md_doc(
        "Day 2 keynote:\nScaling *tokio* at Acme\n===\n\nText.\n\nQ&A,\nin `short`\n---\n\nMore.\n\nDay 3\n===\n\nEnd.\n",
    );
    let o = outline(&doc);
    assert_eq!(o.title, "Day 2 keynote: Scaling tokio at Acme");
    assert_eq!(
        o.labels(),
        [
            "Day 2 keynote: Scaling tokio at Acme",
            "Day 2 keynote: Scaling tokio at Acme › Q&A, in short",
            "Day 3"
        ]
    );
}
