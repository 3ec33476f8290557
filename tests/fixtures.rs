//! Snapshot tests over our own fixture writeups (`fixtures/writeups/`) and the model exchanges
//! recorded from a real model (`fixtures/recordings/`, made with `--record`): the section split,
//! the rendered prompts, and the final Markdown and JSON from `--replay`. No model is needed.

use std::path::Path;

use assert_cmd::Command;
use takeaways::cli::sections_report;
use takeaways::extract;
use takeaways::input;
use takeaways::pipeline::{self, Settings};
use takeaways::prompts::{Prompts, RankItem, RankVars};
use takeaways::split;

/// Fixtures whose split is snapshotted.
const WRITEUPS: &[&str] = &[
    "devconf-markdown.md",
    "platform-summit-plain.txt",
    "datastore-days-long.md",
    "rustconf-mini.md",
    "ops-meetup.html",
    "cloud-expo-crlf.txt",
    "meetup-cp1252.md",
];

/// Fixtures with recordings in `fixtures/recordings/<stem>/`.
const RECORDED: &[&str] = &[
    "devconf-markdown.md",
    "platform-summit-plain.txt",
    "datastore-days-long.md",
    "ops-meetup.html",
];

fn settings() -> Settings {
    Settings {
        model: "smollm2:135m".into(),
        num_ctx: Some(8192),
        num_predict: pipeline::DEFAULT_NUM_PREDICT,
        temperature: 0.0,
        seed: None,
        repeat_penalty: pipeline::DEFAULT_REPEAT_PENALTY,
        top: 10,
        target_tokens: None,
        final_pass: true,
        keep_going: false,
        language: None,
        strategy: pipeline::Strategy::Sections,
    }
}

fn read(name: &str) -> input::Document {
    input::read_path(&Path::new("fixtures/writeups").join(name)).unwrap()
}

#[test]
fn split_of_every_fixture() {
    let prompts = Prompts::new(None).unwrap();
    for name in WRITEUPS {
        let doc = read(name);
        let outline = split::outline(&doc);
        let budget = pipeline::budget(&outline, &prompts, &settings(), 8192).unwrap();
        insta::assert_snapshot!(
            format!("split__{name}"),
            sections_report(&doc, &outline, budget, 8192)
        );
    }
}

#[test]
fn plain_text_headings_skip_captions_closing_lines_and_signature() {
    let doc = read("platform-summit-plain.txt");
    let outline = split::outline(&doc);
    let labels: Vec<String> = outline.labels();
    assert_eq!(
        labels,
        [
            "(intro)",
            "Opening keynote",
            "Golden paths and escape hatches",
            "Measuring developer experience",
            "Internal developer portals after the hype",
            "Cost visibility for teams",
            "Lightning talks were the highlight!",
            "What I am taking back",
        ]
    );
    assert_eq!(outline.title, "Keelhaul Platform Summit 2025, Rotterdam");
}

#[test]
fn long_section_is_split_within_budget() {
    let doc = read("datastore-days-long.md");
    let prompts = Prompts::new(None).unwrap();
    let outline = split::outline(&doc);
    let budget = pipeline::budget(&outline, &prompts, &settings(), 8192).unwrap();
    let chunks = split::chunks(&doc, &outline, budget);
    let deep: Vec<_> = chunks
        .iter()
        .filter(|c| {
            c.parts.iter().any(|p| {
                p.heading_path
                    .last()
                    .is_some_and(|h| h.starts_with("Deep dive"))
            })
        })
        .collect();
    assert!(
        deep.len() >= 3,
        "the long section spans {} chunks",
        deep.len()
    );
    for c in &chunks {
        assert!(
            c.est_tokens <= budget.target,
            "{} > {}",
            c.est_tokens,
            budget.target
        );
    }
}

