//! The map step's answer: its JSON schema (sent as Ollama's `format`), parsing the model's text
//! into it, repairing what can be repaired, and the structured call that retries once.
//!
//! docs/ARCHITECTURE.md, Ollama fact 5: `format` carries a JSON schema, ```json fences and
//! `<think>` blocks are stripped, the answer is validated, an invalid one gets one retry that
//! says what was wrong, then a clear error quoting the start of the raw answer. Only an answer
//! that passed is remembered in the answer cache ([`Llm::remember`]).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::{CallSettings, ExtractError};
use crate::llm::{ChatRequest, Llm, Message, Reply};
use crate::tokens;

/// The map step's answer schema (sent as Ollama `format`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ExtractAnswer {
    /// The chunk's takeaways, most important first. At least one: left free, small models
    /// answer `[]` for most chunks. At most [`super::MAX_TAKEAWAYS_PER_CHUNK`]; the prompt asks
    /// for fewer on a small chunk ([`super::takeaways_for`]).
    #[schemars(length(min = 1, max = 16))]
    pub takeaways: Vec<RawTakeaway>,
}

/// One takeaway as the model gives it, in generation order.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct RawTakeaway {
    /// The takeaway in at most ~12 words. The length caps (in characters) are enforced by the
    /// server's grammar where it has one (llama.cpp), and stop a small model's repetition loop.
    #[schemars(length(min = 3, max = 100))] // HEADLINE_MAX_CHARS
    pub headline: String,
    /// 1 (minor) to 5 (central). Sent as an `enum`, not `minimum`/`maximum`: llama.cpp's
    /// grammar enforces enums but not ranges (the stand-in answered 123). Read leniently (a
    /// number out of range, a float, a numeric string) and clamped by [`repair`].
    #[schemars(schema_with = "importance_schema")]
    #[serde(deserialize_with = "lenient_importance")]
    pub importance: i64,
}

fn importance_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer", "enum": [1, 2, 3, 4, 5] })
}

/// An importance as any JSON number or numeric string; anything else is an error (the answer is
/// then invalid and retried).
fn lenient_importance<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let n = match &v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|x| x.is_finite())
        .map(|x| x.round() as i64)
        .ok_or_else(|| serde::de::Error::custom(format!("importance must be 1 to 5, got {v}")))
}

/// What [`repair`] changed in an answer, for `--stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Repairs {
    /// Importances outside 1..=5 clamped into it.
    pub importance_clamped: usize,
    /// Takeaways beyond the most asked for, dropped.
    pub trimmed: usize,
}

impl Repairs {
    /// True when nothing was changed.
    pub fn is_empty(&self) -> bool {
        *self == Repairs::default()
    }
}

/// Repairs what the code can repair instead of failing the chunk: an importance out of range is
/// clamped into 1..=5, a list longer than `max` is cut to it. Never an error: a wrong number is
/// not a reason to lose a section (the stand-in answered importance 11 to the same prompt every
/// time, so a retry does not help).
pub fn repair(mut answer: ExtractAnswer, max: usize) -> (ExtractAnswer, Repairs) {
    let mut repairs = Repairs::default();
    for t in &mut answer.takeaways {
        if !(1..=5).contains(&t.importance) {
            t.importance = t.importance.clamp(1, 5);
            repairs.importance_clamped += 1;
        }
    }
    if answer.takeaways.len() > max {
        repairs.trimmed = answer.takeaways.len() - max;
        answer.takeaways.truncate(max);
    }
    (answer, repairs)
}

/// The JSON schema of `T` as a `serde_json::Value`, for Ollama's `format`: without `$schema`,
/// `title` and the `description`s schemars takes from our doc comments, which tell the model
/// nothing (they are written for developers) and cost prompt tokens on servers that show the
/// schema to the model.
pub fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
    }
    strip_descriptions(&mut v);
    v
}

