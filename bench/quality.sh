#!/usr/bin/env bash
# Quality check: for every corpus writeup with an author's own takeaway list in
# ../shared/corpus/truth/, scores three lists against that reference with
# ../shared/eval/score_takeaways.py (sentence embeddings, all-MiniLM-L6-v2):
#
#   tool        `takeaways summarize FILE --format json` (the model below; the answer cache is used,
#               so a rerun with the same model and prompts makes no model call)
#   one call    baseline: the whole writeup in one /api/chat call with the same model, as fabric,
#               llm and aichat do (../shared/tools/oneshot.py; num_ctx 8192)
#   headings    baseline: the first N section headings (as `takeaways sections` finds them)
#   first sent. baseline: the first sentence of each of the first N paragraphs of the file
#
# and prints one Markdown table: recall@N, mean best similarity and duplicate pairs per list.
#
#   bench/quality.sh                       # N=10, model qwen2.5-coder:1.5b (the stand-in)
#   MODEL=qwen2.5-coder:0.5b N=10 bench/quality.sh
#   ONESHOT=0 bench/quality.sh             # without the one-call baseline (it costs a model call)
#   ONESHOT_KEEP=DIR bench/quality.sh      # keep the one-call answers in DIR and reuse them on a
#                                          # rerun (same model and N: the call is deterministic at
#                                          # temperature 0 on the stand-in), to re-measure the tool only
#   EVAL_VENV=DIR bench/quality.sh         # where ../shared/eval/setup.sh installed the scorer
#                                          # (default target/eval-venv; set up on first use)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
shared="${SHARED:-$root/../shared}"
model="${MODEL:-qwen2.5-coder:1.5b}"
oneshot="${ONESHOT:-1}"
host="${OLLAMA_HOST:-http://127.0.0.1:11434}"
n="${N:-10}"
venv="${EVAL_VENV:-$root/target/eval-venv}"
export TAKEAWAYS_CONFIG=/nonexistent/takeaways-config.toml
[ -x "$venv/bin/python" ] || bash "$shared/eval/setup.sh" "$venv" >&2
cargo build --release --quiet --bin takeaways
bin="$root/target/release/takeaways"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

score() { # score SUMMARY REFERENCE → "recall mean_best duplicates items reference_items"
  "$venv/bin/python" "$shared/eval/score_takeaways.py" "$1" "$2" --k "$n" --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["recall"], r["mean_best"], r["duplicates"], r["items"], r["reference"])'
}

echo "| file | reference items | tool: recall@$n | mean best | duplicates | items | one call: recall@$n | mean best | duplicates | headings: recall@$n | mean best | duplicates | first sentences: recall@$n | mean best | duplicates |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for truth in "$shared"/corpus/truth/*.md; do
  stem="$(basename "$truth" .md)"
  file="$(find "$shared/corpus" -maxdepth 1 -type f -name "$stem.*" | head -1)"
  [ -n "$file" ] || continue

  tool="$work/$stem.tool.json"
  if "$bin" summarize "$file" --model "$model" --top "$n" --format json --quiet -o "$tool" 2>"$work/err"; then
    read -r t_rec t_best t_dup t_items _ < <(score "$tool" "$truth")
  else
    t_rec="failed: $(tail -1 "$work/err" | cut -c1-80)"
    t_best="-" t_dup="-" t_items=0
  fi

  o_rec="-" o_best="-" o_dup="-"
  if [ "$oneshot" = 1 ]; then
    one="$work/$stem.oneshot.md"
    kept="${ONESHOT_KEEP:+$ONESHOT_KEEP/$stem.${model//[:\/]/_}.top$n.md}"
    if [ -n "$kept" ] && [ -s "$kept" ]; then
      cp "$kept" "$one"
    elif python3 "$shared/tools/oneshot.py" "$file" --model "$model" --top "$n" --host "$host" >"$one" 2>"$work/one.err"; then
      [ -z "$kept" ] || { mkdir -p "$ONESHOT_KEEP" && cp "$one" "$kept"; }
    else
      o_rec="failed"
    fi
    if [ "$o_rec" != failed ]; then
      read -r o_rec o_best o_dup _ < <(score "$one" "$truth")
    fi
  fi

  "$bin" sections "$file" >"$work/sections.txt"
  python3 - "$work/sections.txt" "$file" "$n" "$work/$stem" <<'PY'
