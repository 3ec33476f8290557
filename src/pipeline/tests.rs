//! Unit tests of the parent module.

use super::*;

fn settings(strategy: Strategy) -> Settings {
    Settings {
        model: "m".into(),
        num_ctx: Some(8192),
        num_predict: DEFAULT_NUM_PREDICT,
        temperature: 0.0,
        seed: None,
        repeat_penalty: DEFAULT_REPEAT_PENALTY,
        top: 10,
        target_tokens: None,
        final_pass: false,
        keep_going: false,
        language: None,
        strategy,
    }
}

fn plan(body: &str, strategy: Strategy, num_ctx: u32) -> Vec<Chunk> {
    plan_with(body, &settings(strategy), num_ctx)
}

fn plan_with(body: &str, s: &Settings, num_ctx: u32) -> Vec<Chunk> {
    let doc = Document {
        source: "t.md".into(),
        title: Some("T".into()),
        date: None,
        author: None,
        format: BodyFormat::Markdown,
        hidden: Default::default(),
        body: body.into(),
    };
    let prompts = Prompts::new(None).unwrap();
    let outline = split::outline(&doc);
    let b = budget(&outline, &prompts, s, num_ctx).unwrap();
    plan_chunks(&doc, &outline, &prompts, s, num_ctx, b)
        .unwrap()
        .chunks
}

#[test]
fn whole_is_one_chunk_when_it_fits_else_sections() {
    let para = "Some words about the talk. ".repeat(200);
    let body = format!("## A\n\n{para}\n\n## B\n\n{para}\n\n## C\n\n{para}\n");
    // Section chunks fill the window: one chunk at 8192, several at 2048.
    assert_eq!(plan(&body, Strategy::Sections, 8192).len(), 1);
    assert!(plan(&body, Strategy::Sections, 2048).len() > 1);
    let whole = plan(&body, Strategy::Whole, 8192);
    assert_eq!(whole.len(), 1);
    let labels: Vec<String> = whole[0]
        .parts
        .iter()
        .map(|p| p.heading_path.join("/"))
        .collect();
    assert_eq!(labels, ["A", "B", "C"]);
    // Too big for the context: the section chunks.
    assert_eq!(
        plan(&body, Strategy::Whole, 1024),
        plan(&body, Strategy::Sections, 1024)
    );
    // Far too big for one call: auto plans the section chunks.
    assert_eq!(
        plan(&body, Strategy::Auto, 1024),
        plan(&body, Strategy::Sections, 1024)
    );
}

#[test]
fn auto_sends_a_body_whole_when_its_estimate_is_likely_high() {
    // Four sections of ~1,930 estimated tokens: above the pessimistic `max` of num_ctx 8192
    // (~5,800), below it times TYPICAL_OVERCOUNT_PERCENT (the real count of such prose is
    // about two thirds of the estimate).
    let para = "Some words about the talk. ".repeat(200);
    let body = format!("## A\n\n{para}\n\n## B\n\n{para}\n\n## C\n\n{para}\n\n## D\n\n{para}\n");
    let est = tokens::estimate(&body);
    let sections = plan(&body, Strategy::Sections, 8192);
    assert!(
        sections.len() >= 2,
        "{est} estimated tokens in one pessimistic chunk"
    );
    assert!(sections.iter().all(|c| c.est_tokens < est));
    let auto = plan(&body, Strategy::Auto, 8192);
    assert_eq!(auto.len(), 1);
    assert_eq!(auto[0].parts.len(), 4);
    assert_eq!(auto, plan(&body, Strategy::Whole, 8192));
    // --chunk-tokens asks for chunks of that size: auto keeps to it.
    let mut s = settings(Strategy::Auto);
    s.target_tokens = Some(2500);
    assert!(plan_with(&body, &s, 8192).len() >= 4);
}

#[test]
fn auto_changes_nothing_for_a_one_chunk_body() {
    let body = "## A\n\nshort\n\n## B\n\nalso short\n";
    let auto = plan(body, Strategy::Auto, 8192);
    assert_eq!(auto.len(), 1);
    assert_eq!(auto, plan(body, Strategy::Sections, 8192));
}
