//! Engine tests. The ones that run a model need a small GGUF file named by the environment
//! variable `TAKEAWAYS_TEST_GGUF` (e.g. SmolLM2-135M-Instruct, 94 MiB) and are skipped, with a
//! note on stderr, when it is unset or the file is missing. The speed measurement is in
//! `measure.rs`.

use std::path::PathBuf;

use super::*;
use crate::llm::Options;

/// The map step's answer schema (`extract::ExtractAnswer`: takeaways of a headline and an
/// importance), written out so that the engine's tests do not import the stage above `llm`.
pub(super) fn answer_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"takeaways": {
            "type": "array", "minItems": 1, "maxItems": 16,
            "items": {
                "type": "object",
                "properties": {
                    "headline": {"type": "string", "maxLength": 100},
                    "importance": {"type": "integer", "minimum": 1, "maximum": 5}
                },
                "required": ["headline", "importance"]
            }
        }},
        "required": ["takeaways"]
    })
}

/// `content` as an answer of [`answer_schema`]: a JSON object with at least one takeaway.
fn parse_answer(content: &str) -> Result<serde_json::Value, String> {
    let v: serde_json::Value = serde_json::from_str(content).map_err(|e| e.to_string())?;
    match v["takeaways"].as_array() {
        Some(items) if !items.is_empty() && items.iter().all(|t| t["headline"].is_string()) => {
            Ok(v)
        }
        _ => Err("no takeaways with a headline".to_owned()),
    }
}

