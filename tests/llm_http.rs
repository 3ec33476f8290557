//! The `llm` module against real local HTTP servers on 127.0.0.1 (docs/ARCHITECTURE.md, "Fixtures and
//! tests"): wiremock for whole answers, a small `TcpListener` server for byte-level control
//! (UTF-8 split across writes, stalls, connections closed mid-answer). No model, no network
//! beyond loopback.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use takeaways::llm::{
    chat_body, normalize_host, request_key, CallStats, ChatRequest, ChatResponse, Llm, LlmConfig,
    LlmError, Message, Options, PullProgress,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ---------------------------------------------------------------------------------------------
// helpers

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"takeaways": {"type": "array", "items": {"type": "string"}}},
        "required": ["takeaways"]
    })
}

fn request(estimated: usize) -> ChatRequest {
    ChatRequest {
        model: "smollm2:135m".into(),
        messages: vec![
            Message::system("You list takeaways."),
            Message::user("Notes: Grüße aus 東京."),
        ],
        format: Some(schema()),
        options: Options {
            num_ctx: 4096,
            num_predict: 512,
            temperature: 0.2,
            seed: Some(7),
            repeat_penalty: None,
        },
        estimated_prompt_tokens: estimated,
    }
}

fn config(host: &str) -> LlmConfig {
    LlmConfig {
        host: host.to_owned(),
        idle_timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    }
}

fn client(host: &str) -> Llm {
    Llm::new(config(host))
        .unwrap()
        .with_retries(3, Duration::from_millis(20))
}

fn piece(text: &str) -> Value {
    json!({"model": "smollm2:135m", "created_at": "2025-01-01T00:00:00Z",
           "message": {"role": "assistant", "content": text}, "done": false})
}

fn done_line() -> Value {
    json!({"model": "smollm2:135m", "created_at": "2025-01-01T00:00:00Z",
           "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
           "total_duration": 5_000_000_000u64, "load_duration": 1_000_000u64,
           "prompt_eval_count": 40, "prompt_eval_duration": 2_000_000_000u64,
           "eval_count": 12, "eval_duration": 2_900_000_000u64})
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn expected_answer(content: &str) -> ChatResponse {
    ChatResponse {
        content: content.into(),
        done_reason: Some("stop".into()),
        prompt_eval_count: Some(40),
        eval_count: Some(12),
        total_duration: Some(5_000_000_000),
        prompt_eval_duration: Some(2_000_000_000),
        eval_duration: Some(2_900_000_000),
    }
}

async fn mock_chat(server: &MockServer, status: u16, body: &str) {
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/x-ndjson"),
        )
        .mount(server)
        .await;
}

fn host_of(server: &MockServer) -> String {
    server.uri()
}

/// A port on 127.0.0.1 where nothing listens.
async fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// What the raw server does after its scripted writes.
#[derive(Clone, Copy)]
enum After {
    /// Send the last (zero) chunk and close: a clean end of the body.
    Finish,
    /// Close the socket in the middle of the chunked body.
    Drop,
    /// Keep the connection open and send nothing more.
    Stall,
}

/// One HTTP/1.1 chunk of a `Transfer-Encoding: chunked` body.
fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

/// A one-connection HTTP server on 127.0.0.1 that reads the request, answers 200 with a chunked
/// NDJSON body written as `writes` (each a separate TCP write, `gap` apart), then does `after`.
/// Returns its base URL.
async fn raw_server(writes: Vec<Vec<u8>>, gap: Duration, after: After) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.set_nodelay(true).unwrap();
        read_request(&mut sock).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.flush().await.unwrap();
        for w in writes {
            tokio::time::sleep(gap).await;
            if sock.write_all(&w).await.is_err() {
                return;
            }
            sock.flush().await.unwrap();
        }
        match after {
            After::Finish => {
                tokio::time::sleep(gap).await;
                let _ = sock.write_all(b"0\r\n\r\n").await;
                let _ = sock.flush().await;
            }
            After::Drop => {}
            After::Stall => tokio::time::sleep(Duration::from_secs(60)).await,
        }
    });
    format!("http://{addr}")
}

