//! Recordings of model exchanges (`--record DIR` writes them, `--replay DIR` answers from them).
//!
//! Files in `DIR`, all pretty-printed JSON, written atomically (a temporary file in `DIR`, then a
//! rename), so an interrupted run never leaves half a file:
//!
//! - `<key>.json`: `{"request": <chat_body>, "response": <ChatResponse>}` for one `/api/chat`
//!   call; `<key>` is [`super::request_key`].
//! - `show-<model>.json`: `{"context_length": N}` or `{"context_length": null}`, the answer of
//!   [`super::Llm::model_context_length`]; `<model>` is the model name with every character other
//!   than ASCII letters, digits, `.`, `_` and `-` replaced by `_` (`llama3.2:3b` → `llama3.2_3b`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ChatResponse, LlmError};

#[derive(serde::Serialize, serde::Deserialize)]
struct ChatRecording {
    request: Value,
    response: ChatResponse,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ShowRecording {
    context_length: Option<u32>,
}

/// File stem of the `/api/show` recording for `model`.
pub(crate) fn show_stem(model: &str) -> String {
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("show-{safe}")
}

/// Reads the recorded answer for `key`; `body` is the request it must have been recorded for.
///
/// Missing file → [`LlmError::NotRecorded`]; unreadable, not JSON of the right shape, or recorded
/// for a different request body → [`LlmError::Recording`].
pub(crate) fn read_chat(dir: &Path, key: &str, body: &Value) -> Result<ChatResponse, LlmError> {
    let path = dir.join(format!("{key}.json"));
    let rec: ChatRecording = read_json(dir, key, &path)?;
    if rec.request != *body {
        return Err(LlmError::Recording {
            path,
            detail: "the recorded request differs from this request (file edited or renamed?)"
                .into(),
        });
    }
    Ok(rec.response)
}

/// Writes the answer for `key` (see the module docs for the shape).
pub(crate) fn write_chat(
    dir: &Path,
    key: &str,
    body: &Value,
    response: &ChatResponse,
) -> Result<(), LlmError> {
    let rec = ChatRecording {
        request: body.clone(),
        response: response.clone(),
    };
    write_atomic(dir, &dir.join(format!("{key}.json")), &rec)
}

/// Reads the recorded context length of `model`; missing → [`LlmError::NotRecorded`] with the
/// key `show-<model>`.
pub(crate) fn read_show(dir: &Path, model: &str) -> Result<Option<u32>, LlmError> {
    let stem = show_stem(model);
    let path = dir.join(format!("{stem}.json"));
    let rec: ShowRecording = read_json(dir, &stem, &path)?;
    Ok(rec.context_length)
}

/// Writes the context length of `model`.
pub(crate) fn write_show(
    dir: &Path,
    model: &str,
    context_length: Option<u32>,
) -> Result<(), LlmError> {
    let path = dir.join(format!("{}.json", show_stem(model)));
    write_atomic(dir, &path, &ShowRecording { context_length })
}

fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    key: &str,
    path: &Path,
) -> Result<T, LlmError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LlmError::NotRecorded {
                dir: dir.to_path_buf(),
                key: key.to_owned(),
            })
        }
        Err(e) => return Err(recording_error(path, e)),
    };
    serde_json::from_slice(&bytes).map_err(|e| recording_error(path, e))
}

fn write_atomic<T: serde::Serialize>(dir: &Path, path: &Path, value: &T) -> Result<(), LlmError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| recording_error(path, e))?;
    text.push('\n');
    std::fs::create_dir_all(dir).map_err(|e| recording_error(dir, e))?;
    crate::atomic::write(path, text.as_bytes()).map_err(|e| recording_error(path, e))
}

fn recording_error(path: &Path, e: impl std::fmt::Display) -> LlmError {
    LlmError::Recording {
        path: PathBuf::from(path),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stem_is_file_safe() {
        assert_eq!(show_stem("llama3.2:3b"), "show-llama3.2_3b");
        assert_eq!(show_stem("hf.co/org/m:Q4_K_M"), "show-hf.co_org_m_Q4_K_M");
    }
}
