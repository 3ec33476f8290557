//! Engine tests. The ones that run a model need a small GGUF file named by the environment
//! variable `TAKEAWAYS_TEST_GGUF` (e.g. SmolLM2-135M-Instruct, 94 MiB) and are skipped, with a
//! note on stderr, when it is unset or the file is missing. `measure` (ignored by default)
//! prints the speed numbers of the engine on the seed writeup:
//!
//! ```text
//! TAKEAWAYS_BENCH_GGUF=…/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
//!   cargo test --release --features embedded --lib embedded::tests::measure -- --ignored --nocapture
//! ```

use std::path::PathBuf;
use std::time::Instant;

use super::*;
use crate::extract::{parse_answer, schema_of, ExtractAnswer};
use crate::llm::Options;

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

fn load(file: &ModelFile, parallel: usize) -> Embedded {
    let cfg = EmbeddedConfig {
        threads: Some(1),
        parallel,
        verbose: false,
        reuse_prefix: true,
    };
    Embedded::load(file, &cfg).expect("the test model loads")
}

fn options(num_ctx: u32, num_predict: i32) -> Options {
    Options {
        num_ctx,
        num_predict,
        temperature: 0.0,
        seed: Some(42),
        repeat_penalty: Some(1.1),
    }
}

fn request(
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

const SYSTEM: &str = "You read one part of a conference writeup and list its key takeaways: the \
    lessons, trends and opinions a reader should remember. You answer with JSON only, and you \
    only state what the text says.";

const PART: &str = "Part \"Keynotes\" of the writeup \"KubeCon notes\":\n\n\"\"\"\nThe keynote \
    said platform teams should treat internal developer platforms as products, with roadmaps \
    and user research. Several talks showed that WebAssembly runtimes now start in under a \
    millisecond and are used for edge functions. The speakers warned that most clusters are \
    still over-provisioned by half.\n\"\"\"\n\nList up to 3 key takeaways of this part. For \
    each one give \"headline\", \"detail\", \"importance\" (1 to 5) and \"quote\".";

/// A system message of several hundred tokens, as a long instruction block would be.
fn long_system() -> String {
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
    let req = request(
        SYSTEM,
        PART,
        Some(schema_of::<ExtractAnswer>()),
        options(2048, 768),
    );
    let answer = engine.chat(&req).expect("an answer");
    let parsed: Result<ExtractAnswer, String> = parse_answer(&answer.content);
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
    let schema = Some(schema_of::<ExtractAnswer>());
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
    let schema = Some(schema_of::<ExtractAnswer>());
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
            let parsed: Result<ExtractAnswer, String> = parse_answer(&answer.content);
            assert!(parsed.is_ok(), "{:?}: {}", parsed.err(), answer.content);
        }
    }
}

