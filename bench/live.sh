#!/usr/bin/env bash
# Live numbers with a real model: for each writeup (default: the seed), `takeaways summarize
# --stats --no-cache` once per strategy (sections, whole), recording the exchanges into a temporary
# folder so that the model's own durations can be summed. Prints one Markdown table.
#
#   bench/live.sh [FILE...]                 # default: ../shared/seed/kubecon-eu-2024-key-takeaways.txt
#   STRATEGIES="sections" bench/live.sh     # only the map-reduce
#   MODEL=smollm2:135m NUM_CTX=8192 TAKEAWAYS=target/release/takeaways bench/live.sh
#
# Needs the server at $OLLAMA_HOST (default 127.0.0.1:11434) with $MODEL pulled; with the stand-in
# (../shared/ollama-standin) a run takes minutes. Not a test: nothing is asserted.
#
# Columns:
#   wall          wall time of the process (s), /usr/bin/time included
#   model         sum of Ollama total_duration over the calls (s): the time spent in model calls,
#                 including waiting for the server when other clients use it
#   compute       sum of total_duration − load_duration (s): prefill + decoding only; with the
#                 stand-in, load_duration also holds the time a request queued behind others
#   outside       wall − model (s and % of wall): what the tool adds around the model calls
#   cpu           user + system CPU time of the process (s), from /usr/bin/time -v
#   rss           peak resident set size (MB)
#   prompt        sum of prompt_eval_count; ×est = that sum / the document's token estimate
#   calls/retries model calls (with retries after invalid or cut answers) / those retries
#   doc tokens    the file's real token count with the model's own tokenizer, when the stand-in's
#                 GGUF and Python are found ($STANDIN_DIR, default ./.standin); ×doc = prompt / that.
#                 The estimate is pessimistic (~1.6× the real count for English), so ×est hides
#                 most of the per-call template: ×doc shows it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${SHARED:-$root/../shared}"
model="${MODEL:-smollm2:135m}"
num_ctx="${NUM_CTX:-8192}"
strategies="${STRATEGIES:-sections whole}"
bin="${TAKEAWAYS:-}"
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release --quiet --bin takeaways)
  bin="$root/target/release/takeaways"
fi
[ $# -gt 0 ] || set -- "$shared/seed/kubecon-eu-2024-key-takeaways.txt"
work="$(mktemp -d)"
standin="${STANDIN_DIR:-$root/.standin}"
gguf="$(ls "$standin"/models/SmolLM2-135M*.gguf 2>/dev/null | head -1 || true)"
trap 'rm -rf "$work"' EXIT

echo "| file | strategy | wall s | model s | compute s | outside s (% wall) | cpu s | rss MB | chunks | calls | retries | prompt tokens | doc estimate | prompt ×est | doc tokens | prompt ×doc | takeaways |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for file in "$@"; do
  doc_tokens=-
  if [ -n "$gguf" ] && [ "${model%%:*}" = smollm2 ] && [ -x "$standin/venv/bin/python" ]; then
    doc_tokens=$("$standin/venv/bin/python" -c 'import sys
from llama_cpp import Llama
m = Llama(sys.argv[1], vocab_only=True, verbose=False)
print(len(m.tokenize(open(sys.argv[2], "rb").read().decode("utf-8", "replace").encode(), add_bos=False)))' "$gguf" "$file" 2>/dev/null || echo -)
  fi
  for s in $strategies; do
    rec="$work/rec-$s-$(basename "$file")"
    status=0
    start=$(date +%s%N)
    TAKEAWAYS_CACHE_DIR="$work/cache" /usr/bin/time -v -o "$work/time" \
      "$bin" summarize "$file" --model "$model" --num-ctx "$num_ctx" --strategy "$s" \
      --stats --no-cache --quiet --record "$rec" --format json -o "$work/out.json" \
      2>"$work/err" || status=$?
    end=$(date +%s%N)
    python3 - "$file" "$s" "$work/err" "$work/time" "$rec" "$work/out.json" "$status" "$((end - start))" "$doc_tokens" <<'PY'
import json, os, re, sys
file, strategy, err, timef, rec, out, status, wall_ns, doc_tokens = sys.argv[1:]
name = os.path.basename(file)
if status != "0":
    msg = open(err).read().strip().splitlines()[-1:] or ["?"]
    print(f"| {name} | {strategy} | failed (exit {status}): {msg[0][:120]} |")
    sys.exit(0)
line = next(l for l in open(err) if l.startswith("stats:"))
num = lambda pat: float(re.search(pat, line).group(1))
t = open(timef).read()
wall = int(wall_ns) / 1e9
cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1)) + float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
total = load = 0
for f in os.listdir(rec):
    if f.startswith("show-") or not f.endswith(".json"):
        continue
    r = json.load(open(os.path.join(rec, f)))["response"]
    total += r.get("total_duration") or 0
    load += r.get("load_duration") or 0
model = total / 1e9
compute = (total - load) / 1e9
prompt = int(num(r"prompt_eval_count (\d+)"))
est = int(num(r"document estimate (\d+)"))
chunks = int(num(r"(\d+) chunks"))
calls = int(num(r"(\d+) model calls"))
retries = int(num(r"(\d+) retries after"))
n = len(json.load(open(out))["takeaways"])
if strategy == "whole" and chunks > 1:
    strategy += " → sections (does not fit num_ctx)"
outside = wall - model
ratio = f"{prompt / int(doc_tokens):.2f}" if doc_tokens.isdigit() else "-"
print(f"| {name} | {strategy} | {wall:.1f} | {model:.1f} | {compute:.1f} | {outside:.2f} ({100 * outside / wall:.2f}%) | {cpu:.2f} | {rss:.0f} | {chunks} | {calls} | {retries} | {prompt} | {est} | {prompt / est:.2f} | {doc_tokens} | {ratio} | {n} |")
PY
  done
done
