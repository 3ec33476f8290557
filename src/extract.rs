//! Stage 3, `extract`: the map step. One `/api/chat` call per [`Chunk`] → [`Candidate`]
//! takeaways, each with the model's importance and a supporting quote that is looked up in the
//! chunk (grounding).
//!
//! Structured output follows docs/ARCHITECTURE.md, Ollama fact 5: `format` carries a JSON schema, ```json fences and
//! `<think>` blocks are stripped, the answer is validated, an invalid one gets one retry that
//! says what was wrong, then a clear error quoting the start of the raw answer.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::llm::{ChatRequest, Llm, LlmError, Message, Options, Reply};
use crate::prompts::{ExtractVars, PromptError, Prompts};
use crate::text::{content_tokens, fold_space, strip_format_tags};
use crate::tokens;
use crate::types::{Candidate, Chunk};

/// Most takeaways asked of one chunk.
pub const MAX_TAKEAWAYS_PER_CHUNK: usize = 4;

/// The map step's answer schema (sent as Ollama `format`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ExtractAnswer {
    /// The chunk's takeaways, most important first. At least one: left free, small models
    /// answer `[]` for most chunks. (Two was tried: SmolLM2-135M then pads with echoes of the
    /// prompt.)
    #[schemars(length(min = 1, max = 4))]
    pub takeaways: Vec<RawTakeaway>,
}

/// One takeaway as the model gives it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct RawTakeaway {
    /// The takeaway in at most ~12 words. The length caps (in characters) are enforced by the
    /// server's grammar where it has one (llama.cpp), and stop a small model's repetition loop.
    #[schemars(length(min = 3, max = 100))] // HEADLINE_MAX_CHARS
    pub headline: String,
    /// One sentence explaining it.
    #[schemars(length(min = 10, max = 300))]
    pub detail: String,
    /// 1 (minor) to 5 (central). Sent as an `enum`, not `minimum`/`maximum`: llama.cpp's
    /// grammar enforces enums but not ranges (the stand-in answered 123).
    #[schemars(schema_with = "importance_schema")]
    pub importance: u8,
    /// A short phrase copied from the chunk.
    #[schemars(length(max = 200))]
    pub quote: String,
}

fn importance_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer", "enum": [1, 2, 3, 4, 5] })
}

/// Why the map step failed for a chunk.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The model call failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// A template failed.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The model's answer was invalid twice.
    #[error(
        "the model's answer was not valid JSON for the schema ({detail}); it began: {raw_start:?}"
    )]
    Invalid {
        /// What was wrong with the second answer.
        detail: String,
        /// The first 200 characters of the raw answer.
        raw_start: String,
    },
}

/// The settings of every call in a run (one `num_ctx` for the whole run: docs/ARCHITECTURE.md,
/// Ollama fact 3).
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Ollama model name.
    pub model: String,
    /// Options sent with every call.
    pub options: Options,
}

/// The JSON schema of `T` as a `serde_json::Value`, for Ollama's `format`.
pub fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        // `$schema` and `title` tell the model nothing and cost tokens in grammar-less servers.
        obj.remove("$schema");
        obj.remove("title");
    }
    v
}

/// Takes the JSON out of a model answer: drops `<think>…</think>` blocks and ``` fences, then
/// parses. Errors with serde's message.
pub fn parse_answer<T: DeserializeOwned>(raw: &str) -> Result<T, String> {
    let mut text = raw;
    let owned;
    if let Some(end) = text.find("</think>") {
        owned = text[end + "</think>".len()..].to_string();
        text = &owned;
    }
    let trimmed = text.trim();
    let inner = if let Some(rest) = trimmed.strip_prefix("```") {
        // Skip an info string such as `json`, then take up to the closing fence.
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        rest.rsplit_once("```").map_or(rest, |(body, _)| body)
    } else {
        trimmed
    };
    serde_json::from_str(&escape_controls_in_strings(inner.trim())).map_err(|e| e.to_string())
}

