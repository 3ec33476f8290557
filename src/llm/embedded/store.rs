//! Find a model's GGUF file without a server: a path to a `.gguf` file, or an Ollama model name
//! looked up in Ollama's own model store on disk.
//!
//! The store layout, as Ollama itself reads it (ollama/ollama `envconfig/config.go` `Models()`,
//! `manifest/paths.go`, `manifest/manifest.go`, `types/model/name.go`, `server/images.go`
//! `GetModel`; read 2026-08):
//!
//! ```text
//! <root>/manifests/<host>/<namespace>/<model>/<tag>   JSON manifest (OCI image manifest)
//!   {"layers": [{"mediaType": "application/vnd.ollama.image.model",
//!                "digest": "sha256:<64 hex>", "size": <bytes>}, …]}
//! <root>/blobs/sha256-<64 hex>                        the layer's bytes (for the model: GGUF)
//! ```
//!
//! `<root>` is `$OLLAMA_MODELS` when set, else `~/.ollama/models`; this module also tries
//! `/usr/share/ollama/.ollama/models`, the home of the `ollama` service user that Ollama's Linux
//! install script creates (models pulled through the systemd service land there).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Media type of the layer that holds the model weights (GGUF) in an Ollama manifest.
pub const MODEL_MEDIA_TYPE: &str = "application/vnd.ollama.image.model";

/// Host used when a name has none (Ollama `types/model/name.go` `defaultHost`).
pub const DEFAULT_HOST: &str = "registry.ollama.ai";
/// Namespace used when a name has none (`defaultNamespace`).
pub const DEFAULT_NAMESPACE: &str = "library";
/// Tag used when a name has none (`defaultTag`).
pub const DEFAULT_TAG: &str = "latest";

/// Where the models of the Linux system service live: the home of the `ollama` user created by
/// Ollama's install script, plus `.ollama/models`.
pub const SYSTEM_STORE: &str = "/usr/share/ollama/.ollama/models";

/// The first bytes of every GGUF file (GGUF spec, ggml `docs/gguf.md`).
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// A model file found by [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    /// The GGUF file to load (for a store model: the blob, `<root>/blobs/sha256-<hex>`).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// How it was found.
    pub source: ModelSource,
}

/// How a [`ModelFile`] was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// The model was given as a path to a file.
    Path,
    /// The model was given as an Ollama name and found in a model store.
    Store {
        /// The store root (the directory holding `manifests/` and `blobs/`).
        root: PathBuf,
        /// The manifest file that named the blob.
        manifest: PathBuf,
    },
}

impl fmt::Display for ModelFile {
    /// `<path> (<size> MiB)`, plus `from Ollama manifest <manifest>` for a store model.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = self.size_bytes as f64 / (1024.0 * 1024.0);
        write!(f, "{} ({mib:.1} MiB)", self.path.display())?;
        if let ModelSource::Store { manifest, .. } = &self.source {
            write!(f, " from Ollama manifest {}", manifest.display())?;
        }
        Ok(())
    }
}

/// Why a model could not be found. Every message is one line, names the file (or the files
/// tried) and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The model was given as a path (it ends with `.gguf` or starts with `/`, `./`, `../`,
    /// `~/`) and no file is there.
    #[error("model file {path} does not exist; pass the path of a .gguf file or an Ollama model name such as qwen2.5:3b")]
    FileNotFound {
        /// The path as resolved.
        path: PathBuf,
    },
    /// The name is not a valid Ollama model name (rules of `types/model/name.go`).
    #[error("\"{name}\" is neither a file nor a valid Ollama model name ({reason}); pass a .gguf file or a name like qwen2.5:3b or user/model:tag")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which part is wrong.
        reason: String,
    },
    /// No store has a manifest for the name.
    #[error("model \"{name}\" is not in an Ollama model store (looked for {}); run `ollama pull {name}`, set OLLAMA_MODELS to the store directory, or pass the path of a .gguf file", join_paths(.tried))]
    NotFound {
        /// The name as given.
        name: String,
        /// The manifest paths tried, in order.
        tried: Vec<PathBuf>,
    },
    /// The manifest could not be read or is not the JSON Ollama writes.
    #[error("Ollama manifest {path} is unreadable: {detail}; run `ollama pull` for the model again or pass a .gguf file")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The manifest has no `application/vnd.ollama.image.model` layer (e.g. a cloud model, or
    /// a safetensors/MLX import), so there is no GGUF file to load.
    #[error("Ollama manifest {path} has no model layer ({MODEL_MEDIA_TYPE}; its layers: {}), so this model has no GGUF file to load; pass a .gguf file instead", if .media_types.is_empty() { "none".to_owned() } else { .media_types.join(", ") })]
    NoModelLayer {
        /// The manifest file.
        path: PathBuf,
        /// The media types of the layers it has.
        media_types: Vec<String>,
    },
    /// The model layer's digest is not `sha256:<64 hex>` / `sha256-<64 hex>`.
    #[error("Ollama manifest {path} names the model blob by an invalid digest \"{digest}\" (expected sha256:<64 hex digits>); run `ollama pull` for the model again")]
    BadDigest {
        /// The manifest file.
        path: PathBuf,
        /// The digest as written.
        digest: String,
    },
    /// The blob the manifest names is not there.
    #[error("model blob {blob} (named by Ollama manifest {manifest}) is missing; run `ollama pull {name}` again")]
    BlobMissing {
        /// The expected blob path.
        blob: PathBuf,
        /// The manifest naming it.
        manifest: PathBuf,
        /// The model name, for the hint.
        name: String,
    },
    /// The file does not start with the GGUF magic bytes.
    #[error(
        "{path} is not a GGUF file ({detail}); pass a .gguf model file (llama.cpp loads only GGUF)"
    )]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// What its first bytes are.
        detail: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read model file {path}: {detail}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        detail: String,
    },
}

