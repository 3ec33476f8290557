//! Reading a streamed chat completion: server-sent events (the WHATWG HTML "Server-sent events"
//! event-stream format) carrying `chat.completion.chunk` objects, ended by `data: [DONE]`.
//!
//! [`SseParser`] works on bytes: network chunks are appended to a buffer and only complete lines
//! are decoded, so a UTF-8 character or an event split across reads is never decoded half. Lines
//! end with `\n`, `\r\n` or a lone `\r` (a `\r` at the end of a read waits for the next one).
//! What the engines send, all handled:
//!
//! - llama-server: `data: {json}\n\n` per chunk and `data: [DONE]\n\n`
//!   (`tools/server/server-common.cpp` `format_oai_sse`; `server-context.cpp` streams them);
//! - vLLM, SGLang: `data: {json}\n\n`, an error as `data: {"error": {…}}\n\n` followed by
//!   `data: [DONE]\n\n`;
//! - llama-cpp-python: sse-starlette with `sep="\n"` (`llama_cpp/server/app.py`), so
//!   `data: {json}\n\n`, and `: ping - <time>` comment lines every 15 s;
//! - TGI: axum's `Event` writes `data:{json}\n\n` with no space after the colon, and `:\n\n`
//!   keep-alive comments (`router/src/server.rs` `chat_completions`);
//! - older llama-server sent a mid-stream error as an `error: {json}` line (a field the SSE
//!   format does not define); it is read as an error event here, like `event: error`.
//!
//! [`Completion`] turns events into the answer: `choices[0].delta.content` pieces are joined,
//! `choices[0].finish_reason` and the `usage` object (the last chunk when
//! `stream_options.include_usage` is set; `choices` is `[]` there) are kept, and llama-server's
//! `timings` become durations.

use serde_json::Value;

use super::super::ChatResponse;
use super::errors::{error_message, event_status};

/// One dispatched event: its `event` type (when given) and its `data` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// `event:` field, or `error` for a legacy `error:` line.
    pub event: Option<String>,
    /// The data.
    pub data: String,
}

/// Splits a byte stream into SSE events.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
}

impl SseParser {
    /// Appends `chunk` and returns the events completed by it.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        if !self.started {
            // A UTF-8 BOM at the very start of the stream is dropped (the format says so).
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                return Vec::new();
            }
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            self.started = true;
        }
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(i) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + i;
            let next = match self.buf[end] {
                b'\r' if end + 1 == self.buf.len() => break, // maybe half of a `\r\n`
                b'\r' if self.buf[end + 1] == b'\n' => end + 2,
                _ => end + 1,
            };
            let line = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
            if let Some(ev) = self.line(&line) {
                events.push(ev);
            }
            start = next;
        }
        self.buf.drain(..start);
        events
    }

    /// At the end of the stream: the last line without a terminator, and an event that was not
    /// closed by a blank line (dispatched anyway: some servers end with `data: [DONE]\n`).
    pub(crate) fn finish(&mut self) -> Option<Event> {
        let rest = std::mem::take(&mut self.buf);
        let rest = String::from_utf8_lossy(&rest);
        let rest = rest.trim_end_matches(['\r', '\n']);
        if !rest.is_empty() {
            // Not a blank line (`rest` has no line break left), so it dispatches nothing.
            self.line(rest);
        }
        self.line("")
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let event = self.event.take();
            if !std::mem::take(&mut self.has_data) {
                return None;
            }
            let mut data = std::mem::take(&mut self.data);
            data.pop(); // the `\n` after the last data line
            return Some(Event { event, data });
        }
        if line.starts_with(':') {
            return None; // comment (keep-alive, ping)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.push_data(value),
            "error" => {
                self.event = Some("error".to_owned());
                self.push_data(value);
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {} // `id`, `retry`, unknown fields
        }
        None
    }

    fn push_data(&mut self, value: &str) {
        self.data.push_str(value);
        self.data.push('\n');
        self.has_data = true;
    }
}

