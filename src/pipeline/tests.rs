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
    let s = settings(strategy);
    let outline = split::outline(&doc);
    let b = budget(&outline, &prompts, &s, num_ctx).unwrap();
    plan_chunks(&doc, &outline, &prompts, &s, num_ctx, b).unwrap()
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
    // Above the auto threshold: the same requests as sections.
    assert_eq!(
        plan(&body, Strategy::Auto, 8192),
        plan(&body, Strategy::Sections, 8192)
    );
}

#[test]
fn auto_changes_nothing_for_a_one_chunk_body() {
    let body = "## A\n\nshort\n\n## B\n\nalso short\n";
    let auto = plan(body, Strategy::Auto, 8192);
    assert_eq!(auto.len(), 1);
    assert_eq!(auto, plan(body, Strategy::Sections, 8192));
}
