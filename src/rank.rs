//! Stage 4, `rank`: the reduce step. Candidates from all chunks → merged near-duplicates →
//! scored, ordered [`Takeaway`]s, each keeping the sections that support it.
//!
//! Ranking is done in code, not left to a prompt (docs/ARCHITECTURE.md, "Ranking"): a takeaway that several
//! sections support, that the model rated important, that the author stresses (an intro or
//! summary list, a heading, a conclusion) and whose quote is found in its chunk ranks higher.
//! Ties break on first appearance in the document, so the order is deterministic. An optional
//! final model pass may reorder the short list; [`blend_order`] mixes it with the code's order.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::text::content_tokens;
use crate::types::{Candidate, DropRule, Dropped, Section, Takeaway};

use crate::text::similar;

#[cfg(test)]
mod props;

/// What the author stresses, found in the text itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Emphasis {
    /// Items of the author's own lists of highlights: list items in the intro, or under a
    /// heading such as "Key takeaways", "Summary", "Conclusion", "TL;DR".
    pub highlights: Vec<String>,
    /// All heading texts.
    pub headings: Vec<String>,
}

/// Words in a heading that mark a summary or conclusion section (several languages, since the
/// corpus has French, Chinese and Japanese writeups).
const SUMMARY_WORDS: &[&str] = &[
    "takeaway",
    "summary",
    "conclusion",
    "wrapping up",
    "wrap-up",
    "taking home",
    "take home",
    "take-home",
    "final thoughts",
    "in summary",
    "fazit",
    "zusammenfassung",
    "mitgenommen",
    "à retenir",
    "bilan",
    "tl;dr",
    "tldr",
    "highlights",
    "key points",
    "lessons",
    "overview",
    "en conclusion",
    "résumé",
    "まとめ",
    "总结",
    "感想",
];

/// True when a heading path names a summary or conclusion section.
pub fn is_summary_section(heading_path: &[String]) -> bool {
    heading_path.iter().any(|h| {
        let h = h.to_lowercase();
        SUMMARY_WORDS.iter().any(|w| h.contains(w))
    })
}

/// Collects the author's emphasis from the body and its sections.
pub fn emphasis(body: &str, sections: &[Section]) -> Emphasis {
    let mut e = Emphasis::default();
    for s in sections {
        if let Some(h) = s.heading_path.last() {
            e.headings.push(h.clone());
        }
        if s.heading_path.is_empty() || is_summary_section(&s.heading_path) {
            for line in body[s.range.clone()].lines() {
                if let Some(item) = list_item_text(line) {
                    e.highlights.push(item);
                }
            }
        }
    }
    e
}

/// The text of a list item line (`- x`, `* x`, `• x`, `1. x`, `- [ ] x`), or `None`.
fn list_item_text(line: &str) -> Option<String> {
    let t = line.trim_start();
    let rest = if let Some(r) = t.strip_prefix(['-', '*', '+', '•']) {
        r
    } else {
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        t[digits..].strip_prefix(['.', ')'])?
    };
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix("[ ]")
        .or_else(|| rest.strip_prefix("[x]"))
        .unwrap_or(rest);
    let rest = rest.trim();
    (rest.chars().filter(|c| c.is_alphanumeric()).count() >= 3).then(|| rest.to_string())
}

/// Merges near-duplicate candidates ([`crate::text::same_takeaway`] on headlines) into groups, in document
/// order: each candidate joins the first group with a similar member, else starts one.
///
/// The members are found through an inverted index (`text::similar`: content tokens,
/// trigrams), not by comparing with each: O(n log n) for n candidates, each lookup bounded by
/// `similar::MAX_PER_KEY` texts per key. The groups are those of comparing with every member
/// of every group (a test checks it on random inputs) unless one token or trigram is in more
/// than that many headlines, where only its first ones are found through it.
pub fn merge(candidates: &[Candidate]) -> Vec<Vec<Candidate>> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| c.ordinal);
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    let headlines: Vec<&str> = sorted.iter().map(|c| c.headline.as_str()).collect();
    let mut index = similar::Index::new(&headlines);
    // The group of each indexed headline, and the group of each distinct headline: a copy of
    // a headline already in the same group would only make the index longer.
    let mut group_of: Vec<usize> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for c in sorted {
        let p = index.prepare(&c.headline);
        let found = index.matches(&p).into_iter().map(|id| group_of[id]).min();
        let g = match found {
            Some(g) => {
                groups[g].push(c.clone());
                g
            }
            None => {
                groups.push(vec![c.clone()]);
                groups.len() - 1
            }
        };
        if seen.get(c.headline.as_str()) != Some(&g) {
            seen.insert(&c.headline, g);
            index.insert(p);
            group_of.push(g);
        }
    }
    groups
}

