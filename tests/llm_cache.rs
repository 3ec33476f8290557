//! The answer cache inside the `llm` layer, against wiremock on 127.0.0.1: a cached answer skips
//! `/api/chat`, record mode still records on a hit, replay never uses the cache, the digest comes
//! from `/api/tags` (with `:latest` for an untagged name).

use std::time::Duration;

use serde_json::{json, Value};
use takeaways::cache::{entry_key, Cache, Lookup};
use takeaways::llm::{
    chat_body, request_key, ChatRequest, ChatResponse, Llm, LlmConfig, Message, Options, Source,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn request() -> ChatRequest {
    ChatRequest {
        model: "tiny:1b".into(),
        messages: vec![Message::system("List takeaways."), Message::user("Notes.")],
        format: Some(json!({"type": "object"})),
        options: Options {
            num_ctx: 4096,
            num_predict: 128,
            temperature: 0.0,
            seed: Some(1),
            repeat_penalty: Some(1.2),
        },
        estimated_prompt_tokens: 10,
    }
}

fn ndjson(text: &str) -> String {
    let a = json!({"message": {"role": "assistant", "content": text}, "done": false});
    let b = json!({"message": {"role": "assistant", "content": ""}, "done": true,
                   "done_reason": "stop", "eval_count": 5, "total_duration": 1_000_000u64});
    format!("{a}\n{b}\n")
}

async fn server_with(digest: Value, chats: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "models": [{"name": "tiny:1b", "model": "tiny:1b", "digest": digest},
                       {"name": "llama3.2:latest", "model": "llama3.2:latest", "digest": "d-latest"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(ndjson("answer"), "application/x-ndjson"),
        )
        .expect(chats)
        .mount(&server)
        .await;
    server
}

fn llm(host: &str, cfg: LlmConfig) -> Llm {
    Llm::new(LlmConfig {
        host: host.to_owned(),
        idle_timeout: Some(Duration::from_secs(10)),
        ..cfg
    })
    .unwrap()
    .with_retries(1, Duration::ZERO)
}

#[tokio::test]
async fn a_cached_answer_skips_the_network() {
    let server = server_with(json!("sha256:d1"), 1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = || LlmConfig {
        cache: Some(dir.path().to_path_buf()),
        ..LlmConfig::default()
    };
    let first_client = llm(&server.uri(), cfg());
    let first = first_client.chat_reply(&request()).await.unwrap();
    assert_eq!(first.source, Source::Live);
    // Not stored until the caller says the answer is good.
    assert_eq!(std::fs::read_dir(dir.path()).map_or(0, |d| d.count()), 0);
    first_client.remember(&request(), &first);

    // A new client (a new run) with the same cache.
    let second_client = llm(&server.uri(), cfg());
    let second = second_client.chat_reply(&request()).await.unwrap();
    assert_eq!(second.source, Source::Cache);
    assert_eq!(second.response, first.response);
    let stats = second_client.stats();
    assert_eq!((stats.calls, stats.cache_hits, stats.eval_count), (0, 1, 0));

    // The entry is where the key says, for this model and digest.
    let key = entry_key("tiny:1b", "sha256:d1", &chat_body(&request()));
    assert_eq!(
        Cache::new(dir.path()).get::<ChatResponse>(&key),
        Lookup::Hit(first.response.clone())
    );
    server.verify().await;
}

#[tokio::test]
async fn record_mode_records_a_cache_hit_and_replay_ignores_the_cache() {
    let server = server_with(json!("sha256:d1"), 1).await;
    let cache = tempfile::tempdir().unwrap();
    let rec = tempfile::tempdir().unwrap();
    llm(
        &server.uri(),
        LlmConfig {
            cache: Some(cache.path().to_path_buf()),
            ..LlmConfig::default()
        },
    )
    .chat(&request())
    .await
    .unwrap();

    let recorder = llm(
        &server.uri(),
        LlmConfig {
            cache: Some(cache.path().to_path_buf()),
            record: Some(rec.path().to_path_buf()),
            ..LlmConfig::default()
        },
    );
    let hit = recorder.chat_reply(&request()).await.unwrap();
    assert_eq!(hit.source, Source::Cache);
    let file = rec.path().join(format!("{}.json", request_key(&request())));
    assert!(file.is_file(), "a cache hit is still recorded");

    // Replay with a cache configured: the recording answers, the cache is not touched.
    let empty_cache = tempfile::tempdir().unwrap();
    let replayer = llm(
        "127.0.0.1:1",
        LlmConfig {
            cache: Some(empty_cache.path().to_path_buf()),
            replay: Some(rec.path().to_path_buf()),
            ..LlmConfig::default()
        },
    );
    assert!(replayer.cache().is_none());
    let replayed = replayer.chat_reply(&request()).await.unwrap();
    assert_eq!(replayed.source, Source::Replay);
    assert_eq!(replayed.response, hit.response);
    assert_eq!(std::fs::read_dir(empty_cache.path()).unwrap().count(), 0);
    server.verify().await;
}

#[tokio::test]
async fn digest_comes_from_api_tags_with_latest_for_untagged_names() {
    let server = server_with(json!("sha256:d1"), 0).await;
    let client = llm(&server.uri(), LlmConfig::default());
    assert_eq!(
        client.model_digest("tiny:1b").await.unwrap().as_deref(),
        Some("sha256:d1")
    );
    assert_eq!(
        client.model_digest("llama3.2").await.unwrap().as_deref(),
        Some("d-latest")
    );
    assert_eq!(client.model_digest("tiny").await.unwrap(), None);
    assert_eq!(client.model_digest("other:7b").await.unwrap(), None);
}

#[tokio::test]
async fn an_empty_digest_means_no_cache() {
    let server = server_with(json!(""), 2).await;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let reply = llm(
            &server.uri(),
            LlmConfig {
                cache: Some(dir.path().to_path_buf()),
                ..LlmConfig::default()
            },
        )
        .chat_reply(&request())
        .await
        .unwrap();
        assert_eq!(reply.source, Source::Live);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    server.verify().await;
}
