//! The index against comparing with each, on random small inputs built to hit every rule:
//! shared tokens, spellings one edit apart with no token in common (`kubernetes` /
//! `kubernetis`), texts without content tokens, case, CJK, non-ASCII lowercasing.
use super::merge;
use crate::text::same_takeaway;
use crate::text::similar::Index;
use crate::types::Candidate;
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "platform",
    "platforms",
    "engineering",
    "enginering",
    "kubernetes",
    "kubernetis",
    "KUBERNETES",
    "the",
    "a",
    "of",
    "is",
    "rust",
    "wasm",
    "big",
    "data",
    "bigdata",
    "abcdefgh",
    "abcdefgi",
    "x",
    "ab",
    "性能",
    "高性能",
    "!!",
    "--",
    "é",
    "İstanbul",
];

fn text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(WORDS), 0..5),
        prop::sample::select(&[" ", "", "-", "  "][..]),
    )
        .prop_map(|(words, sep)| words.join(sep))
}

/// The merge as it was: each candidate against every member of every group.
fn merge_by_comparing_with_each(candidates: &[Candidate]) -> Vec<Vec<Candidate>> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| c.ordinal);
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    for c in sorted {
        match groups
            .iter_mut()
            .find(|g| g.iter().any(|m| same_takeaway(&m.headline, &c.headline)))
        {
            Some(g) => g.push(c.clone()),
            None => groups.push(vec![c.clone()]),
        }
    }
    groups
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_finds_what_comparing_with_each_finds(
        texts in prop::collection::vec(text(), 0..24),
        query in text(),
    ) {
        let mut index = Index::of(texts.as_slice());
        let want: Vec<usize> = (0..texts.len())
            .filter(|&i| same_takeaway(&texts[i], &query))
            .collect();
        let q = index.prepare(&query);
        prop_assert_eq!(index.matches(&q), want);
    }

    #[test]
    fn merge_gives_the_groups_of_comparing_with_each(
        headlines in prop::collection::vec(text(), 0..40),
    ) {
        let candidates: Vec<Candidate> = headlines
            .iter()
            .enumerate()
            .map(|(i, h)| Candidate {
                chunk: i / 3,
                // Not in input order, so the sort by ordinal matters.
                ordinal: (i * 7) % headlines.len().max(1) * 1000 + i,
                headline: h.clone(),
                detail: String::new(),
                importance: 3,
                quote: String::new(),
                quote_found: false,
                heading_path: vec![format!("S{}", i % 4)],
            })
            .collect();
        prop_assert_eq!(merge(&candidates), merge_by_comparing_with_each(&candidates));
    }
}
