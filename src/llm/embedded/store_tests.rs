//! Tests of the store resolver on stores made in temporary directories.

use super::*;
use std::collections::HashMap;

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

/// A store under `root` with one model whose manifest names `digest`; the blob holds `blob`.
fn make_store(root: &Path, rel: &str, layers: serde_json::Value, blob: Option<&[u8]>) -> PathBuf {
    let manifest = root.join("manifests").join(rel);
    std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": format!("sha256:{}", "f".repeat(64)), "size": 10},
        "layers": layers,
    });
    std::fs::write(&manifest, serde_json::to_vec(&doc).unwrap()).unwrap();
    std::fs::create_dir_all(root.join("blobs")).unwrap();
    if let Some(bytes) = blob {
        std::fs::write(root.join("blobs").join(format!("sha256-{HEX}")), bytes).unwrap();
    }
    manifest
}

fn model_layer(digest: &str) -> serde_json::Value {
    serde_json::json!([
        {"mediaType": "application/vnd.ollama.image.template", "digest": format!("sha256:{}", "e".repeat(64)), "size": 3},
        {"mediaType": MODEL_MEDIA_TYPE, "digest": digest, "size": 8},
        {"mediaType": "application/vnd.ollama.image.params", "digest": format!("sha256:{}", "d".repeat(64)), "size": 3},
    ])
}

const GGUF_BYTES: &[u8] = b"GGUF\x03\x00\x00\x00rest";

#[test]
fn parses_names_like_ollama() {
    let p = |s| OllamaName::parse(s).unwrap().to_string();
    assert_eq!(p("qwen2.5:3b"), "registry.ollama.ai/library/qwen2.5:3b");
    assert_eq!(p("qwen2.5"), "registry.ollama.ai/library/qwen2.5:latest");
    assert_eq!(
        p("library/qwen2.5:3b"),
        "registry.ollama.ai/library/qwen2.5:3b"
    );
    assert_eq!(
        p("registry.ollama.ai/library/qwen2.5:latest"),
        "registry.ollama.ai/library/qwen2.5:latest"
    );
    assert_eq!(p("user/model:tag"), "registry.ollama.ai/user/model:tag");
    assert_eq!(p("user/model"), "registry.ollama.ai/user/model:latest");
    assert_eq!(
        p("localhost:5000/team/m"),
        "localhost:5000/team/m:latest",
        "a colon before the last slash is a port, not a tag"
    );
    assert_eq!(p("https://example.com/team/m:v1"), "example.com/team/m:v1");
    assert_eq!(
        OllamaName::parse("qwen2.5:3b").unwrap().manifest_rel_path(),
        PathBuf::from("registry.ollama.ai/library/qwen2.5/3b")
    );
}

