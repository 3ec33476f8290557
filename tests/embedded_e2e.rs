//! End to end with the embedded llama.cpp engine: a real small GGUF model summarizes a fixture
//! writeup, given as a path and as a name in an Ollama model store built here (no server).
//!
//! The model is `$TAKEAWAYS_TEST_GGUF`, else the file `scripts/fetch-model.sh` keeps in the
//! cache directory (SmolLM2-135M-Instruct, 94 MiB). Without it the tests print why and pass.
#![cfg(feature = "embedded")]

mod common;

use std::path::{Path, PathBuf};

use common::{closed_port_url, takeaways};

/// One model run at a time, on one thread: llama.cpp's thread pool spin-waits, and two runs of
/// two threads each on a 2-core CI machine took minutes instead of seconds.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The flags of every summarize run here: JSON to check, one thread (see [`ONE_AT_A_TIME`]), no
/// final model pass (one call less).
const RUN_FLAGS: [&str; 6] = [
    "--format",
    "json",
    "--quiet",
    "--no-final-pass",
    "--threads",
    "1",
];

fn test_model() -> Option<PathBuf> {
    let path = match std::env::var_os("TAKEAWAYS_TEST_GGUF") {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
            cache.join("takeaways/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        }
    };
    if path.is_file() {
        Some(path)
    } else {
        // Straight to stderr, not through the test harness's capture: the reason shows in
        // a normal `cargo test` run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no GGUF model at {} (set TAKEAWAYS_TEST_GGUF or run scripts/fetch-model.sh)",
            path.display()
        );
        None
    }
}

/// The run went end to end through the engine: a ranked list (checked), or, from a model as
/// small as SmolLM2-135M, candidates that parsed but that the pipeline's checks all dropped (seen
/// with SmolLM2 on rustconf-mini: 7 candidates, all off the text).
fn summarized(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        headlines(&out.stdout);
    } else {
        assert!(
            stderr.contains("the model gave") && stderr.contains("candidates"),
            "{stderr}"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: the model's candidates were all dropped: {stderr}"
        );
    }
}

/// The takeaways of a `--format json` answer, checked to be a non-empty ranked list.
fn headlines(stdout: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(stdout).expect("JSON on stdout");
    let list = v["takeaways"].as_array().expect("a takeaways list");
    assert!(!list.is_empty(), "no takeaways: {v}");
    list.iter()
        .map(|t| t["headline"].as_str().expect("a headline").to_owned())
        .collect()
}

#[test]
fn a_gguf_path_summarizes_a_fixture() {
    let Some(model) = test_model() else { return };
    let _one = serial();
    let out = takeaways()
        .args([
            "summarize",
            "fixtures/writeups/rustconf-mini.md",
            "--engine",
            "embedded",
        ])
        .arg("--model")
        .arg(&model)
        .args(RUN_FLAGS)
        .arg("--stats")
        .output()
        .unwrap();
    summarized(&out);
    if out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("embedded engine:"), "{stderr}");
    }
}

#[test]
fn an_ollama_store_name_is_found_without_the_server() {
    let Some(model) = test_model() else { return };
    let _one = serial();
    let bytes = std::fs::metadata(&model).unwrap().len();
    let hex = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
    let store = tempfile::tempdir().unwrap();
    let blobs = store.path().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    // The digest is not checked against the content; a link keeps the test cheap.
    std::os::unix::fs::symlink(&model, blobs.join(format!("sha256-{hex}"))).unwrap();
    let manifest = store
        .path()
        .join("manifests/registry.ollama.ai/library/smollm2/135m");
    std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "layers": [{"mediaType": "application/vnd.ollama.image.model",
                    "digest": format!("sha256:{hex}"), "size": bytes}],
    });
    std::fs::write(&manifest, doc.to_string()).unwrap();

    // auto: no server answers, so the model is taken from the store.
    let out = takeaways()
        .env("OLLAMA_MODELS", store.path())
        .args(["summarize", "fixtures/writeups/rustconf-mini.md"])
        .args(["--model", "smollm2:135m", "--host", &closed_port_url()])
        .args(RUN_FLAGS)
        .output()
        .unwrap();
    summarized(&out);

    let out = takeaways()
        .env("OLLAMA_MODELS", store.path())
        .args(["doctor", "--model", "smollm2:135m", "--engine", "embedded"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("engine"), "{report}");
    assert!(report.contains(&format!("sha256-{hex}")), "{report}");
    assert!(report.contains("MiB"), "{report}");
}
