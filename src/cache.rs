//! A content-addressed cache of model answers, so that a second identical run makes no model call.
//!
//! One file per answer, under `<dir>/chat-v<N>/<first two hex digits>/<key>.json`, where `<N>` is
//! [`CACHE_FORMAT_VERSION`] and `<key>` is [`entry_key`]: the blake3 hex of the canonical JSON of
//! everything that changes the answer:
//!
//! - the cache format version;
//! - the model name and its digest (from Ollama's `/api/tags`: a re-pulled or re-created model
//!   under the same name gets a new digest, so old answers are not reused);
//! - the whole request body the caller sends (for Ollama, `llm::chat_body`: messages, `format`
//!   schema, `options` (`num_ctx`, `num_predict`, `temperature`, `seed`, `repeat_penalty`),
//!   `think`, `truncate`, `shift`).
//!
//! An entry is pretty JSON `{"format": N, "key": "…", "model": "…", "digest": "…", "response":
//! <answer>}`; the answer type is the caller's (any serde type), so this module knows nothing of
//! the model client above it. It is written with [`crate::atomic::write`], so an interrupted run
//! leaves no half entry. An entry that cannot be read, is not JSON of that shape, or names
//! another key or version is treated as missing ([`Lookup::Corrupt`]) and is overwritten by the
//! next live answer: a broken cache is never fatal.
//!
//! The directory: `$TAKEAWAYS_CACHE_DIR` when set, else the platform cache directory
//! (`directories::ProjectDirs::from("", "", "takeaways").cache_dir()`, e.g.
//! `~/.cache/takeaways` on Linux, `~/Library/Caches/takeaways` on macOS).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Version of the entry format and key recipe; bumping it makes every old entry a miss (old
/// entries stay in `chat-v<old>/` until `takeaways cache clear`). Version 2: only answers that
/// passed validation are stored (version 1 also kept invalid ones, which every rerun then
/// failed on).
pub const CACHE_FORMAT_VERSION: u32 = 2;

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "TAKEAWAYS_CACHE_DIR";

/// Where the cache directory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirSource {
    /// `$TAKEAWAYS_CACHE_DIR`.
    Env,
    /// The platform cache directory.
    Platform,
}

impl std::fmt::Display for DirSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirSource::Env => write!(f, "from {CACHE_DIR_ENV}"),
            DirSource::Platform => write!(f, "platform default"),
        }
    }
}

/// The cache directory to use and where it comes from: `$TAKEAWAYS_CACHE_DIR` (when set and not
/// empty), else the platform cache directory; `None` when neither is known (no home directory).
pub fn default_dir() -> Option<(PathBuf, DirSource)> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some((PathBuf::from(dir), DirSource::Env));
    }
    directories::ProjectDirs::from("", "", "takeaways")
        .map(|p| (p.cache_dir().to_path_buf(), DirSource::Platform))
}

/// The key of the entry for a `/api/chat` body sent to `model` whose digest is `digest` (see the
/// module docs): 64 lowercase hex digits.
pub fn entry_key(model: &str, digest: &str, body: &Value) -> String {
    let keyed = json!({
        "cache_format": CACHE_FORMAT_VERSION,
        "model": model,
        "digest": digest,
        "request": body,
    });
    blake3::hash(canonical_json(&keyed).as_bytes())
        .to_hex()
        .to_string()
}

/// Compact JSON with object keys sorted (byte order) at every level: the same text for the same
/// value whatever the key order, so it can be hashed into a key (cache entries, recordings).
///
/// The sort is done here, not left to `serde_json::Map`: ollama-rs turns on serde_json's
/// `preserve_order` feature, so a `Map` keeps insertion order in this build (and feature
/// unification can differ between the binary and test builds).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The result of [`Cache::get`].
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    /// The stored answer.
    Hit(T),
    /// No entry.
    Miss,
    /// An entry that cannot be used (the reason); it is replaced by the next [`Cache::put`].
    Corrupt(String),
}

/// Size of the cache, from [`Cache::info`] (or what [`Cache::clear`] removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheInfo {
    /// Answer files (`*.json`).
    pub entries: u64,
    /// Bytes of all files in the cache's subdirectories (entries and stray temporary files).
    pub bytes: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry<T> {
    format: u32,
    key: String,
    model: String,
    digest: String,
    response: T,
}

