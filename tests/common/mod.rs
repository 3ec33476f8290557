//! Helpers shared by the integration tests that run the `takeaways` binary.
#![allow(dead_code)] // each test crate uses a different subset

use assert_cmd::Command;

/// The binary with a fixed date (`SOURCE_DATE_EPOCH`), a private empty answer cache, no config
/// file, and none of the user's `OLLAMA_HOST` / `TAKEAWAYS_MODEL`.
pub fn takeaways() -> Command {
    let mut cmd = Command::cargo_bin("takeaways").unwrap();
    cmd.env("SOURCE_DATE_EPOCH", "1764374400")
        .env_remove("OLLAMA_HOST")
        .env_remove("TAKEAWAYS_MODEL")
        .env_remove("TAKEAWAYS_ENGINE")
        // `--engine auto` must not find a model in the user's Ollama store.
        .env("OLLAMA_MODELS", "/nonexistent/ollama-models")
        .env("HOME", "/nonexistent/home")
        .env("TAKEAWAYS_CACHE_DIR", tempfile::tempdir().unwrap().keep())
        .env("TAKEAWAYS_CONFIG", "/nonexistent/takeaways-config.toml");
    cmd
}

/// A URL of a port with nothing listening on it: a live model call there fails.
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Mounts the metadata endpoints of a stub Ollama on `server`: `/api/show` for a qwen2 model
/// with an 8192-token context, and `GET /api/tags` answering `tags` (e.g. `{"models": []}`).
pub async fn mount_metadata(server: &wiremock::MockServer, tags: serde_json::Value) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    Mock::given(method("POST"))
        .and(path("/api/show"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 8192}
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tags))
        .mount(server)
        .await;
}
