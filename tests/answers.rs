//! Bad answers are not remembered, repairable ones are repaired, and `--stats` counts every
//! request the server received: the binary against wiremock on 127.0.0.1.

mod common;
use common::takeaways;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ndjson(content: &str) -> String {
    let first = json!({"message": {"role": "assistant", "content": content}, "done": false});
    let last = json!({"message": {"role": "assistant", "content": ""}, "done": true,
        "done_reason": "stop", "prompt_eval_count": 300, "eval_count": 30,
        "total_duration": 100_000_000u64});
    format!("{first}\n{last}\n")
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    common::mount_metadata(
        &server,
        json!({
            "models": [{"name": "tiny:1b", "model": "tiny:1b", "digest": "sha256:abc"}]
        }),
    )
    .await;
    server
}

const WRITEUP: &str = "# Platform day\n\nWhat worked was a golden path: a golden path is the \
    easiest way to ship, with every escape hatch documented.\n";

/// Runs `summarize` on [`WRITEUP`] against `uri` with a cache in `cache`; JSON output.
fn run(uri: &str, cache: &std::path::Path) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.md");
    std::fs::write(&file, WRITEUP).unwrap();
    takeaways()
        .arg("summarize")
        .arg(&file)
        .args([
            "--model", "tiny:1b", "--format", "json", "-q", "--host", uri,
        ])
        .env("TAKEAWAYS_CACHE_DIR", cache)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_range_importance_is_repaired_and_counted() {
    let server = server().await;
    let answer = json!({"takeaways": [{"headline": "Golden paths beat mandates",
        "quote": "a golden path is the easiest way to ship", "importance": 11}]});
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(ndjson(&answer.to_string()), "application/x-ndjson"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let uri = server.uri();
    let c = cache.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(&uri, &c))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["takeaways"][0]["importance"], 5);
    assert_eq!(v["stats"]["repaired"], 1);
    assert_eq!(v["stats"]["requests"], 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_answer_is_never_cached_so_a_rerun_asks_again() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(ndjson("this is not JSON"), "application/x-ndjson"),
        )
        // Two runs, each the first try and the retry: four requests.
        .expect(4)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let uri = server.uri();
        let c = cache.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || run(&uri, &c))
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not valid JSON"), "{err}");
    }
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_every_request_the_server_received() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(
            r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#,
            "application/json",
        ))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let answer = json!({"takeaways": [{"headline": "Golden paths beat mandates",
        "quote": "a golden path is the easiest way to ship", "importance": 4}]});
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(ndjson(&answer.to_string()), "application/x-ndjson"),
        )
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let uri = server.uri();
    let c = cache.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(&uri, &c))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["requests"], 3, "{}", v["stats"]);
    assert_eq!(v["stats"]["model_calls"], 1);
    assert_eq!(v["stats"]["network_retries"], 2);
}