/// What an event did to the answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    More,
    /// `data: [DONE]`: the stream is over.
    Done,
}

/// Why an event stopped the answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The server reported an error inside the stream: its JSON (or text), the status it claims
    /// (0 when none) and its message.
    Server {
        /// The event's data.
        raw: String,
        /// `error.code` / `error.http_status_code`, or 0.
        status: u16,
        /// The error text.
        message: String,
    },
    /// An event that is not JSON, or not an object.
    Unreadable(String),
}

/// The answer so far.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    content: String,
    finish_reason: Option<String>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_ms: Option<f64>,
    predicted_ms: Option<f64>,
}

impl Completion {
    /// Takes one event.
    pub(crate) fn push(&mut self, ev: &Event) -> Result<Step, Fault> {
        if ev.event.as_deref() == Some("error") {
            let v: Option<Value> = serde_json::from_str(&ev.data).ok();
            return Err(Fault::Server {
                status: v.as_ref().and_then(event_status).unwrap_or(0),
                message: v
                    .as_ref()
                    .and_then(error_message)
                    .unwrap_or_else(|| ev.data.trim().to_owned()),
                raw: ev.data.clone(),
            });
        }
        if ev.data.trim() == "[DONE]" {
            return Ok(Step::Done);
        }
        let v: Value = serde_json::from_str(&ev.data).map_err(|e| {
            Fault::Unreadable(format!(
                "unreadable event in the answer ({e}): {}",
                crate::text::shorten(&ev.data, 200)
            ))
        })?;
        self.push_value(&v, &ev.data)
    }

