//! The split's guarantees: every chunk fits its budget, and the chunks cover the whole
//! body in order, nothing lost and nothing repeated (white space between chunks aside). Checked
//! by property tests over generated writeups and on the extreme shapes: a 30,000-word paragraph,
//! a 5,000-character run without spaces, CJK text, fenced code and tables.

use proptest::prelude::*;
use takeaways::input::{BodyFormat, Document};
use takeaways::split::{self, Budget};
use takeaways::tokens;
use takeaways::types::Chunk;

fn doc(body: String, format: BodyFormat) -> Document {
    Document {
        source: "gen.md".into(),
        title: None,
        date: None,
        author: None,
        format,
        hidden: Default::default(),
        body,
    }
}

fn strip(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Asserts the two guarantees and returns the chunks.
fn check(d: &Document, budget: Budget) -> Vec<Chunk> {
    let chunks = split::chunks(d, &split::outline(d), budget);
    let mut last_end = 0;
    for c in &chunks {
        assert!(
            c.est_tokens <= budget.max,
            "chunk {} has {} estimated tokens, budget {}",
            c.index,
            c.est_tokens,
            budget.max
        );
        let sent = tokens::estimate(&c.prompt_text(&d.body));
        assert!(
            sent <= budget.max,
            "chunk {} sends {sent} estimated tokens",
            c.index
        );
        assert!(c.range.start >= last_end, "chunks overlap or go backwards");
        last_end = c.range.end;
    }
    let joined: String = chunks.iter().map(|c| c.text(&d.body)).collect();
    assert_eq!(strip(&joined), strip(&d.body), "text lost or duplicated");
    chunks
}

fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z][a-z]{2,10}( [a-z]{1,10}){0,6}".prop_map(|h| format!("## {h}")),
        "([A-Za-z]{1,12}[,.]? ){5,120}".prop_map(|p| p.trim().to_string()),
        "[一-龥ぁ-ん]{10,400}",
        "[a-z]{100,900}",
        "([a-z]{1,8} ){1,10}".prop_map(|c| format!("```\n# {c}\nlet x = 1;\n```")),
        (1usize..30).prop_map(|rows| {
            let mut t = String::from("| name | value |\n|---|---|\n");
            for i in 0..rows {
                t.push_str(&format!("| row {i} with some words | {i} |\n"));
            }
            t.trim_end().to_string()
        }),
        "(- [a-z]{1,10}( [a-z]{1,10}){0,8}\n){1,8}".prop_map(|l| l.trim_end().to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn markdown_chunks_fit_and_cover(blocks in prop::collection::vec(block(), 1..25), target in 24usize..600) {
        let d = doc(blocks.join("\n\n"), BodyFormat::Markdown);
        check(&d, Budget { target, max: target + 40 });
    }

    #[test]
    fn text_chunks_fit_and_cover(blocks in prop::collection::vec(block(), 1..25), target in 24usize..600) {
        let d = doc(blocks.join("\n\n"), BodyFormat::Text);
        check(&d, Budget { target, max: target });
    }
}

#[test]
fn a_30000_word_paragraph_is_split_within_budget() {
    let words = [
        "conference",
        "talk",
        "platform",
        "latency",
        "team",
        "we",
        "learned",
        "that",
    ];
    let body: Vec<&str> = (0..30_000).map(|i| words[i % words.len()]).collect();
    let d = doc(body.join(" "), BodyFormat::Text);
    let chunks = check(
        &d,
        Budget {
            target: 1200,
            max: 1200,
        },
    );
    assert!(chunks.len() > 40, "{} chunks", chunks.len());
}

#[test]
fn a_run_without_spaces_falls_back_to_characters() {
    let body = format!("# Title\n\n{}\n", "x".repeat(5_000));
    let d = doc(body, BodyFormat::Markdown);
    let chunks = check(
        &d,
        Budget {
            target: 300,
            max: 300,
        },
    );
    assert!(chunks.len() >= 5);
}

