//! `cargo bench` (divan): the work takeaways does around the model calls.
//!
//! - `split_generated`: [`split::outline`] then [`split::chunks`] (sections, then chunks under the default budget) on a
//!   ~5 MB Markdown writeup generated here (headings, bold pseudo-headings, nested lists, code
//!   fences with `#` lines, tables, CJK paragraphs); throughput in bytes/s.
//! - `split_corpus_longest`: the same on `../shared/corpus/springone-2021-notes.md`, read at bench
//!   time; skipped when the file is not there.
//! - `pipeline_replay_15k`: [`pipeline::summarize`] in replay mode on the ~15,000-word
//!   `bench/writeups/harbor-systems-2025.md`, answered from `bench/recordings/` (made from the
//!   stand-in model): split, prompts, replay lookups, parsing, grounding, ranking, final pass.
//! - `pipeline_stub_20mb`: [`pipeline::summarize`] on a generated 20 MB writeup of 11,000
//!   sections (the size of issue 10's case), against a local stub server that answers every
//!   call at once (`perf/stub.rs`): everything it measures is time outside model calls (the
//!   HTTP round trips on loopback included). One sample: a run takes seconds. Left out with
//!   `TAKEAWAYS_BENCH_SKIP_HUGE=1`.
//!
//! `bench/run.sh` prints the same measurements (plus process-level time and peak RSS for the
//! pipeline and for `batch`) as one table; it runs this binary with `TAKEAWAYS_BENCH_TABLE=1`,
//! which skips divan and prints tab-separated medians instead. `TAKEAWAYS_BENCH_WRITE_HUGE=FILE`
//! only writes the 20 MB writeup to `FILE`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use divan::counter::BytesCount;
use divan::Bencher;
use takeaways::input::{self, BodyFormat, Document};
use takeaways::language::Language;
use takeaways::llm::{Llm, LlmConfig};
use takeaways::pipeline::{self, NoProgress, Settings, Strategy};
use takeaways::prompts::Prompts;
use takeaways::split::{self, Budget};
use takeaways::{extract, rank};

#[path = "perf/stub.rs"]
mod stub;

/// Size of the generated writeup.
const GENERATED_BYTES: usize = 5 * 1024 * 1024;
const CORPUS_LONGEST: &str = "../shared/corpus/springone-2021-notes.md";
const WRITEUP_15K: &str = "bench/writeups/harbor-systems-2025.md";
const RECORDINGS_15K: &str = "bench/recordings/harbor-systems-2025";

fn main() {
    // `TAKEAWAYS_BENCH_WRITE_HUGE=FILE`: writes the 20 MB writeup there and stops (to run the
    // release binary on it against a stub, for its peak RSS).
    if let Some(path) = std::env::var_os("TAKEAWAYS_BENCH_WRITE_HUGE") {
        std::fs::write(path, huge_writeup()).expect("write the huge writeup");
        return;
    }
    if std::env::var_os("TAKEAWAYS_BENCH_TABLE").is_some() {
        table();
        return;
    }
    let mut divan = divan::Divan::from_args();
    if !corpus_path().exists() {
        eprintln!("note: {CORPUS_LONGEST} not found; split_corpus_longest skipped");
        divan = divan.skip_regex("split_corpus_longest");
    }
    if !root().join(RECORDINGS_15K).is_dir() {
        eprintln!("note: {RECORDINGS_15K} not found (bench/record.sh makes it); pipeline_replay_15k skipped");
        divan = divan.skip_regex("pipeline_replay_15k");
    }
    if skip_huge() {
        eprintln!("note: TAKEAWAYS_BENCH_SKIP_HUGE is set; pipeline_stub_20mb skipped");
        divan = divan.skip_regex("pipeline_stub_20mb");
    }
    divan.main();
}

/// `TAKEAWAYS_BENCH_SKIP_HUGE` is set: the 20 MB case is left out.
fn skip_huge() -> bool {
    std::env::var_os("TAKEAWAYS_BENCH_SKIP_HUGE").is_some()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_path() -> PathBuf {
    root().join(CORPUS_LONGEST)
}

/// The chunk budget of a default run (`num_ctx` 8192, default prompts and chunk target).
fn default_budget(doc: &Document) -> Budget {
    let prompts = Prompts::new(None).expect("built-in prompts");
    pipeline::budget(&split::outline(doc), &prompts, &settings(), 8192).expect("budget")
}

/// The settings of `takeaways summarize FILE --model smollm2:135m --num-ctx 8192`.
fn settings() -> Settings {
    Settings {
        model: "smollm2:135m".into(),
        num_ctx: Some(8192),
        num_predict: pipeline::DEFAULT_NUM_PREDICT,
        temperature: 0.0,
        seed: None,
        repeat_penalty: pipeline::DEFAULT_REPEAT_PENALTY,
        top: 10,
        target_tokens: None,
        final_pass: true,
        keep_going: false,
        language: None,
        strategy: Strategy::Auto,
    }
}

fn markdown(body: String) -> Document {
    Document {
        source: "generated.md".into(),
        title: Some("Generated writeup".into()),
        date: None,
        author: None,
        format: BodyFormat::Markdown,
        hidden: Default::default(),
        body,
    }
}

/// A small deterministic generator (64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() % items.len()]
    }
}

