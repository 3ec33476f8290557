//! Token estimates. Ollama has no tokenize endpoint (DESIGN.md, fact 2), so every count before a
//! call is an estimate; the model's real count comes back afterwards as `prompt_eval_count`.

/// Estimated tokens of `text` for a byte-level BPE vocabulary of the SmolLM/Llama/Gemma kind.
///
/// The rule, per character: ASCII letters, digits and white space cost 1/3 token
/// ([`ASCII_WORD_CHARS_PER_TOKEN`]); ASCII punctuation 1 token (URLs and Markdown markup
/// tokenize badly: URLs measured ~2 characters a token); CJK characters and other non-ASCII
/// letters 2 tokens; other non-ASCII characters (emoji, symbols, curly quotes, dashes) 3 tokens.
///
/// Measured against `prompt_eval_count` of SmolLM2-135M (the stand-in) on 10,000-character
/// slices of all 19 writeups in `../shared` (English, French, Norwegian, Chinese, Japanese;
/// Markdown, HTML, AsciiDoc, reStructuredText): estimate / real was 1.00 at the lowest, 1.42 on
/// average and 2.5 at the highest (Chinese, ~0.8 tokens a character; Japanese measured 1.8).
/// It is pessimistic on purpose: an over-estimate only makes chunks a little smaller, while an
/// under-estimate lets Ollama cut the prompt silently (DESIGN.md, fact 1), so CJK text is never
/// under-counted.
///
/// Blocks of ASCII are counted without branches (the splitter calls this many times per chunk
/// while it searches for cut points: it is the hot loop of `split`); other characters one by one.
pub fn estimate(text: &str) -> usize {
    const BLOCK: usize = 32;
    let bytes = text.as_bytes();
    let mut word_chars = 0usize;
    let mut tokens = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(block) = bytes.get(i..i + BLOCK).filter(|b| b.is_ascii()) {
            // Branch-free over a block of ASCII: the compiler vectorizes it.
            let words: usize = block.iter().map(|&b| usize::from(ascii_word(b))).sum();
            word_chars += words;
            tokens += BLOCK - words;
            i += BLOCK;
            continue;
        }
        let b = bytes[i];
        if b.is_ascii() {
            if ascii_word(b) {
                word_chars += 1;
            } else {
                tokens += 1;
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        tokens += if is_cjk(c) || c.is_alphabetic() { 2 } else { 3 };
        i += c.len_utf8();
    }
    tokens + word_chars.div_ceil(ASCII_WORD_CHARS_PER_TOKEN)
}

/// ASCII letters, digits and white space: the bytes [`estimate`] counts as word characters.
fn ascii_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() | b.is_ascii_whitespace()
}

/// ASCII letters, digits and white space per token in [`estimate`]: English prose measured
/// 3.9-4.5 characters a token with SmolLM2's vocabulary; 3 keeps the estimate at or above the
/// real count on every writeup measured.
pub const ASCII_WORD_CHARS_PER_TOKEN: usize = 3;

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

    /// The rule of [`estimate`], one character at a time.
    fn estimate_per_char(text: &str) -> usize {
        let mut word_chars = 0usize;
        let mut tokens = 0usize;
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
    fn bytewise_ascii_runs_match_the_per_char_rule() {
        for s in [
            "",
            "plain ascii, with punctuation!",
            "é",
            "mixed: café 日本語 🦋 and back to ascii\n\t",
            "日本語のテキスト",
            "ends in ascii after 한국어 text",
            "\u{a0}non-breaking\u{2014}dash\u{201c}quotes\u{201d}",
        ] {
            assert_eq!(estimate(s), estimate_per_char(s), "{s:?}");
        }
    }

    #[test]
    fn cjk_is_at_least_one_token_per_char() {
        let s = "日本語のテキスト";
        assert!(estimate(s) >= s.chars().count());
    }
}
