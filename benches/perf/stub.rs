//! A stand-in Ollama server for benchmarks: a small HTTP/1.1 server on 127.0.0.1 that answers
//! at once, so that what a run measures against it is the time spent outside model calls.
//!
//! - `POST /api/show`: a llama model with an 8192-token context;
//! - `GET /api/tags`: no models (so nothing is cached: every call reaches the server);
//! - `POST /api/chat`: one NDJSON line with `done: true`. For the final pass (its schema asks for
//!   `"order"`) the order 1..=10; for a chunk, exactly the number of takeaways its `format`
//!   asks for (`minItems`): first one that every chunk shares ([`SHARED_HEADLINE`], its words
//!   are in every generated section), then one per `## ` heading of the chunk (its heading as
//!   the headline), each with a quote of the first words of a paragraph of the chunk (copied,
//!   so it is found and the takeaway grounded).

use std::net::SocketAddr;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The takeaway every chunk answers: its words are in the generator's vocabulary.
pub const SHARED_HEADLINE: &str = "Small reversible changes kept every rollout boring";

/// A running stub; it stops with the process.
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// Starts the stub on its own thread and runtime.
pub fn start() -> Stub {
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("stub runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            loop {
                let (sock, _) = listener.accept().await.expect("accept");
                sock.set_nodelay(true).expect("nodelay");
                tokio::spawn(serve(sock));
            }
        });
    });
    let addr = rx.recv().expect("stub address");
    Stub {
        url: format!("http://{addr}"),
    }
}

/// Serves the requests of one keep-alive connection.
async fn serve(sock: TcpStream) {
    let mut reader = BufReader::new(sock);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (kind, answer) = match (method, path) {
            ("POST", "/api/show") => (
                "application/json",
                json!({"model_info": {"general.architecture": "llama", "llama.context_length": 8192}})
                    .to_string(),
            ),
            ("GET", "/api/tags") => ("application/json", json!({"models": []}).to_string()),
            ("POST", "/api/chat") => ("application/x-ndjson", chat(&body)),
            _ => ("application/json", "{}".to_string()),
        };
        // One write: a head and a body in two small writes meet delayed ACKs (40 ms a call).
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if reader
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The NDJSON answer to a chat request.
fn chat(body: &[u8]) -> String {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let wants_order = request["format"]["properties"].get("order").is_some();
    let content = if wants_order {
        json!({"order": (1..=10).collect::<Vec<u32>>()}).to_string()
    } else {
        let prompt = request["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or("");
        let count = request["format"]["properties"]["takeaways"]["minItems"]
            .as_u64()
            .unwrap_or(1)
            .max(1) as usize;
        extract_answer(prompt, count)
    };
    let line = json!({
        "model": "stub", "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": true, "done_reason": "stop", "total_duration": 0u64,
    });
    format!("{line}\n")
}

/// The chunk of a map-step prompt: the lines between its two fence lines (the last user
/// message ends with the chunk between lines of three or more backticks).
fn chunk_of(prompt: &str) -> Vec<&str> {
    let lines: Vec<&str> = prompt.lines().collect();
    let is_fence = |l: &str| l.len() >= 3 && l.chars().all(|c| c == '`');
    let Some(open) = lines.iter().position(|l| is_fence(l)) else {
        return lines;
    };
    let close = lines
        .iter()
        .rposition(|l| is_fence(l))
        .filter(|&c| c > open)
        .unwrap_or(lines.len());
    lines[open + 1..close].to_vec()
}

/// The first words of `line`, at most 60 characters in all (the schema's cap on a quote).
fn quote_of(line: &str) -> String {
    let mut out = String::new();
    for word in line.split_whitespace().take(8) {
        if out.len() + word.len() + 1 > 60 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `count` takeaways for the chunk of `prompt` (see the module's documentation).
fn extract_answer(prompt: &str, count: usize) -> String {
    let lines = chunk_of(prompt);
    let prose = |l: &&&str| l.len() > 40 && !l.starts_with(['#', '|', '-', '`', '*']);
    let first_prose = lines.iter().find(prose).copied().unwrap_or("");
    let mut takeaways = vec![json!({
        "headline": SHARED_HEADLINE,
        "quote": quote_of(first_prose),
        "importance": 3,
    })];
    for (i, line) in lines.iter().enumerate() {
        let Some(heading) = line.strip_prefix("## ") else {
            continue;
        };
        let headline: String = heading.chars().take(100).collect();
        let after = lines[i + 1..].iter().find(prose).copied().unwrap_or("");
        takeaways.push(json!({
            "headline": headline,
            "quote": quote_of(after),
            "importance": 4,
        }));
    }
    // Exactly the number asked: the last one repeated, or the list cut.
    while takeaways.len() < count {
        let last = takeaways[takeaways.len() - 1].clone();
        takeaways.push(last);
    }
    takeaways.truncate(count);
    json!({ "takeaways": takeaways }).to_string()
}