/// [`Emphasis`] indexed for lookups by headline (`text::similar`), built once per ranking:
/// [`score`] and [`is_bare_heading`] ask it for every group, and a huge writeup has thousands
/// of headings.
pub struct EmphasisIndex {
    highlights: similar::Index,
    headings: similar::Index,
}

impl EmphasisIndex {
    /// Indexes the highlights and headings of `emphasis`.
    pub fn new(emphasis: &Emphasis) -> Self {
        EmphasisIndex {
            highlights: similar::Index::of(&emphasis.highlights),
            headings: similar::Index::of(&emphasis.headings),
        }
    }

    /// True when a highlight is the same takeaway as `headline` ([`crate::text::same_takeaway`]).
    fn highlighted(&mut self, headline: &str) -> bool {
        self.highlights.any(headline)
    }

    /// True when a heading is the same takeaway as `headline`.
    fn a_heading(&mut self, headline: &str) -> bool {
        self.headings.any(headline)
    }
}

/// The distinct headlines of a group, in order.
fn distinct_headlines(group: &[Candidate]) -> Vec<&str> {
    let mut seen = HashSet::new();
    group
        .iter()
        .map(|c| c.headline.as_str())
        .filter(|h| seen.insert(*h))
        .collect()
}

/// True when a group only restates a section heading that names a topic ("The talk", "The first
/// problem", "Observability": fewer than three content words): every member's headline is the
/// heading of its own section, and the author does not list it among the highlights. A heading
/// that states something ("Golden paths beat mandates") is the author's own takeaway.
pub fn is_bare_heading(group: &[Candidate], emphasis: &mut EmphasisIndex) -> bool {
    group.iter().all(|c| {
        let Some(heading) = c.heading_path.last() else {
            return false;
        };
        // A heading that is a statement of its own ("Golden paths beat mandates") restated is
        // the author's takeaway (models restate such headings even when told not to); a topic
        // ("Observability", "The keynote") restated is not, even with a sentence under it.
        let words = content_tokens(heading);
        let topic = words.len() < 3 || is_summary_section(std::slice::from_ref(heading));
        // Restates: (nearly) every word of the headline is the heading's; "Treat golden paths
        // as products" under "Golden paths" says more than its heading.
        let h = content_tokens(&c.headline);
        let restates = !h.is_empty() && h.intersection(&words).count() * 5 >= h.len() * 4;
        topic && restates && !emphasis.highlighted(&c.headline)
    })
}

/// `detail` unless it only repeats `headline` (the same words, or the sentence the headline is
/// the start of): printed twice, it tells the reader nothing.
pub fn detail_beyond(headline: &str, detail: &str) -> String {
    let h = crate::text::fold_space(headline.trim_end_matches(['…', '.'])).to_lowercase();
    let d = crate::text::fold_space(detail).to_lowercase();
    if h.is_empty() || d.starts_with(&h) || h.starts_with(d.trim_end_matches('.')) {
        String::new()
    } else {
        detail.to_string()
    }
}

