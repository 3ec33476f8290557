//! `llm::openai` against local servers on 127.0.0.1 that imitate each engine's answers: wiremock
//! for whole answers, a small `TcpListener` server for byte-level control (events and UTF-8
//! split across writes, streams closed early, stalls). No model, no network beyond loopback.
//!
//! The bodies are the engines' own: where a test says "llama-server", "vLLM", … the bytes are
//! built the way that engine builds them (file cited at the fixture), or were captured from a
//! live llama-cpp-python 0.3.36 server (marked "captured").

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use takeaways::llm::openai::{self, chat_completions_body, SchemaMode};
use takeaways::llm::{ChatRequest, ChatResponse, LlmError, Message, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-0123456789abcdef";
const MODEL: &str = "qwen2.5-coder:0.5b";

// ---------------------------------------------------------------------------------------------
// helpers

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"takeaways": {"type": "array", "items": {"type": "string"}}},
        "required": ["takeaways"]
    })
}

fn request() -> ChatRequest {
    ChatRequest {
        model: MODEL.into(),
        messages: vec![
            Message::system("You list takeaways."),
            Message::user("Notes: Grüße aus 東京."),
        ],
        format: Some(schema()),
        options: Options {
            num_ctx: 4096,
            num_predict: 512,
            temperature: 0.0,
            seed: Some(7),
            repeat_penalty: None,
        },
        estimated_prompt_tokens: 40,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

const IDLE: Duration = Duration::from_secs(10);

async fn call(base: &str, key: Option<&str>, schema: SchemaMode) -> Result<ChatResponse, LlmError> {
    openai::chat(&client(), base, key, &request(), schema, IDLE).await
}

/// A wiremock server answering `POST /v1/chat/completions` with `status`, `content_type` and
/// `body`, plus the extra headers. Returns the server and its base URL (`…/v1`).
async fn mock(
    status: u16,
    content_type: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (MockServer, String) {
    let server = MockServer::start().await;
    let mut resp = ResponseTemplate::new(status).set_body_raw(body.to_owned(), content_type);
    for (k, v) in headers {
        resp = resp.insert_header(*k, *v);
    }
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(resp)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    (server, base)
}

/// What the raw server does after its scripted writes.
#[derive(Clone, Copy)]
enum After {
    /// Send the last (zero) chunk: a clean end of the body.
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

/// A one-connection HTTP server on 127.0.0.1: reads the request (sent back through the
/// receiver), writes `head` (status line and headers, ending with the blank line), then each
/// of `writes` as its own TCP write and chunk, `gap` apart, then does `after`. Returns the base
/// URL (`…/v1`).
async fn raw_server(
    head: &'static str,
    writes: Vec<Vec<u8>>,
    gap: Duration,
    after: After,
) -> (String, oneshot::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.set_nodelay(true).unwrap();
        let _ = tx.send(read_request(&mut sock).await);
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.flush().await.unwrap();
        for w in writes {
            tokio::time::sleep(gap).await;
            if sock.write_all(&chunk(&w)).await.is_err() {
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
    (format!("http://{addr}/v1"), rx)
}

/// Reads one request (head and `content-length` body) and returns its bytes.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
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
            return buf;
        }
    }
}

/// A head like cpp-httplib's for llama-server's streamed answer (`tools/server/server-http.cpp`
/// sets `text/event-stream` and streams through a chunked content provider; the header set is
/// not captured, the body framing is what matters).
const LLAMA_SERVER_HEAD: &str = "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\n\
    Server: llama.cpp\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

/// uvicorn + sse-starlette's head for llama-cpp-python's streamed answer (captured from
/// 0.3.36).
const LLAMA_CPP_PYTHON_HEAD: &str = "HTTP/1.1 200 OK\r\ndate: Tue, 01 Dec 2026 09:26:48 GMT\r\n\
    server: uvicorn\r\ncache-control: no-store\r\nconnection: keep-alive\r\n\
    x-accel-buffering: no\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
    openai-processing-ms: 1\r\nx-request-id: 22516ba57be9496ba411683db424f566\r\n\
    vary: Origin\r\nTransfer-Encoding: chunked\r\n\r\n";

/// axum's head for TGI's streamed answer (`router/src/server.rs` adds `x-compute-type` and
/// `X-Accel-Buffering`).
const TGI_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
    cache-control: no-cache\r\nx-compute-type: gpu+optimized\r\nx-accel-buffering: no\r\n\
    transfer-encoding: chunked\r\n\r\n";

/// llama-server's chunks for the answer `{"takeaways":["Grüße"]}`: the role chunk, content
/// deltas, the finish chunk, then (with `stream_options.include_usage`) a chunk with
/// `"choices":[]`, `usage` and `timings` (`tools/server/server-task.cpp`
/// `to_json_oaicompat_chat_stream`; keys in nlohmann's `ordered_json` insertion order), each
/// framed by `format_oai_sse` as `data: …\n\n`, and `data: [DONE]\n\n` (`server-context.cpp`).
fn llama_server_events() -> Vec<String> {
    let head = r#""created":1735689600,"id":"chatcmpl-p6yMMGV1MxfZlIpBGxW9WOvJVaUIo1Jp","model":"qwen2.5-coder:0.5b","system_fingerprint":"b7000-9a2c4f1e","object":"chat.completion.chunk""#;
    let delta = |d: &str| {
        format!(r#"data: {{"choices":[{{"finish_reason":null,"index":0,"delta":{d}}}],{head}}}"#)
    };
    vec![
        delta(r#"{"role":"assistant","content":null}"#),
        delta(r#"{"content":"{\"takeaways\":[\""}"#),
        delta(r#"{"content":"Grüße"}"#),
        delta(r#"{"content":"\"]}"}"#),
        format!(
            r#"data: {{"choices":[{{"finish_reason":"stop","index":0,"delta":{{}}}}],{head}}}"#
        ),
        format!(
            r#"data: {{"choices":[],{head},"usage":{{"completion_tokens":9,"prompt_tokens":41,"total_tokens":50}},"timings":{{"cache_n":0,"prompt_n":41,"prompt_ms":120.5,"prompt_per_token_ms":2.939,"prompt_per_second":340.2,"predicted_n":9,"predicted_ms":150.25,"predicted_per_token_ms":16.69,"predicted_per_second":59.9}}}}"#
        ),
        "data: [DONE]".to_owned(),
    ]
}

fn sse(events: &[String]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| format!("{e}\n\n").into_bytes())
        .collect()
}

const ANSWER: &str = "{\"takeaways\":[\"Grüße\"]}";

// ---------------------------------------------------------------------------------------------
// the request

#[tokio::test]
async fn posts_openai_body_to_chat_completions_with_bearer_key() {
    let events: String = sse(&llama_server_events())
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(events, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1/", server.uri());
    let answer = call(&base, Some(KEY), SchemaMode::JsonSchema)
        .await
        .unwrap();
    assert_eq!(answer.content, ANSWER);

    let received = server.received_requests().await.unwrap();
    let body: Value = received[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You list takeaways."},
                {"role": "user", "content": "Notes: Grüße aus 東京."}
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 512,
            "temperature": 0.0,
            "seed": 7,
            "response_format": {"type": "json_schema", "json_schema":
                {"name": "takeaways", "schema": schema(), "strict": true}}
        })
    );
    assert_eq!(
        body,
        chat_completions_body(&request(), SchemaMode::JsonSchema)
    );
    server.verify().await;
}

#[tokio::test]
async fn no_authorization_header_without_a_key() {
    let (base, req) = raw_server(
        LLAMA_SERVER_HEAD,
        sse(&llama_server_events()),
        Duration::ZERO,
        After::Finish,
    )
    .await;
    call(&base, None, SchemaMode::JsonSchema).await.unwrap();
    let req = String::from_utf8(req.await.unwrap())
        .unwrap()
        .to_lowercase();
    assert!(
        req.starts_with("post /v1/chat/completions http/1.1\r\n"),
        "{req}"
    );
    assert!(!req.contains("authorization"), "{req}");
}

// ---------------------------------------------------------------------------------------------
// normal answers

#[tokio::test]
async fn llama_server_stream_gives_content_usage_and_timings() {
    let (base, _) = raw_server(
        LLAMA_SERVER_HEAD,
        sse(&llama_server_events()),
        Duration::from_millis(5),
        After::Finish,
    )
    .await;
    let answer = call(&base, None, SchemaMode::JsonSchema).await.unwrap();
    assert_eq!(
        answer,
        ChatResponse {
            content: ANSWER.into(),
            done_reason: Some("stop".into()),
            prompt_eval_count: Some(41),
            eval_count: Some(9),
            total_duration: Some(270_750_000),
            prompt_eval_duration: Some(120_500_000),
            eval_duration: Some(150_250_000),
        }
    );
}

/// vLLM's chunks (`vllm/entrypoints/openai/chat_completion/serving.py`, pydantic
/// `model_dump_json`, compact): the last content chunk carries `finish_reason: "length"` when
/// `max_tokens` ran out, then the usage chunk with `"choices":[]`.
#[tokio::test]
async fn finish_reason_length_is_reported_as_a_cut_answer() {
    let body = concat!(
        "data: {\"id\":\"chatcmpl-b1\",\"object\":\"chat.completion.chunk\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-b1\",\"object\":\"chat.completion.chunk\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"{\\\"takeaways\\\":[\\\"one\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-b1\",\"object\":\"chat.completion.chunk\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" two\"},\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-b1\",\"object\":\"chat.completion.chunk\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"choices\":[],\"usage\":{\"prompt_tokens\":41,\"total_tokens\":553,\"completion_tokens\":512}}\n\n",
        "data: [DONE]\n\n",
    );
    let (_server, base) = mock(200, "text/event-stream; charset=utf-8", body, &[]).await;
    let answer = call(&base, None, SchemaMode::JsonSchema).await.unwrap();
    assert_eq!(answer.content, "{\"takeaways\":[\"one two");
    assert_eq!(answer.done_reason.as_deref(), Some("length"));
    assert_eq!(
        (answer.prompt_eval_count, answer.eval_count),
        (Some(41), Some(512))
    );
    assert_eq!(answer.total_duration, None);
}

/// TGI writes `data:` without a space (axum's `Event`), a `:` keep-alive comment, and a chunk
/// with `"usage":null` before the usage chunk. Every event and the two halves of `ü` (0xC3 0xBC)
/// arrive in separate TCP writes, cut mid-line.
#[tokio::test]
async fn events_and_utf8_split_across_packets() {
    let text = concat!(
        ":\n\n",
        "data:{\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"system_fingerprint\":\"3.3.6-native\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Gr\u{fc}\u{df}e \u{6771}\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data:{\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"system_fingerprint\":\"3.3.6-native\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\u{4eac}\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data:{\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"system_fingerprint\":\"3.3.6-native\",\"choices\":[],\"usage\":{\"prompt_tokens\":41,\"completion_tokens\":5,\"total_tokens\":46}}\n\n",
        "data:[DONE]\n\n",
    )
    .as_bytes();
    let u = text.windows(2).position(|w| w == [0xC3, 0xBC]).unwrap();
    let tokyo = text.windows(3).position(|w| w == "東".as_bytes()).unwrap();
    let cuts = [1, 9, u + 1, tokyo + 2, text.len() - 30, text.len() - 3];
    let mut writes = Vec::new();
    let mut last = 0;
    for c in cuts {
        writes.push(text[last..c].to_vec());
        last = c;
    }
    writes.push(text[last..].to_vec());
    let (base, _) = raw_server(TGI_HEAD, writes, Duration::from_millis(20), After::Finish).await;
    let answer = call(&base, None, SchemaMode::TgiValue).await.unwrap();
    assert_eq!(answer.content, "Grüße 東京");
    assert_eq!(answer.done_reason.as_deref(), Some("stop"));
    assert_eq!(
        (answer.prompt_eval_count, answer.eval_count),
        (Some(41), Some(5))
    );
}

/// llama-cpp-python 0.3.36 (captured, one chunk per event): json.dumps with `", "`/`": "`
/// separators and `ensure_ascii` (`ü` arrives as `\u00fc`), `\n\n` after each event
/// (sse-starlette with `sep="\n"`), a `: ping - <time>` comment every 15 s, and no `usage` at
/// all (`stream_options` is ignored).
#[tokio::test]
async fn llama_cpp_python_stream_with_ping_and_no_usage() {
    let id = "\"id\": \"chatcmpl-47eeb467-ce60-4eba-bc1c-6bb15147c4e3\", \"model\": \"qwen2.5-coder:0.5b\", \"created\": 1796117208, \"object\": \"chat.completion.chunk\"";
    let delta = |d: &str, finish: &str| {
        format!("data: {{{id}, \"choices\": [{{\"index\": 0, \"delta\": {d}, \"logprobs\": null, \"finish_reason\": {finish}}}]}}\n\n")
    };
    let mut events = vec![delta("{\"role\": \"assistant\"}", "null")];
    for piece in ["{\\\"", "hi", "\\\":", " \\\"", "Gr"] {
        events.push(delta(&format!("{{\"content\": \"{piece}\"}}"), "null"));
    }
    events.push(": ping - 2026-12-01 09:27:54.923647+00:00\n\n".to_owned());
    for piece in ["\\u00fc", "\\u00dfe", "\\\"}"] {
        events.push(delta(&format!("{{\"content\": \"{piece}\"}}"), "null"));
    }
    events.push(delta("{}", "\"stop\""));
    events.push("data: [DONE]\n\n".to_owned());
    let writes = events.iter().map(|e| e.as_bytes().to_vec()).collect();
    let (base, _) = raw_server(
        LLAMA_CPP_PYTHON_HEAD,
        writes,
        Duration::from_millis(5),
        After::Finish,
    )
    .await;
    let answer = call(&base, None, SchemaMode::JsonObject).await.unwrap();
    assert_eq!(
        answer,
        ChatResponse {
            content: "{\"hi\": \"Grüße\"}".into(),
            done_reason: Some("stop".into()),
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_whole_json_answer_is_accepted_too() {
    let body = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"{\"a\":1}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}"#;
    let (_server, base) = mock(200, "application/json", body, &[]).await;
    let answer = call(&base, None, SchemaMode::JsonSchema).await.unwrap();
    assert_eq!(answer.content, "{\"a\":1}");
    assert_eq!(
        (answer.prompt_eval_count, answer.eval_count),
        (Some(12), Some(4))
    );
}

// ---------------------------------------------------------------------------------------------
// broken streams

/// vLLM: an exception while generating becomes `data: {"error": …}` followed by `data: [DONE]`
/// (`create_streaming_error_response` in `vllm/entrypoints/openai/engine/serving.py`).
#[tokio::test]
async fn mid_stream_error_event_is_an_error() {
    let body = concat!(
        "data: {\"id\":\"chatcmpl-b2\",\"object\":\"chat.completion.chunk\",\"created\":1735689600,\"model\":\"qwen2.5-coder:0.5b\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"{\\\"take\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"error\":{\"message\":\"CUDA error: an illegal memory access was encountered\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}\n\n",
        "data: [DONE]\n\n",
    );
    let (_server, base) = mock(200, "text/event-stream; charset=utf-8", body, &[]).await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::Stream(msg) => {
            assert!(
                msg.ends_with(": CUDA error: an illegal memory access was encountered"),
                "{msg}"
            );
            assert!(
                msg.contains("/v1/chat/completions reported an error"),
                "{msg}"
            );
        }
        other => panic!("expected Stream, got {other:?}"),
    }
}

/// TGI checks the prompt length inside the stream: the 200 answer carries the validation error
/// as an event with `http_status_code: 422` (`router/src/infer/mod.rs` `into_openai_event`;
/// text from `router/src/validation.rs` `MaxTotalTokens`), then `data:[DONE]`.
#[tokio::test]
async fn tgi_context_error_inside_the_stream_is_context_exceeded() {
    let body = concat!(
        "data:{\"error\":{\"message\":\"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 3900 `inputs` tokens and 512 `max_new_tokens`\",\"http_status_code\":422}}\n\n",
        "data:[DONE]\n\n",
    );
    let (_server, base) = mock(200, "text/event-stream", body, &[]).await;
    match call(&base, None, SchemaMode::TgiValue).await.unwrap_err() {
        LlmError::ContextExceeded { num_ctx, detail } => {
            assert_eq!(num_ctx, 4096);
            assert!(
                detail.contains("answered an error event (code 422): Input validation error"),
                "{detail}"
            );
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn stream_closed_mid_answer_is_an_error() {
    let events = llama_server_events();
    let (base, _) = raw_server(
        LLAMA_SERVER_HEAD,
        sse(&events[..3]),
        Duration::from_millis(5),
        After::Drop,
    )
    .await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::Stream(msg) => assert!(
            msg.starts_with("connection closed before the answer was complete"),
            "{msg}"
        ),
        other => panic!("expected Stream, got {other:?}"),
    }
}

#[tokio::test]
async fn clean_end_without_finish_reason_or_done_is_an_error() {
    let events = llama_server_events();
    let (base, _) = raw_server(
        LLAMA_SERVER_HEAD,
        sse(&events[..4]),
        Duration::ZERO,
        After::Finish,
    )
    .await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::Stream(msg) => {
            assert_eq!(msg, "connection closed before the answer was complete");
        }
        other => panic!("expected Stream, got {other:?}"),
    }
}

#[tokio::test]
async fn end_after_finish_reason_without_done_is_accepted() {
    let events = llama_server_events();
    let (base, _) = raw_server(
        LLAMA_SERVER_HEAD,
        sse(&events[..5]),
        Duration::ZERO,
        After::Finish,
    )
    .await;
    let answer = call(&base, None, SchemaMode::JsonSchema).await.unwrap();
    assert_eq!(answer.content, ANSWER);
    assert_eq!(answer.prompt_eval_count, None, "the usage chunk never came");
}

/// llama-cpp-python with `interrupt_requests` (on by default) ends a running stream with
/// `data: [DONE]` and no finish_reason when another request arrives (`llama_cpp/server/app.py`
/// `get_event_publisher`), then drops the connection without the chunked end. Captured from
/// 0.3.36 with a second request sent 2 s into the first.
#[tokio::test]
async fn done_before_any_finish_reason_is_a_cut_answer() {
    let events = [
        "data: {\"id\": \"chatcmpl-b12d9575-cc5f-412e-862a-96196e1f2d39\", \"model\": \"qwen2.5-coder:0.5b\", \"created\": 1796117246, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"role\": \"assistant\"}, \"logprobs\": null, \"finish_reason\": null}]}\n\n",
        "data: [DONE]\n\n",
    ];
    let writes = events.iter().map(|e| e.as_bytes().to_vec()).collect();
    let (base, _) = raw_server(LLAMA_CPP_PYTHON_HEAD, writes, Duration::ZERO, After::Drop).await;
    match call(&base, None, SchemaMode::JsonObject).await.unwrap_err() {
        LlmError::Stream(msg) => assert!(msg.contains("[DONE] before any finish_reason"), "{msg}"),
        other => panic!("expected Stream, got {other:?}"),
    }
}

/// llama-cpp-python's answer to a *streamed* prompt longer than `--n_ctx` (captured from
/// 0.3.36: 15330 prompt tokens, n_ctx 8192): the 200 head, then at once the chunked end
/// `0\r\n\r\n`. The error is only in its log.
#[tokio::test]
async fn llama_cpp_python_empty_stream_is_context_exceeded() {
    let (base, _) = raw_server(LLAMA_CPP_PYTHON_HEAD, vec![], Duration::ZERO, After::Finish).await;
    match call(&base, None, SchemaMode::JsonObject).await.unwrap_err() {
        LlmError::ContextExceeded { num_ctx, detail } => {
            assert_eq!(
                num_ctx, 4096,
                "the request's num_ctx: the server states none"
            );
            assert!(detail.contains("empty event stream"), "{detail}");
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn stall_mid_stream_hits_the_idle_timeout() {
    let events = llama_server_events();
    let (base, _) = raw_server(
        LLAMA_SERVER_HEAD,
        sse(&events[..2]),
        Duration::ZERO,
        After::Stall,
    )
    .await;
    let started = std::time::Instant::now();
    let err = openai::chat(
        &client(),
        &base,
        None,
        &request(),
        SchemaMode::JsonSchema,
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match err {
        LlmError::Stream(msg) => assert!(msg.starts_with("no data for 0.3 s from "), "{msg}"),
        other => panic!("expected Stream, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_port_is_unreachable() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let base = format!("http://127.0.0.1:{port}/v1");
    match call(&base, Some(KEY), SchemaMode::JsonSchema)
        .await
        .unwrap_err()
    {
        LlmError::Unreachable { url, detail } => {
            assert_eq!(url, format!("{base}/chat/completions"));
            assert!(!detail.contains(KEY));
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// each engine's "prompt too long"

async fn context_error(status: u16, body: &str) -> (u32, String) {
    let (_server, base) = mock(status, "application/json", body, &[]).await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::ContextExceeded { num_ctx, detail } => (num_ctx, detail),
        other => panic!("expected ContextExceeded for {body}, got {other:?}"),
    }
}

/// vLLM ≥ 0.12 (`vllm/renderers/params.py` `_token_len_check`, `param` `input_tokens`).
#[tokio::test]
async fn vllm_context_error() {
    let body = r#"{"error":{"message":"You passed 5000 input tokens and requested 512 output tokens. However, the model's context length is only 4096 tokens, resulting in a maximum input length of 3584 tokens. Please reduce the length of the input prompt.","type":"BadRequestError","param":"input_tokens","code":400}}"#;
    let (num_ctx, detail) = context_error(400, body).await;
    assert_eq!(num_ctx, 4096);
    assert!(detail.ends_with("answered HTTP 400: You passed 5000 input tokens and requested 512 output tokens. However, the model's context length is only 4096 tokens, resulting in a maximum input length of 3584 tokens. Please reduce the length of the input prompt."), "{detail}");
    // Older vLLM (`serving_engine.py` `_validate_input`).
    let old = r#"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 2600 tokens (2088 in the messages, 512 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#;
    assert_eq!(context_error(400, old).await.0, 2048);
}

/// SGLang (`python/sglang/srt/managers/tokenizer_manager.py`; its flat `ErrorResponse`).
#[tokio::test]
async fn sglang_context_errors() {
    let input = r#"{"object":"error","message":"The input (43028 tokens) is longer than the model's context length (40960 tokens).","type":"BadRequestError","param":null,"code":400}"#;
    assert_eq!(context_error(400, input).await.0, 40960);
    let total = r#"{"object":"error","message":"Requested token count exceeds the model's maximum context length of 8192 tokens. You requested a total of 8300 tokens: 7788 tokens from the input messages and 512 tokens for the completion. Please reduce the number of tokens in the input messages or the completion to fit within the limit.","type":"BadRequestError","param":null,"code":400}"#;
    assert_eq!(context_error(400, total).await.0, 8192);
}

/// llama-server (`server-common.cpp` `format_error_response` + `server-task.cpp` adding
/// `n_prompt_tokens`, `n_ctx`; HTTP status = `code`).
#[tokio::test]
async fn llama_server_context_error() {
    let body = r#"{"error":{"code":400,"message":"request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9412,"n_ctx":8192}}"#;
    let (num_ctx, detail) = context_error(400, body).await;
    assert_eq!(num_ctx, 8192);
    assert!(detail.ends_with(": request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it"), "{detail}");
}

/// llama-cpp-python's answer to a *non-streamed* over-long prompt (captured from 0.3.36;
/// `llama_cpp/server/errors.py` `context_length_exceeded`).
#[tokio::test]
async fn llama_cpp_python_context_error() {
    let body = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, you requested 15842 tokens (15330 in the messages, 512 in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
    assert_eq!(context_error(400, body).await.0, 8192);
}

/// TGI before streaming (`router/src/server.rs` `From<InferError>`: 422 and
/// `{"error", "error_type"}`).
#[tokio::test]
async fn tgi_context_error() {
    let body = r#"{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 3900 `inputs` tokens and 512 `max_new_tokens`","error_type":"validation"}"#;
    assert_eq!(context_error(422, body).await.0, 4096);
}

// ---------------------------------------------------------------------------------------------
// busy servers, missing models, structured output, keys

/// TGI's 429 (`router/src/server.rs`: `InferError::Overloaded` → 429 "Model is overloaded"),
/// with the `Retry-After` a router or LiteLLM in front adds (TGI itself sends none).
#[tokio::test]
async fn http_429_with_retry_after_seconds_is_busy() {
    let body = r#"{"error":"Model is overloaded","error_type":"overloaded"}"#;
    let (_server, base) = mock(429, "application/json", body, &[("retry-after", "2")]).await;
    let err = call(&base, None, SchemaMode::JsonSchema).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{base}/chat/completions is busy (HTTP 429, Retry-After 2 s): Model is overloaded; it stayed busy for the whole retry time (--retry-for)")
    );
    match err {
        LlmError::Busy {
            status,
            retry_after,
            ..
        } => assert_eq!((status, retry_after), (429, Some(Duration::from_secs(2)))),
        other => panic!("expected Busy, got {other:?}"),
    }
}

/// llama-server while it loads the model: 503 `unavailable_error` "Loading model"
/// (`server-common.cpp` `format_error_response`), here with an HTTP-date `Retry-After`.
#[tokio::test]
async fn http_503_with_retry_after_date_is_busy() {
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    let body = r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;
    let (_server, base) = mock(503, "application/json", body, &[("retry-after", &when)]).await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::Busy {
            status,
            retry_after,
            body,
            ..
        } => {
            assert_eq!(status, 503);
            assert_eq!(body, "Loading model");
            let d = retry_after.unwrap();
            assert!(
                d > Duration::from_secs(25) && d <= Duration::from_secs(30),
                "{d:?}"
            );
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    let (_server, base) = mock(503, "application/json", body, &[]).await;
    assert!(matches!(
        call(&base, None, SchemaMode::JsonSchema).await.unwrap_err(),
        LlmError::Busy {
            retry_after: None,
            ..
        }
    ));
}

/// vLLM's `_check_model` (404 `NotFoundError`).
#[tokio::test]
async fn vllm_unknown_model_is_model_not_found() {
    let body = r#"{"error":{"message":"The model `qwen2.5-coder:0.5b` does not exist.","type":"NotFoundError","param":"model","code":404}}"#;
    let (_server, base) = mock(404, "application/json", body, &[]).await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::ModelNotFound { model, url } => {
            assert_eq!(model, MODEL);
            assert_eq!(url, base);
        }
        other => panic!("expected ModelNotFound, got {other:?}"),
    }
}

/// llama-cpp-python's answer to `json_schema` (captured from 0.3.36): pydantic rejects the type
/// and its error route answers 500 `internal_server_error` with the validation text. The
/// caller resends with `json_object`, which works.
#[tokio::test]
async fn llama_cpp_python_json_schema_500_then_json_object_works() {
    let rejection = LLAMA_CPP_PYTHON_JSON_SCHEMA_500;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"response_format": {"type": "json_schema"}}),
        ))
        .respond_with(ResponseTemplate::new(500).set_body_raw(rejection, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let ok = "data: {\"id\": \"chatcmpl-1\", \"model\": \"qwen2.5-coder:0.5b\", \"created\": 1, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"{}\"}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}\r\n\r\ndata: [DONE]\r\n\r\n";
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"response_format": {"type": "json_object", "schema": schema()}}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(ok, "text/event-stream; charset=utf-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::SchemaUnsupported { status, body, .. } => {
            assert_eq!(status, 500);
            assert!(body.contains("response_format"), "{body}");
        }
        other => panic!("expected SchemaUnsupported, got {other:?}"),
    }
    let answer = call(&base, None, SchemaMode::JsonObject).await.unwrap();
    assert_eq!(answer.content, "{}");
    server.verify().await;
}

/// Captured from llama-cpp-python 0.3.36 (`python -m llama_cpp.server`, FastAPI 0.165,
/// pydantic 2.14) for a request with `response_format: {"type": "json_schema", …}`; served with
/// `content-type: application/json`.
const LLAMA_CPP_PYTHON_JSON_SCHEMA_500: &str = r#"{"error":{"message":"1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"/work/standin/venv/lib/python3.11/site-packages/llama_cpp/server/app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions","type":"internal_server_error","param":null,"code":null}}"#;

/// A 500 that is not about the schema stays an `Http` error (no fallback loop).
#[tokio::test]
async fn other_500_is_http() {
    let body = r#"{"error":{"message":"llama_decode returned -1","type":"internal_server_error","param":null,"code":null}}"#;
    let (_server, base) = mock(500, "application/json", body, &[]).await;
    match call(&base, None, SchemaMode::JsonSchema).await.unwrap_err() {
        LlmError::Http { status, body, .. } => {
            assert_eq!((status, body.as_str()), (500, "llama_decode returned -1"));
        }
        other => panic!("expected Http, got {other:?}"),
    }
}

/// A server that echoes the key back (as OpenAI's "Incorrect API key provided: …" does): the
/// key is in no error text and no Debug output.
#[tokio::test]
async fn api_key_never_appears_in_errors() {
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
    );
    let (server, base) = mock(401, "application/json", &body, &[]).await;
    let err = call(&base, Some(KEY), SchemaMode::JsonSchema)
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Http { status: 401, .. }), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY), "{text}");
        assert!(
            text.contains("Incorrect API key provided: [redacted]."),
            "{text}"
        );
    }
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        received[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {KEY}")
    );
    // A key echoed inside the stream.
    let stream =
        format!("data: {{\"error\":{{\"message\":\"key {KEY} revoked\",\"code\":403}}}}\n\n");
    let (_server, base) = mock(200, "text/event-stream", &stream, &[]).await;
    let err = call(&base, Some(KEY), SchemaMode::JsonSchema)
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(KEY), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// /models

/// llama-cpp-python's `/v1/models` (`llama_cpp/server/app.py` `get_models`).
#[tokio::test]
async fn list_models_reads_data_ids_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"object":"list","data":[{"id":"qwen2.5-coder:0.5b","object":"model","owned_by":"me","permissions":[]}]}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let models = openai::list_models(&client(), &base, Some(KEY), IDLE)
        .await
        .unwrap();
    assert_eq!(models, vec![MODEL.to_owned()]);
    // Without the key: that server's 401 (FastAPI `HTTPException`, `{"detail": …}`).
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(r#"{"detail":"Invalid API key"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    match openai::list_models(&client(), &base, None, IDLE)
        .await
        .unwrap_err()
    {
        LlmError::Http { status, body, .. } => {
            assert_eq!((status, body.as_str()), (401, "Invalid API key"));
        }
        other => panic!("expected Http, got {other:?}"),
    }
}

#[tokio::test]
async fn list_models_404_is_http_not_model_not_found() {
    let server = MockServer::start().await;
    let base = format!("{}/v1", server.uri());
    assert!(matches!(
        openai::list_models(&client(), &base, None, IDLE)
            .await
            .unwrap_err(),
        LlmError::Http { status: 404, .. }
    ));
}