fn strip_descriptions(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("description");
            map.values_mut().for_each(strip_descriptions);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
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

/// The outcome of [`call_json`]: the value or the error, and in both cases every reply the
/// model gave (for the counts in `--stats`: a failed call still cost model time).
#[derive(Debug)]
pub struct Called<T> {
    /// The checked value, or why there is none.
    pub value: Result<T, ExtractError>,
    /// The answers received, with where they came from (model, cache or recording).
    pub replies: Vec<Reply>,
}

/// One structured call: sends `messages` with `format` (the schema of `T`, or `format` when
/// given), parses the answer and passes it through `check` (which may repair it, or say what
/// is wrong), and retries once with the error. The accepted answer is remembered in the answer
/// cache; an invalid one never is.
///
/// Errors (in [`Called::value`]): [`ExtractError::Llm`] when a call fails,
/// [`ExtractError::Invalid`] after two invalid answers.
pub async fn call_json<T, F>(
    llm: &Llm,
    call: &CallSettings,
    messages: Vec<Message>,
    format: Option<serde_json::Value>,
    check: F,
) -> Called<T>
where
    T: DeserializeOwned + JsonSchema,
    F: Fn(T) -> Result<T, String>,
{
    let format = format.unwrap_or_else(schema_of::<T>);
    let mut messages = messages;
    let mut replies = Vec::new();
    for attempt in 0..2 {
        let request = ChatRequest {
            model: call.model.clone(),
            estimated_prompt_tokens: messages.iter().map(|m| tokens::estimate(&m.content)).sum(),
            messages: messages.clone(),
            format: Some(format.clone()),
            options: call.options.clone(),
        };
        let reply = match llm.chat_reply(&request).await {
            Ok(r) => r,
            Err(e) => {
                return Called {
                    value: Err(e.into()),
                    replies,
                }
            }
        };
        let raw = reply.response.content.clone();
        let cut = reply.response.done_reason.as_deref() == Some("length");
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
            .and_then(&check);
        if result.is_ok() {
            llm.remember(&request, &reply);
        }
        replies.push(reply);
        match result {
            Ok(v) => {
                return Called {
                    value: Ok(v),
                    replies,
                }
            }
            Err(detail) if attempt == 0 => {
                messages.push(Message::assistant(raw));
                messages.push(Message::user(format!(
                    "That answer was not valid: {detail}. Answer again with only the JSON object described above."
                )));
            }
            Err(detail) => {
                return Called {
                    value: Err(ExtractError::Invalid {
                        detail,
                        raw_start: raw.chars().take(200).collect(),
                    }),
                    replies,
                }
            }
        }
    }
    unreachable!("the loop returns on its second attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_think_are_stripped() {
        let raw = "<think>hmm</think>\n```json\n{\"takeaways\": []}\n```";
        let a: ExtractAnswer = parse_answer(raw).unwrap();
        assert!(a.takeaways.is_empty());
    }

    #[test]
    fn raw_newlines_inside_strings_are_tolerated() {
        let raw =
            "{\"takeaways\": [{\"headline\": \"a\nb\", \"importance\": 2,\n \"quote\": \"\"}]}";
        let a: ExtractAnswer = parse_answer(raw).unwrap();
        assert_eq!(a.takeaways[0].headline, "a b");
    }

    #[test]
    fn invalid_json_reports_serde_error() {
        let e = parse_answer::<ExtractAnswer>("{\"takeaways\": [{}]}").unwrap_err();
        assert!(e.contains("missing field"), "{e}");
        let e = parse_answer::<ExtractAnswer>(
            "{\"takeaways\": [{\"headline\": \"h\", \"quote\": \"q\", \"importance\": \"high\"}]}",
        )
        .unwrap_err();
        assert!(e.contains("importance must be 1 to 5"), "{e}");
    }

    #[test]
    fn out_of_range_answers_are_repaired_not_refused() {
        let raw = r#"{"takeaways": [
            {"quote": "q", "headline": "a", "importance": 11},
            {"quote": "q", "headline": "b", "importance": "4"},
            {"quote": "q", "headline": "c", "importance": 0.4},
            {"quote": "q", "headline": "d", "importance": 3}]}"#;
        let a: ExtractAnswer = parse_answer(raw).unwrap();
        let (a, r) = repair(a, 3);
        let imp: Vec<i64> = a.takeaways.iter().map(|t| t.importance).collect();
        assert_eq!(imp, [5, 4, 1]);
        assert_eq!(
            r,
            Repairs {
                importance_clamped: 2,
                trimmed: 1
            }
        );
    }

    #[test]
    fn schema_has_the_fields_and_no_descriptions() {
        let s = schema_of::<ExtractAnswer>().to_string();
        for f in ["takeaways", "headline", "importance"] {
            assert!(s.contains(f), "{s}");
        }
        assert!(!s.contains("description"), "{s}");
    }
}