/// Where the first clause of `s` ends: the first `;`, `:` or `—` outside brackets and straight
/// double quotes ("slides promised "next week" (so: never?)" is one clause, not "… (so").
fn clause_end(s: &str) -> Option<usize> {
    let (mut depth, mut quoted) = (0usize, false);
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '"' => quoted = !quoted,
            ';' | ':' | '—' if depth == 0 && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The author's sentence as a headline: its first clause when that says enough (at least five
/// words), else the sentence, at most [`crate::extract::HEADLINE_MAX_CHARS`] characters (cut at a
/// word, with `…`).
pub fn headline_from(sentence: &str) -> String {
    let s = sentence.trim();
    let clause = clause_end(s)
        .map(|i| s[..i].trim_end())
        .filter(|c| c.split_whitespace().count() >= 5)
        .unwrap_or(s);
    let max = crate::extract::HEADLINE_MAX_CHARS;
    let cut = if clause.chars().count() <= max {
        clause.trim_end_matches(['.', ',']).to_string()
    } else {
        let head: String = clause.chars().take(max - 1).collect();
        let at = head.rfind(' ').unwrap_or(head.len());
        format!("{}…", head[..at].trim_end_matches([',', ';', ':', ' ']))
    };
    // Notes in lists start lowercase ("our sensor gateway is a good candidate"); a headline
    // does not.
    let mut chars = cut.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => cut,
    }
}

/// Weights of [`score`]; they add up to 1.
///
/// What the author stresses weighs more than the model's importance: small models rate almost
/// everything 4 or 5 (Qwen2.5-Coder 1.5B on the KubeCon EU 2024 writeup: eleven of thirteen
/// candidates), so at 0.4/0.25 a sign-off rated 5 ("Community efforts") outranked an item of
/// the author's own list of ten rated 3 ("Wasm: a hot topic"). At 0.3/0.35 the author's list
/// wins such ties.
pub mod weights {
    /// Highest model importance / 5.
    pub const IMPORTANCE: f64 = 0.3;
    /// Distinct supporting sections, saturating at three.
    pub const SUPPORT: f64 = 0.25;
    /// Author's emphasis: a highlight-list item (full), a heading or a summary section (half).
    pub const EMPHASIS: f64 = 0.35;
    /// At least one quote found in its chunk.
    pub const GROUNDED: f64 = 0.1;
}

/// Score of a merged group in 0..=1: the weighted sum of [`weights`].
pub fn score(group: &[Candidate], emphasis: &mut EmphasisIndex) -> f64 {
    let importance = group.iter().map(|c| c.importance).max().unwrap_or(1) as f64 / 5.0;
    let sections: BTreeSet<&Vec<String>> = group.iter().map(|c| &c.heading_path).collect();
    let support = sections.len().min(3) as f64 / 3.0;
    let headlines = distinct_headlines(group);
    let stressed = headlines.iter().any(|h| emphasis.highlighted(h));
    let in_heading_or_summary = group.iter().any(|c| is_summary_section(&c.heading_path))
        || headlines.iter().any(|h| emphasis.a_heading(h));
    let emph = if stressed {
        1.0
    } else if in_heading_or_summary {
        0.5
    } else {
        0.0
    };
    let grounded = if group.iter().any(|c| c.quote_found) {
        1.0
    } else {
        0.0
    };
    weights::IMPORTANCE * importance
        + weights::SUPPORT * support
        + weights::EMPHASIS * emph
        + weights::GROUNDED * grounded
}

/// Most quotes a takeaway keeps (the first distinct ones in document order): a takeaway that
/// thousands of sections of a huge writeup support would otherwise carry thousands.
pub const MAX_QUOTES: usize = 10;

/// Merges, scores and orders the candidates; returns the best `top`, ranked from 1.
///
/// The representative of a group (its headline and detail) is a grounded member (its detail is
/// the author's sentence), the one with the highest importance, then the earliest. Order: score descending, then
/// first appearance.
pub fn rank(candidates: &[Candidate], emphasis: &Emphasis, top: usize) -> Vec<Takeaway> {
    rank_report(candidates, emphasis, top).takeaways
}

/// What [`rank_report`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The best `top` takeaways, ranked from 1.
    pub takeaways: Vec<Takeaway>,
    /// The candidates that did not become a takeaway of their own: bare headings
    /// ([`DropRule::Heading`]) and the members merged into another ([`DropRule::Duplicate`]).
    pub dropped: Vec<Dropped>,
}