/// Reads one request (head and `content-length` body) so the client sees no reset.
async fn read_request(sock: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = sock.read(&mut tmp).await.unwrap();
        assert!(n > 0, "client closed before sending a request");
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut tmp).await.unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&tmp[..n]);
            }
            return;
        }
    }
}

fn line_bytes(v: &Value) -> Vec<u8> {
    format!("{v}\n").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// the request body

#[tokio::test]
async fn body_posted_to_api_chat_has_ollamas_field_names_and_our_settings() {
    let server = MockServer::start().await;
    mock_chat(&server, 200, &ndjson(&[piece("ok"), done_line()])).await;
    let llm = client(&host_of(&server));
    llm.chat(&request(50)).await.unwrap();

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), "/api/chat");
    assert_eq!(
        r.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/json"
    );
    let body: Value = r.body_json().unwrap();
    let expected = json!({
        "model": "smollm2:135m",
        "messages": [
            {"role": "system", "content": "You list takeaways."},
            {"role": "user", "content": "Notes: Grüße aus 東京."}
        ],
        "options": {"num_ctx": 4096, "num_predict": 512, "temperature": 0.2, "seed": 7},
        "format": schema(),
        "stream": true,
        "think": false,
        "truncate": false,
        "shift": false
    });
    assert_eq!(body, expected);
    assert_eq!(chat_body(&request(50)), expected);
}

#[test]
fn body_without_seed_or_schema_and_with_json_mode() {
    let mut req = request(0);
    req.options.seed = None;
    req.format = None;
    let body = chat_body(&req);
    assert_eq!(
        body["options"],
        json!({"num_ctx": 4096, "num_predict": 512, "temperature": 0.2})
    );
    assert!(body.get("format").is_none());

    req.format = Some(json!("json"));
    assert_eq!(chat_body(&req)["format"], json!("json"));
}

#[test]
fn request_key_is_blake3_of_sorted_compact_body() {
    let req = request(123);
    let canonical = concat!(
        r#"{"format":{"properties":{"takeaways":{"items":{"type":"string"},"type":"array"}},"#,
        r#""required":["takeaways"],"type":"object"},"messages":[{"content":"You list takeaways.","#,
        r#""role":"system"},{"content":"Notes: Grüße aus 東京.","role":"user"}],"model":"smollm2:135m","#,
        r#""options":{"num_ctx":4096,"num_predict":512,"seed":7,"temperature":0.2},"shift":false,"#,
        r#""stream":true,"think":false,"truncate":false}"#
    );
    assert_eq!(
        request_key(&req),
        blake3::hash(canonical.as_bytes()).to_hex().to_string()
    );
    // The estimate is not part of the request; num_ctx is.
    assert_eq!(request_key(&request(9999)), request_key(&req));
    let mut other = request(123);
    other.options.num_ctx = 8192;
    assert_ne!(request_key(&other), request_key(&req));
}

// ---------------------------------------------------------------------------------------------
// normal answers

#[tokio::test]
async fn ndjson_answer_is_joined_and_counters_are_kept() {
    let server = MockServer::start().await;
    let body = ndjson(&[piece("Hel"), piece("lo, "), piece("wörld"), done_line()]);
    mock_chat(&server, 200, &body).await;
    let llm = client(&host_of(&server));

    let answer = llm.chat(&request(50)).await.unwrap();
    assert_eq!(answer, expected_answer("Hello, wörld"));
    let answer2 = llm.chat(&request(50)).await.unwrap();
    assert_eq!(answer2.content, "Hello, wörld");
    assert_eq!(
        llm.stats(),
        CallStats {
            calls: 2,
            replayed: 0,
            cache_hits: 0,
            retries: 0,
            requests: 2,
            chat_requests: 2,
            prompt_eval_count: 80,
            eval_count: 24,
            model_time_ns: 10_000_000_000,
        }
    );
}

