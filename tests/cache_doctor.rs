//! The binary as a good Ollama citizen, against real local HTTP servers on 127.0.0.1
//! (wiremock): the answer cache (second identical run makes no model call, corrupt entries,
//! --no-cache, models without a digest, `cache info|clear`), `doctor`, the config file,
//! progress on a non-terminal stderr, --pull, and Ctrl-C. No model, no network beyond loopback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WRITEUP: &str = "# Platform Day notes\n\n## Golden paths\n\n\
Platform teams should treat golden paths as products with real users. Internal developer \
portals failed when nobody owned them, and the teams that measured adoption kept funding.\n";

/// A sandbox: its own cache directory, config path, and the writeup.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.md"), WRITEUP).unwrap();
        Sandbox { dir }
    }
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }
    fn writeup(&self) -> String {
        self.dir
            .path()
            .join("notes.md")
            .to_string_lossy()
            .into_owned()
    }
    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("takeaways").unwrap();
        cmd.env("SOURCE_DATE_EPOCH", "1764374400")
            .env("TAKEAWAYS_CACHE_DIR", self.cache())
            .env("TAKEAWAYS_CONFIG", self.config())
            .env_remove("OLLAMA_HOST")
            .env_remove("TAKEAWAYS_MODEL")
            .env_remove("TAKEAWAYS_TOP")
            .env_remove("TAKEAWAYS_NUM_CTX")
            .env_remove("TAKEAWAYS_PROMPTS")
            .env_remove("NO_COLOR");
        cmd
    }
    /// `summarize` of the writeup against `uri`, one chunk, no final pass, JSON out.
    fn summarize(&self, uri: &str, extra: &[&str]) -> std::process::Output {
        self.cmd()
            .args([
                "summarize",
                &self.writeup(),
                "--model",
                "tiny:1b",
                "--host",
                uri,
            ])
            .args(["--no-final-pass", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    }
    /// Every file under the cache directory ending in `.json`.
    fn entries(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.cache()];
        while let Some(d) = stack.pop() {
            let Ok(read) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in read {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    out.push(p);
                }
            }
        }
        out
    }
}

fn ndjson_answer(content: &str) -> String {
    let first = json!({"model": "tiny:1b", "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content}, "done": false});
    let last = json!({"model": "tiny:1b", "created_at": "2026-01-01T00:00:01Z",
        "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
        "total_duration": 2_000_000_000u64, "eval_count": 40});
    format!("{first}\n{last}\n")
}

fn extract_answer() -> String {
    json!({"takeaways": [
        {"headline": "Treat golden paths as products", "detail": "Platform teams should give golden paths real users.",
         "importance": 5, "quote": "treat golden paths as products"},
        {"headline": "Developer portals need owners", "detail": "Internal developer portals failed when nobody owned them.",
         "importance": 4, "quote": "portals failed when nobody owned them"}
    ]})
    .to_string()
}

/// `/api/show` (context 8192), `/api/tags` (the model with a digest, unless `digest` is None),
/// `/api/version`.
async fn mount_metadata(server: &MockServer, digest: Option<&str>) {
    Mock::given(method("POST"))
        .and(path("/api/show"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model_info": {"general.architecture": "llama", "llama.context_length": 8192}
        })))
        .mount(server)
        .await;
    let models = match digest {
        Some(d) => json!([{"name": "tiny:1b", "model": "tiny:1b", "digest": d, "size": 1}]),
        None => json!([{"name": "other:7b", "model": "other:7b", "digest": "ffff", "size": 1}]),
    };
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "models": models })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "0.12.10"})))
        .mount(server)
        .await;
}