/// [`rank`], also saying which candidates were dropped and why.
pub fn rank_report(candidates: &[Candidate], emphasis: &Emphasis, top: usize) -> Ranking {
    let mut emphasis = EmphasisIndex::new(emphasis);
    let mut dropped = Vec::new();
    let drop = |c: &Candidate, rule: DropRule| Dropped {
        rule,
        headline: c.headline.clone(),
        section: crate::types::label(&c.heading_path),
    };
    // A headline that only restates a topic heading says nothing; when the model found the
    // author's sentence for it, that sentence is the point: it becomes the headline (it is
    // grounded, and in the writeup's language). Without one the candidate is dropped.
    let candidates: Vec<Candidate> = candidates
        .iter()
        .filter_map(|c| {
            if !is_bare_heading(std::slice::from_ref(c), &mut emphasis) {
                return Some(c.clone());
            }
            let headline = headline_from(&c.detail);
            // A question ("Q: how did you convince management?") is no point to promote.
            if c.quote_found
                && c.detail.chars().filter(|ch| ch.is_alphanumeric()).count() >= 20
                && !headline.ends_with('?')
            {
                let mut promoted = c.clone();
                promoted.headline = headline;
                promoted.detail = String::new();
                return Some(promoted);
            }
            dropped.push(drop(c, DropRule::Heading));
            None
        })
        .collect();
    let groups: Vec<Vec<Candidate>> = merge(&candidates);
    let mut out: Vec<Takeaway> = groups
        .into_iter()
        .map(|group| {
            let best = group
                .iter()
                .max_by_key(|c| (c.quote_found, c.importance, std::cmp::Reverse(c.ordinal)))
                .expect("groups are never empty");
            let mut seen: HashSet<&Vec<String>> = HashSet::new();
            let mut sections: Vec<(usize, Vec<String>)> = Vec::new();
            for c in &group {
                if seen.insert(&c.heading_path) {
                    sections.push((c.chunk, c.heading_path.clone()));
                }
            }
            sections.sort_by_key(|(chunk, _)| *chunk);
            dropped.extend(
                group
                    .iter()
                    .filter(|c| c.ordinal != best.ordinal)
                    .map(|c| drop(c, DropRule::Duplicate)),
            );
            let mut seen: HashSet<&str> = HashSet::new();
            let mut quotes: Vec<String> = Vec::new();
            for c in group.iter().filter(|c| c.quote_found) {
                if quotes.len() == MAX_QUOTES {
                    break;
                }
                if seen.insert(&c.quote) {
                    quotes.push(c.quote.clone());
                }
            }
            Takeaway {
                rank: 0,
                headline: best.headline.clone(),
                detail: detail_beyond(&best.headline, &best.detail),
                importance: best.importance,
                score: (score(&group, &mut emphasis) * 1000.0).round() / 1000.0,
                sections: sections.into_iter().map(|(_, p)| p).collect(),
                grounded: !quotes.is_empty(),
                quotes,
                merged: group.len(),
                ordinal: group[0].ordinal,
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.ordinal.cmp(&b.ordinal)));
    let mut out = spread(out);
    out.truncate(top);
    for (i, t) in out.iter_mut().enumerate() {
        t.rank = i + 1;
    }
    Ranking {
        takeaways: out,
        dropped,
    }
}

/// Most takeaways of one section ranked before every other section's: the rest of that
/// section's follow the others' (a reordering, nothing is dropped).
///
/// Why: asked for one takeaway per section of a one-call writeup, Qwen2.5-Coder 1.5B took 7 of
/// the top 10 of `devoxx-fr-2022-cecile.md` from its "En conclusion" (a summary section, which
/// ranks higher), and its talks were missing; a reader wants the range of the writeup. 3 leaves
/// room for a section that really holds several points (a conclusion, a single-section post).
pub const MAX_PER_SECTION: usize = 3;

/// `sorted` with each section's takeaways beyond the first [`MAX_PER_SECTION`] moved behind
/// the others, in order otherwise; a takeaway counts for its first section.
fn spread(sorted: Vec<Takeaway>) -> Vec<Takeaway> {
    let mut seen: std::collections::HashMap<Vec<String>, usize> = Default::default();
    let (mut first, mut later) = (Vec::new(), Vec::new());
    for t in sorted {
        let n = seen
            .entry(t.sections.first().cloned().unwrap_or_default())
            .or_insert(0);
        *n += 1;
        if *n <= MAX_PER_SECTION {
            first.push(t);
        } else {
            later.push(t);
        }
    }
    first.extend(later);
    first
}

/// Mixes the code's order with a model's order of the same list: each takeaway's new key is its
/// code position plus its position in the model's order; ties keep the code's order. So one
/// model pass can move an item, but cannot overturn the code's ranking on its own.
///
/// `model_order` holds 1-based ids into `takeaways`. Small models often list only a few ids, or
/// repeat one: the ids are cleaned by [`complete_order`] first.
pub fn blend_order(takeaways: Vec<Takeaway>, model_order: &[usize]) -> Vec<Takeaway> {
    let order = complete_order(model_order, takeaways.len());
    let mut keyed: Vec<(usize, usize, Takeaway)> = takeaways
        .into_iter()
        .enumerate()
        .map(|(code_pos, t)| {
            let model_pos = order
                .iter()
                .position(|&id| id == code_pos + 1)
                .unwrap_or(code_pos);
            (code_pos + model_pos, code_pos, t)
        })
        .collect();
    keyed.sort_by_key(|(key, code_pos, _)| (*key, *code_pos));
    keyed
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut t))| {
            t.rank = i + 1;
            t
        })
        .collect()
}