/// One model test at a time, each on one thread: llama.cpp's thread pool spin-waits, and these
/// tests run side by side with two threads each took 200 s on a 2-core CI machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The test model, with the turn of this test on it ([`ONE_AT_A_TIME`]).
struct TestModel {
    file: ModelFile,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl std::ops::Deref for TestModel {
    type Target = ModelFile;
    fn deref(&self) -> &ModelFile {
        &self.file
    }
}

fn test_model() -> Option<TestModel> {
    let Some(path) = std::env::var_os("TAKEAWAYS_TEST_GGUF").map(PathBuf::from) else {
        eprintln!("note: TAKEAWAYS_TEST_GGUF is not set; skipping a test that needs a GGUF model");
        return None;
    };
    match store::resolve(&path.to_string_lossy(), &store::process_env) {
        Ok(file) => Some(TestModel {
            file,
            _turn: ONE_AT_A_TIME
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        }),
        Err(e) => {
            eprintln!("note: TAKEAWAYS_TEST_GGUF: {e}; skipping a test that needs a GGUF model");
            None
        }
    }
}

pub(super) fn load(file: &ModelFile, parallel: usize) -> Embedded {
    let cfg = EmbeddedConfig {
        threads: Some(1),
        parallel,
        verbose: false,
        reuse_prefix: true,
    };
    Embedded::load(file, &cfg).expect("the test model loads")
}

pub(super) fn options(num_ctx: u32, num_predict: i32) -> Options {
    Options {
        num_ctx,
        num_predict,
        temperature: 0.0,
        seed: Some(42),
        repeat_penalty: Some(1.1),
    }
}

pub(super) fn request(
    system: &str,
    user: &str,
    format: Option<serde_json::Value>,
    opts: Options,
) -> ChatRequest {
    ChatRequest {
        model: "test".into(),
        messages: vec![Message::system(system), Message::user(user)],
        format,
        options: opts,
        estimated_prompt_tokens: 0,
    }
}

pub(super) const SYSTEM: &str =
    "You read one part of a conference writeup and list its key takeaways: the \
    lessons, trends and opinions a reader should remember. You answer with JSON only, and you \
    only state what the text says.";

const PART: &str = "Part \"Keynotes\" of the writeup \"KubeCon notes\":\n\n\"\"\"\nThe keynote \
    said platform teams should treat internal developer platforms as products, with roadmaps \
    and user research. Several talks showed that WebAssembly runtimes now start in under a \
    millisecond and are used for edge functions. The speakers warned that most clusters are \
    still over-provisioned by half.\n\"\"\"\n\nList up to 3 key takeaways of this part. For \
    each one give \"headline\", \"detail\", \"importance\" (1 to 5) and \"quote\".";

/// A system message of several hundred tokens, as a long instruction block would be.
pub(super) fn long_system() -> String {
    let mut s = String::from(SYSTEM);
    for i in 1..=12 {
        s.push_str(&format!(
            "\nRule {i}: keep each headline short, name the speaker only when the text does, do \
             not invent numbers, prefer concrete lessons over summaries, and copy the quote \
             exactly from the text."
        ));
    }
    s
}

#[test]
fn load_rejects_a_file_that_is_not_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, b"<html>not a model</html>").unwrap();
    let file = ModelFile {
        path: path.clone(),
        size_bytes: 24,
        source: ModelSource::Path,
    };
    let err = Embedded::load(&file, &EmbeddedConfig::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LlmError::ModelFile { .. }), "{msg}");
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("not a GGUF file"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn load_rejects_a_gguf_llama_cpp_cannot_load() {
    // A valid GGUF v3 header with no tensors and no metadata: no architecture to load.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes()); // tensor count
    bytes.extend_from_slice(&0u64.to_le_bytes()); // metadata count
    std::fs::write(&path, &bytes).unwrap();
    let file = ModelFile {
        path: path.clone(),
        size_bytes: bytes.len() as u64,
        source: ModelSource::Path,
    };
    let err = Embedded::load(&file, &EmbeddedConfig::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LlmError::ModelFile { .. }), "{msg}");
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("llama.cpp could not load it"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn load_checks_its_config() {
    let file = ModelFile {
        path: PathBuf::from("/nonexistent.gguf"),
        size_bytes: 0,
        source: ModelSource::Path,
    };
    let cfg = EmbeddedConfig {
        parallel: 0,
        ..EmbeddedConfig::default()
    };
    assert!(matches!(
        Embedded::load(&file, &cfg),
        Err(LlmError::Engine { .. })
    ));
}

#[test]
fn physical_cores_is_at_least_one() {
    let n = physical_cores();
    assert!(n >= 1 && n <= std::thread::available_parallelism().map_or(1, |n| n.get()));
}

#[test]
fn answers_with_the_extract_schema() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    assert!(engine.trained_context_length() > 0);
    let req = request(SYSTEM, PART, Some(answer_schema()), options(2048, 768));
    let answer = engine.chat(&req).expect("an answer");
    let parsed = parse_answer(&answer.content);
    assert!(parsed.is_ok(), "{:?}: {}", parsed.err(), answer.content);
    assert_eq!(
        answer.done_reason.as_deref(),
        Some("stop"),
        "{}",
        answer.content
    );
    let expected = engine.tokenize_chat(&req.messages).unwrap().len() as u64;
    assert_eq!(answer.prompt_eval_count, Some(expected));
    assert!(answer.eval_count.unwrap() > 1);
    for d in [
        answer.total_duration,
        answer.prompt_eval_duration,
        answer.eval_duration,
    ] {
        assert!(d.unwrap() > 0);
    }
    assert!(answer.total_duration.unwrap() >= answer.eval_duration.unwrap());
    let stats = engine.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.generated_tokens, answer.eval_count.unwrap());
    assert_eq!(stats.prompt_tokens_computed, expected);
}

#[test]
fn json_format_gives_an_object() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    let req = request(
        SYSTEM,
        PART,
        Some(serde_json::Value::from("json")),
        options(2048, 256),
    );
    let answer = engine.chat(&req).unwrap();
    if answer.done_reason.as_deref() == Some("stop") {
        let v: serde_json::Value = serde_json::from_str(answer.content.trim()).unwrap();
        assert!(v.is_object(), "{}", answer.content);
    } else {
        assert!(
            answer.content.trim_start().starts_with('{'),
            "{}",
            answer.content
        );
    }
}

#[test]
fn num_predict_cuts_with_length() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    let answer = engine
        .chat(&request(SYSTEM, PART, None, options(2048, 5)))
        .unwrap();
    assert_eq!(answer.done_reason.as_deref(), Some("length"));
    assert_eq!(answer.eval_count, Some(5));
}