/// `/api/chat` answering the extraction, expected exactly `times` times.
async fn mount_chat(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-ndjson")
                .set_body_string(ndjson_answer(&extract_answer())),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// Runs blocking work (the binary) off the runtime that serves wiremock.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------------------------
// the answer cache

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_identical_run_makes_no_model_call() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    mount_chat(&server, 1).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let uri = server.uri();

    let (s, u) = (sb.clone(), uri.clone());
    let first = blocking(move || s.summarize(&u, &["--stats"])).await;
    let first_json = json_of(&first);
    assert_eq!(first_json["stats"]["model_calls"], 1);
    assert_eq!(first_json["stats"]["cache_hits"], 0);
    assert!(
        stderr(&first).contains("1 model calls (1 requests to the server), 0 cache hits"),
        "{}",
        stderr(&first)
    );
    assert_eq!(sb.entries().len(), 1);

    let (s, u) = (sb.clone(), uri.clone());
    let second = blocking(move || s.summarize(&u, &["--stats"])).await;
    let second_json = json_of(&second);
    assert_eq!(second_json["stats"]["model_calls"], 0);
    assert_eq!(second_json["stats"]["cache_hits"], 1);
    assert_eq!(
        second_json["stats"]["eval_count"], 0,
        "the model did no work"
    );
    assert!(
        stderr(&second).contains("0 model calls (0 requests to the server), 1 cache hits"),
        "{}",
        stderr(&second)
    );
    assert_eq!(first_json["takeaways"], second_json["takeaways"]);
    assert!(!first_json["takeaways"].as_array().unwrap().is_empty());

    // Exactly one request reached /api/chat over both runs (`expect(1)`).
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_cache_entry_is_ignored_and_replaced() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    mount_chat(&server, 2).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let uri = server.uri();

    let (s, u) = (sb.clone(), uri.clone());
    let first = json_of(&blocking(move || s.summarize(&u, &[])).await);
    let entries = sb.entries();
    assert_eq!(entries.len(), 1);
    std::fs::write(&entries[0], "{\"format\": 1, \"key\": tru").unwrap();

    let (s, u) = (sb.clone(), uri.clone());
    let second = json_of(&blocking(move || s.summarize(&u, &[])).await);
    assert_eq!(first["takeaways"], second["takeaways"]);
    assert_eq!(
        second["stats"]["model_calls"], 1,
        "the corrupt entry was not used"
    );

    // Replaced by a good entry, which the third run uses.
    let entry: Value = serde_json::from_slice(&std::fs::read(&entries[0]).unwrap()).unwrap();
    assert_eq!(entry["model"], "tiny:1b");
    assert_eq!(entry["digest"], "sha256:aaaa");
    let (s, u) = (sb.clone(), uri.clone());
    let third = json_of(&blocking(move || s.summarize(&u, &[])).await);
    assert_eq!(third["stats"]["cache_hits"], 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_asks_the_model_and_stores_nothing() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    mount_chat(&server, 3).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let uri = server.uri();

    let (s, u) = (sb.clone(), uri.clone());
    json_of(&blocking(move || s.summarize(&u, &["--no-cache"])).await);
    assert!(sb.entries().is_empty(), "--no-cache wrote an entry");

    let (s, u) = (sb.clone(), uri.clone());
    json_of(&blocking(move || s.summarize(&u, &[])).await);
    assert_eq!(sb.entries().len(), 1);
    // A cached answer exists now, and --no-cache still asks the model.
    let (s, u) = (sb.clone(), uri.clone());
    let out = json_of(&blocking(move || s.summarize(&u, &["--no-cache"])).await);
    assert_eq!(out["stats"]["model_calls"], 1);
    assert_eq!(out["stats"]["cache_hits"], 0);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_a_known_digest_is_never_answered_from_the_cache() {
    let server = MockServer::start().await;
    mount_metadata(&server, None).await;
    mount_chat(&server, 2).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let uri = server.uri();
    for _ in 0..2 {
        let (s, u) = (sb.clone(), uri.clone());
        json_of(&blocking(move || s.summarize(&u, &[])).await);
    }
    assert!(sb.entries().is_empty());
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_digest_for_the_same_model_name_is_a_miss() {
    let sb = std::sync::Arc::new(Sandbox::new());
    for digest in ["sha256:aaaa", "sha256:bbbb"] {
        let server = MockServer::start().await;
        mount_metadata(&server, Some(digest)).await;
        mount_chat(&server, 1).await;
        let (s, u) = (sb.clone(), server.uri());
        let out = json_of(&blocking(move || s.summarize(&u, &[])).await);
        assert_eq!(out["stats"]["model_calls"], 1, "digest {digest}");
        server.verify().await;
    }
    assert_eq!(sb.entries().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_info_and_clear() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    mount_chat(&server, 1).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let (s, u) = (sb.clone(), server.uri());
    json_of(&blocking(move || s.summarize(&u, &[])).await);

    let size = std::fs::metadata(&sb.entries()[0]).unwrap().len();
    let info = sb.cmd().args(["cache", "info"]).output().unwrap();
    assert!(info.status.success());
    assert_eq!(
        stdout(&info),
        format!(
            "location: {} (from TAKEAWAYS_CACHE_DIR)\nentries:  1\nsize:     {size} bytes\n",
            sb.cache().display()
        )
    );
    let clear = sb.cmd().args(["cache", "clear"]).output().unwrap();
    assert!(clear.status.success());
    assert_eq!(
        stdout(&clear),
        format!(
            "removed 1 entries ({size} bytes) from {}\n",
            sb.cache().display()
        )
    );
    assert!(sb.entries().is_empty());
    let info = sb.cmd().args(["cache", "info"]).output().unwrap();
    assert!(stdout(&info).contains("entries:  0\nsize:     0 bytes"));
}

// ---------------------------------------------------------------------------------------------
// doctor

fn doctor_line<'a>(out: &'a str, item: &str) -> &'a str {
    out.lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(item)))
        .unwrap_or_else(|| panic!("no {item} line in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_working_server() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:0123456789abcdef")).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let (s, u) = (sb.clone(), server.uri());
    let out = blocking(move || {
        s.cmd()
            .args(["doctor", "--model", "tiny:1b", "--host", &u])
            .output()
            .unwrap()
    })
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(!text.contains("FAIL"), "{text}");
    let server_line = doctor_line(&text, "server");
    assert!(server_line.starts_with("ok"), "{server_line}");
    assert!(server_line.contains(&format!("{}/ (from --host, Ollama API)", server.uri())));
    assert!(server_line.contains("Ollama 0.12.10"), "{server_line}");
    let model = doctor_line(&text, "model");
    assert!(
        model.contains("tiny:1b (from --model): present, digest 0123456789ab"),
        "{model}"
    );
    let context = doctor_line(&text, "context");
    assert!(
        context.contains("model maximum 8192 tokens; num_ctx used: 8192"),
        "{context}"
    );
    assert!(doctor_line(&text, "prompts").contains("built-in templates (default)"));
    let cache = doctor_line(&text, "cache");
    assert!(
        cache.contains(&format!(
            "{} (from TAKEAWAYS_CACHE_DIR): 0 answers, 0 bytes",
            sb.cache().display()
        )),
        "{cache}"
    );
    let config = doctor_line(&text, "config");
    assert!(config.contains("not found"), "{config}");
}

