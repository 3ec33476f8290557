#!/usr/bin/env bash
# Records again, from a real model, every model exchange the tests replay: the recordings of
# tests/fixtures.rs (fixtures/recordings/<name>/, the table RECORDED there: keep the two lists
# the same) and of tests/batch.rs (fixtures/batch/recordings/). Needed whenever the prompts, the
# split or the request body change: a replay then fails with "not recorded". Then run
# `cargo insta test` and review every changed snapshot as its reader would.
#
# Needs Ollama, or the stand-in (../shared/ollama-standin: `start.sh qwen05,qwen15,smollm2`),
# serving qwen2.5-coder:0.5b, qwen2.5-coder:1.5b and smollm2:135m on $OLLAMA_HOST. About 25
# minutes on a 2-core CPU.
#
#   scripts/record-fixtures.sh            # all
#   scripts/record-fixtures.sh NAME...    # only these recording directories (or "batch")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TAKEAWAYS_CONFIG=/nonexistent/takeaways-config.toml
# The date printed in summaries: the snapshots hold it.
export SOURCE_DATE_EPOCH=1764374400
cargo build --release --quiet --bin takeaways
bin=target/release/takeaways

# name, writeup, model, extra flags: as RECORDED in tests/fixtures.rs.
table=(
  "devconf-markdown|devconf-markdown.md|qwen2.5-coder:0.5b|"
  "platform-summit-plain|platform-summit-plain.txt|qwen2.5-coder:0.5b|"
  "datastore-days-long|datastore-days-long.md|qwen2.5-coder:0.5b|"
  "ops-meetup|ops-meetup.html|qwen2.5-coder:0.5b|"
  "datentage-hamburg-de|datentage-hamburg-de.md|qwen2.5-coder:1.5b|"
  "datentage-hamburg-de-en|datentage-hamburg-de.md|qwen2.5-coder:1.5b|--language en"
  "injected-notes|injected-notes.md|qwen2.5-coder:1.5b|"
  "rustconf-mini-smollm2|rustconf-mini.md|smollm2:135m|"
)

wanted() { [ $# -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; }
selected=("$@")

for row in "${table[@]}"; do
  IFS='|' read -r name writeup model extra <<<"$row"
  [ ${#selected[@]} -eq 0 ] || wanted "$name" || continue
  dir="fixtures/recordings/$name"
  echo "[record] $dir ($model)" >&2
  rm -rf "$dir"
  # shellcheck disable=SC2086
  "$bin" summarize "fixtures/writeups/$writeup" --model "$model" --no-cache --record "$dir" \
    -q $extra >/dev/null
done

if [ ${#selected[@]} -eq 0 ] || wanted batch; then
  echo "[record] fixtures/batch/recordings (qwen2.5-coder:0.5b)" >&2
  rm -rf fixtures/batch/recordings
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  # As tests/batch.rs replays them. A writeup that fails (binary, empty) exits non-zero.
  "$bin" batch fixtures/writeups -o "$out" --exclude README.md --record fixtures/batch/recordings \
    --model qwen2.5-coder:0.5b --num-ctx 8192 --no-cache -q || true
fi
echo "[record] done: now cargo insta test, and review every snapshot" >&2
