//! Reading Ollama's streamed `/api/chat` answer: NDJSON, one JSON object per `\n`-terminated line
//! (docs/api.md "Streaming responses"; docs/ARCHITECTURE.md, Ollama fact 10).
//!
//! Network chunks are appended to a byte buffer and only complete lines are decoded, so a UTF-8
//! character split across two reads is never decoded half (the bug docs/ARCHITECTURE.md notes in ollama-rs's
//! `send_chat_messages_stream`). Fields are read one by one from a `serde_json::Value`, so a
//! missing or odd counter loses only itself.

use serde_json::Value;

use super::{ChatResponse, LlmError};

/// The message for an answer whose stream ended before the `done: true` line.
pub(crate) const CLOSED_EARLY: &str = "connection closed before the answer was complete";

/// Splits a byte stream into lines at `b'\n'`.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for `\n` (none there).
    scanned: usize,
}

impl LineBuffer {
    /// Appends `chunk` and returns the complete lines now in the buffer, without their `\n`.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(i) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            let end = self.scanned + i;
            let mut line: Vec<u8> = self.buf.drain(..=end).collect();
            line.pop();
            lines.push(line);
            self.scanned = 0;
        }
        self.scanned = self.buf.len();
        lines
    }

    /// What is left after the stream ended (a last line without `\n`), unless it is blank.
    pub(crate) fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.buf);
        self.scanned = 0;
        (!rest.trim_ascii().is_empty()).then_some(rest)
    }
}

/// Accumulates the answer line by line.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    content: String,
}

impl Answer {
    /// Takes one NDJSON line. Returns the whole answer once the line with `done: true` arrives.
    ///
    /// Errors ([`LlmError::Stream`]): a line carrying `error` (its text, even after HTTP 200), a
    /// line that is not a JSON object.
    pub(crate) fn push_line(&mut self, line: &[u8]) -> Result<Option<ChatResponse>, LlmError> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(None);
        }
        let v: Value = serde_json::from_slice(line).map_err(|e| {
            LlmError::Stream(format!(
                "unreadable line in the answer ({e}): {}",
                crate::text::shorten(&String::from_utf8_lossy(line), 200)
            ))
        })?;
        let Some(obj) = v.as_object() else {
            return Err(LlmError::Stream(format!(
                "unexpected line in the answer: {}",
                crate::text::shorten(&v.to_string(), 200)
            )));
        };
        if let Some(err) = obj.get("error").filter(|e| !e.is_null()) {
            return Err(LlmError::Stream(match err {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
        if let Some(piece) = obj
            .get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
        {
            self.content.push_str(piece);
        }
        if obj.get("done").and_then(Value::as_bool) != Some(true) {
            return Ok(None);
        }
        let count = |k: &str| obj.get(k).and_then(Value::as_u64);
        Ok(Some(ChatResponse {
            content: std::mem::take(&mut self.content),
            done_reason: obj
                .get("done_reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
            prompt_eval_count: count("prompt_eval_count"),
            eval_count: count("eval_count"),
            total_duration: count("total_duration"),
            prompt_eval_duration: count("prompt_eval_duration"),
            eval_duration: count("eval_duration"),
        }))
    }
}

/// A whole streamed answer: the network reads go in one by one, split into lines
/// ([`LineBuffer`]) and accumulated ([`Answer`]); the client (`ollama.rs`) adds the idle timeout
/// around each read.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    lines: LineBuffer,
    answer: Answer,
}

impl Reader {
    /// Takes one network read. Returns the whole answer once its `done: true` line is in (what
    /// follows it is ignored). Errors as [`Answer::push_line`].
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Option<ChatResponse>, LlmError> {
        for line in self.lines.push(chunk) {
            if let Some(done) = self.answer.push_line(&line)? {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    /// The stream ended: a last line without `\n` may still finish the answer; else it is
    /// [`LlmError::Stream`] ([`CLOSED_EARLY`]).
    pub(crate) fn finish(mut self) -> Result<ChatResponse, LlmError> {
        if let Some(last) = self.lines.finish() {
            if let Some(done) = self.answer.push_line(&last)? {
                return Ok(done);
            }
        }
        Err(LlmError::Stream(CLOSED_EARLY.to_owned()))
    }
}

/// Reads a streamed `/api/chat` answer from `chunks` (the network reads, in order) exactly as the
/// client does, without the network: for the fuzz target (`fuzz/`, README "Fuzzing").
#[doc(hidden)]
pub fn read_ndjson<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<ChatResponse, LlmError> {
    let mut reader = Reader::default();
    for chunk in chunks {
        if let Some(done) = reader.push(chunk)? {
            return Ok(done);
        }
    }
    reader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_pushes_and_utf8_halves() {
        let mut b = LineBuffer::default();
        let text = "{\"a\":\"é\"}\n".as_bytes();
        // Split inside the two-byte 'é'.
        let cut = text.iter().position(|&b| b == 0xC3).unwrap() + 1;
        assert!(b.push(&text[..cut]).is_empty());
        let lines = b.push(&text[cut..]);
        assert_eq!(lines, vec![b"{\"a\":\"\xC3\xA9\"}".to_vec()]);
        assert_eq!(b.finish(), None);
    }

    #[test]
    fn several_lines_in_one_push_and_a_tail() {
        let mut b = LineBuffer::default();
        let lines = b.push(b"one\ntwo\nthr");
        assert_eq!(lines, vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(b.push(b"ee").is_empty());
        assert_eq!(b.finish(), Some(b"three".to_vec()));
    }

    #[test]
    fn answer_collects_content_and_counters() {
        let mut a = Answer::default();
        assert!(a
            .push_line(br#"{"message":{"role":"assistant","content":"Hel"},"done":false}"#)
            .unwrap()
            .is_none());
        assert!(a.push_line(b"  \r").unwrap().is_none());
        let done = a
            .push_line(
                br#"{"message":{"content":"lo"},"done":true,"done_reason":"stop","eval_count":7}"#,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            done,
            ChatResponse {
                content: "Hello".into(),
                done_reason: Some("stop".into()),
                eval_count: Some(7),
                ..Default::default()
            }
        );
    }

    #[test]
    fn error_line_and_garbage_are_errors() {
        let mut a = Answer::default();
        match a.push_line(br#"{"error":"out of memory"}"#) {
            Err(LlmError::Stream(s)) => assert_eq!(s, "out of memory"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(a.push_line(b"not json"), Err(LlmError::Stream(_))));
    }
}
