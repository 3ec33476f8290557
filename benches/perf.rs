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
//!
//! `bench/run.sh` prints the same measurements (plus process-level time and peak RSS for the
//! pipeline and for `batch`) as one table; it runs this binary with `TAKEAWAYS_BENCH_TABLE=1`,
//! which skips divan and prints tab-separated medians instead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use divan::counter::BytesCount;
use divan::Bencher;
use takeaways::input::{self, BodyFormat, Document};
use takeaways::llm::{Llm, LlmConfig};
use takeaways::pipeline::{self, NoProgress, Settings, Strategy};
use takeaways::prompts::Prompts;
use takeaways::split::{self, Budget};

/// Size of the generated writeup.
const GENERATED_BYTES: usize = 5 * 1024 * 1024;
const CORPUS_LONGEST: &str = "../shared/corpus/springone-2021-notes.md";
const WRITEUP_15K: &str = "bench/writeups/harbor-systems-2025.md";
const RECORDINGS_15K: &str = "bench/recordings/harbor-systems-2025";

fn main() {
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
    divan.main();
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