/// A full order of `1..=n` from a model's partial one: the valid ids it gave, first occurrence
/// only, then the ids it left out in the code's order.
pub fn complete_order(model_order: &[usize], n: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(n);
    for &id in model_order {
        if (1..=n).contains(&id) && !out.contains(&id) {
            out.push(id);
        }
    }
    for id in 1..=n {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Checks that `order` names at least one of `1..=n`. Errors say what is wrong, for the retry.
pub fn check_order(order: &[usize], n: usize) -> Result<(), String> {
    if !order.iter().any(|id| (1..=n).contains(id)) {
        return Err(format!(
            "\"order\" must list the numbers from 1 to {n}, most important first; got {order:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::same_takeaway;

    fn cand(ordinal: usize, chunk: usize, headline: &str, importance: u8, path: &str) -> Candidate {
        Candidate {
            chunk,
            ordinal,
            headline: headline.into(),
            detail: format!("{headline}."),
            importance,
            quote: String::new(),
            quote_found: false,
            heading_path: vec![path.into()],
        }
    }

    #[test]
    fn a_promoted_headline_keeps_its_brackets_whole() {
        assert_eq!(
            headline_from("slides promised \"next week\" (so: never?)"),
            "Slides promised \"next week\" (so: never?)"
        );
        assert_eq!(
            headline_from("our sensor gateway is a good candidate; same vendor SDK pain"),
            "Our sensor gateway is a good candidate"
        );
    }

    #[test]
    fn one_section_fills_at_most_max_per_section_places_before_the_others() {
        let points = [
            "The conference grew a lot in ten years",
            "Friends meet again at every edition",
            "A nursing room was available all week",
            "Careers and workplaces became talk topics",
            "Lucky visitors won great prizes",
            "New products were shown on the stands",
        ];
        let mut cs: Vec<Candidate> = points
            .iter()
            .enumerate()
            .map(|(i, p)| cand(i, 0, p, 5, "En conclusion"))
            .collect();
        cs.push(cand(
            6,
            0,
            "Sonar finds dead code in recursive functions",
            2,
            "Clean Code",
        ));
        cs.push(cand(
            7,
            0,
            "Zero trust replaces the network perimeter",
            2,
            "Zero Trust",
        ));
        let ranked = rank(&cs, &Emphasis::default(), 10);
        assert_eq!(ranked.len(), 8, "a reordering: nothing is dropped");
        let sections: Vec<&str> = ranked.iter().map(|t| t.sections[0][0].as_str()).collect();
        assert_eq!(
            &sections[..MAX_PER_SECTION + 2],
            [
                "En conclusion",
                "En conclusion",
                "En conclusion",
                "Clean Code",
                "Zero Trust"
            ]
        );
        assert!(sections[MAX_PER_SECTION + 2..]
            .iter()
            .all(|s| *s == "En conclusion"));
    }

    #[test]
    fn near_duplicates_merge_across_sections() {
        let cs = vec![
            cand(0, 0, "Platform engineering takes center stage", 4, "A"),
            cand(1, 1, "Wasm is a hot topic", 3, "B"),
            cand(2, 2, "Platform engineering took centre stage", 3, "C"),
        ];
        let groups = merge(&cs);
        assert_eq!(groups.len(), 2);
        let ranked = rank(&cs, &Emphasis::default(), 10);
        assert_eq!(
            ranked[0].headline,
            "Platform engineering takes center stage"
        );
        assert_eq!(ranked[0].sections.len(), 2);
        assert_eq!(ranked[0].merged, 2);
    }

    #[test]
    fn different_takeaways_stay_apart() {
        assert!(!same_takeaway(
            "Security is big business",
            "Wasm is a hot topic"
        ));
        assert!(!same_takeaway("AI everywhere", "Cost matters"));
    }

    #[test]
    fn ties_break_by_document_order() {
        let cs = vec![
            cand(0, 0, "First point here", 3, "A"),
            cand(1, 1, "Second unrelated idea", 3, "B"),
        ];
        let r = rank(&cs, &Emphasis::default(), 10);
        assert_eq!(r[0].headline, "First point here");
    }

    #[test]
    fn author_highlight_lifts_a_takeaway() {
        let cs = vec![
            cand(0, 0, "Catering was good", 3, "A"),
            cand(1, 1, "Security continues to be big business", 3, "B"),
        ];
        let e = Emphasis {
            highlights: vec!["Security continues to be big business".into()],
            headings: vec![],
        };
        let r = rank(&cs, &e, 10);
        assert_eq!(r[0].headline, "Security continues to be big business");
    }

    #[test]
    fn blend_cannot_fully_overturn() {
        let cs: Vec<Candidate> = (0..3)
            .map(|i| {
                cand(
                    i,
                    i,
                    &format!("Point number {i} alpha{i}"),
                    5 - i as u8,
                    "A",
                )
            })
            .collect();
        let r = rank(&cs, &Emphasis::default(), 10);
        let b = blend_order(r, &[3, 2, 1]);
        // keys: item1: 0+2, item2: 1+1, item3: 2+0 → all 2, ties keep the code order.
        assert_eq!(b[0].headline, "Point number 0 alpha0");
        assert!(check_order(&[7, 9], 3).is_err());
        assert!(check_order(&[2], 3).is_ok());
        assert_eq!(complete_order(&[3, 3, 9], 3), vec![3, 1, 2]);
    }

    #[test]
    fn list_items_are_read() {
        assert_eq!(
            list_item_text("  1. Platform engineering").as_deref(),
            Some("Platform engineering")
        );
        assert_eq!(
            list_item_text("- [ ] Kubernetes is boring").as_deref(),
            Some("Kubernetes is boring")
        );
        assert_eq!(list_item_text("Plain text"), None);
    }

    #[test]
    fn a_takeaway_of_many_sections_keeps_them_all_and_ten_quotes() {
        let cs: Vec<Candidate> = (0..30)
            .map(|i| Candidate {
                quote: format!("quote number {i}"),
                quote_found: true,
                ..cand(i, i, "Small reversible changes win", 3, &format!("S{i}"))
            })
            .collect();
        let r = rank(&cs, &Emphasis::default(), 10);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].sections.len(), 30);
        assert_eq!(r[0].quotes.len(), MAX_QUOTES);
        assert_eq!(r[0].quotes[0], "quote number 0");
    }
}
