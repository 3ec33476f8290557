//! A busy server is not a failure: a server that takes 2 requests at once and answers 503
//! "server busy" above that (what Ollama does past `OLLAMA_MAX_QUEUE`, and a router in front of
//! full replicas) still gets every report of a `batch --jobs 8` done, through retries with
//! backoff and jitter.

mod common;
use common::takeaways;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers `/api/chat` with a valid extract answer after `delay`, or 503 when `limit` answers
/// are already in flight. Records the busy answers and the most requests seen at once.
struct Busy {
    limit: usize,
    delay: Duration,
    in_flight: Arc<AtomicUsize>,
    busy: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Respond for Busy {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        if now > self.limit {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.busy.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(503).set_body_raw(
                r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#,
                "application/json",
            );
        }
        self.peak.fetch_max(now, Ordering::SeqCst);
        // The answer is sent after `delay`; the slot frees then.
        let in_flight = Arc::clone(&self.in_flight);
        let delay = self.delay;
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
        let answer = json!({"takeaways": [{
            "headline": "Golden paths beat mandates for platform adoption",
            "quote": "a golden path is the easiest way to ship",
            "importance": 4
        }]})
        .to_string();
        let first = json!({"message": {"role": "assistant", "content": answer}, "done": false});
        let last = json!({"message": {"role": "assistant", "content": ""}, "done": true,
            "done_reason": "stop", "prompt_eval_count": 200, "eval_count": 30,
            "total_duration": 100_000_000u64});
        ResponseTemplate::new(200)
            .set_delay(delay)
            .set_body_raw(format!("{first}\n{last}\n"), "application/x-ndjson")
    }
}

/// A stub Ollama: `/api/show`, `/api/tags`, and a `/api/chat` that takes `limit` requests at
/// once ([`Busy`]). Returns the server and its busy and peak counters.
async fn busy_server(limit: usize) -> (MockServer, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    common::mount_metadata(&server, json!({"models": []})).await;
    let (busy, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(Busy {
            limit,
            delay: Duration::from_millis(300),
            in_flight: Arc::new(AtomicUsize::new(0)),
            busy: Arc::clone(&busy),
            peak: Arc::clone(&peak),
        })
        .mount(&server)
        .await;
    (server, busy, peak)
}

/// `n` small reports in `dir/reports`.
fn reports(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let input = dir.join("reports");
    std::fs::create_dir(&input).unwrap();
    for i in 0..n {
        std::fs::write(
            input.join(format!("report-{i:02}.md")),
            format!(
                "# Platform day {i}\n\nWhat worked was a golden path: a golden path is the easiest \
                 way to ship, with every escape hatch documented. Adoption went up in report {i}.\n"
            ),
        )
        .unwrap();
    }
    input
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_finishes_every_report_against_a_server_that_is_busy_above_two_requests() {
    let (server, busy, peak) = busy_server(2).await;
    let dir = tempfile::tempdir().unwrap();
    let input = reports(dir.path(), 10);
    let out = dir.path().join("out");
    let uri = server.uri();
    let result = tokio::task::spawn_blocking(move || {
        takeaways()
            .arg("batch")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            // Told the server takes 8 at once, where it takes 2: the busy answers must be
            // retried until every report is done.
            .args([
                "--jobs",
                "8",
                "--parallel",
                "8",
                "--model",
                "tiny:1b",
                "--no-cache",
                "--quiet",
            ])
            .args(["--host", &uri])
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let summaries = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("report-")
        })
        .count();
    assert_eq!(summaries, 10, "{stderr}");
    assert!(
        busy.load(Ordering::SeqCst) > 0,
        "the test must make the server busy at least once"
    );
    assert!(peak.load(Ordering::SeqCst) <= 2);
}

/// Told the truth (`--parallel 2`), the pool never sends the server more than it takes: no busy
/// answer at all.
#[tokio::test(flavor = "multi_thread")]
async fn the_pool_limit_keeps_a_server_from_being_busy() {
    let (server, busy, peak) = busy_server(2).await;
    let dir = tempfile::tempdir().unwrap();
    let input = reports(dir.path(), 6);
    let out = dir.path().join("out");
    let uri = server.uri();
    let result = tokio::task::spawn_blocking(move || {
        takeaways()
            .arg("batch")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args([
                "--jobs",
                "8",
                "--parallel",
                "2",
                "--model",
                "tiny:1b",
                "--no-cache",
                "-q",
            ])
            .args(["--host", &uri])
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(busy.load(Ordering::SeqCst), 0);
    assert_eq!(peak.load(Ordering::SeqCst), 2, "both slots were used");
}