    /// Takes one parsed chunk (or a whole non-streamed `chat.completion` object).
    pub(crate) fn push_value(&mut self, v: &Value, raw: &str) -> Result<Step, Fault> {
        let Some(obj) = v.as_object() else {
            return Err(Fault::Unreadable(format!(
                "unexpected event in the answer: {}",
                crate::text::shorten(raw, 200)
            )));
        };
        if obj.get("error").is_some_and(|e| !e.is_null()) {
            return Err(Fault::Server {
                status: event_status(v).unwrap_or(0),
                message: error_message(v).unwrap_or_default(),
                raw: raw.to_owned(),
            });
        }
        let choice = obj.get("choices").and_then(Value::as_array).and_then(|cs| {
            cs.iter()
                .find(|c| c.get("index").and_then(Value::as_u64) == Some(0))
                .or_else(|| cs.first())
        });
        if let Some(choice) = choice {
            // `delta` in a stream, `message` in a whole (non-streamed) answer.
            for key in ["delta", "message"] {
                if let Some(piece) = choice
                    .get(key)
                    .and_then(|d| d.get("content"))
                    .and_then(Value::as_str)
                {
                    self.content.push_str(piece);
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_owned());
            }
        }
        if let Some(usage) = obj.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| usage.get(k).and_then(Value::as_u64);
            self.prompt_tokens = n("prompt_tokens").or(self.prompt_tokens);
            self.completion_tokens = n("completion_tokens").or(self.completion_tokens);
        }
        if let Some(t) = obj.get("timings").filter(|t| t.is_object()) {
            let ms = |k: &str| t.get(k).and_then(Value::as_f64).filter(|x| *x >= 0.0);
            self.prompt_ms = ms("prompt_ms").or(self.prompt_ms);
            self.predicted_ms = ms("predicted_ms").or(self.predicted_ms);
        }
        Ok(Step::More)
    }

    /// Whether a `finish_reason` was seen (the answer is complete, whatever follows).
    pub(crate) fn finished(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// The answer. `done_reason` is the `finish_reason` as sent (`stop`, `length`, …);
    /// `prompt_eval_count`/`eval_count` are `usage.prompt_tokens`/`completion_tokens`; the
    /// durations (ns) come from llama-server's `timings` (`prompt_ms`, `predicted_ms`;
    /// `total_duration` is their sum, without model load time), else `None`.
    pub(crate) fn into_response(self) -> ChatResponse {
        let ns = |ms: f64| (ms * 1e6).round() as u64;
        ChatResponse {
            content: self.content,
            done_reason: self.finish_reason,
            prompt_eval_count: self.prompt_tokens,
            eval_count: self.completion_tokens,
            total_duration: match (self.prompt_ms, self.predicted_ms) {
                (Some(p), Some(g)) => Some(ns(p + g)),
                _ => None,
            },
            prompt_eval_duration: self.prompt_ms.map(ns),
            eval_duration: self.predicted_ms.map(ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> Event {
        Event {
            event: None,
            data: s.to_owned(),
        }
    }

    #[test]
    fn events_split_anywhere_and_utf8_halves() {
        let text = "data: {\"a\":\"é\"}\n\ndata: [DONE]\n\n".as_bytes();
        for cut in 0..text.len() {
            let mut p = SseParser::default();
            let mut evs = p.push(&text[..cut]);
            evs.extend(p.push(&text[cut..]));
            assert_eq!(
                evs,
                vec![data("{\"a\":\"é\"}"), data("[DONE]")],
                "cut {cut}"
            );
            assert_eq!(p.finish(), None);
        }
    }

    #[test]
    fn crlf_lone_cr_comments_multiline_and_no_space() {
        let mut p = SseParser::default();
        let evs = p.push(b": ping - 2025-01-01 00:00:00\r\n\r\ndata:x\rdata: y\r");
        assert!(evs.is_empty(), "{evs:?}");
        let evs = p.push(b"\r\nevent: error\ndata: z\n\nid: 3\nretry: 5\n\n");
        assert_eq!(
            evs,
            vec![
                data("x\ny"),
                Event {
                    event: Some("error".into()),
                    data: "z".into()
                }
            ]
        );
    }

    #[test]
    fn bom_legacy_error_line_and_unterminated_tail() {
        let mut p = SseParser::default();
        assert!(p.push(b"\xEF\xBB").is_empty());
        assert_eq!(p.push(b"\xBFdata: 1\n\n"), vec![data("1")]);
        assert_eq!(
            p.push(b"error: {\"message\":\"x\"}\n\n"),
            vec![Event {
                event: Some("error".into()),
                data: "{\"message\":\"x\"}".into()
            }]
        );
        assert!(p.push(b"data: [DONE]").is_empty());
        assert_eq!(p.finish(), Some(data("[DONE]")));
    }

    #[test]
    fn completion_joins_deltas_and_keeps_usage_and_timings() {
        let mut c = Completion::default();
        for ev in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13},"timings":{"prompt_ms":1.5,"predicted_ms":2.25}}"#,
        ] {
            assert_eq!(c.push(&data(ev)), Ok(Step::More));
        }
        assert!(c.finished());
        assert_eq!(c.push(&data("[DONE]")), Ok(Step::Done));
        assert_eq!(
            c.into_response(),
            ChatResponse {
                content: "Hello".into(),
                done_reason: Some("length".into()),
                prompt_eval_count: Some(11),
                eval_count: Some(2),
                total_duration: Some(3_750_000),
                prompt_eval_duration: Some(1_500_000),
                eval_duration: Some(2_250_000),
            }
        );
    }

    #[test]
    fn error_events_and_garbage() {
        let mut c = Completion::default();
        let ev = data(r#"{"error":{"message":"boom","type":"BadRequestError","code":400}}"#);
        assert!(
            matches!(c.push(&ev), Err(Fault::Server { status: 400, ref message, .. }) if message == "boom")
        );
        let tgi = data(r#"{"error":{"message":"x","http_status_code":422}}"#);
        assert!(matches!(
            c.push(&tgi),
            Err(Fault::Server { status: 422, .. })
        ));
        assert!(matches!(c.push(&data("nope")), Err(Fault::Unreadable(_))));
        assert!(matches!(c.push(&data("[1]")), Err(Fault::Unreadable(_))));
    }
}