#[test]
fn the_worker_decodes_concurrent_calls_together() {
    let Some(file) = test_model() else { return };
    let system = long_system();
    let schema = Some(schema_of::<ExtractAnswer>());
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

/// Speed numbers on the seed writeup (see the module docs for how to run it).
#[test]
#[ignore = "measurement: run with --ignored --nocapture and TAKEAWAYS_BENCH_GGUF"]
fn measure() {
    let path = std::env::var("TAKEAWAYS_BENCH_GGUF")
        .or_else(|_| std::env::var("TAKEAWAYS_TEST_GGUF"))
        .expect("TAKEAWAYS_BENCH_GGUF");
    let file = store::resolve(&path, &store::process_env).unwrap();
    let threads: usize = std::env::var("TAKEAWAYS_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let seed_path = std::env::var("TAKEAWAYS_BENCH_SEED")
        .unwrap_or_else(|_| "/work/shared/seed/kubecon-eu-2024-key-takeaways.txt".to_owned());
    let seed = std::fs::read_to_string(&seed_path).unwrap();
    let schema = Some(schema_of::<ExtractAnswer>());
    let cfg = |parallel| EmbeddedConfig {
        threads: Some(threads),
        parallel,
        verbose: false,
        reuse_prefix: true,
    };
    let rate = |tokens: Option<u64>, ns: Option<u64>| {
        tokens.unwrap_or(0) as f64 / (ns.unwrap_or(1) as f64 / 1e9)
    };
    println!(
        "model {} | threads {threads} | seed {} bytes",
        file.path.display(),
        seed.len()
    );

    // 1. One request over the whole seed.
    let engine = Embedded::load(&file, &cfg(1)).unwrap();
    let whole = request(
        SYSTEM,
        &format!("Part \"All\" of the writeup \"KubeCon EU 2024\":\n\n\"\"\"\n{seed}\n\"\"\"\n\nList up to 5 key takeaways."),
        schema.clone(),
        options(8192, 128),
    );
    let t = Instant::now();
    let a = engine.chat(&whole).unwrap();
    println!(
        "single: prompt {} tok in {:.2} s = {:.1} tok/s; generated {} tok in {:.2} s = {:.2} tok/s; wall {:.2} s ({})",
        a.prompt_eval_count.unwrap(),
        a.prompt_eval_duration.unwrap() as f64 / 1e9,
        rate(a.prompt_eval_count, a.prompt_eval_duration),
        a.eval_count.unwrap(),
        a.eval_duration.unwrap() as f64 / 1e9,
        rate(a.eval_count, a.eval_duration),
        t.elapsed().as_secs_f64(),
        a.done_reason.as_deref().unwrap_or("?"),
    );
    drop(engine);

    // Chunks of the seed for the next two measurements (~400 tokens each).
    let chunks: Vec<String> = seed
        .split("\n\n")
        .fold(vec![String::new()], |mut acc, para| {
            if acc.last().is_some_and(|c| c.len() > 1600) {
                acc.push(String::new());
            }
            let last = acc.last_mut().unwrap();
            last.push_str(para);
            last.push_str("\n\n");
            acc
        })
        .into_iter()
        .filter(|c| c.len() > 800)
        .collect();
    let system = long_system();
    let chunk_req = |i: usize| {
        request(
            &system,
            &format!("Part {i} of the writeup \"KubeCon EU 2024\":\n\n\"\"\"\n{}\n\"\"\"\n\nList up to 3 key takeaways.", chunks[i]),
            schema.clone(),
            options(4096, 96),
        )
    };

    // 2. Prefix reuse: the same request cold, then after another request with the same system.
    let engine = Embedded::load(&file, &cfg(1)).unwrap();
    let sys_tokens = engine
        .tokenize_chat(&[Message::system(&system)])
        .unwrap()
        .len();
    let cold = engine.chat(&chunk_req(1)).unwrap();
    engine.chat(&chunk_req(2)).unwrap();
    let before = engine.stats();
    let warm = engine.chat(&chunk_req(1)).unwrap();
    let after = engine.stats();
    println!(
        "prefix reuse: system ≈{sys_tokens} tok; prompt {} tok; cold prefill {:.2} s; warm prefill {:.2} s computing {} tok (reused {}); {:.2}× faster prefill; answers equal: {}",
        cold.prompt_eval_count.unwrap(),
        cold.prompt_eval_duration.unwrap() as f64 / 1e9,
        warm.prompt_eval_duration.unwrap() as f64 / 1e9,
        after.prompt_tokens_computed - before.prompt_tokens_computed,
        after.prompt_tokens_reused - before.prompt_tokens_reused,
        cold.prompt_eval_duration.unwrap() as f64 / warm.prompt_eval_duration.unwrap() as f64,
        cold.content == warm.content,
    );
    drop(engine);

    // 3. chat_many with parallel 2 vs one at a time (both start cold, both reuse prefixes).
    for n in 2..=4usize.min(chunks.len()) {
        let reqs: Vec<ChatRequest> = (0..n).map(chunk_req).collect();
        let seq_engine = Embedded::load(&file, &cfg(1)).unwrap();
        let t = Instant::now();
        let one_by_one: Vec<ChatResponse> =
            reqs.iter().map(|r| seq_engine.chat(r).unwrap()).collect();
        let seq_wall = t.elapsed().as_secs_f64();
        let seq_stats = seq_engine.stats();
        drop(seq_engine);
        let par_engine = Embedded::load(&file, &cfg(2)).unwrap();
        let t = Instant::now();
        let together: Vec<ChatResponse> = par_engine
            .chat_many(&reqs)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let par_wall = t.elapsed().as_secs_f64();
        let par_stats = par_engine.stats();
        drop(par_engine);
        let same = one_by_one
            .iter()
            .zip(&together)
            .filter(|(a, b)| a.content == b.content)
            .count();
        println!(
            "chat_many n={n}: sequential {seq_wall:.2} s (computed {} prompt tok, generated {}), parallel=2 {par_wall:.2} s (computed {}, generated {}, {} decode calls); {:.2}× ; same answers {same}/{n}",
            seq_stats.prompt_tokens_computed,
            seq_stats.generated_tokens,
            par_stats.prompt_tokens_computed,
            par_stats.generated_tokens,
            par_stats.decode_calls,
            seq_wall / par_wall,
        );
    }
}
