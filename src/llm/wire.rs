//! The JSON body POSTed to `/api/chat`, and the record/replay key derived from it.
//!
//! The body is built from ollama-rs's request types (`ChatMessageRequest`, `ChatMessage`,
//! `ModelOptions`, `FormatType`, `think`) and then completed with the fields ollama-rs cannot send
//! (`stream: true`, `truncate`, `shift`); see docs/ARCHITECTURE.md, "ollama-rs".

use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage, MessageRole};
use ollama_rs::generation::parameters::{FormatType, JsonStructure};
use ollama_rs::models::ModelOptions;
use serde_json::{Map, Value};

use super::ChatRequest;

/// The request body actually POSTed to Ollama's `/api/chat`, exposed for tests and for record keys.
///
/// Shape (field names are Ollama's, docs/api.md "Generate a chat completion" and `api/types.go`
/// `ChatRequest`):
///
/// ```json
/// {
///   "model": "llama3.2:3b",
///   "messages": [{"role": "system", "content": "…"}, {"role": "user", "content": "…"}],
///   "options": {"num_ctx": 8192, "num_predict": 1024, "temperature": 0.0, "seed": 42},
///   "format": { …JSON schema… },
///   "stream": true,
///   "think": false,
///   "truncate": false,
///   "shift": false
/// }
/// ```
///
/// - `options.num_ctx` (tokens) is always sent (docs/ARCHITECTURE.md, Ollama facts 1, 3, 4); `seed` only when set;
///   `temperature` is written as the shortest decimal of the `f32` (`0.2`, not
///   `0.20000000298023224`).
/// - `format` is present only when [`ChatRequest::format`] is `Some`: a JSON object goes through
///   ollama-rs's `FormatType::StructuredJson` unchanged, the string `"json"` becomes
///   `FormatType::Json`, anything else is passed through as given.
/// - `think: false` (fact 5): thinking models must answer directly.
/// - `truncate: false` and `shift: false` (fact 1): a server that knows them answers HTTP 400
///   instead of silently dropping the front of an over-long prompt; older servers ignore them.
/// - Each message is exactly `{"role", "content"}`: ollama-rs's always-serialized
///   `"tool_calls": []` and `"thinking": null` are removed. A role ollama-rs does not know is sent
///   as given (Ollama then answers 400).
pub fn chat_body(req: &ChatRequest) -> Value {
    let mut unknown_roles = Vec::new();
    let messages: Vec<ChatMessage> = req
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = role_of(&m.role).unwrap_or_else(|| {
                unknown_roles.push(i);
                MessageRole::User
            });
            ChatMessage::new(role, m.content.clone())
        })
        .collect();

    let mut options = ModelOptions::default()
        .num_ctx(u64::from(req.options.num_ctx))
        .num_predict(req.options.num_predict)
        .temperature(req.options.temperature);
    if let Some(seed) = req.options.seed {
        options = options.seed(seed);
    }
    if let Some(penalty) = req.options.repeat_penalty {
        options = options.repeat_penalty(penalty);
    }

    let mut request = ChatMessageRequest::new(req.model.clone(), messages)
        .options(options)
        .think(false);
    let mut raw_format = None;
    match &req.format {
        None => {}
        Some(Value::String(s)) if s == "json" => request = request.format(FormatType::Json),
        Some(schema @ Value::Object(_)) => match schemars::Schema::try_from(schema.clone()) {
            Ok(schema) => {
                request = request.format(FormatType::StructuredJson(Box::new(
                    JsonStructure::from(schema),
                )));
            }
            Err(_) => raw_format = Some(schema.clone()),
        },
        Some(other) => raw_format = Some(other.clone()),
    }

    // Serializing plain data into a `Value` cannot fail; the fallback keeps this function total.
    let mut body = serde_json::to_value(&request).unwrap_or_else(|_| Value::Object(Map::new()));
    let Some(obj) = body.as_object_mut() else {
        return body;
    };
    if let Some(format) = raw_format {
        obj.insert("format".into(), format);
    }
    if let Some(Value::Array(msgs)) = obj.get_mut("messages") {
        for (i, msg) in msgs.iter_mut().enumerate() {
            let Some(msg) = msg.as_object_mut() else {
                continue;
            };
            if msg
                .get("tool_calls")
                .is_some_and(|t| t.as_array().is_some_and(Vec::is_empty))
            {
                msg.remove("tool_calls");
            }
            if msg.get("thinking").is_some_and(Value::is_null) {
                msg.remove("thinking");
            }
            if unknown_roles.contains(&i) {
                msg.insert("role".into(), Value::String(req.messages[i].role.clone()));
            }
        }
    }
    if let Some(Value::Object(opts)) = obj.get_mut("options") {
        opts.insert("temperature".into(), f32_to_json(req.options.temperature));
        if let Some(penalty) = req.options.repeat_penalty {
            opts.insert("repeat_penalty".into(), f32_to_json(penalty));
        }
    }
    obj.insert("stream".into(), Value::Bool(true));
    obj.insert("think".into(), Value::Bool(false));
    obj.insert("truncate".into(), Value::Bool(false));
    obj.insert("shift".into(), Value::Bool(false));
    body
}

/// Stable key of a request for record/replay: the lowercase blake3 hex (64 characters) of the
/// canonical JSON ([`crate::cache::canonical_json`]: compact, object keys sorted at every level)
/// of [`chat_body`]. [`ChatRequest::estimated_prompt_tokens`] is not part of the key.
pub fn request_key(req: &ChatRequest) -> String {
    key_of(&chat_body(req))
}

/// [`request_key`] for an already built body.
pub(crate) fn key_of(body: &Value) -> String {
    blake3::hash(crate::cache::canonical_json(body).as_bytes())
        .to_hex()
        .to_string()
}

fn role_of(role: &str) -> Option<MessageRole> {
    match role {
        "system" => Some(MessageRole::System),
        "user" => Some(MessageRole::User),
        "assistant" => Some(MessageRole::Assistant),
        "tool" => Some(MessageRole::Tool),
        _ => None,
    }
}

/// The shortest decimal that reads back as the same `f32` (`0.2f32` → `0.2`), as a JSON number.
pub(crate) fn f32_to_json(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn f32_is_written_short() {
        assert_eq!(f32_to_json(0.2), json!(0.2));
        assert_eq!(f32_to_json(0.0), json!(0.0));
        assert_eq!(f32_to_json(f32::NAN), Value::Null);
    }
}