fn join_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no store: neither OLLAMA_MODELS nor HOME is set".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The process environment, for [`resolve`] and [`store_roots`]: `|k| std::env::var(k).ok()`.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Finds the GGUF file for `model`: a path to a file, or an Ollama model name.
///
/// - An existing file → that file ([`ModelSource::Path`]). `~/` is expanded with `HOME`.
/// - Something that looks like a path (ends with `.gguf`, or starts with `/`, `./`, `../`,
///   `~/`) but is no file → [`StoreError::FileNotFound`].
/// - Anything else is an Ollama name ([`OllamaName::parse`]: `qwen2.5:3b`,
///   `library/qwen2.5:3b`, `registry.ollama.ai/library/qwen2.5:latest`, `user/model:tag`; no tag
///   → `latest`), looked up in each root of [`store_roots`] in order: the manifest at
///   `manifests/<host>/<namespace>/<model>/<tag>` (exact path first, then a case-insensitive
///   match per directory level), its last layer of media type [`MODEL_MEDIA_TYPE`] (the one
///   Ollama's `GetModel` keeps), and that layer's blob `blobs/sha256-<hex>` (the digest may be
///   written `sha256:<hex>` or `sha256-<hex>`, as Ollama's `BlobsPath` accepts).
///
/// The file must start with [`GGUF_MAGIC`]. `env` reads environment variables (`OLLAMA_MODELS`,
/// `HOME`, `USERPROFILE`); pass [`process_env`] outside tests.
///
/// Errors: see [`StoreError`]; each names the file and what to do.
pub fn resolve(model: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ModelFile, StoreError> {
    let given = model.trim();
    let as_path = expand_home(given, env);
    if as_path.is_file() {
        let size_bytes = check_gguf(&as_path)?;
        return Ok(ModelFile {
            path: as_path,
            size_bytes,
            source: ModelSource::Path,
        });
    }
    if looks_like_path(given) {
        return Err(StoreError::FileNotFound { path: as_path });
    }
    let name = OllamaName::parse(given)?;
    let roots = store_roots(env);
    let mut tried = Vec::new();
    for root in &roots {
        let exact = root.join("manifests").join(name.manifest_rel_path());
        tried.push(exact.clone());
        let found = if exact.is_file() {
            Some(exact)
        } else {
            find_case_insensitive(&root.join("manifests"), &name.parts())
        };
        if let Some(manifest) = found {
            return from_manifest(given, root, &manifest);
        }
    }
    Err(StoreError::NotFound {
        name: given.to_owned(),
        tried,
    })
}

/// The store roots [`resolve`] searches, in order: `$OLLAMA_MODELS` alone when it is set (as
/// Ollama's server, which then reads nothing else; surrounding spaces and quotes are trimmed as
/// Ollama's `envconfig.Var` does), else `<home>/.ollama/models` (home = `HOME`, else
/// `USERPROFILE`) and then [`SYSTEM_STORE`].
pub fn store_roots(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let var = |k: &str| {
        env(k)
            .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(dir) = var("OLLAMA_MODELS") {
        return vec![PathBuf::from(dir)];
    }
    let mut roots = Vec::new();
    if let Some(home) = var("HOME").or_else(|| var("USERPROFILE")) {
        roots.push(Path::new(&home).join(".ollama").join("models"));
    }
    let system = PathBuf::from(SYSTEM_STORE);
    if !roots.contains(&system) {
        roots.push(system);
    }
    roots
}

/// Checks that `path` starts with [`GGUF_MAGIC`] and returns its size in bytes.
///
/// Errors: [`StoreError::NotGguf`] (too short, or other first bytes, shown as text when
/// printable), [`StoreError::Io`].
pub fn check_gguf(path: &Path) -> Result<u64, StoreError> {
    let io = |e: std::io::Error| StoreError::Io {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    if n < head.len() {
        return Err(StoreError::NotGguf {
            path: path.to_owned(),
            detail: format!("only {size} bytes long"),
        });
    }
    if &head != GGUF_MAGIC {
        let shown = if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            format!("starts with \"{}\"", String::from_utf8_lossy(&head))
        } else {
            format!(
                "starts with bytes {:02x} {:02x} {:02x} {:02x}",
                head[0], head[1], head[2], head[3]
            )
        };
        return Err(StoreError::NotGguf {
            path: path.to_owned(),
            detail: format!("{shown}, not \"GGUF\""),
        });
    }
    Ok(size)
}

/// An Ollama model name split into the four parts that make its manifest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OllamaName {
    /// Registry host, default [`DEFAULT_HOST`]. May carry a port (`localhost:5000`).
    pub host: String,
    /// Namespace (user or organisation), default [`DEFAULT_NAMESPACE`].
    pub namespace: String,
    /// Model name.
    pub model: String,
    /// Tag, default [`DEFAULT_TAG`].
    pub tag: String,
}

impl OllamaName {
    /// Parses a name the way Ollama's `model.ParseName` does: `[host/][namespace/]model[:tag]`,
    /// the tag being what follows the last `:` when it comes after the last `/`, a
    /// `scheme://` before the host dropped, missing parts filled with the defaults
    /// (`registry.ollama.ai`, `library`, `latest`).
    ///
    /// Each part must follow `isValidPart`: it starts with an ASCII letter, digit or `_`, then
    /// letters, digits, `_`, `-`, and `.` (not in a namespace) or `:` (only in a host); host up
    /// to 350 bytes, the others up to 80. A part promised by a separator but empty (`a/`,
    /// `a:`) is invalid. `model@sha256:…` digests are not supported (Ollama no longer parses
    /// them either).
    ///
    /// Errors: [`StoreError::InvalidName`] naming the bad part.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        let invalid = |reason: String| StoreError::InvalidName {
            name: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        if s.contains('@') {
            return Err(invalid(
                "digests (name@sha256:…) are not supported".to_owned(),
            ));
        }
        let mut rest = s;
        let mut tag = None;
        let last_colon = s.rfind(':');
        let last_slash = s.rfind('/');
        if last_colon.map(|i| i as isize).unwrap_or(-1)
            > last_slash.map(|i| i as isize).unwrap_or(-1)
        {
            let (before, after) = cut_last(rest, ':');
            rest = before;
            tag = Some(after);
        }
        let (host, namespace, model);
        match rest.rfind('/') {
            None => {
                host = None;
                namespace = None;
                model = rest;
            }
            Some(_) => {
                let (before, m) = cut_last(rest, '/');
                model = m;
                match before.rfind('/') {
                    None => {
                        host = None;
                        namespace = Some(before);
                    }
                    Some(_) => {
                        let (h, ns) = cut_last(before, '/');
                        namespace = Some(ns);
                        host = Some(h.split_once("://").map_or(h, |(_, h)| h));
                    }
                }
            }
        }
        let name = Self {
            host: host.unwrap_or(DEFAULT_HOST).to_owned(),
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE).to_owned(),
            model: model.to_owned(),
            tag: tag.unwrap_or(DEFAULT_TAG).to_owned(),
        };
        for (kind, part) in [
            (PartKind::Host, &name.host),
            (PartKind::Namespace, &name.namespace),
            (PartKind::Model, &name.model),
            (PartKind::Tag, &name.tag),
        ] {
            if let Err(why) = check_part(kind, part) {
                return Err(invalid(format!("{} {why}", kind.label())));
            }
        }
        Ok(name)
    }

    /// `<host>/<namespace>/<model>/<tag>`, the manifest's path under `<root>/manifests`.
    pub fn manifest_rel_path(&self) -> PathBuf {
        self.parts().iter().collect()
    }

    fn parts(&self) -> [&str; 4] {
        [&self.host, &self.namespace, &self.model, &self.tag]
    }
}

