//! [`same_takeaway`](crate::text::same_takeaway) against many texts at once: an inverted index, so
//! that a text is compared only with the texts that can be the same takeaway as it, not with
//! each (issue 10: a 20 MB writeup spent minutes comparing every candidate with every group and
//! every heading).
//!
//! Which texts can match is read off the rule itself:
//!
//! - the two token rules (Jaccard ≥ 0.4, overlap ≥ 0.75) need shared content tokens: the index
//!   lists the texts of each token and counts, for a query, how many tokens each text shares
//!   with it; that count decides both rules exactly;
//! - the spelling rule (normalised Levenshtein ≥ 0.85, on the lowercased texts) allows at most
//!   `max_edits(M)` edits for the longer length `M`, and each edit destroys at most 3 of the
//!   longer text's `M − 2` character trigrams, so two such texts share at least
//!   `M − 2 − 3·max_edits(M)` trigrams (the q-gram lemma, Ukkonen 1992), ≥ 1 for every
//!   `M ≥ 3` (shorter texts can only match when equal, and then they share their tokens). With
//!   the trigrams of every text in one fixed order (rarest first, counted over the texts the
//!   index is made for), two texts sharing `t` trigrams share one among the first `n − t + 1`
//!   of each (prefix filtering, Chaudhuri et al. 2006): the index lists texts under those
//!   first trigrams only, the rare ones, and a query looks up its own; the texts found are
//!   checked by length and by their exact count of shared trigrams before the Levenshtein
//!   distance is computed;
//! - texts without content tokens match only one another, when equal ignoring ASCII case and
//!   the white space at the ends: they are listed under that key.
//!
//! So the index finds exactly the texts a comparison with each would find, as long as no key
//! lists more than its cap ([`MAX_PER_KEY`] texts a token, [`MAX_PER_TRIGRAM`] a trigram).
//! Beyond that (a token in thousands of headlines of a huge writeup) a key keeps its first
//! texts: the cost of a lookup is bounded, and a text that shares only such common keys with a
//! later one is not found through them.

use std::collections::HashMap;

use crate::text::content_tokens;

/// Most texts one content token or token-less text lists; later texts are not listed under it.
/// Far above what a normal writeup needs (the 15,000-word bench writeup has ~280 candidates in
/// all), so results there are those of comparing with each text.
pub const MAX_PER_KEY: usize = 256;

/// Most texts one trigram lists. Lower than [`MAX_PER_KEY`]: a lookup reads the lists of about
/// half its trigrams, and a text is listed only under its rarest ones, so a list reaches this
/// length only when a trigram that is rare for its texts is in hundreds of them.
pub const MAX_PER_TRIGRAM: usize = 32;

/// Buckets of [`Prepared::hist`].
const HIST: usize = 64;

/// The most edits the spelling rule allows between texts whose longer one has `m` characters
/// (the same `f64` arithmetic as `strsim::normalized_levenshtein`).
fn max_edits(m: usize) -> usize {
    let mut d = (m as f64 * 0.15) as usize + 1;
    while d > 0 && 1.0 - (d as f64) / (m as f64) < 0.85 {
        d -= 1;
    }
    d
}

/// Trigrams two texts whose longer one has `m` characters share at least when the spelling
/// rule holds for them (q-gram lemma, q = 3).
fn min_shared_trigrams(m: usize) -> isize {
    m as isize - 2 - 3 * max_edits(m) as isize
}

/// The least [`min_shared_trigrams`] over every partner a text of `len` characters can match
/// by spelling: a shorter one (the longer length is `len`) or a longer one of length `m` with
/// `m − len ≤ max_edits(m)`.
fn least_shared_trigrams(len: usize) -> isize {
    let mut least = min_shared_trigrams(len);
    let mut m = len + 1;
    while m - max_edits(m) <= len {
        least = least.min(min_shared_trigrams(m));
        m += 1;
    }
    least
}

/// A trigram of characters, packed (21 bits a character).
type Gram = u64;

/// The trigrams of `lower`, with repeats, sorted.
fn trigrams(lower: &str) -> Vec<Gram> {
    let chars: Vec<u64> = lower.chars().map(u64::from).collect();
    let mut out: Vec<Gram> = chars
        .windows(3)
        .map(|w| (w[0] << 42) | (w[1] << 21) | w[2])
        .collect();
    out.sort_unstable();
    out
}

