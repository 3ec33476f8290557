//! The engine's speed on the seed writeup, a measurement rather than a test (ignored by
//! default):
//!
//! ```text
//! TAKEAWAYS_BENCH_GGUF=…/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
//!   cargo test --release --features embedded --lib embedded::measure -- --ignored --nocapture
//! ```

use std::time::Instant;

use super::tests::{answer_schema, long_system, options, request, SYSTEM};
use super::*;

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
    let schema = Some(answer_schema());
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