/// Replaces raw control characters (U+0000..U+001F) inside JSON string literals with a space.
/// JSON forbids them there, but small models write raw newlines inside strings even under a
/// grammar (seen with the stand-in: `"detail":"{{{\n'printf'"`); the text means the same.
fn escape_controls_in_strings(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.chars().any(|c| c < ' ') {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if c < ' ' {
                out.push(' ');
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

/// One structured call: sends `messages` with `format` = schema of `T`, parses and checks the
/// answer with `check`, and retries once with the error. Returns the value and the replies (the
/// answers with where they came from: model, cache or recording).
///
/// Errors: [`ExtractError::Llm`] when a call fails, [`ExtractError::Invalid`] after two invalid
/// answers.
pub async fn call_json<T, F>(
    llm: &Llm,
    call: &CallSettings,
    messages: Vec<Message>,
    check: F,
) -> Result<(T, Vec<Reply>), ExtractError>
where
    T: DeserializeOwned + JsonSchema,
    F: Fn(&T) -> Result<(), String>,
{
    let format = schema_of::<T>();
    let mut messages = messages;
    let mut responses = Vec::new();
    for attempt in 0..2 {
        let request = ChatRequest {
            model: call.model.clone(),
            estimated_prompt_tokens: messages.iter().map(|m| tokens::estimate(&m.content)).sum(),
            messages: messages.clone(),
            format: Some(format.clone()),
            options: call.options.clone(),
        };
        let reply = llm.chat_reply(&request).await?;
        let raw = reply.response.content.clone();
        let cut = reply.response.done_reason.as_deref() == Some("length");
        responses.push(reply);
        let result = parse_answer::<T>(&raw)
            .map_err(|e| {
                if cut {
                    // Say why the JSON broke off: the answer hit num_predict (docs/api.md,
                    // done_reason "length"), usually a small model repeating itself.
                    format!(
                        "{e}; the answer was cut at num_predict {} tokens (raise --num-predict, or use a larger --model)",
                        call.options.num_predict
                    )
                } else {
                    e
                }
            })
            .and_then(|v| check(&v).map(|()| v));
        match result {
            Ok(v) => return Ok((v, responses)),
            Err(detail) if attempt == 0 => {
                messages.push(Message::assistant(raw));
                messages.push(Message::user(format!(
                    "That answer was not valid: {detail}. Answer again with only the JSON object described above."
                )));
            }
            Err(detail) => {
                return Err(ExtractError::Invalid {
                    detail,
                    raw_start: raw.chars().take(200).collect(),
                })
            }
        }
    }
    unreachable!("the loop returns on its second attempt")
}

fn check_answer(a: &ExtractAnswer) -> Result<(), String> {
    for (i, t) in a.takeaways.iter().enumerate() {
        if t.headline.trim().is_empty() {
            return Err(format!("takeaway {} has an empty headline", i + 1));
        }
        if !(1..=5).contains(&t.importance) {
            return Err(format!(
                "takeaway {} has importance {}, expected 1 to 5",
                i + 1,
                t.importance
            ));
        }
    }
    Ok(())
}

/// What the map step needs to know of the document a chunk comes from, computed once per
/// document.
#[derive(Debug, Clone, Copy)]
pub struct DocContext<'a> {
    /// The writeup's title, for the prompt.
    pub title: &'a str,
    /// The title plus, for plain text, the lines of its title block (newline-separated,
    /// `Outline::names`): a headline that only restates them is dropped.
    pub names: &'a str,
    /// The document body the chunk's byte ranges index into.
    pub body: &'a str,
    /// The prompt's own lines ([`instruction_lines`]): a headline that repeats one of them is
    /// an echo of the instructions, not a takeaway.
    pub instructions: &'a [String],
}

/// The non-blank lines of the map-step prompt rendered without any writeup (no title, sections
/// or text): what a headline that echoes the instructions ("The point in at most 12 words")
/// repeats. Rendered once per document, not once per chunk.
///
/// Errors: a template fails to render.
pub fn instruction_lines(prompts: &Prompts) -> Result<Vec<String>, PromptError> {
    Ok(prompts
        .extract_messages(&ExtractVars {
            title: "",
            sections: Vec::new(),
            chunk: "",
            max_takeaways: MAX_TAKEAWAYS_PER_CHUNK,
        })?
        .iter()
        .flat_map(|m| m.content.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect())
}

/// The map step for one chunk: renders the prompt, calls the model, grounds the quotes.
///
/// `first_ordinal` numbers the candidates. Errors: see [`call_json`] and [`ExtractError`].
pub async fn extract_chunk(
    llm: &Llm,
    prompts: &Prompts,
    call: &CallSettings,
    doc: DocContext<'_>,
    chunk: &Chunk,
    first_ordinal: usize,
) -> Result<(Vec<Candidate>, Vec<Reply>), ExtractError> {
    let DocContext {
        title,
        names,
        body,
        instructions,
    } = doc;
    let text = chunk.text(body);
    let prompt_text = chunk.prompt_text(body);
    let vars = ExtractVars {
        title,
        sections: chunk.section_labels(),
        chunk: &prompt_text,
        max_takeaways: MAX_TAKEAWAYS_PER_CHUNK,
    };
    let messages = prompts.extract_messages(&vars)?;
    let (answer, responses) =
        call_json::<ExtractAnswer, _>(llm, call, messages, check_answer).await?;
    // Content words of the chunk and of its parts, computed once for all its takeaways.
    let chunk_words = content_tokens(text);
    let part_words: OnceCell<Vec<BTreeSet<String>>> = OnceCell::new();
    let candidates = answer
        .takeaways
        .into_iter()
        .map(|mut t| {
            // Clean first, then judge: a headline such as `<img src=…>` is empty once its
            // formatting tags are gone, and must be dropped. Only tags go, never a word
            // (`Vec<String>`, `the <main> element` stay): the renderer escapes them.
            t.headline = shorten_cut(&strip_format_tags(&t.headline), HEADLINE_MAX_CHARS);
            t.detail = strip_format_tags(&t.detail);
            t.quote = fold_space(&t.quote);
            t
        })
        .filter(|t| t.headline.chars().filter(|c| c.is_alphanumeric()).count() >= 3)
        .filter(|t| !off_text(&t.headline, names, &chunk_words))
        .filter(|t| !instructions.iter().any(|l| echoes(&t.headline, l)))
        .take(MAX_TAKEAWAYS_PER_CHUNK)
        .enumerate()
        .map(|(i, t)| {
            let found = find_quote(text, &t.quote);
            let heading_path = match found {
                Some(offset) => chunk.heading_path_at(chunk.range.start + offset).to_vec(),
                None => best_part(
                    chunk,
                    part_words.get_or_init(|| {
                        chunk
                            .parts
                            .iter()
                            .map(|p| content_tokens(&body[p.range.clone()]))
                            .collect()
                    }),
                    &format!("{} {}", t.headline, t.detail),
                ),
            };
            Candidate {
                chunk: chunk.index,
                ordinal: first_ordinal + i,
                // A detail that is debris or echoes the prompt is dropped; the headline stays.
                detail: if off_text(&t.detail, names, &chunk_words) {
                    String::new()
                } else {
                    t.detail
                },
                headline: t.headline,
                importance: t.importance.clamp(1, 5),
                quote: t.quote,
                quote_found: found.is_some(),
                heading_path,
            }
        })
        .collect();
    Ok((candidates, responses))
}

/// Heading path of the chunk part whose text shares the most content words with `text` (the
/// first part on a tie): where a takeaway without a found quote most likely comes from.
/// `part_words` are the content words of each part, in order.
fn best_part(chunk: &Chunk, part_words: &[BTreeSet<String>], text: &str) -> Vec<String> {
    let words = content_tokens(text);
    let mut best = (0usize, &chunk.parts[0]);
    for (part, part_words) in chunk.parts.iter().zip(part_words) {
        let shared = words.intersection(part_words).count();
        if shared > best.0 {
            best = (shared, part);
        }
    }
    best.1.heading_path.clone()
}

/// Longest headline in characters: the schema's `maxLength`, which the server's grammar
/// enforces by cutting the string, often mid-word.
pub const HEADLINE_MAX_CHARS: usize = 100;

/// True when `headline` repeats a line of the instructions: most of its content words are in
/// that line.
fn echoes(headline: &str, instruction_line: &str) -> bool {
    let h = content_tokens(headline);
    let l = content_tokens(instruction_line);
    !h.is_empty() && h.intersection(&l).count() * 3 >= h.len() * 2
}

/// True when generated text is broken: template or JSON debris such as `{{#x}}` or `} ,{`,
/// which small models emit when they lose the thread; prose takeaways never hold braces.
pub fn is_broken(text: &str) -> bool {
    text.contains(['{', '}'])
}

/// True when at least 80% of the content words of `headline` are in `title`: it names the
/// writeup, it says nothing about it ("The key takeaways from KubeCon EU2024 Paris").
fn restates(headline: &str, title: &str) -> bool {
    let h = content_tokens(headline);
    let t = content_tokens(title);
    !h.is_empty() && h.intersection(&t).count() * 5 >= h.len() * 4
}

/// True when a candidate's headline is not about its chunk: it restates the writeup's title
/// (`title` may hold several lines: the title block of a plain-text writeup), or fewer than half of its content words occur in the chunk (small models echo the prompt's
/// own words, e.g. "A highlight from the writeup"). Such candidates are dropped before ranking.
pub fn is_off_text(headline: &str, title: &str, chunk_text: &str) -> bool {
    off_text(headline, title, &content_tokens(chunk_text))
}

/// [`is_off_text`] with the chunk's content words computed once for all its takeaways.
fn off_text(headline: &str, title: &str, chunk_words: &BTreeSet<String>) -> bool {
    // A headline ending in a colon is a lead-in ("The three key takeaways are:"), not a point.
    if restates(headline, title) || is_broken(headline) || headline.trim_end().ends_with(':') {
        return true;
    }
    let words = content_tokens(headline);
    if words.is_empty() {
        return true;
    }
    let present = words.iter().filter(|w| chunk_words.contains(*w)).count();
    present * 2 < words.len()
}

/// A headline that reached `max` characters was cut by the grammar: end it at its first
/// sentence when there is one, else at the last whole word, with an ellipsis.
fn shorten_cut(headline: &str, max: usize) -> String {
    // Within two characters of the cap counts as cut: folding white space may shorten it.
    if headline.chars().count() + 2 < max {
        return headline.to_string();
    }
    if let Some(i) = headline.find(". ") {
        return headline[..=i].to_string();
    }
    match headline.rfind(' ') {
        Some(i) => format!("{}…", headline[..i].trim_end_matches([',', ';', ':', ' '])),
        None => headline.to_string(),
    }
}

/// Byte offset in `text` where `quote` starts, comparing case-folded letters and digits only
/// (punctuation, quotes and white space are skipped on both sides). `None` for quotes with fewer
/// than 8 letters or digits: too short to ground anything.
///
/// Both sides are folded once and searched with `str::find` (linear in the text, where
/// comparing the quote at every position of the text was text × quote).
pub fn find_quote(text: &str, quote: &str) -> Option<usize> {
    // The folded text, and for each of its bytes the offset in `text` of the char it came from.
    let mut hay = String::with_capacity(text.len());
    let mut origin: Vec<usize> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices().filter(|(_, c)| c.is_alphanumeric()) {
        for l in c.to_lowercase() {
            hay.push(l);
            origin.extend(std::iter::repeat_n(i, l.len_utf8()));
        }
    }
    let needle: String = quote
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if needle.chars().count() < 8 {
        return None;
    }
    hay.find(&needle).map(|at| origin[at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_headlines_end_cleanly() {
        let cut = "Datastore Days remains the most useful conference I attend, because the speakers talk about what go";
        assert_eq!(shorten_cut(cut, 100), "Datastore Days remains the most useful conference I attend, because the speakers talk about what…");
        assert_eq!(shorten_cut("Short one", 100), "Short one");
        assert!(echoes(
            "The point in at most 12 words",
            "- \"headline\": the point in at most 12 words"
        ));
        assert!(!echoes(
            "Platform engineering wins",
            "- \"headline\": the point in at most 12 words"
        ));
    }

    #[test]
    fn fences_and_think_are_stripped() {
        let raw = "<think>hmm</think>\n```json\n{\"takeaways\": []}\n```";
        let a: ExtractAnswer = parse_answer(raw).unwrap();
        assert!(a.takeaways.is_empty());
    }

    #[test]
    fn raw_newlines_inside_strings_are_tolerated() {
        let raw = "{\"takeaways\": [{\"headline\": \"a\nb\", \"detail\": \"c\", \"importance\": 2,\n \"quote\": \"\"}]}";
        let a: ExtractAnswer = parse_answer(raw).unwrap();
        assert_eq!(a.takeaways[0].headline, "a b");
    }

    #[test]
    fn invalid_json_reports_serde_error() {
        let e = parse_answer::<ExtractAnswer>("{\"takeaways\": [{}]}").unwrap_err();
        assert!(e.contains("missing field"), "{e}");
    }

    #[test]
    fn quotes_are_found_ignoring_case_and_punctuation() {
        let text = "We saw that “Platform engineering” takes centre stage, again.";
        assert_eq!(
            find_quote(text, "platform engineering takes centre"),
            Some(15)
        );
        assert_eq!(find_quote(text, "platform teams are dead"), None);
        assert_eq!(find_quote(text, "we"), None);
    }

    /// The search as it was: the quote compared at every position of the text.
    fn find_quote_at_every_position(text: &str, quote: &str) -> Option<usize> {
        let fold = |s: &str| -> Vec<(usize, char)> {
            s.char_indices()
                .filter(|(_, c)| c.is_alphanumeric())
                .flat_map(|(i, c)| c.to_lowercase().map(move |l| (i, l)))
                .collect()
        };
        let hay = fold(text);
        let needle: Vec<char> = fold(quote).into_iter().map(|(_, c)| c).collect();
        if needle.len() < 8 || needle.len() > hay.len() {
            return None;
        }
        hay.windows(needle.len())
            .find(|w| w.iter().map(|(_, c)| *c).eq(needle.iter().copied()))
            .map(|w| w[0].0)
    }

    proptest::proptest! {
        #[test]
        fn quote_search_finds_what_the_old_one_found(
            text in "[aAbİ ,.é\u{307}-]{0,40}",
            quote in "[aAbİ ,.é\u{307}]{0,14}",
        ) {
            proptest::prop_assert_eq!(
                find_quote(&text, &quote),
                find_quote_at_every_position(&text, &quote)
            );
        }
    }

    #[test]
    fn schema_has_the_fields() {
        let s = schema_of::<ExtractAnswer>().to_string();
        for f in ["takeaways", "headline", "detail", "importance", "quote"] {
            assert!(s.contains(f), "{s}");
        }
    }

    #[test]
    fn off_text_headlines_are_caught() {
        let chunk = "Platform engineering took centre stage at the event, with many talks on it.";
        assert!(is_off_text(
            "A highlight from the writeup",
            "KubeCon notes",
            chunk
        ));
        assert!(is_off_text("KubeCon notes", "KubeCon notes", chunk));
        assert!(is_off_text(
            "Platform engineering {{#x}}",
            "KubeCon notes",
            chunk
        ));
        assert!(is_off_text(
            "Trip report",
            "Keelhaul Summit\nTrip report",
            chunk
        ));
        assert!(!is_off_text(
            "Platform engineering took centre stage",
            "Platform",
            chunk
        ));
        assert!(!is_off_text(
            "Platform engineering took centre stage",
            "KubeCon notes",
            chunk
        ));
    }
}