#[test]
fn doctor_with_a_closed_port_fails_saying_what_to_do() {
    let sb = Sandbox::new();
    let url = closed_port_url();
    let out = sb
        .cmd()
        .args(["doctor", "--model", "tiny:1b", "--host", &url])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let server = doctor_line(&text, "server");
    assert!(server.starts_with("FAIL"), "{server}");
    assert!(server.contains(&format!("{url}/")), "{server}");
    assert!(server.contains("ollama serve"), "{server}");
    assert!(doctor_line(&text, "model").starts_with("FAIL"));
    // Every failing line says what to do.
    for line in text.lines().filter(|l| l.starts_with("FAIL")) {
        assert!(
            ["start", "first", "run", "fix", "set"]
                .iter()
                .any(|verb| line.contains(verb)),
            "{line}"
        );
    }
    assert!(stderr(&out).contains("checks failed"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_missing_model_says_ollama_pull() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/show"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": "model 'nope:1b' not found"})),
        )
        .mount(&server)
        .await;
    mount_metadata(&server, None).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let (s, u) = (sb.clone(), server.uri());
    let out = blocking(move || {
        s.cmd()
            .args(["doctor", "--model", "nope:1b", "--host", &u])
            .output()
            .unwrap()
    })
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(doctor_line(&text, "server").starts_with("ok"), "{text}");
    let model = doctor_line(&text, "model");
    assert!(model.starts_with("FAIL"), "{model}");
    assert!(model.contains("ollama pull nope:1b"), "{model}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_shows_where_each_value_came_from() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let prompts = sb.dir.path().join("my-prompts");
    std::fs::create_dir(&prompts).unwrap();
    std::fs::write(
        sb.config(),
        "model = \"tiny:1b\"\nhost = \"127.0.0.1:1\"\ntop = 5\nprompts = \"my-prompts\"\n",
    )
    .unwrap();
    let (s, u) = (sb.clone(), server.uri());
    let out = blocking(move || {
        s.cmd()
            .env("OLLAMA_HOST", u.trim_start_matches("http://"))
            .args(["doctor", "--num-ctx", "4096"])
            .output()
            .unwrap()
    })
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let cfg = sb.config().display().to_string();
    assert!(doctor_line(&text, "config").contains(&format!("{cfg} (from $TAKEAWAYS_CONFIG): read")));
    // env beats the config file's host; the config file gives the model, top and prompts
    assert!(
        doctor_line(&text, "server").contains("(from $OLLAMA_HOST, Ollama API)"),
        "{text}"
    );
    assert!(
        doctor_line(&text, "model").contains(&format!("tiny:1b (from {cfg})")),
        "{text}"
    );
    assert!(
        doctor_line(&text, "top").contains(&format!("5 takeaways (from {cfg})")),
        "{text}"
    );
    assert!(
        doctor_line(&text, "prompts").contains(&format!(
            "{} (from {cfg}): 0 of 4 templates overridden",
            prompts.display()
        )),
        "{text}"
    );
    // the flag beats everything
    assert!(
        doctor_line(&text, "context").contains("num_ctx used: 4096 (from --num-ctx)"),
        "{text}"
    );
}