/// Items two sorted slices have in common, counting repeats (the multiset intersection).
fn shared<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// A text prepared once for every lookup and comparison ([`Index::prepare`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Content tokens ([`content_tokens`]) as ids, sorted.
    tokens: Vec<u32>,
    /// `text.to_lowercase()`: what the spelling rule compares.
    lower: String,
    /// Characters in `lower`.
    lower_len: usize,
    /// `text.trim()` ASCII-lowercased: the rule for texts without content tokens.
    bare: String,
    /// Trigrams of `lower`, with repeats, sorted.
    grams: Vec<Gram>,
    /// Characters of `lower` per bucket (code point mod [`HIST`], saturating): half the L1
    /// distance of two such histograms is at most their edit distance (an edit moves one
    /// character), a cheap test before the others.
    hist: [u8; HIST],
    /// The distinct trigrams among the first `n − t + 1` in the index's order (`n` trigrams,
    /// `t` = [`least_shared_trigrams`]): the keys it is listed and looked up under.
    prefix: Vec<Gram>,
}

/// Texts indexed for [`Index::matches`].
#[derive(Debug, Default)]
pub struct Index {
    /// Ids of the content tokens of the texts the index was made for.
    token_ids: HashMap<String, u32>,
    /// In how many of those texts each trigram occurs: the order of trigrams, rarest first.
    gram_counts: HashMap<Gram, u32>,
    texts: Vec<Prepared>,
    by_token: HashMap<u32, Vec<u32>>,
    by_gram: HashMap<Gram, Vec<u32>>,
    by_bare: HashMap<String, Vec<u32>>,
    /// Scratch for a lookup: tokens shared per text, and the lookup that last saw each text.
    counts: Vec<u32>,
    seen: Vec<u32>,
    lookups: u32,
}

fn push_capped(list: &mut Vec<u32>, id: u32, cap: usize) {
    if list.len() < cap {
        list.push(id);
    }
}

/// L1 distance of two histograms.
fn l1(a: &[u8; HIST], b: &[u8; HIST]) -> usize {
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as usize).sum()
}

impl Index {
    /// An empty index whose token ids and trigram order come from `universe`: the texts that
    /// will be inserted (others may be looked up).
    pub fn new<S: AsRef<str>>(universe: &[S]) -> Self {
        let mut index = Self::default();
        for text in universe {
            let text = text.as_ref();
            for t in content_tokens(text) {
                let next = index.token_ids.len() as u32;
                index.token_ids.entry(t).or_insert(next);
            }
            let mut grams = trigrams(&text.to_lowercase());
            grams.dedup();
            for g in grams {
                *index.gram_counts.entry(g).or_default() += 1;
            }
        }
        index
    }

    /// An index of `texts`, numbered from 0 in order.
    pub fn of<S: AsRef<str>>(texts: &[S]) -> Self {
        let mut index = Self::new(texts);
        for t in texts {
            let p = index.prepare(t.as_ref());
            index.insert(p);
        }
        index
    }

    /// `text` prepared for [`Index::matches`] and [`Index::insert`].
    pub fn prepare(&self, text: &str) -> Prepared {
        let mut tokens: Vec<u32> = Vec::new();
        for t in content_tokens(text) {
            // A token none of the index's texts has is shared with none, but it still counts
            // in the union: a fresh id above every known one.
            let id = self
                .token_ids
                .get(&t)
                .copied()
                .unwrap_or(u32::MAX - tokens.len() as u32);
            tokens.push(id);
        }
        tokens.sort_unstable();
        let lower = text.to_lowercase();
        let lower_len = lower.chars().count();
        let grams = trigrams(&lower);
        let mut ordered: Vec<(u32, Gram)> = grams
            .iter()
            .map(|g| (self.gram_counts.get(g).copied().unwrap_or(0), *g))
            .collect();
        ordered.sort_unstable();
        let keep = grams.len() as isize - least_shared_trigrams(lower_len) + 1;
        let mut prefix: Vec<Gram> = ordered
            .iter()
            .take(keep.clamp(0, grams.len() as isize) as usize)
            .map(|(_, g)| *g)
            .collect();
        prefix.sort_unstable();
        prefix.dedup();
        let mut hist = [0u8; HIST];
        for c in lower.chars() {
            let b = &mut hist[c as usize % HIST];
            *b = b.saturating_add(1);
        }
        Prepared {
            hist,
            tokens,
            lower,
            lower_len,
            bare: text.trim().to_ascii_lowercase(),
            grams,
            prefix,
        }
    }

    /// Adds a prepared text; its number is the count of texts before it.
    pub fn insert(&mut self, p: Prepared) -> usize {
        let id = self.texts.len() as u32;
        if p.tokens.is_empty() {
            push_capped(
                self.by_bare.entry(p.bare.clone()).or_default(),
                id,
                MAX_PER_KEY,
            );
        } else {
            for &t in &p.tokens {
                push_capped(self.by_token.entry(t).or_default(), id, MAX_PER_KEY);
            }
            for &g in &p.prefix {
                push_capped(self.by_gram.entry(g).or_default(), id, MAX_PER_TRIGRAM);
            }
        }
        self.texts.push(p);
        self.counts.push(0);
        self.seen.push(0);
        id as usize
    }