const WORDS: &[&str] = &[
    "platform",
    "teams",
    "latency",
    "budget",
    "rollout",
    "cluster",
    "observability",
    "queue",
    "migration",
    "schema",
    "incident",
    "review",
    "cost",
    "cache",
    "deploy",
    "service",
    "tracing",
    "on-call",
    "database",
    "storage",
    "the",
    "a",
    "of",
    "and",
    "with",
    "for",
    "we",
    "they",
    "measured",
    "reduced",
    "replaced",
    "kept",
    "shipped",
    "learned",
    "every",
    "small",
    "boring",
    "reversible",
    "changes",
    "region",
    "percent",
    "month",
    "week",
    "speaker",
    "talk",
    "slides",
];
const CJK: &[&str] = &[
    "会場では多くの参加者がこの話題について議論していました。",
    "小さな変更を積み重ねることが大きな再設計よりも効果的です。",
    "运维团队认为先测量再优化是最重要的原则。",
    "발표자는 작은 변경이 더 안전하다고 말했습니다.",
];

fn sentence(rng: &mut Lcg) -> String {
    let n = 8 + rng.next() % 14;
    let mut s = String::new();
    for i in 0..n {
        let w = rng.pick(WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s.push('.');
    s
}

fn paragraph(rng: &mut Lcg) -> String {
    let n = 3 + rng.next() % 5;
    (0..n).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

/// A Markdown writeup of at least `bytes` bytes: `##`/`###` headings, bold pseudo-headings,
/// paragraphs, nested lists, code fences (with `#` lines that are not headings), pipe tables and
/// CJK paragraphs, in a fixed pseudo-random mix.
pub fn generated_writeup(bytes: usize) -> String {
    let mut rng = Lcg(0x7a6b_e5a1);
    let mut out = String::from("# Generated conference writeup\n\nIntro paragraph. ");
    out.push_str(&paragraph(&mut rng));
    out.push_str("\n\n");
    let mut section = 0;
    while out.len() < bytes {
        section += 1;
        out.push_str(&format!("## Talk {section}: {}\n\n", sentence(&mut rng)));
        for block in 0..6 + rng.next() % 6 {
            match rng.next() % 10 {
                0 => out.push_str(&format!("### Part {block}\n\n")),
                1 => {
                    for _ in 0..3 + rng.next() % 4 {
                        out.push_str(&format!("- {}\n", sentence(&mut rng)));
                        if rng.next().is_multiple_of(3) {
                            out.push_str(&format!("  - {}\n", sentence(&mut rng)));
                        }
                    }
                    out.push('\n');
                }
                2 => out.push_str(&format!(
                    "```sh\n# not a heading\nkubectl get pods -n {}\n## nor this\n```\n\n",
                    rng.pick(WORDS)
                )),
                3 => {
                    out.push_str("| metric | before | after |\n|---|---|---|\n");
                    for _ in 0..2 + rng.next() % 6 {
                        out.push_str(&format!(
                            "| {} | {} | {} |\n",
                            rng.pick(WORDS),
                            rng.next() % 1000,
                            rng.next() % 1000
                        ));
                    }
                    out.push('\n');
                }
                4 => {
                    let n = 2 + rng.next() % 4;
                    let cjk: String = (0..n).map(|_| rng.pick(CJK)).collect();
                    out.push_str(&cjk);
                    out.push_str("\n\n");
                }
                5 => out.push_str(&format!("**{}**\n\n", rng.pick(WORDS))),
                _ => {
                    out.push_str(&paragraph(&mut rng));
                    out.push_str("\n\n");
                }
            }
        }
    }
    out
}

/// Sections of the huge writeup: issue 10's 20 MB writeup had 11,096.
const HUGE_SECTIONS: usize = 11_000;
/// Its size.
const HUGE_BYTES: usize = 20 * 1024 * 1024;

/// A Markdown writeup of [`HUGE_SECTIONS`] `## Talk N: …` sections and about [`HUGE_BYTES`]
/// bytes (~1.9 kB a section: paragraphs and lists from the vocabulary of [`generated_writeup`]),
/// an intro list of highlights and a closing "Key takeaways" list, so that every ranking rule
/// (highlights, headings, summary sections) has thousands of texts to look at.
pub fn huge_writeup() -> String {
    let mut rng = Lcg(0x2000_0000);
    let mut out = String::from("# A very long conference writeup\n\nWhat stood out:\n\n");
    for _ in 0..5 {
        out.push_str(&format!("- {}\n", sentence(&mut rng)));
    }
    out.push('\n');
    for n in 1..=HUGE_SECTIONS {
        out.push_str(&format!("## Talk {n}: {}\n\n", sentence(&mut rng)));
        let end = n * HUGE_BYTES / (HUGE_SECTIONS + 1);
        while out.len() < end {
            if rng.next().is_multiple_of(4) {
                for _ in 0..3 {
                    out.push_str(&format!("- {}\n", sentence(&mut rng)));
                }
                out.push('\n');
            } else {
                out.push_str(&paragraph(&mut rng));
                out.push_str("\n\n");
            }
        }
    }
    out.push_str("## Key takeaways\n\n");
    for _ in 0..5 {
        out.push_str(&format!("- {}\n", sentence(&mut rng)));
    }
    out
}

/// The settings of a default `takeaways summarize FILE --model m --num-ctx 8192` (no final
/// pass: it is off by default).
fn huge_settings() -> Settings {
    Settings {
        final_pass: false,
        ..settings()
    }
}

/// The huge writeup and a client of a stub server ([`stub`]); no answer cache.
struct Huge {
    doc: Document,
    llm: Llm,
    prompts: Prompts,
    runtime: tokio::runtime::Runtime,
}

impl Huge {
    fn new() -> Self {
        let stub = stub::start();
        Huge {
            doc: markdown(huge_writeup()),
            llm: Llm::new(LlmConfig {
                host: stub.url,
                ..LlmConfig::default()
            })
            .expect("stub client"),
            prompts: Prompts::new(None).expect("built-in prompts"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    fn run(&self) -> takeaways::types::Summary {
        self.runtime
            .block_on(pipeline::summarize(
                &self.doc,
                &self.llm,
                &self.prompts,
                &huge_settings(),
                "2025-06-14",
                &NoProgress,
            ))
            .expect("summary from the stub")
    }

    /// The candidates of the map step, as the pipeline makes them (the same context, the
    /// chunks in order, numbered in document order), for the ranking alone.
    fn candidates(&self) -> Vec<takeaways::types::Candidate> {
        let s = huge_settings();
        let outline = split::outline(&self.doc);
        let budget = pipeline::budget(&outline, &self.prompts, &s, 8192).expect("budget");
        let chunks = pipeline::plan_chunks(&self.doc, &outline, &self.prompts, &s, 8192, budget)
            .expect("chunks")
            .chunks;
        let written_in = Language::detect(&self.doc.body);
        let checks = extract::Checks::new(
            &outline.names(),
            &extract::instruction_lines(&self.prompts).expect("instructions"),
        )
        .with_injections(&extract::filters::injected_passages(&self.doc.body));
        let headings = extract::Headings::of_outline(&outline);
        let ctx = extract::DocContext {
            title: &outline.title,
            body: &self.doc.body,
            checks: &checks,
            written_in,
            answer_in: written_in,
            headings: &headings,
        };
        let call = extract::CallSettings {
            model: s.model.clone(),
            options: takeaways::llm::Options {
                num_ctx: 8192,
                num_predict: s.num_predict as i32,
                temperature: s.temperature,
                seed: s.seed,
                repeat_penalty: Some(s.repeat_penalty),
            },
        };
        let mut out = Vec::new();
        for chunk in &chunks {
            let outcome = self
                .runtime
                .block_on(extract::extract_chunk(
                    &self.llm,
                    &self.prompts,
                    &call,
                    ctx,
                    chunk,
                    out.len(),
                ))
                .map_err(|(e, _)| e)
                .expect("stub answer");
            out.extend(outcome.candidates);
        }
        out
    }
}

#[divan::bench(sample_count = 1, sample_size = 1)]
fn pipeline_stub_20mb(bencher: Bencher) {
    let huge = Huge::new();
    bencher
        .counter(BytesCount::new(huge.doc.body.len()))
        .bench(|| huge.run().takeaways.len());
}

#[divan::bench(sample_count = 10)]
fn split_generated(bencher: Bencher) {
    let doc = markdown(generated_writeup(GENERATED_BYTES));
    let budget = default_budget(&doc);
    bencher.counter(BytesCount::new(doc.body.len())).bench(|| {
        let doc = divan::black_box(&doc);
        split::chunks(doc, &split::outline(doc), budget)
    });
}

#[divan::bench(sample_count = 20)]
fn split_corpus_longest(bencher: Bencher) {
    let doc = input::read_path(&corpus_path()).expect("corpus file");
    let budget = default_budget(&doc);
    bencher.counter(BytesCount::new(doc.body.len())).bench(|| {
        let doc = divan::black_box(&doc);
        split::chunks(doc, &split::outline(doc), budget)
    });
}

/// Everything a replay run needs, read once.
struct Replay {
    doc: Document,
    llm: Llm,
    prompts: Prompts,
    runtime: tokio::runtime::Runtime,
}

impl Replay {
    fn new() -> Self {
        let root = root();
        Replay {
            doc: input::read_path(&root.join(WRITEUP_15K)).expect("bench writeup"),
            llm: Llm::new(LlmConfig {
                host: takeaways::llm::DEFAULT_HOST.into(),
                replay: Some(root.join(RECORDINGS_15K)),
                ..LlmConfig::default()
            })
            .expect("replay client"),
            prompts: Prompts::new(None).expect("built-in prompts"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    fn run(&self) -> usize {
        let summary = self
            .runtime
            .block_on(pipeline::summarize(
                &self.doc,
                &self.llm,
                &self.prompts,
                &settings(),
                "2025-06-14",
                &NoProgress,
            ))
            .expect("replayed summary");
        summary.takeaways.len()
    }
}

#[divan::bench(sample_count = 10)]
fn pipeline_replay_15k(bencher: Bencher) {
    let replay = Replay::new();
    bencher
        .counter(BytesCount::new(replay.doc.body.len()))
        .bench(|| replay.run());
}

/// Median wall time of `f` over `runs` runs (after one warm-up run).
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    divan::black_box(f());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            divan::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// `TAKEAWAYS_BENCH_TABLE=1`: one tab-separated line per measurement, `name bytes seconds`
/// (median), for `bench/run.sh`.
fn table() {
    let split_line = |name: &str, doc: &Document, runs: usize| {
        let budget = default_budget(doc);
        let t = median(runs, || split::chunks(doc, &split::outline(doc), budget));
        println!("{name}\t{}\t{:.6}", doc.body.len(), t.as_secs_f64());
    };
    split_line(
        "split_generated",
        &markdown(generated_writeup(GENERATED_BYTES)),
        5,
    );
    let corpus = corpus_path();
    if corpus.exists() {
        let doc = input::read_path(&corpus).expect("corpus file");
        split_line("split_corpus_longest", &doc, 21);
    } else {
        println!("split_corpus_longest\t-\t-");
    }
    if !skip_huge() {
        huge_table();
    }
    if Path::new(&root().join(RECORDINGS_15K)).is_dir() {
        let replay = Replay::new();
        let t = median(11, || replay.run());
        println!(
            "pipeline_replay_15k_in_process\t{}\t{:.6}",
            replay.doc.body.len(),
            t.as_secs_f64()
        );
    }
}

/// CPU time of the calling thread so far (user + system, from `/proc/thread-self/stat`, in
/// clock ticks of 10 ms), or `None` where that file is not there. The pipeline runs on the
/// bench's thread (a current-thread runtime) and the stub on its own, so this is the time the
/// run itself spent, whatever else the machine is doing.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Wall time and thread CPU time in seconds (`-` when unknown) of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, String) {
    let cpu = thread_cpu();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed();
    let cpu = match (cpu, thread_cpu()) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a).as_secs_f64()),
        _ => "-".to_string(),
    };
    (out, wall, cpu)
}

/// The 20 MB case for the table: the whole run against the stub, then two of its parts alone,
/// the split and the ranking (of the candidates of a map step against the stub); one run each
/// (a run takes seconds). Lines: `name bytes wall_s cpu_s note`.
fn huge_table() {
    let huge = Huge::new();
    let bytes = huge.doc.body.len();
    let (summary, wall, cpu) = timed(|| huge.run());
    let sections = split::outline(&huge.doc).sections.len();
    println!(
        "pipeline_stub_20mb\t{bytes}\t{:.6}\t{cpu}\t{sections} sections, {} chunks, {} calls, {} candidates, {} takeaways",
        wall.as_secs_f64(),
        summary.stats.chunks,
        summary.stats.model_calls,
        summary.stats.candidates,
        summary.takeaways.len()
    );
    let budget = default_budget(&huge.doc);
    let (_, wall, cpu) = timed(|| split::chunks(&huge.doc, &split::outline(&huge.doc), budget));
    println!("split_20mb\t{bytes}\t{:.6}\t{cpu}", wall.as_secs_f64());
    let candidates = huge.candidates();
    let outline = split::outline(&huge.doc);
    let (_, wall, cpu) = timed(|| {
        let emphasis = rank::emphasis(&huge.doc.body, &outline.sections);
        rank::rank_report(&candidates, &emphasis, 10)
    });
    println!(
        "rank_20mb\t{bytes}\t{:.6}\t{cpu}\t{} candidates",
        wall.as_secs_f64(),
        candidates.len()
    );
}
