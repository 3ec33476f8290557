//! Unit tests of the map step: prompt sections, grounding, cut headlines, the heading index.

use super::*;
use crate::types::ChunkPart;

#[test]
fn cut_headlines_end_cleanly() {
    let cut = "Datastore Days remains the most useful conference I attend, because the speakers talk about what go";
    assert_eq!(shorten_cut(cut, 100), "Datastore Days remains the most useful conference I attend, because the speakers talk about what…");
    assert_eq!(shorten_cut("Short one", 100), "Short one");
}

#[test]
fn small_chunks_are_asked_for_fewer_takeaways() {
    assert_eq!(takeaways_for(1, 120), 1);
    assert_eq!(takeaways_for(1, 1600), 2);
    assert_eq!(takeaways_for(3, 300), 3);
    assert_eq!(takeaways_for(3, 2000), 3);
    assert_eq!(takeaways_for(2, 5000), 4);
    assert_eq!(takeaways_for(1, 30000), MAX_TAKEAWAYS_PER_CHUNK);
    assert_eq!(takeaways_for(20, 300), MAX_TAKEAWAYS_PER_CHUNK);
}

#[test]
#[allow(clippy::single_range_in_vec_init)] // a list of one region: the whole text
fn a_headline_is_grounded_in_its_own_section_whatever_its_place() {
    let text = "My takeaways:\n\n1. Golden paths beat mandates\n2. Portals need owners\n\n\
                Golden paths beat mandates\n\nA team that made its golden path the easiest \
                way to ship saw adoption triple.\n\nPortals need owners\n\nEvery portal \
                without a product owner was abandoned within a year, said two speakers.\n";
    let sections = ["Golden paths beat mandates", "Portals need owners"];
    let headings = Headings::new(&sections.map(String::from));
    let folded = detail::Folded::new(text);
    let region = |h: &str| {
        let at = text
            .find(&format!("{h}\n\nA"))
            .or_else(|| text.find(&format!("{h}\n\nE")));
        let start = at.unwrap() + h.len() + 2;
        let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
        start..end
    };
    let everywhere = [0..text.len()];
    // The heading restated, answered at the place of the other section: its own section.
    let own = [region("Golden paths beat mandates")];
    let r = ground(
        text,
        &folded,
        &headings,
        "Portals need owners",
        (&[region("Portals need owners")], true),
        &everywhere,
    )
    .unwrap();
    assert!(text[r].starts_with("Every portal without"));
    // A paraphrase: the sentence that shares most words, its place breaking ties only.
    let r = ground(
        text,
        &folded,
        &headings,
        "Abandoned portals had no product owner",
        (&own, false),
        &everywhere,
    )
    .unwrap();
    assert!(text[r].starts_with("Every portal without"));
    let r = ground(
        text,
        &folded,
        &headings,
        "Make the golden path easiest",
        (&own, false),
        &everywhere,
    )
    .unwrap();
    assert!(text[r].starts_with("A team that made"));
    // No shared word: not grounded.
    assert_eq!(
        ground(
            text,
            &folded,
            &headings,
            "Kubernetes pricing",
            (&own, false),
            &everywhere
        ),
        None
    );
}

#[test]
fn the_prompt_lists_sections_with_text_by_their_own_heading() {
    let body = "## Talks\n\n### Cloud backstage\n\nA clear and friendly tour of how a data centre works.\n";
    let part = |path: &[&str], range: std::ops::Range<usize>| ChunkPart {
        heading_path: path.iter().map(|s| s.to_string()).collect(),
        range,
    };
    let chunk = Chunk {
        index: 0,
        range: 0..body.len(),
        parts: vec![
            part(&["Talks"], 0..8),
            part(&["Talks", "Cloud backstage"], 10..body.len()),
        ],
        est_tokens: 30,
        table_header: None,
    };
    assert_eq!(prompt_sections(&chunk, body), ["Cloud backstage"]);
}

#[test]
fn indexed_headings_answer_as_comparing_with_each() {
    let headings: Vec<String> = [
        "Golden paths beat mandates",
        "Observability",
        "The keynote",
        "Kubernetes",
        "Golden paths beat mandates",
        "Wasm is a hot topic",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let indexed = Headings::new(&headings);
    for headline in [
        "Golden paths beat mandates",
        "Golden paths beat the mandates",
        "Kubernetis",
        "Wasm is a hot topic",
        "Nothing like any heading",
        "the",
    ] {
        assert_eq!(
            indexed.restated(headline),
            headings.iter().any(|h| same_takeaway(h, headline)),
            "{headline}"
        );
        for own in [&[][..], &["Golden paths beat mandates".to_string()][..]] {
            for path in [own, &["Wasm is a hot topic".to_string()][..]] {
                assert_eq!(
                    indexed.misattributed(headline, path),
                    misattributed(headline, path, &headings),
                    "{headline} in {path:?}"
                );
            }
        }
    }
}

#[test]
fn schema_caps_the_list() {
    let s = schema_of::<ExtractAnswer>();
    assert_eq!(
        s.pointer("/properties/takeaways/maxItems"),
        Some(&serde_json::json!(MAX_TAKEAWAYS_PER_CHUNK))
    );
}

/// Issue 13: the map step's schema converts to a llama.cpp grammar for the embedded engine (here, not
/// in `llm`, which must not import `extract`).
#[cfg(feature = "embedded")]
#[test]
fn extract_schema_converts_to_a_grammar() {
    use serde_json::Value;
    let schema = schema_of::<ExtractAnswer>();
    let g = crate::llm::embedded::grammar::grammar_for_format(Some(&schema))
        .unwrap()
        .unwrap();
    assert!(g.contains("root ::="), "{g}");
    // Every property of the schema is a literal of the grammar, in the JSON spelling.
    fn properties(v: &Value, out: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            out.extend(props.keys().cloned());
        }
        match v {
            Value::Object(o) => o.values().for_each(|x| properties(x, out)),
            Value::Array(a) => a.iter().for_each(|x| properties(x, out)),
            _ => {}
        }
    }
    let mut fields = Vec::new();
    properties(&schema, &mut fields);
    // takeaways, headline, importance
    assert!(fields.len() >= 3, "{fields:?}");
    for field in fields {
        assert!(
            g.contains(&format!("\\\"{field}\\\"")),
            "{field} missing in\n{g}"
        );
    }
}