#[test]
fn cjk_is_never_under_budget_by_estimate() {
    let body = "东京的会议非常有意思。".repeat(600);
    let d = doc(body, BodyFormat::Text);
    check(
        &d,
        Budget {
            target: 500,
            max: 500,
        },
    );
}

#[test]
fn a_code_fence_that_fits_is_not_cut() {
    let para = "Some prose about the talk. ".repeat(30);
    let code: String = (0..40).map(|i| format!("let v{i} = {i};\n")).collect();
    let body = format!("## A\n\n{para}\n\n```rust\n{code}```\n\n{para}\n");
    let d = doc(body, BodyFormat::Markdown);
    let chunks = check(
        &d,
        Budget {
            target: 400,
            max: 400,
        },
    );
    let holder: Vec<&Chunk> = chunks
        .iter()
        .filter(|c| c.text(&d.body).contains("let v0 ="))
        .collect();
    assert_eq!(holder.len(), 1);
    assert!(
        holder[0].text(&d.body).contains("let v39 = 39;"),
        "the fence was cut"
    );
}

#[test]
fn a_table_cut_across_chunks_repeats_its_header() {
    let mut body = String::from("## Numbers\n\n| metric | before | after |\n|---|---|---|\n");
    for i in 0..120 {
        body.push_str(&format!(
            "| p{i} latency in milliseconds | {i} | {} |\n",
            i / 2
        ));
    }
    let d = doc(body, BodyFormat::Markdown);
    let chunks = check(
        &d,
        Budget {
            target: 300,
            max: 340,
        },
    );
    assert!(chunks.len() >= 3);
    for c in &chunks[1..] {
        let text = c.prompt_text(&d.body);
        assert!(
            text.starts_with("| metric | before | after |\n|---|---|---|"),
            "chunk {} lacks the header: {:?}",
            c.index,
            &text[..60.min(text.len())]
        );
    }
    // No row is cut in the middle.
    for c in &chunks {
        for line in c.text(&d.body).lines() {
            assert!(
                line.starts_with('|') && line.ends_with('|') || !line.contains('|'),
                "{line:?}"
            );
        }
    }
}

#[test]
fn crlf_and_lf_give_the_identical_split() {
    let lf = "Trip report\nA Conference Of Things 2025\n\nThe intro paragraph says what happened at the event and why it matters to the team back home. It goes on for a while.\n\nFirst heading\n\nBody text that goes on and on about the first topic, with enough words to count as a real section of the writeup we are reading today.\n";
    let crlf = lf.replace('\n', "\r\n");
    let a = takeaways::input::from_bytes(
        "a.txt",
        lf.as_bytes(),
        takeaways::input::InputFormat::Text,
        &Default::default(),
    )
    .unwrap();
    let b = takeaways::input::from_bytes(
        "a.txt",
        crlf.as_bytes(),
        takeaways::input::InputFormat::Text,
        &Default::default(),
    )
    .unwrap();
    let budget = Budget {
        target: 1200,
        max: 1200,
    };
    let (oa, ob) = (split::outline(&a), split::outline(&b));
    assert_eq!(
        split::chunks(&a, &oa, budget),
        split::chunks(&b, &ob, budget)
    );
    assert_eq!(oa.sections, ob.sections);
}

/// Found by fuzzing (`fuzz/`, target `input_split`): a letter with 118 combining accents and one
/// stray Windows-1252 byte among them. text-splitter gave back a piece of 14 accents (42
/// estimated tokens) for a target of 28, and the chunk exceeded the hard limit of 36.
#[test]
fn combining_marks_never_push_a_chunk_over_the_limit() {
    let mut bytes = b"# T\n\na".to_vec();
    bytes.extend("\u{301}".repeat(50).as_bytes());
    bytes.push(0xCC);
    bytes.extend("\u{301}".repeat(68).as_bytes());
    bytes.extend(b" word\n");
    let d = takeaways::input::from_bytes(
        "zalgo.md",
        &bytes,
        takeaways::input::InputFormat::Markdown,
        &Default::default(),
    )
    .unwrap();
    let budget = Budget {
        target: 28,
        max: 36,
    };
    check(&d, budget);
}