    /// The numbers of the indexed texts that `q` is the same takeaway as
    /// ([`same_takeaway`](crate::text::same_takeaway)), ascending.
    pub fn matches(&mut self, q: &Prepared) -> Vec<usize> {
        self.lookup(q, false)
    }

    /// True when `text` is the same takeaway as an indexed text.
    pub fn any(&mut self, text: &str) -> bool {
        let q = self.prepare(text);
        !self.lookup(&q, true).is_empty()
    }

    /// [`Index::matches`]; with `first`, it may stop at the first match.
    fn lookup(&mut self, q: &Prepared, first: bool) -> Vec<usize> {
        if q.tokens.is_empty() {
            let ids = self.by_bare.get(&q.bare).map_or(&[][..], Vec::as_slice);
            return ids.iter().map(|&id| id as usize).collect();
        }
        self.lookups += 1;
        let lookup = self.lookups;
        let mut found: Vec<usize> = Vec::new();
        // The token rules, from the count of shared tokens.
        let mut touched: Vec<u32> = Vec::new();
        for t in &q.tokens {
            for &id in self.by_token.get(t).into_iter().flatten() {
                if self.counts[id as usize] == 0 {
                    touched.push(id);
                }
                self.counts[id as usize] += 1;
            }
        }
        for &id in &touched {
            let inter = std::mem::take(&mut self.counts[id as usize]) as usize;
            if token_rule(inter, q.tokens.len(), self.texts[id as usize].tokens.len()) {
                found.push(id as usize);
                self.seen[id as usize] = lookup;
            }
        }
        if first && !found.is_empty() {
            return found;
        }
        // The spelling rule, for the texts listed under the query's first trigrams: length,
        // character histogram, shared trigrams, then the distance itself.
        for g in &q.prefix {
            for &id in self.by_gram.get(g).into_iter().flatten() {
                if self.seen[id as usize] == lookup {
                    continue;
                }
                self.seen[id as usize] = lookup;
                let t = &self.texts[id as usize];
                let m = t.lower_len.max(q.lower_len);
                let edits = max_edits(m);
                if t.lower_len.abs_diff(q.lower_len) <= edits
                    && l1(&t.hist, &q.hist) <= 2 * edits
                    && shared(&t.grams, &q.grams) as isize >= min_shared_trigrams(m)
                    && strsim::normalized_levenshtein(&t.lower, &q.lower) >= 0.85
                {
                    found.push(id as usize);
                    if first {
                        return found;
                    }
                }
            }
        }
        found.sort_unstable();
        found
    }
}

/// The two token rules of [`same_takeaway`](crate::text::same_takeaway) from the count of shared
/// tokens `inter` of two texts with `a` and `b` tokens: Jaccard ≥ 0.4, or overlap ≥ 0.75 with
/// two or more tokens each; the same `f64` arithmetic.
fn token_rule(inter: usize, a: usize, b: usize) -> bool {
    let inter = inter as f64;
    let union = (a + b) as f64 - inter;
    let min = a.min(b);
    let overlap = inter / min as f64;
    inter / union >= 0.4 || (min >= 2 && overlap >= 0.75)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::same_takeaway;

    #[test]
    fn every_spelling_match_shares_a_trigram() {
        for m in 3..=10_000 {
            assert!(min_shared_trigrams(m) >= 1, "m = {m}");
            assert!(least_shared_trigrams(m) >= 1, "m = {m}");
        }
        // The edits allowed are the spelling rule's own.
        for m in 1..=200usize {
            let d = max_edits(m);
            assert!(1.0 - d as f64 / m as f64 >= 0.85 || d == 0);
            assert!(1.0 - (d + 1) as f64 / (m as f64) < 0.85);
        }
    }

    #[test]
    fn finds_what_comparing_with_each_finds() {
        let texts = [
            "Platform engineering takes center stage",
            "Wasm is a hot topic",
            "Kubernetes",
            "The",
            "  the ",
            "Observability budgets matter",
        ];
        let mut index = Index::of(&texts[..]);
        for q in [
            "Platform engineering took centre stage",
            "Kubernetis",
            "THE",
            "a",
            "Budgets for observability",
            "Nothing alike here",
        ] {
            let want: Vec<usize> = (0..texts.len())
                .filter(|&i| same_takeaway(texts[i], q))
                .collect();
            let p = index.prepare(q);
            assert_eq!(index.matches(&p), want, "{q}");
        }
    }
}