impl fmt::Display for OllamaName {
    /// `host/namespace/model:tag`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}:{}",
            self.host, self.namespace, self.model, self.tag
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Host,
    Namespace,
    Model,
    Tag,
}

impl PartKind {
    fn label(self) -> &'static str {
        match self {
            PartKind::Host => "host",
            PartKind::Namespace => "namespace",
            PartKind::Model => "model",
            PartKind::Tag => "tag",
        }
    }
}

/// Cuts at the last `sep`; an empty side is kept empty (and then fails [`check_part`]), as
/// Ollama's `cutPromised` marks it `!MISSING!`.
fn cut_last(s: &str, sep: char) -> (&str, &str) {
    match s.rfind(sep) {
        Some(i) => (&s[..i], &s[i + sep.len_utf8()..]),
        None => (s, ""),
    }
}

/// Ollama's `isValidLen` + `isValidPart`.
fn check_part(kind: PartKind, s: &str) -> Result<(), String> {
    let max = if kind == PartKind::Host { 350 } else { 80 };
    if s.is_empty() {
        return Err("is missing".to_owned());
    }
    if s.len() > max {
        return Err(format!("is longer than {max} bytes"));
    }
    let alnum_ = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (i, c) in s.chars().enumerate() {
        let ok = if i == 0 {
            alnum_(c)
        } else {
            match c {
                '_' | '-' => true,
                '.' => kind != PartKind::Namespace,
                ':' => kind == PartKind::Host,
                c => alnum_(c),
            }
        };
        if !ok {
            return Err(format!(
                "\"{s}\" has the character {c:?} where it is not allowed"
            ));
        }
    }
    Ok(())
}

