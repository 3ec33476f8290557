//! Unit tests of the parent module.

use super::*;
use crate::llm::{Message, Options};

fn request() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message::system("s"), Message::user("u")],
        format: Some(json!({"type": "object"})),
        options: Options {
            num_ctx: 4096,
            num_predict: 256,
            temperature: 0.2,
            seed: Some(3),
            repeat_penalty: None,
        },
        estimated_prompt_tokens: 0,
    }
}

#[test]
fn body_per_schema_mode() {
    let req = request();
    let body = chat_completions_body(&req, SchemaMode::JsonSchema);
    assert_eq!(
        body,
        json!({
            "model": "m",
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 256,
            "temperature": 0.2,
            "seed": 3,
            "response_format": {"type": "json_schema", "json_schema":
                {"name": "takeaways", "schema": {"type": "object"}, "strict": true}}
        })
    );
    assert_eq!(
        chat_completions_body(&req, SchemaMode::JsonObject)["response_format"],
        json!({"type": "json_object", "schema": {"type": "object"}})
    );
    assert_eq!(
        chat_completions_body(&req, SchemaMode::TgiValue)["response_format"],
        json!({"type": "json_schema", "value": {"name": "takeaways", "schema": {"type": "object"}}})
    );
    assert!(body.get("num_ctx").is_none() && body.get("options").is_none());
}

#[test]
fn body_without_limits_with_penalty_and_json_mode() {
    let mut req = request();
    req.options.num_predict = -1;
    req.options.seed = None;
    req.options.repeat_penalty = Some(1.1);
    req.format = Some(json!("json"));
    let body = chat_completions_body(&req, SchemaMode::JsonSchema);
    assert!(body.get("max_tokens").is_none() && body.get("seed").is_none());
    assert_eq!(body["repeat_penalty"], json!(1.1));
    assert_eq!(body["repetition_penalty"], json!(1.1));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    req.format = None;
    let body = chat_completions_body(&req, SchemaMode::JsonSchema);
    assert!(body.get("response_format").is_none());
}

#[test]
fn api_from_url() {
    for (url, api) in [
        ("http://gpu:8000/v1", Some(Api::OpenAi)),
        ("http://gpu:8000/v1/", Some(Api::OpenAi)),
        ("gpu:8000/v1", Some(Api::OpenAi)),
        ("https://router.example/team/v1?x=1", Some(Api::OpenAi)),
        ("http://127.0.0.1:11434/v1", Some(Api::OpenAi)),
        ("127.0.0.1:11434", Some(Api::Ollama)),
        ("http://box:11434/", Some(Api::Ollama)),
        ("http://[::1]:11434", Some(Api::Ollama)),
        ("localhost", Some(Api::Ollama)),
        ("http://box/api", None),
        ("http://box/v1/chat/completions", None),
        ("http://box/v10", None),
        ("http://box/openai", None),
        ("", None),
    ] {
        assert_eq!(infer_api(url), api, "{url}");
    }
}

#[test]
fn endpoints_join_with_one_slash() {
    assert_eq!(endpoint("http://h/v1/", "models"), "http://h/v1/models");
    assert_eq!(
        endpoint("http://h/v1", "chat/completions"),
        "http://h/v1/chat/completions"
    );
}