#[tokio::test]
async fn counters_on_the_done_line_are_each_optional() {
    let server = MockServer::start().await;
    let done = json!({"message": {"role": "assistant", "content": "!"}, "done": true,
                      "eval_count": 3});
    mock_chat(&server, 200, &ndjson(&[piece("hi"), done])).await;
    let answer = client(&host_of(&server)).chat(&request(50)).await.unwrap();
    assert_eq!(
        answer,
        ChatResponse {
            content: "hi!".into(),
            eval_count: Some(3),
            ..Default::default()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// errors users hit first (docs/ARCHITECTURE.md, Ollama fact 6)

#[tokio::test]
async fn refused_port_is_unreachable_naming_the_url_and_ollama_serve() {
    let port = refused_port().await;
    let llm = client(&format!("127.0.0.1:{port}"));
    assert_eq!(llm.base_url(), format!("http://127.0.0.1:{port}/"));
    let err = llm.chat(&request(50)).await.unwrap_err();
    let url = format!("http://127.0.0.1:{port}/api/chat");
    match &err {
        LlmError::Unreachable { url: u, detail } => {
            assert_eq!(u, &url);
            assert!(detail.to_lowercase().contains("refused"), "{detail}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("cannot reach Ollama at {url}: ")),
        "{msg}"
    );
    assert!(msg.contains("`ollama serve`"), "{msg}");
    assert_eq!(
        llm.stats().retries,
        0,
        "a refused connection is not retried"
    );
}

#[tokio::test]
async fn model_not_found_404_says_ollama_pull() {
    let server = MockServer::start().await;
    mock_chat(
        &server,
        404,
        r#"{"error":"model \"smollm2:135m\" not found, try pulling it first"}"#,
    )
    .await;
    let llm = client(&host_of(&server));
    let err = llm.chat(&request(50)).await.unwrap_err();
    match &err {
        LlmError::ModelNotFound { model, url } => {
            assert_eq!(model, "smollm2:135m");
            assert_eq!(url, &format!("{}/", server.uri()));
        }
        other => panic!("expected ModelNotFound, got {other:?}"),
    }
    assert!(
        err.to_string().contains("run `ollama pull smollm2:135m`"),
        "{err}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "4xx is not retried"
    );
}

#[tokio::test]
async fn plain_404_from_something_else_is_http_not_model_not_found() {
    let server = MockServer::start().await;
    mock_chat(&server, 404, "404 page not found").await;
    let err = client(&host_of(&server))
        .chat(&request(50))
        .await
        .unwrap_err();
    match err {
        LlmError::Http { status, body, url } => {
            assert_eq!(status, 404);
            assert_eq!(body, "404 page not found");
            assert_eq!(url, format!("{}/api/chat", server.uri()));
        }
        other => panic!("expected Http, got {other:?}"),
    }
}

#[tokio::test]
async fn http_500_is_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(500).set_body_raw(r#"{"error":"boom"}"#, "application/json"),
        )
        .expect(3)
        .mount(&server)
        .await;
    let llm = client(&host_of(&server));
    let err = llm.chat(&request(50)).await.unwrap_err();
    match &err {
        LlmError::Http { status, body, .. } => {
            assert_eq!(*status, 500);
            assert_eq!(body, "boom");
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert_eq!(llm.stats().retries, 2);
    assert_eq!(llm.stats().calls, 0);
    server.verify().await;
}

#[tokio::test]
async fn http_503_once_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mock_chat(&server, 200, &ndjson(&[piece("fine"), done_line()])).await;
    let llm = client(&host_of(&server));
    let answer = llm.chat(&request(50)).await.unwrap();
    assert_eq!(answer.content, "fine");
    assert_eq!(llm.stats().retries, 1);
    assert_eq!(llm.stats().calls, 1);
}

#[tokio::test]
async fn connection_closed_before_the_response_head_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // First connection: read the request, then hang up without a word.
        let (mut first, _) = listener.accept().await.unwrap();
        read_request(&mut first).await;
        drop(first);
        let (mut second, _) = listener.accept().await.unwrap();
        read_request(&mut second).await;
        let body = ndjson(&[piece("second time"), done_line()]);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        second.write_all(answer.as_bytes()).await.unwrap();
        second.flush().await.unwrap();
    });
    let llm = client(&format!("http://{addr}"));
    let answer = llm.chat(&request(50)).await.unwrap();
    assert_eq!(answer, expected_answer("second time"));
    assert_eq!(llm.stats().retries, 1);
}

#[tokio::test]
async fn http_400_prompt_longer_than_context_is_context_exceeded() {
    let server = MockServer::start().await;
    mock_chat(
        &server,
        400,
        r#"{"error":"the prompt is longer than the context length currently available to the model"}"#,
    )
    .await;
    let llm = client(&host_of(&server));
    let err = llm.chat(&request(50)).await.unwrap_err();
    match &err {
        LlmError::ContextExceeded { num_ctx, detail } => {
            assert_eq!(*num_ctx, 4096);
            assert_eq!(
                detail,
                "Ollama answered HTTP 400: the prompt is longer than the context length \
                 currently available to the model"
            );
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("prompt did not fit num_ctx 4096: "));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn http_400_from_truncate_false_with_nested_error_is_context_exceeded() {
    let server = MockServer::start().await;
    let inner = r#"{"error":{"code":400,"message":"request (8889 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":8889,"n_ctx":4096}}"#;
    mock_chat(&server, 400, &json!({ "error": inner }).to_string()).await;
    let err = client(&host_of(&server))
        .chat(&request(50))
        .await
        .unwrap_err();
    match err {
        LlmError::ContextExceeded { num_ctx, detail } => {
            assert_eq!(num_ctx, 4096);
            assert_eq!(
                detail,
                "Ollama answered HTTP 400: request (8889 tokens) exceeds the available context \
                 size (4096 tokens), try increasing it"
            );
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn other_400_is_http() {
    let server = MockServer::start().await;
    mock_chat(&server, 400, r#"{"error":"invalid message role"}"#).await;
    let err = client(&host_of(&server))
        .chat(&request(50))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Http { status: 400, body, .. } if body == "invalid message role"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// silent truncation (docs/ARCHITECTURE.md, Ollama fact 1)

async fn answer_with_prompt_count(n: u64, estimated: usize) -> Result<ChatResponse, LlmError> {
    let server = MockServer::start().await;
    let mut done = done_line();
    done["prompt_eval_count"] = json!(n);
    mock_chat(&server, 200, &ndjson(&[piece("x"), done])).await;
    client(&host_of(&server)).chat(&request(estimated)).await
}

#[tokio::test]
async fn prompt_eval_count_far_below_estimate_is_context_exceeded() {
    match answer_with_prompt_count(999, 3000).await {
        Err(LlmError::ContextExceeded { num_ctx, detail }) => {
            assert_eq!(num_ctx, 4096);
            assert!(
                detail.starts_with("model saw 999 tokens of an estimated 3000"),
                "{detail}"
            );
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
    // Exactly a third is still accepted.
    assert_eq!(
        answer_with_prompt_count(1000, 3000)
            .await
            .unwrap()
            .prompt_eval_count,
        Some(1000)
    );
    // No estimate, no check.
    assert!(answer_with_prompt_count(5, 0).await.is_ok());
}

#[tokio::test]
async fn prompt_cut_to_half_the_window_is_context_exceeded() {
    // A prompt estimated a little over num_ctx 4096 that came back at Ollama's cut size
    // (num_ctx - (num_ctx - 4) / 2 = 2050, plus BOS): rule 1 alone (5000 / 3) would miss it.
    match answer_with_prompt_count(2051, 5000).await {
        Err(LlmError::ContextExceeded { num_ctx, detail }) => {
            assert_eq!(num_ctx, 4096);
            assert!(
                detail.starts_with("model saw 2051 tokens of an estimated 5000, about half"),
                "{detail}"
            );
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
    // 2048 + 16 is the edge; above it, or with an estimate inside the window, it passes.
    assert!(answer_with_prompt_count(2064, 5000).await.is_err());
    assert!(answer_with_prompt_count(2065, 5000).await.is_ok());
    assert!(answer_with_prompt_count(2051, 4096).await.is_ok());
}

#[tokio::test]
async fn prompt_filling_the_whole_context_is_context_exceeded() {
    match answer_with_prompt_count(4095, 3000).await {
        Err(LlmError::ContextExceeded { num_ctx, detail }) => {
            assert_eq!(num_ctx, 4096);
            assert!(
                detail.starts_with("model saw 4095 tokens, the whole context"),
                "{detail}"
            );
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
    assert!(answer_with_prompt_count(4094, 3000).await.is_ok());
}

// ---------------------------------------------------------------------------------------------
// the stream (docs/ARCHITECTURE.md, Ollama fact 10)

#[tokio::test]
async fn error_line_after_200_is_a_stream_error() {
    let server = MockServer::start().await;
    let body = ndjson(&[
        piece("partial "),
        json!({"error": "model runner has unexpectedly stopped"}),
    ]);
    mock_chat(&server, 200, &body).await;
    let llm = client(&host_of(&server));
    let err = llm.chat(&request(50)).await.unwrap_err();
    match &err {
        LlmError::Stream(s) => assert_eq!(s, "model runner has unexpectedly stopped"),
        other => panic!("expected Stream, got {other:?}"),
    }
    assert_eq!(llm.stats().retries, 0);
}

#[tokio::test]
async fn stream_ending_without_done_is_a_stream_error() {
    let writes = vec![
        chunk(&line_bytes(&piece("Hello"))),
        chunk(&line_bytes(&piece(" there"))),
    ];
    let host = raw_server(writes, Duration::from_millis(20), After::Finish).await;
    let err = client(&host).chat(&request(50)).await.unwrap_err();
    match err {
        LlmError::Stream(s) => assert_eq!(s, "connection closed before the answer was complete"),
        other => panic!("expected Stream, got {other:?}"),
    }
}

#[tokio::test]
async fn connection_dropped_mid_body_is_a_stream_error() {
    let mut half = chunk(&line_bytes(&piece("Hello")));
    half.truncate(half.len() / 2);
    let writes = vec![chunk(&line_bytes(&piece("Hi"))), half];
    let host = raw_server(writes, Duration::from_millis(20), After::Drop).await;
    let err = client(&host).chat(&request(50)).await.unwrap_err();
    match err {
        LlmError::Stream(s) => assert!(
            s.starts_with("connection closed before the answer was complete"),
            "{s}"
        ),
        other => panic!("expected Stream, got {other:?}"),
    }
}

#[tokio::test]
async fn utf8_character_split_across_two_writes_is_kept_whole() {
    // "Grüße 東京": cut inside 'ü' (2 bytes) and inside '東' (3 bytes).
    let line = line_bytes(&piece("Grüße 東京"));
    let u = line.windows(2).position(|w| w == "ü".as_bytes()).unwrap() + 1;
    let t = line.windows(3).position(|w| w == "東".as_bytes()).unwrap() + 2;
    let writes = vec![
        chunk(&line[..u]),
        chunk(&line[u..t]),
        chunk(&line[t..]),
        chunk(&line_bytes(&done_line())),
    ];
    let host = raw_server(writes, Duration::from_millis(30), After::Finish).await;
    let answer = client(&host).chat(&request(50)).await.unwrap();
    assert_eq!(answer, expected_answer("Grüße 東京"));
}

#[tokio::test]
async fn several_lines_in_one_write_and_one_line_across_writes() {
    let mut first = line_bytes(&piece("one "));
    first.extend(line_bytes(&piece("two ")));
    let third = line_bytes(&piece("three"));
    let (a, b) = third.split_at(10);
    first.extend_from_slice(a);
    let mut second = b.to_vec();
    second.extend(line_bytes(&done_line()));
    let writes = vec![chunk(&first), chunk(&second)];
    let host = raw_server(writes, Duration::from_millis(30), After::Finish).await;
    let answer = client(&host).chat(&request(50)).await.unwrap();
    assert_eq!(answer, expected_answer("one two three"));
}

#[tokio::test]
async fn last_line_without_newline_still_counts() {
    let mut body = line_bytes(&piece("end"));
    body.extend(done_line().to_string().into_bytes());
    let host = raw_server(vec![chunk(&body)], Duration::from_millis(10), After::Finish).await;
    let answer = client(&host).chat(&request(50)).await.unwrap();
    assert_eq!(answer, expected_answer("end"));
}

#[tokio::test]
async fn stall_mid_answer_hits_the_idle_timeout() {
    let writes = vec![chunk(&line_bytes(&piece("Hel")))];
    let host = raw_server(writes, Duration::from_millis(10), After::Stall).await;
    let llm = Llm::new(LlmConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..config(&host)
    })
    .unwrap();
    let started = Instant::now();
    let err = llm.chat(&request(50)).await.unwrap_err();
    let took = started.elapsed();
    match err {
        LlmError::Stream(s) => assert!(
            s.starts_with(&format!("no data for 0.3 s from {host}/api/chat")),
            "{s}"
        ),
        other => panic!("expected Stream, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn silent_server_before_the_response_head_hits_the_idle_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_request(&mut sock).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let llm = Llm::new(LlmConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..config(&format!("http://{addr}"))
    })
    .unwrap();
    match llm.chat(&request(50)).await.unwrap_err() {
        LlmError::Stream(s) => assert!(s.starts_with("no data for 0.3 s from "), "{s}"),
        other => panic!("expected Stream, got {other:?}"),
    }
    assert_eq!(llm.stats().retries, 0);
}

// ---------------------------------------------------------------------------------------------
// record / replay

fn recorded(dir: &Path, key: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("{key}.json"))).unwrap()).unwrap()
}

#[tokio::test]
async fn record_then_replay_gives_the_same_answer_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    mock_chat(
        &server,
        200,
        &ndjson(&[piece("Recorded "), piece("answer"), done_line()]),
    )
    .await;
    let recorder = Llm::new(LlmConfig {
        record: Some(dir.path().to_path_buf()),
        ..config(&host_of(&server))
    })
    .unwrap();
    let req = request(50);
    let live = recorder.chat(&req).await.unwrap();
    assert_eq!(live, expected_answer("Recorded answer"));

    let key = request_key(&req);
    let file = recorded(dir.path(), &key);
    assert_eq!(
        file,
        json!({"request": chat_body(&req), "response": serde_json::to_value(&live).unwrap()})
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![format!("{key}.json")],
        "no temporary files left behind"
    );

    // Replay against a port where nothing listens: the network is never touched.
    let port = refused_port().await;
    let replayer = Llm::new(LlmConfig {
        replay: Some(dir.path().to_path_buf()),
        ..config(&format!("127.0.0.1:{port}"))
    })
    .unwrap();
    assert_eq!(replayer.chat(&req).await.unwrap(), live);
    let stats = replayer.stats();
    assert_eq!((stats.calls, stats.replayed, stats.eval_count), (1, 1, 12));

    let mut other = request(50);
    other.messages.push(Message::user("one more"));
    match replayer.chat(&other).await.unwrap_err() {
        LlmError::NotRecorded { dir: d, key: k } => {
            assert_eq!(d, dir.path());
            assert_eq!(k, request_key(&other));
        }
        e => panic!("expected NotRecorded, got {e:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn corrupt_recording_is_a_recording_error() {
    let dir = tempfile::tempdir().unwrap();
    let req = request(50);
    let file = dir.path().join(format!("{}.json", request_key(&req)));
    std::fs::write(&file, "{ not json").unwrap();
    let llm = Llm::new(LlmConfig {
        replay: Some(dir.path().to_path_buf()),
        ..config("")
    })
    .unwrap();
    match llm.chat(&req).await.unwrap_err() {
        LlmError::Recording { path, .. } => assert_eq!(path, file),
        e => panic!("expected Recording, got {e:?}"),
    }
}

#[test]
fn replay_directory_must_exist() {
    let err = Llm::new(LlmConfig {
        replay: Some("/nonexistent/takeaways-recordings".into()),
        ..config("")
    })
    .unwrap_err();
    assert!(matches!(err, LlmError::Recording { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// /api/show, check_model, pull

async fn mock_show(server: &MockServer, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path("/api/show"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

#[tokio::test]
async fn model_context_length_reads_arch_context_length_and_records_it() {
    let server = MockServer::start().await;
    mock_show(
        &server,
        200,
        json!({"license": "", "modelfile": "FROM x", "parameters": "", "template": "{{ .Prompt }}",
               "details": {"family": "llama"},
               "model_info": {"general.architecture": "llama", "llama.context_length": 8192,
                              "llama.embedding_length": 576},
               "capabilities": ["completion"]}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let llm = Llm::new(LlmConfig {
        record: Some(dir.path().to_path_buf()),
        ..config(&host_of(&server))
    })
    .unwrap();
    assert_eq!(
        llm.model_context_length("smollm2:135m").await.unwrap(),
        Some(8192)
    );
    let sent: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(sent, json!({"model": "smollm2:135m"}));
    let file: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("show-smollm2_135m.json")).unwrap())
            .unwrap();
    assert_eq!(file, json!({"context_length": 8192}));

    let replayer = Llm::new(LlmConfig {
        replay: Some(dir.path().to_path_buf()),
        ..config(&format!("127.0.0.1:{}", refused_port().await))
    })
    .unwrap();
    assert_eq!(
        replayer.model_context_length("smollm2:135m").await.unwrap(),
        Some(8192)
    );
    match replayer.model_context_length("other:7b").await.unwrap_err() {
        LlmError::NotRecorded { key, .. } => assert_eq!(key, "show-other_7b"),
        e => panic!("expected NotRecorded, got {e:?}"),
    }
    assert!(replayer.check_model("anything").await.is_ok());
}

#[tokio::test]
async fn model_context_length_absent_is_none() {
    let server = MockServer::start().await;
    mock_show(
        &server,
        200,
        json!({"model_info": {"general.architecture": "qwen2"}}),
    )
    .await;
    let llm = client(&host_of(&server));
    assert_eq!(llm.model_context_length("m").await.unwrap(), None);
}

#[tokio::test]
async fn show_and_check_model_404_are_model_not_found() {
    let server = MockServer::start().await;
    mock_show(&server, 404, json!({"error": "model 'nope:1b' not found"})).await;
    let llm = client(&host_of(&server));
    assert!(matches!(
        llm.model_context_length("nope:1b").await,
        Err(LlmError::ModelNotFound { ref model, .. }) if model == "nope:1b"
    ));
    match llm.check_model("nope:1b").await.unwrap_err() {
        LlmError::ModelNotFound { model, url } => {
            assert_eq!(model, "nope:1b");
            assert_eq!(url, format!("{}/", server.uri()));
        }
        e => panic!("expected ModelNotFound, got {e:?}"),
    }
}

#[tokio::test]
async fn check_model_ok_and_unreachable() {
    let server = MockServer::start().await;
    mock_show(&server, 200, json!({"model_info": {}})).await;
    assert!(client(&host_of(&server)).check_model("m").await.is_ok());

    let port = refused_port().await;
    match client(&format!("127.0.0.1:{port}"))
        .check_model("m")
        .await
        .unwrap_err()
    {
        LlmError::Unreachable { url, .. } => {
            assert_eq!(url, format!("http://127.0.0.1:{port}/api/show"));
        }
        e => panic!("expected Unreachable, got {e:?}"),
    }
}

#[tokio::test]
async fn pull_reports_progress_until_success() {
    let server = MockServer::start().await;
    let body = ndjson(&[
        json!({"status": "pulling manifest"}),
        json!({"status": "pulling abc", "digest": "sha256:abc", "total": 100, "completed": 40}),
        json!({"status": "pulling abc", "digest": "sha256:abc", "total": 100, "completed": 100}),
        json!({"status": "success"}),
    ]);
    Mock::given(method("POST"))
        .and(path("/api/pull"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson"))
        .mount(&server)
        .await;
    let mut seen = Vec::new();
    client(&host_of(&server))
        .pull("smollm2:135m", |p| seen.push(p))
        .await
        .unwrap();
    let status = |s: &str| PullProgress {
        status: s.into(),
        digest: None,
        total: None,
        completed: None,
    };
    let layer = |done| PullProgress {
        status: "pulling abc".into(),
        digest: Some("sha256:abc".into()),
        total: Some(100),
        completed: Some(done),
    };
    assert_eq!(
        seen,
        vec![
            status("pulling manifest"),
            layer(40),
            layer(100),
            status("success")
        ]
    );
}

#[tokio::test]
async fn pull_error_line_is_a_stream_error() {
    let server = MockServer::start().await;
    let body = ndjson(&[
        json!({"status": "pulling manifest"}),
        json!({"error": "pull model manifest: file does not exist"}),
    ]);
    Mock::given(method("POST"))
        .and(path("/api/pull"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson"))
        .mount(&server)
        .await;
    let err = client(&host_of(&server))
        .pull("nope:1b", |_| {})
        .await
        .unwrap_err();
    match err {
        LlmError::Stream(s) => {
            assert_eq!(
                s,
                "pulling nope:1b: pull model manifest: file does not exist"
            );
        }
        e => panic!("expected Stream, got {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// host normalisation (OLLAMA_HOST, docs/ARCHITECTURE.md, Ollama fact 7)

#[test]
fn normalize_host_cases() {
    let cases = [
        ("", "http://127.0.0.1:11434/"),
        ("   ", "http://127.0.0.1:11434/"),
        ("localhost", "http://localhost:11434/"),
        ("127.0.0.1", "http://127.0.0.1:11434/"),
        ("0.0.0.0", "http://127.0.0.1:11434/"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080/"),
        (":11435", "http://127.0.0.1:11435/"),
        ("gpu-box:11434", "http://gpu-box:11434/"),
        ("http://gpu-box:11434", "http://gpu-box:11434/"),
        ("http://gpu-box:11434/", "http://gpu-box:11434/"),
        ("HTTP://gpu-box", "http://gpu-box:80/"),
        (
            "https://ollama.example.com",
            "https://ollama.example.com:443/",
        ),
        ("http://proxy:8080/ollama", "http://proxy:8080/ollama/"),
        ("[::1]:11434", "http://[::1]:11434/"),
        ("::1", "http://[::1]:11434/"),
        ("[::]", "http://[::1]:11434/"),
        ("localhost:notaport", "http://localhost:11434/"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize_host(input), want, "input {input:?}");
    }
}

#[test]
fn https_is_refused_up_front() {
    let err = Llm::new(config("https://ollama.example.com")).unwrap_err();
    match &err {
        LlmError::BadHost { host, detail } => {
            assert_eq!(host, "https://ollama.example.com:443/");
            assert!(detail.contains("https"), "{detail}");
        }
        e => panic!("expected BadHost, got {e:?}"),
    }
    assert_eq!(err.exit(), takeaways::exit::Exit::Usage);
}

#[test]
fn llm_is_send_and_sync_and_its_futures_are_send() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync::<Llm>();
    let llm = Llm::new(config("")).unwrap();
    let req = request(1);
    assert_send(&llm.chat(&req));
    assert_send(&llm.model_context_length("m"));
    assert_send(&llm.check_model("m"));
    assert_send(&llm.pull("m", |_| {}));
}