/// A cache rooted at one directory (created on the first write).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir`. Nothing is touched until a read or write.
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry `key`.
    pub fn entry_path(&self, key: &str) -> PathBuf {
        let prefix = key.get(..2).unwrap_or("__");
        self.dir
            .join(format!("chat-v{CACHE_FORMAT_VERSION}"))
            .join(prefix)
            .join(format!("{key}.json"))
    }

    /// The stored answer for `key`. Never an error: an unreadable entry is [`Lookup::Corrupt`].
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Lookup<T> {
        let path = self.entry_path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Corrupt(format!("{}: {e}", path.display())),
        };
        match serde_json::from_slice::<Entry<T>>(&bytes) {
            Ok(entry) if entry.format == CACHE_FORMAT_VERSION && entry.key == key => {
                Lookup::Hit(entry.response)
            }
            Ok(_) => Lookup::Corrupt(format!(
                "{}: written for another key or format",
                path.display()
            )),
            Err(e) => Lookup::Corrupt(format!("{}: {e}", path.display())),
        }
    }

    /// Stores `response` under `key` ([`crate::atomic::write`]), replacing any entry there.
    /// Callers store only answers that passed their checks: a bad answer must not be replayed
    /// to every later run.
    ///
    /// Errors: the directory cannot be created or written (callers ignore it: the cache is an
    /// optimisation).
    pub fn put<T: Serialize>(
        &self,
        key: &str,
        model: &str,
        digest: &str,
        response: &T,
    ) -> std::io::Result<()> {
        let path = self.entry_path(key);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let entry = Entry {
            format: CACHE_FORMAT_VERSION,
            key: key.to_owned(),
            model: model.to_owned(),
            digest: digest.to_owned(),
            response,
        };
        let mut text = serde_json::to_string_pretty(&entry).map_err(std::io::Error::other)?;
        text.push('\n');
        crate::atomic::write(&path, text.as_bytes())
    }

    /// Counts entries and bytes. A missing directory is an empty cache.
    pub fn info(&self) -> std::io::Result<CacheInfo> {
        let mut info = CacheInfo::default();
        for sub in self.version_dirs()? {
            for entry in walkdir::WalkDir::new(&sub) {
                let entry = entry.map_err(std::io::Error::other)?;
                if !entry.file_type().is_file() {
                    continue;
                }
                info.bytes += entry.metadata().map_err(std::io::Error::other)?.len();
                if entry.path().extension().is_some_and(|e| e == "json") {
                    info.entries += 1;
                }
            }
        }
        Ok(info)
    }

    /// Deletes every entry (of every format version) and returns what was removed. Files in the
    /// root directory that the cache did not create are left alone.
    pub fn clear(&self) -> std::io::Result<CacheInfo> {
        let removed = self.info()?;
        for sub in self.version_dirs()? {
            std::fs::remove_dir_all(&sub)?;
        }
        Ok(removed)
    }

    /// The `chat-v*` subdirectories.
    fn version_dirs(&self) -> std::io::Result<Vec<PathBuf>> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in read {
            let entry = entry?;
            let name = entry.file_name();
            if entry.file_type()?.is_dir() && name.to_string_lossy().starts_with("chat-v") {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Value {
        json!({"content": text, "done_reason": "stop", "eval_count": 3})
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"d": [ {"z": 1, "y": 2} ], "c": "x"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"x","d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn key_changes_with_every_input() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let base = entry_key("m", "d1", &body);
        assert_eq!(base.len(), 64);
        assert_eq!(base, entry_key("m", "d1", &body));
        assert_ne!(base, entry_key("m", "d2", &body));
        assert_ne!(base, entry_key("m2", "d1", &body));
        let other = json!({"model": "m", "messages": [{"role": "user", "content": "hi!"}]});
        assert_ne!(base, entry_key("m", "d1", &other));
        // Key order in the body does not matter (canonical JSON).
        let reordered = json!({"messages": [{"content": "hi", "role": "user"}], "model": "m"});
        assert_eq!(base, entry_key("m", "d1", &reordered));
    }

    #[test]
    fn put_get_info_clear() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        assert_eq!(cache.info().unwrap(), CacheInfo::default());
        let key = entry_key("m", "d", &json!({}));
        assert_eq!(cache.get::<Value>(&key), Lookup::Miss);
        cache.put(&key, "m", "d", &answer("one")).unwrap();
        assert_eq!(cache.get(&key), Lookup::Hit(answer("one")));
        let info = cache.info().unwrap();
        assert_eq!(info.entries, 1);
        assert_eq!(
            info.bytes,
            std::fs::metadata(cache.entry_path(&key)).unwrap().len()
        );
        // A file of the user's in the root survives `clear`.
        std::fs::write(dir.path().join("c/keep.txt"), "mine").unwrap();
        assert_eq!(cache.clear().unwrap(), info);
        assert_eq!(cache.get::<Value>(&key), Lookup::Miss);
        assert_eq!(cache.info().unwrap(), CacheInfo::default());
        assert!(dir.path().join("c/keep.txt").exists());
    }

    #[test]
    fn corrupt_or_foreign_entries_are_corrupt_and_get_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = entry_key("m", "d", &json!({"a": 1}));
        cache.put(&key, "m", "d", &answer("x")).unwrap();
        std::fs::write(cache.entry_path(&key), "{ truncated").unwrap();
        assert!(matches!(cache.get::<Value>(&key), Lookup::Corrupt(_)));
        cache.put(&key, "m", "d", &answer("y")).unwrap();
        assert_eq!(cache.get(&key), Lookup::Hit(answer("y")));

        // An entry copied under another key's name is not trusted.
        let other = entry_key("m", "d", &json!({"a": 2}));
        std::fs::create_dir_all(cache.entry_path(&other).parent().unwrap()).unwrap();
        std::fs::copy(cache.entry_path(&key), cache.entry_path(&other)).unwrap();
        assert!(matches!(cache.get::<Value>(&other), Lookup::Corrupt(_)));
    }
}