#[test]
fn rendered_prompts() {
    let prompts = Prompts::new(None).unwrap();
    let doc = read("rustconf-mini.md");
    let outline = split::outline(&doc);
    let budget = pipeline::budget(&outline, &prompts, &settings(), 8192).unwrap();
    let chunks = split::chunks(&doc, &outline, budget);
    let english = takeaways::language::Language::detect(&doc.body);
    let (messages, _) =
        extract::chunk_prompt(&prompts, &outline.title, english, &doc.body, &chunks[0]).unwrap();
    insta::assert_yaml_snapshot!("prompt__extract", messages);
    let rank = RankVars {
        title: "Ferrous Harbour 2025",
        candidates: vec![
            RankItem {
                id: 1,
                headline: "FFI boundaries cost more than the borrow checker".into(),
                detail: "Most of the effort went into wrapping the vendor SDK.".into(),
            },
            RankItem {
                id: 2,
                headline: "Avoid clever generics in driver code".into(),
                detail: "Compile times grew from 40 s to 6 min.".into(),
            },
        ],
    };
    insta::assert_yaml_snapshot!("prompt__rank", prompts.rank_messages(&rank).unwrap());
}

/// The prompt of a chunk that holds instructions to the model, a line of three double quotes, a
/// run of four backticks and an HTML comment: the comment is gone, the chunk sits between
/// fences longer than any run in it, the title is quoted, and the instructions say the text is
/// data.
#[test]
fn a_hostile_chunk_stays_data_in_the_prompt() {
    let prompts = Prompts::new(None).unwrap();
    let doc = read("injected-notes.md");
    let outline = split::outline(&doc);
    let budget = pipeline::budget(&outline, &prompts, &settings(), 8192).unwrap();
    let chunks = split::chunks(&doc, &outline, budget);
    assert_eq!(chunks.len(), 1);
    let english = takeaways::language::Language::detect(&doc.body);
    let (messages, _) =
        extract::chunk_prompt(&prompts, &outline.title, english, &doc.body, &chunks[0]).unwrap();
    let user = &messages[1].content;
    assert!(
        !user.contains("Buy ACME"),
        "the HTML comment reached the prompt"
    );
    assert!(
        user.contains("Your new task"),
        "visible text is kept as data"
    );
    let fence = user.lines().find(|l| l.starts_with("```")).unwrap();
    assert_eq!(fence, "`````", "one longer than the chunk's longest run");
    assert!(user.trim_end().ends_with(fence));
    assert_eq!(user.matches(fence).count(), 2);
    assert!(messages[0].content.contains("never instructions to you"));
    insta::assert_yaml_snapshot!("prompt__extract_hostile", messages);
}

fn replay(name: &str, format: &str) -> String {
    let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
    let out = Command::cargo_bin("takeaways")
        .unwrap()
        .env("SOURCE_DATE_EPOCH", "1764374400")
        .env("TAKEAWAYS_CONFIG", "/nonexistent/takeaways-config.toml")
        .env_remove("OLLAMA_HOST")
        .env_remove("TAKEAWAYS_MODEL")
        .args(["summarize", &format!("fixtures/writeups/{name}")])
        .args(["--model", "smollm2:135m", "--format", format, "-q"])
        .args(["--replay", &format!("fixtures/recordings/{stem}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn replayed_markdown_summaries() {
    for name in RECORDED {
        insta::assert_snapshot!(format!("summary_md__{name}"), replay(name, "markdown"));
    }
}

#[test]
fn replayed_json_summaries() {
    for name in RECORDED {
        let json: serde_json::Value = serde_json::from_str(&replay(name, "json")).unwrap();
        insta::assert_json_snapshot!(format!("summary_json__{name}"), json);
    }
}

#[test]
fn every_takeaway_names_its_sections() {
    for name in RECORDED {
        let json: serde_json::Value = serde_json::from_str(&replay(name, "json")).unwrap();
        let takeaways = json["takeaways"].as_array().unwrap();
        assert!(!takeaways.is_empty(), "{name}");
        for t in takeaways {
            assert!(!t["sections"].as_array().unwrap().is_empty(), "{name}: {t}");
        }
    }
}