#[test]
fn malformed_config_is_one_line_naming_the_file() {
    let sb = Sandbox::new();
    std::fs::write(sb.config(), "model = \"tiny:1b\"\ntop = \"ten\"\n").unwrap();
    let out = sb
        .cmd()
        .args(["summarize", &sb.writeup(), "--host", &closed_port_url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("config file {}: line 2:", sb.config().display())),
        "{err}"
    );
    // doctor reports it as a failing line and goes on with the other checks.
    let out = sb
        .cmd()
        .args(["doctor", "--host", &closed_port_url()])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(doctor_line(&text, "config").starts_with("FAIL"), "{text}");
    assert!(doctor_line(&text, "cache").starts_with("ok"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// progress, --pull, Ctrl-C

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_only_with_the_flag_when_stderr_is_not_a_terminal() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    mount_chat(&server, 1).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let (s, u) = (sb.clone(), server.uri());
    let quiet = blocking(move || s.summarize(&u, &[])).await;
    assert!(quiet.status.success());
    assert_eq!(
        stderr(&quiet),
        "",
        "stderr is not a terminal: nothing on it"
    );

    let (s, u) = (sb.clone(), server.uri());
    let shown = blocking(move || s.summarize(&u, &["--progress"])).await;
    let err = stderr(&shown);
    assert!(shown.status.success(), "{err}");
    assert!(err.contains("takeaways: summarizing 1 chunk\n"), "{err}");
    assert!(
        err.contains("takeaways: [1/1] ") && err.contains("Golden paths (elapsed "),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no escape codes in line mode: {err:?}"
    );

    sb.cmd()
        .args(["summarize", "x.md", "--quiet", "--progress"])
        .assert()
        .code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_downloads_a_missing_model_then_goes_on() {
    let server = MockServer::start().await;
    // Missing at first; present after the pull.
    Mock::given(method("POST"))
        .and(path("/api/show"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": "model 'tiny:1b' not found"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    let pull = [
        json!({"status": "pulling manifest"}),
        json!({"status": "pulling abc", "digest": "sha256:abc", "total": 1000, "completed": 500}),
        json!({"status": "pulling abc", "digest": "sha256:abc", "total": 1000, "completed": 1000}),
        json!({"status": "success"}),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect::<String>();
    Mock::given(method("POST"))
        .and(path("/api/pull"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(pull, "application/x-ndjson"))
        .expect(1)
        .mount(&server)
        .await;
    mount_chat(&server, 1).await;
    let sb = std::sync::Arc::new(Sandbox::new());
    let (s, u) = (sb.clone(), server.uri());
    let out = blocking(move || s.summarize(&u, &["--pull", "--progress"])).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("takeaways: pulling tiny:1b"), "{err}");
    assert!(err.contains("tiny:1b: pulling abc 50%"), "{err}");
    assert!(err.contains("tiny:1b: success"), "{err}");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_writes_nothing_and_reraises_sigint() {
    let server = MockServer::start().await;
    mount_metadata(&server, Some("sha256:aaaa")).await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-ndjson")
                .set_body_string(ndjson_answer(&extract_answer()))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&server)
        .await;
    let sb = Sandbox::new();
    let out_file = sb.dir.path().join("summary.md");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("takeaways"))
        .args(["summarize", &sb.writeup(), "--model", "tiny:1b", "--host"])
        .arg(server.uri())
        .arg("-o")
        .arg(&out_file)
        .env("TAKEAWAYS_CACHE_DIR", sb.cache())
        .env("TAKEAWAYS_CONFIG", sb.config())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the model call is under way.
    let mut waited = 0;
    while !server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .any(|r| r.url.path() == "/api/chat")
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 400, "no chat request within 20 s");
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = blocking(move || child.wait_with_output().unwrap()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not stop promptly"
    );
    // Killed by SIGINT itself (re-raised after cleanup), so a calling shell loop stops too.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.trim_end(),
        format!(
            "takeaways: interrupted after 0 of 1 chunk; {} not written",
            out_file.display()
        )
    );
    assert!(!out_file.exists());
    let leftovers: Vec<_> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| {
            n.to_string_lossy().starts_with(".tmp") || n.to_string_lossy().ends_with(".tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(Path::new(&sb.writeup()).exists());
}