fn looks_like_path(s: &str) -> bool {
    s.to_ascii_lowercase().ends_with(".gguf")
        || s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("../")
        || s.starts_with("~/")
        || s.contains('\\')
        || Path::new(s).is_absolute()
}

fn expand_home(s: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/") {
        if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
            return Path::new(&home).join(rest);
        }
    }
    PathBuf::from(s)
}

/// `dir/<p0>/<p1>/…` where each level matches ignoring ASCII case (Ollama compares names with
/// `strings.EqualFold`; a store copied from a case-insensitive file system may differ in case).
fn find_case_insensitive(dir: &Path, parts: &[&str]) -> Option<PathBuf> {
    let (first, rest) = parts.split_first()?;
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().eq_ignore_ascii_case(first) {
            continue;
        }
        let path = entry.path();
        if rest.is_empty() {
            if path.is_file() {
                return Some(path);
            }
        } else if let Some(found) = find_case_insensitive(&path, rest) {
            return Some(found);
        }
    }
    None
}

#[derive(serde::Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(serde::Deserialize)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
}

fn from_manifest(name: &str, root: &Path, manifest: &Path) -> Result<ModelFile, StoreError> {
    let bad = |detail: String| StoreError::Manifest {
        path: manifest.to_owned(),
        detail,
    };
    let text = std::fs::read(manifest).map_err(|e| bad(e.to_string()))?;
    let parsed: Manifest =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not Ollama manifest JSON: {e}")))?;
    let Some(layer) = parsed
        .layers
        .iter()
        .rev()
        .find(|l| l.media_type == MODEL_MEDIA_TYPE)
    else {
        return Err(StoreError::NoModelLayer {
            path: manifest.to_owned(),
            media_types: parsed.layers.iter().map(|l| l.media_type.clone()).collect(),
        });
    };
    let hex = blob_hex(&layer.digest).ok_or_else(|| StoreError::BadDigest {
        path: manifest.to_owned(),
        digest: layer.digest.clone(),
    })?;
    let blob = root.join("blobs").join(format!("sha256-{hex}"));
    if !blob.is_file() {
        return Err(StoreError::BlobMissing {
            blob,
            manifest: manifest.to_owned(),
            name: name.to_owned(),
        });
    }
    let size_bytes = check_gguf(&blob)?;
    Ok(ModelFile {
        path: blob,
        size_bytes,
        source: ModelSource::Store {
            root: root.to_owned(),
            manifest: manifest.to_owned(),
        },
    })
}

/// The hex part of `sha256:<64 hex>` or `sha256-<64 hex>` (Ollama's `BlobsPath` pattern
/// `^sha256[:-][0-9a-fA-F]{64}$`), as written (Ollama keeps the case too).
fn blob_hex(digest: &str) -> Option<&str> {
    let hex = digest
        .strip_prefix("sha256:")
        .or_else(|| digest.strip_prefix("sha256-"))?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