#[test]
fn an_over_long_prompt_fails_before_decoding() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    let req = request(&long_system(), PART, None, options(128, 16));
    let n = engine.tokenize_chat(&req.messages).unwrap().len();
    match engine.chat(&req) {
        Err(LlmError::ContextExceeded { num_ctx, detail }) => {
            assert_eq!(num_ctx, 128);
            assert_eq!(detail, format!("prompt is {n} tokens, num_ctx is 128"));
        }
        other => panic!("expected ContextExceeded, got {other:?}"),
    }
    assert_eq!(engine.stats().decode_calls, 0, "nothing was decoded");
    assert_eq!(
        engine.stats().contexts_created,
        0,
        "no context was even created"
    );

    // Exactly at the edge: N + 1 == num_ctx is allowed (one token of room), N == num_ctx is not.
    let fits = |num_ctx| engine.chat(&request(&long_system(), PART, None, options(num_ctx, 4)));
    assert!(matches!(
        fits(n as u32),
        Err(LlmError::ContextExceeded { .. })
    ));
    let answer = fits(n as u32 + 1).unwrap();
    assert_eq!(answer.eval_count, Some(1));
    assert_eq!(answer.done_reason.as_deref(), Some("length"));
}

#[test]
fn a_shared_prefix_is_reused_with_the_same_answer() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    let system = long_system();
    let schema = Some(answer_schema());
    let b = request(&system, PART, schema.clone(), options(4096, 200));
    let a = request(
        &system,
        "Part \"Intro\": the writeup opens with a list of the talks.",
        schema,
        options(4096, 200),
    );

    let cold = engine.chat(&b).unwrap();
    let after_cold = engine.stats();
    assert_eq!(after_cold.prompt_tokens_reused, 0);

    engine.chat(&a).unwrap();
    let after_a = engine.stats();
    let a_reused = after_a.prompt_tokens_reused - after_cold.prompt_tokens_reused;
    assert!(
        a_reused > 300,
        "the long system message is reused: {a_reused}"
    );

    let warm = engine.chat(&b).unwrap();
    let after = engine.stats();
    let computed = after.prompt_tokens_computed - after_a.prompt_tokens_computed;
    assert!(
        computed < cold.prompt_eval_count.unwrap() / 2,
        "computed {computed} of {:?}",
        cold.prompt_eval_count
    );
    assert_eq!(
        warm.prompt_eval_count, cold.prompt_eval_count,
        "the count is the whole prompt"
    );
    assert_eq!(warm.content, cold.content, "same answer as computed cold");
    assert_eq!(after.contexts_created, 1);
}

#[test]
fn the_same_prompt_twice_decodes_only_its_last_token() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    let req = request(SYSTEM, PART, None, options(2048, 8));
    let first = engine.chat(&req).unwrap();
    let before = engine.stats();
    let second = engine.chat(&req).unwrap();
    let after = engine.stats();
    assert_eq!(
        after.prompt_tokens_computed - before.prompt_tokens_computed,
        1
    );
    assert_eq!(first.content, second.content);
}

#[test]
fn chat_many_decodes_together_and_shares_the_prefix() {
    let Some(file) = test_model() else { return };
    let system = long_system();
    let schema = Some(answer_schema());
    let users = [
        PART.to_owned(),
        "Part \"Intro\": the writeup opens with a list of the talks.".to_owned(),
        "Part \"Hallway\": people talked mostly about cost and about AI on Kubernetes.".to_owned(),
    ];
    let reqs: Vec<ChatRequest> = users
        .iter()
        .map(|u| request(&system, u, schema.clone(), options(2048, 160)))
        .collect();

    let parallel = load(&file, 2);
    let together = parallel.chat_many(&reqs);
    let stats = parallel.stats();
    assert_eq!(stats.requests, 3);
    assert!(stats.prompt_tokens_copied > 300, "{stats:?}");
    // Two requests at a time: the batch decoded fewer times than one-by-one generation would.
    let answers: Vec<ChatResponse> = together.into_iter().map(Result::unwrap).collect();
    let generated: u64 = answers.iter().map(|a| a.eval_count.unwrap()).sum();
    assert!(
        stats.decode_calls < generated,
        "{stats:?}, generated {generated}"
    );

    // Answers as one at a time would give. Not compared byte for byte: a batch of several
    // sequences sums in another order than a batch of one, and with greedy sampling a tiny
    // logit difference can change a later token (seen with SmolLM2-135M). The prompt counts
    // are exact, and every answer keeps to the schema.
    let single = load(&file, 1);
    for (req, answer) in reqs.iter().zip(&answers) {
        let alone = single.chat(req).unwrap();
        assert_eq!(alone.prompt_eval_count, answer.prompt_eval_count);
        if answer.done_reason.as_deref() == Some("stop") {
            let parsed = parse_answer(&answer.content);
            assert!(parsed.is_ok(), "{:?}: {}", parsed.err(), answer.content);
        }
    }
}

