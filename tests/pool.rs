//! A pool of hosts (`--host` more than once, `URL#N`), end to end through the binary, against
//! small servers on loopback that imitate Ollama's and an OpenAI-compatible server's answers and
//! record how many requests they had in flight at once.

mod common;
use common::{closed_port_url, takeaways};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A writeup of `n` sections, each different, long enough for one chunk each at
/// `--chunk-tokens 64`.
fn writeup(n: usize) -> String {
    let mut s = String::from("# Platform day\n\n");
    for i in 0..n {
        s.push_str(&format!(
            "## Talk {i}\n\nSpeaker {i} said that team {i} shipped feature {i} with a golden path \
             number {i}, and that reviews of area {i} got faster after they wrote rule {i} down.\n\n"
        ));
    }
    s
}

/// The counters a host keeps.
#[derive(Default)]
struct Seen {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    chats: AtomicUsize,
    busy_left: AtomicUsize,
}

/// Answers a chat after `delay`, quoting the talk number the prompt holds; 503 while
/// `busy_left` is above zero. `openai`: as SSE chat-completion chunks, else Ollama NDJSON.
struct Chat {
    delay: Duration,
    seen: Arc<Seen>,
    openai: bool,
}

/// A different topic word for each talk, so that no two takeaways are near-duplicates.
const TOPICS: &[&str] = &[
    "Kafka consumers lag behind nightly batch jobs",
    "Rust rewrites halve memory use in services",
    "Python typing catches bugs before review",
    "Kubernetes operators need clear owners",
    "Postgres replicas cut reporting load",
    "Wasm plugins sandbox untrusted extensions",
    "Grafana dashboards nobody reads cost money",
    "Terraform modules drift without tests",
    "Redis caches hide slow queries",
    "Flutter apps share code across platforms",
    "Spark clusters idle most weekends",
    "Nginx configs belong in version control",
];

fn answer_for(prompt: &str) -> String {
    // One takeaway per "## Talk N" heading in the prompt.
    let takeaways: Vec<Value> = prompt
        .match_indices("## Talk ")
        .map(|(i, _)| {
            let n: usize = prompt[i + 8..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap();
            let topic = TOPICS[n % TOPICS.len()];
            // Most of the headline's words are in the talk's sentence: the code grounds it there.
            json!({"headline": format!("{topic}: reviews of area {n} got faster after rule {n}"),
                   "importance": 3})
        })
        .collect();
    json!({ "takeaways": takeaways }).to_string()
}

impl Respond for Chat {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let seen = &self.seen;
        if seen
            .busy_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return ResponseTemplate::new(503)
                .insert_header("retry-after", "1")
                .set_body_raw(r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#, "application/json");
        }
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.peak.fetch_max(now, Ordering::SeqCst);
        seen.chats.fetch_add(1, Ordering::SeqCst);
        let s = Arc::clone(seen);
        let delay = self.delay;
        std::thread::spawn(move || {
            // Freed at half the delay: the client holds its slot for the whole delay, so a
            // late wake-up of this thread on a busy machine cannot show a false overlap.
            std::thread::sleep(delay / 2);
            s.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let prompt = body["messages"][1]["content"].as_str().unwrap_or_default();
        let answer = answer_for(prompt);
        // What a tokenizer would count: about a token for every three characters of text.
        let all: usize = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().len())
            .sum();
        if self.openai {
            let chunk = json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": {"content": answer}, "finish_reason": null}]});
            let end = json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": all / 3, "completion_tokens": 30}});
            return ResponseTemplate::new(200).set_delay(delay).set_body_raw(
                format!("data: {chunk}\n\ndata: {end}\n\ndata: [DONE]\n\n"),
                "text/event-stream",
            );
        }
        let first = json!({"message": {"role": "assistant", "content": answer}, "done": false});
        let last = json!({"message": {"role": "assistant", "content": ""}, "done": true,
            "done_reason": "stop", "prompt_eval_count": all / 3, "eval_count": 30,
            "total_duration": 50_000_000u64});
        ResponseTemplate::new(200)
            .set_delay(delay)
            .set_body_raw(format!("{first}\n{last}\n"), "application/x-ndjson")
    }
}

/// An Ollama host answering after `delay`.
async fn ollama(delay: Duration) -> (MockServer, Arc<Seen>) {
    let server = MockServer::start().await;
    common::mount_metadata(&server, json!({"models": []})).await;
    let seen = Arc::new(Seen::default());
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(Chat {
            delay,
            seen: Arc::clone(&seen),
            openai: false,
        })
        .mount(&server)
        .await;
    (server, seen)
}

/// An OpenAI-compatible host (`/v1`) answering after `delay`.
async fn openai(delay: Duration) -> (MockServer, Arc<Seen>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "data": [{"id": "tiny:1b", "object": "model", "owned_by": "me"}]
        })))
        .mount(&server)
        .await;
    let seen = Arc::new(Seen::default());
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(Chat {
            delay,
            seen: Arc::clone(&seen),
            openai: true,
        })
        .mount(&server)
        .await;
    (server, seen)
}

