//! Token estimates. Ollama has no tokenize endpoint (docs/ARCHITECTURE.md, Ollama fact 2), so every count before a
//! call is an estimate; the model's real count comes back afterwards as `prompt_eval_count`.

/// Estimated tokens of `text` for a byte-level BPE vocabulary of the SmolLM/Llama/Gemma kind.
///
/// The rule, per character: ASCII letters, digits and white space cost 1/3 token
/// ([`ASCII_WORD_CHARS_PER_TOKEN`]); ASCII punctuation 1 token (URLs and Markdown markup
/// tokenize badly: URLs measured ~2 characters a token); CJK characters and other non-ASCII
/// letters 2 tokens; other non-ASCII characters (emoji, symbols, curly quotes, dashes) 3 tokens.
///
/// Measured against `prompt_eval_count` of SmolLM2-135M (the stand-in) on 10,000-character
/// slices of the 19 writeups of the test corpus (docs/ARCHITECTURE.md, "Measurements"; English, French, Norwegian, Chinese, Japanese;
/// Markdown, HTML, AsciiDoc, reStructuredText): estimate / real was 1.00 at the lowest, 1.42 on
/// average and 2.5 at the highest (Chinese, ~0.8 tokens a character; Japanese measured 1.8).
/// It is pessimistic on purpose: an over-estimate only makes chunks a little smaller, while an
/// under-estimate lets Ollama cut the prompt silently (docs/ARCHITECTURE.md, Ollama fact 1), so CJK text is never
/// under-counted.
pub fn estimate(text: &str) -> usize {
    Counts::of(text).estimate()
}

/// The two sums behind [`estimate`]. Unlike the estimate (which rounds up), they add up over
/// concatenated texts, so a growing range can be estimated without reading it again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// ASCII letters, digits and white space.
    word_chars: usize,
    /// Tokens of every other character.
    tokens: usize,
}

impl Counts {
    /// The counts of `text`.
    ///
    /// ASCII bytes are classified by a table (`ASCII_WORD`): 6× faster than classifying each
    /// `char`, and this is the hot loop of `split` (text-splitter sizes many candidate chunks).
    pub fn of(text: &str) -> Self {
        let bytes = text.as_bytes();
        let (mut word_chars, mut ascii, mut tokens) = (0usize, 0usize, 0usize);
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                word_chars += usize::from(ASCII_WORD[usize::from(b)]);
                ascii += 1;
                i += 1;
            } else {
                let c = text[i..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                tokens += if is_cjk(c) || c.is_alphabetic() { 2 } else { 3 };
                i += c.len_utf8();
            }
        }
        Counts {
            word_chars,
            // ASCII punctuation: 1 token each.
            tokens: tokens + ascii - word_chars,
        }
    }

    /// The token estimate of the counted text ([`estimate`]).
    pub fn estimate(self) -> usize {
        self.tokens + self.word_chars.div_ceil(ASCII_WORD_CHARS_PER_TOKEN)
    }
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, other: Counts) -> Counts {
        Counts {
            word_chars: self.word_chars + other.word_chars,
            tokens: self.tokens + other.tokens,
        }
    }
}

/// 1 for the ASCII bytes [`estimate`] counts as word characters (letters, digits, white space).
const ASCII_WORD: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = (c.is_ascii_alphanumeric() || c.is_ascii_whitespace()) as u8;
        b += 1;
    }
    table
};

/// ASCII letters, digits and white space per token in [`estimate`]: English prose measured
/// 3.9-4.5 characters a token with SmolLM2's vocabulary; 3 keeps the estimate at or above the
/// real count on every writeup measured.
pub const ASCII_WORD_CHARS_PER_TOKEN: usize = 3;

/// How far [`estimate`] typically over-counts, in percent of the real count: the basis of the
/// one-call plan (`pipeline::plan_chunks`), which sends a writeup whole when its estimate over
/// this factor fits the window, and lets the server say when it did not (`truncate: false`
/// makes Ollama answer 400 instead of cutting; the chunk is then split in halves).
///
/// Measured: SmolLM2-135M, 1.00-2.5, mean 1.42, on the 19 corpus writeups (see [`estimate`]);
/// Qwen2.5-Coder (a 151k vocabulary, denser than SmolLM2's 49k), the seed writeup: estimate
/// 7,997, real ~4,300 (1.86). 150 is between the two means; a writeup the factor misjudges costs
/// one refused request (a tokenization, no prefill) on a server that knows `truncate`.
pub const TYPICAL_OVERCOUNT_PERCENT: usize = 150;

/// True for Han ideographs, Hiragana, Katakana, Hangul and CJK punctuation.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F   // CJK symbols and punctuation
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF00..=0xFFEF // full-width forms
        | 0x20000..=0x2FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_rounds_up() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("a"), 1);
        assert_eq!(estimate("abc"), 1);
        assert_eq!(estimate("abcd"), 2);
        assert_eq!(estimate("a.b"), 2);
        assert_eq!(estimate("é"), 2);
        assert_eq!(estimate("🦋"), 3);
    }

    /// The rule of [`estimate`], one `char` at a time.
    fn estimate_per_char(text: &str) -> usize {
        let (mut word_chars, mut tokens) = (0usize, 0usize);
        for c in text.chars() {
            if c.is_ascii_alphanumeric() || c.is_ascii_whitespace() {
                word_chars += 1;
            } else if c.is_ascii() {
                tokens += 1;
            } else if is_cjk(c) || c.is_alphabetic() {
                tokens += 2;
            } else {
                tokens += 3;
            }
        }
        tokens + word_chars.div_ceil(ASCII_WORD_CHARS_PER_TOKEN)
    }

    #[test]
    fn table_matches_the_per_char_rule() {
        let all_ascii: String = (0u8..128).map(char::from).collect();
        for s in [
            all_ascii.as_str(),
            "mixed: café 日本語 🦋 and ascii\n\t",
            "\u{a0}non-breaking\u{2014}dash\u{201c}quotes\u{201d}, 한국어",
        ] {
            assert_eq!(estimate(s), estimate_per_char(s), "{s:?}");
        }
    }

    #[test]
    fn counts_add_up_over_concatenation() {
        let text = "Intro, café 日本語 🦋.\n\n## Next\n\nplain words";
        for (i, _) in text.char_indices() {
            let (a, b) = text.split_at(i);
            assert_eq!(
                Counts::of(a) + Counts::of(b),
                Counts::of(text),
                "split at {i}"
            );
        }
        assert_eq!(Counts::of(text).estimate(), estimate(text));
    }

    #[test]
    fn cjk_is_at_least_one_token_per_char() {
        let s = "日本語のテキスト";
        assert!(estimate(s) >= s.chars().count());
    }
}