import html.parser, json, re, sys
sections, path, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

# Baseline 1: the first n section headings (the last part of each heading path).
heads, started = [], False
for line in open(sections, encoding="utf-8"):
    if line.startswith("chunks "):
        started = True
        continue
    if started:
        if not line.strip():
            break
        m = re.match(r"^\S+\s+\d+\s+\d+\.\.\d+\s+(.*)$", line.rstrip("\n"))
        if not m:
            continue
        label = m.group(1).strip()
        last = label.split(" › ")[-1]
        if label != "(intro)" and last not in heads:
            heads.append(last)
json.dump(heads[:n], open(out + ".headings.json", "w"), ensure_ascii=False)

# Baseline 2: the first sentence of each of the first n paragraphs.
raw = open(path, "rb").read()
try:
    text = raw.decode("utf-8-sig")
except UnicodeDecodeError:
    text = raw.decode("cp1252")
if path.endswith((".html", ".htm")):
    class P(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.paras, self.cur, self.skip = [], None, 0
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "style"):
                self.skip += 1
            elif tag == "p":
                self.cur = []
        def handle_endtag(self, tag):
            if tag in ("script", "style"):
                self.skip -= 1
            elif tag == "p" and self.cur is not None:
                self.paras.append(" ".join("".join(self.cur).split()))
                self.cur = None
        def handle_data(self, data):
            if self.cur is not None and not self.skip:
                self.cur.append(data)
    p = P()
    p.feed(text)
    paras = p.paras
else:
    text = re.sub(r"\A---\n.*?\n---\n", "", text.replace("\r\n", "\n"), flags=re.S)  # front matter
    # Paragraphs: runs of text lines; headings, list items, table rows, fences, directives and
    # underlines end them.
    paras, cur, fence = [], [], False
    def end():
        if cur:
            paras.append(" ".join(" ".join(cur).split()))
            cur.clear()
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith(("```", "~~~")):
            fence = not fence
            end()
        elif fence:
            continue
        elif not s or re.match(r"^(#|[-*+•]\s|\d+[.)]\s|\||\.\.|=|:|\[|!\[|<|>|-+$|\^+$|~+$)", s):
            end()
        else:
            cur.append(s)
    end()
sentences = []
for p in paras:
    p = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", p).replace("**", "").replace("`", "")
    if len(p) < 40:
        continue
    first = re.split(r"(?<=[.!?])\s+|(?<=[。！？])", p, maxsplit=1)[0].strip()
    if first:
        sentences.append(first)
    if len(sentences) == n:
        break
json.dump(sentences, open(out + ".first.json", "w"), ensure_ascii=False)
PY
  read -r h_rec h_best h_dup _ refs < <(score "$work/$stem.headings.json" "$truth")
  read -r f_rec f_best f_dup _ < <(score "$work/$stem.first.json" "$truth")
  echo "| $(basename "$file") | $refs | $t_rec | $t_best | $t_dup | $t_items | $o_rec | $o_best | $o_dup | $h_rec | $h_best | $h_dup | $f_rec | $f_best | $f_dup |" |
    tee -a "$work/rows"
done
# The mean of each column over the files (a failed tool run counts as 0).
python3 - "$work/rows" <<'PY'
import sys
rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in open(sys.argv[1])]
def mean(i):
    vals = [float(r[i]) if r[i].replace(".", "", 1).isdigit() else 0.0 for r in rows]
    return f"{sum(vals) / len(vals):.3f}" if vals else "-"
print("| **mean** | " + " | ".join(mean(i) for i in range(1, 15)) + " |")
PY