/// `summarize` of [`writeup`]`(sections)` over `hosts`, one chunk per section; Markdown.
async fn summarize(sections: usize, hosts: Vec<String>, extra: &[&str]) -> std::process::Output {
    // The same path every time: it is printed in the summary, which tests compare.
    let dir = std::env::temp_dir().join(format!("takeaways-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("day-{sections}.md"));
    std::fs::write(&file, writeup(sections)).unwrap();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = takeaways();
        cmd.arg("summarize")
            .arg(&file)
            .args(["--model", "tiny:1b", "--no-cache", "-q", "--stats"])
            .args([
                "--strategy",
                "sections",
                "--chunk-tokens",
                "64",
                "--num-ctx",
                "4096",
            ]);
        for h in &hosts {
            cmd.args(["--host", h]);
        }
        cmd.args(&extra)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_host_gets_at_most_its_limit_and_both_are_used() {
    let (a, sa) = ollama(Duration::from_millis(200)).await;
    let (b, sb) = ollama(Duration::from_millis(200)).await;
    let out = summarize(
        12,
        vec![format!("{}#2", a.uri()), format!("{}#3", b.uri())],
        &[],
    )
    .await;
    ok(&out);
    assert!(sa.peak.load(Ordering::SeqCst) <= 2);
    assert!(sb.peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(
        sa.chats.load(Ordering::SeqCst) + sb.chats.load(Ordering::SeqCst),
        12
    );
    assert!(sa.chats.load(Ordering::SeqCst) > 0 && sb.chats.load(Ordering::SeqCst) > 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(ollama, 2 at once)") && err.contains("(ollama, 3 at once)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_host_gets_fewer_chunks() {
    let (fast, sf) = ollama(Duration::from_millis(30)).await;
    let (slow, ss) = ollama(Duration::from_millis(600)).await;
    ok(&summarize(12, vec![fast.uri(), slow.uri()], &[]).await);
    let (f, s) = (
        sf.chats.load(Ordering::SeqCst),
        ss.chats.load(Ordering::SeqCst),
    );
    assert_eq!(f + s, 12);
    assert!(f > s, "fast {f}, slow {s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chunks_of_a_dead_host_finish_elsewhere() {
    let (alive, seen) = ollama(Duration::from_millis(20)).await;
    // The dead host is first: every chunk it would have had goes to the live one.
    let out = summarize(
        6,
        vec![closed_port_url(), alive.uri()],
        &["--parallel", "2"],
    )
    .await;
    ok(&out);
    assert_eq!(seen.chats.load(Ordering::SeqCst), 6);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("taken out (stopped answering)"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_every_host_is_busy_the_run_waits() {
    let (a, sa) = ollama(Duration::from_millis(20)).await;
    let (b, sb) = ollama(Duration::from_millis(20)).await;
    sa.busy_left.store(3, Ordering::SeqCst);
    sb.busy_left.store(3, Ordering::SeqCst);
    let started = std::time::Instant::now();
    ok(&summarize(4, vec![a.uri(), b.uri()], &[]).await);
    assert_eq!(
        sa.chats.load(Ordering::SeqCst) + sb.chats.load(Ordering::SeqCst),
        4
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_host_or_three_give_the_same_summary() {
    let (a, _) = ollama(Duration::from_millis(10)).await;
    let one = ok(&summarize(9, vec![a.uri()], &[]).await);
    let (b, _) = ollama(Duration::from_millis(50)).await;
    let (c, _) = openai(Duration::from_millis(5)).await;
    let three = ok(&summarize(
        9,
        vec![
            a.uri(),
            format!("{}#2", b.uri()),
            format!("{}/v1#3", c.uri()),
        ],
        &[],
    )
    .await);
    assert_eq!(one, three);
    for topic in &TOPICS[..9] {
        assert!(one.contains(topic), "{one}");
    }
}

/// vLLM's answer to a prompt over its context (`serving_engine.py` `_validate_input`): the
/// chunk is split and each half sent again.
struct TooLong {
    seen: Arc<Seen>,
}

impl Respond for TooLong {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let prompt = body["messages"][1]["content"].as_str().unwrap_or_default();
        if prompt.matches("## Talk ").count() > 2 {
            return ResponseTemplate::new(400).set_body_json(json!({
                "object": "error",
                "message": "This model's maximum context length is 512 tokens. However, you requested 900 tokens (400 in the messages, 500 in the completion). Please reduce the length of the messages or completion.",
                "type": "BadRequestError", "param": null, "code": 400}));
        }
        self.seen.chats.fetch_add(1, Ordering::SeqCst);
        Chat {
            delay: Duration::ZERO,
            seen: Arc::new(Seen::default()),
            openai: true,
        }
        .respond(req)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_long_prompt_on_an_openai_server_is_split_again() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "data": [{"id": "tiny:1b", "object": "model"}]
        })))
        .mount(&server)
        .await;
    let seen = Arc::new(Seen::default());
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(TooLong {
            seen: Arc::clone(&seen),
        })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("day.md");
    std::fs::write(&file, writeup(4)).unwrap();
    let uri = format!("{}/v1", server.uri());
    let out = tokio::task::spawn_blocking(move || {
        takeaways()
            .arg("summarize")
            .arg(&file)
            .args([
                "--model",
                "tiny:1b",
                "--no-cache",
                "-q",
                "--strategy",
                "sections",
            ])
            .args(["--num-ctx", "8192", "--host", &uri])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let md = ok(&out);
    assert!(seen.chats.load(Ordering::SeqCst) >= 2, "{md}");
    for topic in &TOPICS[..4] {
        assert!(md.contains(topic), "{md}");
    }
}
