#!/usr/bin/env bash
# Speed and quality side by side, in one invocation: `takeaways summarize FILE` and a single
# whole-document /api/chat call (how fabric, llm and aichat summarize; ../shared/tools/oneshot.py)
# on the same model and server, each with the answer cache off. Prints calls, prompt and generated
# tokens, wall time and the ratios, and, when the writeup opens with the author's own numbered
# list of takeaways (the KubeCon EU 2024 seed does), recall@10 and mean best similarity of both
# against that list (../shared/eval).
#
#   bench/oneshot.sh [FILE]                 # default: ../shared/seed/kubecon-eu-2024-key-takeaways.txt
#   MODEL=qwen2.5-coder:0.5b bench/oneshot.sh FILE
#   EXTRA="--parallel 2" bench/oneshot.sh   # more flags for takeaways
#   KEEP=DIR bench/oneshot.sh               # keep both answers and the tool's stats in DIR
#
# Run it on an idle machine (no build, no other model client): both runs share the CPU with
# nothing else, or the comparison means little. Not a test: nothing is asserted.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
shared="${SHARED:-$root/../shared}"
file="${1:-$shared/seed/kubecon-eu-2024-key-takeaways.txt}"
model="${MODEL:-qwen2.5-coder:1.5b}"
host="${OLLAMA_HOST:-http://127.0.0.1:11434}"
venv="${EVAL_VENV:-$root/target/eval-venv}"
export TAKEAWAYS_CONFIG=/nonexistent/takeaways-config.toml
cargo build --release --quiet --bin takeaways
bin="$root/target/release/takeaways"
work="$(mktemp -d)"
trap '[ -n "${KEEP:-}" ] && cp "$work"/tool.* "$work"/one.* "$KEEP"/; rm -rf "$work"' EXIT

# The author's own list: the numbered items before the first heading-like line after them.
python3 - "$file" "$work/reference.md" <<'PY'
import re, sys
items = []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^\s*\d+[.)]\s+(.*\S)", line)
    if m:
        items.append(m.group(1))
    elif items and line.strip():
        break
if len(items) >= 3:
    open(sys.argv[2], "w").write("".join(f"- {i}\n" for i in items))
PY

start=$(date +%s.%N)
# shellcheck disable=SC2086
"$bin" summarize "$file" --model "$model" --host "$host" --no-cache --stats --format json \
  -q ${EXTRA:-} -o "$work/tool.json" 2>"$work/tool.err"
tool_wall=$(python3 -c "import time; print(round(time.time() - $start, 1))")
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    for t in d["takeaways"]:
        f.write("{}. **{}** {}\n".format(t["rank"], t["headline"], t["detail"]))
' "$work/tool.json" "$work/tool.md"

python3 "$shared/tools/oneshot.py" "$file" --model "$model" --host "$host" --num-ctx 8192 \
  >"$work/one.md" 2>"$work/one.err"

python3 - "$work" "$tool_wall" "$venv" "$shared" <<'PY'
import json, os, subprocess, sys
work, tool_wall, venv, shared = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
t = json.load(open(f"{work}/tool.json"))["stats"]
o = json.loads(open(f"{work}/one.err").read().strip().splitlines()[-1])
printed = sum(len(x["headline"]) + len(x["detail"]) for x in json.load(open(f"{work}/tool.json"))["takeaways"]) / 4
def score(summary):
    ref = f"{work}/reference.md"
    if not os.path.exists(ref) or not os.path.exists(f"{venv}/bin/python"):
        return "-", "-"
    r = json.loads(subprocess.run([f"{venv}/bin/python", f"{shared}/eval/score_takeaways.py", summary, ref,
                                   "--json"], capture_output=True, text=True, check=True).stdout)
    return r["recall"], r["mean_best"]
tr, tb = score(f"{work}/tool.md")
orr, ob = score(f"{work}/one.md")
print("| | calls | prompt tokens | generated tokens | wall | recall@10 | mean best |")
print("|---|---|---|---|---|---|---|")
print(f"| takeaways summarize | {t['model_calls']} | {t['prompt_eval_count']} | {t['eval_count']} | {tool_wall} s | {tr} | {tb} |")
print(f"| one /api/chat call | 1 | {o['prompt_eval_count']} | {o['eval_count']} | {o['wall_s']} s | {orr} | {ob} |")
print()
print(f"wall time ratio {tool_wall / o['wall_s']:.2f}; generated tokens {t['eval_count']} for a printed summary of "
      f"~{printed:.0f} tokens ({t['eval_count'] / max(printed, 1):.1f}x)")
PY
