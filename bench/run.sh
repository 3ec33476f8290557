#!/usr/bin/env bash
# The benchmark table: the work takeaways does around the model, with no model (replay mode).
#
#   bench/run.sh            # builds in release mode, then prints one Markdown table
#
# Rows:
#   split        split::chunks (sections + chunks under the default budget) on a ~5 MB generated
#                Markdown writeup and on the longest corpus file (../shared/corpus, skipped when
#                absent); median of several runs, in-process (benches/perf.rs, table mode)
#   20 MB        pipeline::summarize of a generated 20 MB, 11,000-section writeup against a stub
#                server that answers at once (benches/perf/stub.rs): all of it is time outside
#                model calls; one run, in-process, wall and CPU time of the pipeline's thread,
#                with the split and the ranking timed alone (one run each); set
#                TAKEAWAYS_BENCH_SKIP_HUGE=1 to leave it out
#   summarize    `takeaways summarize` of the ~15,000-word bench/writeups/harbor-systems-2025.md,
#                answered from bench/recordings/ (--replay): whole process, median wall time of
#                5 runs and the largest peak RSS (/usr/bin/time -v)
#   batch        `takeaways batch` over 200 reports (copies of the fixture writeups, made in a
#                temporary folder) replaying fixtures/batch/recordings: whole process, median of
#                3 runs (each into a fresh output folder), largest peak RSS
# `cargo bench` runs the same split and pipeline measurements under divan.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export TAKEAWAYS_CONFIG=/nonexistent/takeaways-config.toml SOURCE_DATE_EPOCH=1764374400
unset OLLAMA_HOST TAKEAWAYS_MODEL TAKEAWAYS_NUM_CTX TAKEAWAYS_TOP TAKEAWAYS_PROMPTS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export TAKEAWAYS_CACHE_DIR="$work/cache"

cargo build --release --quiet --bin takeaways
bin="$root/target/release/takeaways"
perf="$(cargo bench --bench perf --no-run --message-format=json --quiet 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "perf" and m.get("executable"):
        print(m["executable"])')"

# name bytes seconds (tab-separated), from benches/perf.rs
TAKEAWAYS_BENCH_TABLE=1 "$perf" >"$work/split.tsv"

# measure N CMD...: runs CMD N times; prints "median_wall_s max_rss_mb"
measure() {
  local n="$1" i
  shift
  : >"$work/times"
  for i in $(seq "$n"); do
    [ -n "${BEFORE_EACH:-}" ] && eval "$BEFORE_EACH"
    /usr/bin/time -f "%e %M" -a -o "$work/times" "$@" >/dev/null 2>"$work/stderr" || {
      echo "failed: $*" >&2
      cat "$work/stderr" >&2
      exit 1
    }
  done
  python3 - "$work/times" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and l[0].isdigit()]
print(f"{statistics.median(float(r[0]) for r in rows):.3f} {max(int(r[1]) for r in rows) / 1024:.1f}")
PY
}

writeup=bench/writeups/harbor-systems-2025.md
words=$(wc -w <"$writeup")
res=$(measure 5 "$bin" summarize "$writeup" --model smollm2:135m --num-ctx 8192 \
  --replay bench/recordings/harbor-systems-2025 --quiet)
read -r sum_s sum_mb <<<"$res"

# 200 reports: copies of the fixture writeups that have a recorded batch run (identical content
# gives identical requests, so the copies replay), 20 per folder.
good=(cloud-expo-crlf.txt datastore-days-long.md datentage-hamburg-de.md devconf-markdown.md meetup-cp1252.md ops-meetup.html
  platform-summit-plain.txt rustconf-mini.md injected-notes.md)
for i in $(seq 0 199); do
  f="${good[$((i % ${#good[@]}))]}"
  d="$work/reports/team-$((i / 20))"
  mkdir -p "$d"
  cp "fixtures/writeups/$f" "$d/$(printf %03d "$i")-$f"
done
res=$(BEFORE_EACH='rm -rf "$work/out"' measure 3 \
  "$bin" batch "$work/reports" -o "$work/out" --replay fixtures/batch/recordings --model qwen2.5-coder:0.5b \
  --num-ctx 8192 --strategy sections --quiet)
read -r batch_s batch_mb <<<"$res"
summarized=$(find "$work/out" -name '*.md' ! -name index.md ! -name digest.md | wc -l)

python3 - "$work/split.tsv" "$words" "$sum_s" "$sum_mb" "$batch_s" "$batch_mb" "$summarized" <<'PY'
import sys
tsv, words, sum_s, sum_mb, batch_s, batch_mb, summarized = sys.argv[1:]
rows = {}
for line in open(tsv):
    name, size, secs, *rest = line.rstrip("\n").split("\t")
    rows[name] = (size, secs, rest[0] if rest else "")

def ok(cond):
    return "met" if cond else "**not met**"

print("| benchmark | input | result | target | |")
print("|---|---|---|---|---|")
for name, label in (("split_generated", "generated Markdown"), ("split_corpus_longest", "springone-2021-notes.md (corpus)")):
    size, secs, _ = rows.get(name, ("-", "-", ""))
    if secs == "-":
        print(f"| split | {label} | skipped (file not found) | ≥ 50 MB/s | |")
        continue
    mbs = int(size) / float(secs) / 1e6
    print(f"| split | {label}, {int(size) / 1e6:.2f} MB | {mbs:.0f} MB/s ({float(secs) * 1e3:.1f} ms) | ≥ 50 MB/s | {ok(mbs >= 50)} |")
if "pipeline_stub_20mb" in rows:
    size, secs, cpu = rows["pipeline_stub_20mb"]
    parts = ", ".join(
        f"{label} {float(rows[name][1]):.2f} s"
        for name, label in (("split_20mb", "split"), ("rank_20mb", "ranking"))
        if name in rows
    )
    s = float(secs)
    cpu_s = f", CPU {float(cpu):.1f} s" if cpu not in ("-", "") else ""
    print(f"| summarize, stub server, in-process | generated, {int(size) / 1e6:.1f} MB, 11,000 sections | {s:.1f} s{cpu_s} ({parts}) | < 10 s outside model calls | {ok(s < 10)} |")
if "pipeline_replay_15k_in_process" in rows:
    size, secs, _ = rows["pipeline_replay_15k_in_process"]
    print(f"| summarize, replay, in-process | {words} words | {float(secs) * 1e3:.1f} ms | | |")
s, mb = float(sum_s), float(sum_mb)
print(f"| summarize, replay, whole process | {words} words | {s * 1e3:.0f} ms, peak RSS {mb:.0f} MB | < 100 ms | {ok(s < 0.1)} |")
b, bmb = float(batch_s), float(batch_mb)
print(f"| batch, replay | {summarized} reports | {b:.2f} s, peak RSS {bmb:.0f} MB | < 3 s, < 150 MB | {ok(b < 3 and bmb < 150 and int(summarized) == 200)} |")
PY
