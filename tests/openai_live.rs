//! `llm::openai` against a real OpenAI-compatible server running a real model. Ignored by
//! default; run with
//!
//! ```sh
//! TAKEAWAYS_OPENAI_URL=http://127.0.0.1:18480/v1 TAKEAWAYS_OPENAI_MODEL=qwen2.5-coder:0.5b \
//!   cargo test --test openai_live -- --ignored --nocapture --test-threads 1
//! ```
//!
//! (`TAKEAWAYS_OPENAI_KEY` when the server wants one). Written for the stand-in's
//! llama-cpp-python server (`python -m llama_cpp.server … --n_ctx 8192`); what it prints is the
//! measured record of that server's answers.

use std::time::Duration;

use takeaways::extract::{parse_answer, schema_of, ExtractAnswer, MAX_TAKEAWAYS_PER_CHUNK};
use takeaways::llm::openai::{self, SchemaMode};
use takeaways::llm::{ChatRequest, LlmError, Options};
use takeaways::prompts::{ExtractVars, Prompts};

const IDLE: Duration = Duration::from_secs(600);

const CHUNK: &str =
    "## Keynote: scaling inference\n\nThe speaker argued that most teams overspend \
on GPUs because they never measure queueing: in their own cluster, batching requests cut cost \
per token by 40%. She also warned that long prompts are the hidden cost, since prefill time grows \
faster than linearly on CPU. The closing advice was to set a token budget per feature and to \
review it every quarter.";

fn base() -> Option<String> {
    std::env::var("TAKEAWAYS_OPENAI_URL").ok()
}

fn model() -> String {
    std::env::var("TAKEAWAYS_OPENAI_MODEL").unwrap_or_else(|_| "qwen2.5-coder:0.5b".into())
}

fn key() -> Option<String> {
    std::env::var("TAKEAWAYS_OPENAI_KEY").ok()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn extract_request(chunk: &str) -> ChatRequest {
    let prompts = Prompts::new(None).unwrap();
    let messages = prompts
        .extract_messages(&ExtractVars {
            title: "Trip report",
            sections: vec!["Keynote: scaling inference".into()],
            chunk,
            max_takeaways: MAX_TAKEAWAYS_PER_CHUNK,
            language: "English",
            fence: "```",
        })
        .unwrap();
    ChatRequest {
        model: model(),
        messages,
        format: Some(schema_of::<ExtractAnswer>()),
        options: Options {
            num_ctx: 8192,
            num_predict: 512,
            temperature: 0.0,
            seed: Some(42),
            repeat_penalty: Some(1.1),
        },
        estimated_prompt_tokens: 0,
    }
}

#[tokio::test]
#[ignore = "needs a live OpenAI-compatible server: set TAKEAWAYS_OPENAI_URL"]
async fn live_models_schema_fallback_and_counts() {
    let Some(base) = base() else { return };
    let key = key();
    let models = openai::list_models(&client(), &base, key.as_deref(), IDLE)
        .await
        .unwrap();
    println!("models: {models:?}");
    assert!(models.contains(&model()), "{models:?}");

    let req = extract_request(CHUNK);
    let first = openai::chat(
        &client(),
        &base,
        key.as_deref(),
        &req,
        SchemaMode::JsonSchema,
        IDLE,
    )
    .await;
    let answer = match first {
        Ok(answer) => {
            println!("json_schema accepted");
            answer
        }
        Err(e @ LlmError::SchemaUnsupported { .. }) => {
            println!("json_schema refused: {e:?}");
            let started = std::time::Instant::now();
            let answer = openai::chat(
                &client(),
                &base,
                key.as_deref(),
                &req,
                SchemaMode::JsonObject,
                IDLE,
            )
            .await
            .unwrap();
            println!("json_object call took {:?}", started.elapsed());
            answer
        }
        Err(other) => panic!("{other:?}"),
    };
    println!(
        "done_reason {:?}, prompt_eval_count {:?}, eval_count {:?}, durations {:?}/{:?}/{:?}",
        answer.done_reason,
        answer.prompt_eval_count,
        answer.eval_count,
        answer.total_duration,
        answer.prompt_eval_duration,
        answer.eval_duration
    );
    println!("content: {}", answer.content);
    match parse_answer::<ExtractAnswer>(&answer.content) {
        Ok(a) => println!("valid ExtractAnswer with {} takeaways", a.takeaways.len()),
        Err(e) => println!("not a valid ExtractAnswer: {e}"),
    }
}

#[tokio::test]
#[ignore = "needs a live OpenAI-compatible server: set TAKEAWAYS_OPENAI_URL"]
async fn live_over_long_prompt() {
    let Some(base) = base() else { return };
    // Far more than 8192 tokens.
    let long = CHUNK.repeat(120);
    let req = extract_request(&long);
    let result = openai::chat(
        &client(),
        &base,
        key().as_deref(),
        &req,
        SchemaMode::JsonObject,
        IDLE,
    )
    .await;
    println!("over-long prompt: {result:?}");
    assert!(result.is_err());
}

/// With the server started with `--api_key`: the key is sent, and a wrong key is a 401 whose
/// error does not show the key that was sent.
#[tokio::test]
#[ignore = "needs a live OpenAI-compatible server started with an API key: set TAKEAWAYS_OPENAI_URL and TAKEAWAYS_OPENAI_KEY"]
async fn live_api_key() {
    let (Some(base), Some(key)) = (base(), key()) else {
        return;
    };
    let models = openai::list_models(&client(), &base, Some(&key), IDLE)
        .await
        .unwrap();
    println!("with the key: {models:?}");
    let wrong = format!("{key}-wrong");
    let err = openai::list_models(&client(), &base, Some(&wrong), IDLE)
        .await
        .unwrap_err();
    println!("wrong key: {err}");
    assert!(!format!("{err} {err:?}").contains(&wrong));
    let err = openai::chat(
        &client(),
        &base,
        None,
        &extract_request(CHUNK),
        SchemaMode::JsonObject,
        IDLE,
    )
    .await
    .unwrap_err();
    println!("no key, chat: {err:?}");
}