#[test]
fn rejects_invalid_names() {
    for bad in [
        "",
        "model:",
        "/model",
        "a//b",
        "ns.x/model",
        "-model",
        "m:t:x",
        "m@sha256:00",
        "a b",
    ] {
        let err = OllamaName::parse(bad).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidName { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn finds_a_store_model_with_both_digest_spellings() {
    for digest in [format!("sha256:{HEX}"), format!("sha256-{HEX}")] {
        let dir = tempfile::tempdir().unwrap();
        let manifest = make_store(
            dir.path(),
            "registry.ollama.ai/library/qwen2.5/3b",
            model_layer(&digest),
            Some(GGUF_BYTES),
        );
        let env = env_of(&[("OLLAMA_MODELS", dir.path().to_str().unwrap())]);
        let found = resolve("qwen2.5:3b", &env).unwrap();
        assert_eq!(
            found.path,
            dir.path().join("blobs").join(format!("sha256-{HEX}"))
        );
        assert_eq!(found.size_bytes, GGUF_BYTES.len() as u64);
        assert_eq!(
            found.source,
            ModelSource::Store {
                root: dir.path().to_owned(),
                manifest
            }
        );
        // The other spellings of the same name find it too.
        for name in [
            "library/qwen2.5:3b",
            "registry.ollama.ai/library/qwen2.5:3b",
        ] {
            assert_eq!(resolve(name, &env).unwrap().path, found.path, "{name}");
        }
    }
}

#[test]
fn no_tag_means_latest_and_user_namespaces_work() {
    let dir = tempfile::tempdir().unwrap();
    make_store(
        dir.path(),
        "registry.ollama.ai/library/smollm2/latest",
        model_layer(&format!("sha256:{HEX}")),
        Some(GGUF_BYTES),
    );
    make_store(
        dir.path(),
        "registry.ollama.ai/someone/tiny/q4",
        model_layer(&format!("sha256:{HEX}")),
        Some(GGUF_BYTES),
    );
    let env = env_of(&[("OLLAMA_MODELS", dir.path().to_str().unwrap())]);
    assert!(resolve("smollm2", &env).is_ok());
    assert!(resolve("smollm2:latest", &env).is_ok());
    assert!(resolve("someone/tiny:q4", &env).is_ok());
    assert!(
        resolve("SomeOne/Tiny:Q4", &env).is_ok(),
        "case-insensitive fallback"
    );
    let err = resolve("someone/tiny", &env).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[test]
fn home_and_system_roots_when_ollama_models_is_unset() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join(".ollama").join("models");
    make_store(
        &store,
        "registry.ollama.ai/library/m/latest",
        model_layer(&format!("sha256:{HEX}")),
        Some(GGUF_BYTES),
    );
    let env = env_of(&[("HOME", home.path().to_str().unwrap())]);
    assert_eq!(
        store_roots(&env),
        vec![store.clone(), PathBuf::from(SYSTEM_STORE)]
    );
    let found = resolve("m", &env).unwrap();
    assert!(found.path.starts_with(&store));
    // OLLAMA_MODELS (quoted, as people write it in unit files) replaces the defaults.
    let env = env_of(&[("OLLAMA_MODELS", "\"/elsewhere\""), ("HOME", "/h")]);
    assert_eq!(store_roots(&env), vec![PathBuf::from("/elsewhere")]);
}

#[test]
fn not_found_lists_the_manifests_tried() {
    let home = tempfile::tempdir().unwrap();
    let env = env_of(&[("HOME", home.path().to_str().unwrap())]);
    let err = resolve("qwen2.5:3b", &env).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(".ollama/models/manifests/registry.ollama.ai/library/qwen2.5/3b"),
        "{msg}"
    );
    assert!(
        msg.contains("/usr/share/ollama/.ollama/models/manifests/"),
        "{msg}"
    );
    assert!(msg.contains("ollama pull qwen2.5:3b"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn manifest_without_model_layer() {
    let dir = tempfile::tempdir().unwrap();
    let layers = serde_json::json!([
        {"mediaType": "application/vnd.ollama.image.tensor", "digest": format!("sha256:{HEX}"), "size": 8},
    ]);
    let manifest = make_store(
        dir.path(),
        "registry.ollama.ai/library/m/latest",
        layers,
        Some(GGUF_BYTES),
    );
    let env = env_of(&[("OLLAMA_MODELS", dir.path().to_str().unwrap())]);
    let err = resolve("m", &env).unwrap_err();
    assert_eq!(
        err,
        StoreError::NoModelLayer {
            path: manifest.clone(),
            media_types: vec!["application/vnd.ollama.image.tensor".to_owned()]
        }
    );
    assert!(err.to_string().contains(&manifest.display().to_string()));
}

#[test]
fn blob_missing_and_bad_digest_and_bad_json() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_of(&[("OLLAMA_MODELS", dir.path().to_str().unwrap())]);
    make_store(
        dir.path(),
        "registry.ollama.ai/library/a/latest",
        model_layer(&format!("sha256:{HEX}")),
        None,
    );
    let err = resolve("a", &env).unwrap_err();
    assert!(matches!(err, StoreError::BlobMissing { .. }), "{err}");
    assert!(err.to_string().contains(&format!("sha256-{HEX}")), "{err}");
    assert!(err.to_string().contains("ollama pull a"), "{err}");

    make_store(
        dir.path(),
        "registry.ollama.ai/library/b/latest",
        model_layer("sha256:xyz"),
        None,
    );
    let err = resolve("b", &env).unwrap_err();
    assert!(matches!(err, StoreError::BadDigest { .. }), "{err}");

    let m = dir
        .path()
        .join("manifests/registry.ollama.ai/library/c/latest");
    std::fs::create_dir_all(m.parent().unwrap()).unwrap();
    std::fs::write(&m, "not json").unwrap();
    let err = resolve("c", &env).unwrap_err();
    assert!(matches!(err, StoreError::Manifest { .. }), "{err}");
}

#[test]
fn non_gguf_blob_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_of(&[("OLLAMA_MODELS", dir.path().to_str().unwrap())]);
    make_store(
        dir.path(),
        "registry.ollama.ai/library/m/latest",
        model_layer(&format!("sha256:{HEX}")),
        Some(b"PK\x03\x04 a zip, not gguf"),
    );
    let err = resolve("m", &env).unwrap_err();
    assert!(matches!(err, StoreError::NotGguf { .. }), "{err}");
    assert!(err.to_string().contains(&format!("sha256-{HEX}")), "{err}");

    let file = dir.path().join("model.gguf");
    std::fs::write(&file, b"{\"json\": true}").unwrap();
    let err = resolve(file.to_str().unwrap(), &env).unwrap_err();
    assert!(err.to_string().contains("starts with \"{\"js\""), "{err}");
    std::fs::write(&file, b"GG").unwrap();
    let err = resolve(file.to_str().unwrap(), &env).unwrap_err();
    assert!(err.to_string().contains("only 2 bytes"), "{err}");
}

#[test]
fn paths() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_of(&[("HOME", dir.path().to_str().unwrap())]);
    let file = dir.path().join("tiny.gguf");
    std::fs::write(&file, GGUF_BYTES).unwrap();
    let found = resolve(file.to_str().unwrap(), &env).unwrap();
    assert_eq!(found.source, ModelSource::Path);
    assert_eq!(found.size_bytes, GGUF_BYTES.len() as u64);
    assert_eq!(resolve("~/tiny.gguf", &env).unwrap().path, file);

    let missing = dir.path().join("absent.gguf");
    let err = resolve(missing.to_str().unwrap(), &env).unwrap_err();
    assert_eq!(err, StoreError::FileNotFound { path: missing });
    assert!(matches!(
        resolve("./x.GGUF", &env),
        Err(StoreError::FileNotFound { .. })
    ));
}