#[test]
fn the_worker_decodes_concurrent_calls_together() {
    let Some(file) = test_model() else { return };
    let system = long_system();
    let schema = Some(answer_schema());
    let reqs: Vec<ChatRequest> = [
        "Part A: the keynote was about cost.",
        "Part B: WebAssembly.",
        "Part C: AI.",
    ]
    .iter()
    .map(|u| request(&system, u, schema.clone(), options(2048, 60)))
    .collect();
    let worker = Worker::start(load(&file, 2)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let answers = rt.block_on(futures::future::join_all(
        reqs.iter().map(|r| worker.chat(r)),
    ));
    let stats = worker.engine().stats();
    assert_eq!(stats.requests, 3, "{stats:?}");
    // The system prompt is decoded once and shared, and sequences were decoded together.
    assert!(stats.prompt_tokens_reused > 300, "{stats:?}");
    let generated: u64 = answers
        .into_iter()
        .map(|a| a.unwrap().eval_count.unwrap())
        .sum();
    assert!(stats.decode_calls < generated, "{stats:?}, {generated}");
    // An over-long prompt fails alone, before decoding.
    let long = request(&"word ".repeat(3000), "x", None, options(512, 8));
    let err = rt.block_on(worker.chat(&long)).unwrap_err();
    assert!(matches!(err, LlmError::ContextExceeded { .. }), "{err}");
}

#[test]
fn chat_many_keeps_order_and_isolates_errors() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 2);
    let reqs = vec![
        request(SYSTEM, "Say hi.", None, options(1024, 4)),
        request(&long_system(), PART, None, options(64, 4)),
        request(
            SYSTEM,
            "Say bye.",
            Some(serde_json::Value::from(7)),
            options(1024, 4),
        ),
        request(SYSTEM, "Say hello.", None, options(1024, 4)),
    ];
    let out = engine.chat_many(&reqs);
    assert_eq!(out.len(), 4);
    assert!(out[0].is_ok());
    // num_ctx 64 is one value of its own: it fails before a context of that size is made.
    assert!(matches!(
        out[1],
        Err(LlmError::ContextExceeded { num_ctx: 64, .. })
    ));
    assert!(matches!(out[2], Err(LlmError::Engine { .. })));
    assert!(out[3].is_ok());
    assert_eq!(engine.stats().contexts_created, 1);
}

#[test]
fn a_new_num_ctx_recreates_the_context() {
    let Some(file) = test_model() else { return };
    let engine = load(&file, 1);
    engine
        .chat(&request(SYSTEM, "Say hi.", None, options(512, 2)))
        .unwrap();
    engine
        .chat(&request(SYSTEM, "Say hi.", None, options(512, 2)))
        .unwrap();
    assert_eq!(engine.stats().contexts_created, 1);
    engine
        .chat(&request(SYSTEM, "Say hi.", None, options(1024, 2)))
        .unwrap();
    assert_eq!(engine.stats().contexts_created, 2);
    // A num_ctx above the trained context is capped there, as Ollama does.
    let big = engine.trained_context_length() + 1000;
    let out = engine.chat(&request(SYSTEM, &"word ".repeat(20), None, options(big, 2)));
    assert!(out.is_ok(), "{out:?}");
}
