#!/usr/bin/env bash
# Records the model exchanges that bench/run.sh and `cargo bench` replay, from a real model
# (the stand-in, ../shared/ollama-standin, serves smollm2:135m on 127.0.0.1:11434). Needed again
# whenever the prompts, the split or the request body change (a replay then fails with "not
# recorded"). Takes ~15-20 minutes with the stand-in.
#
#   bench/record.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export TAKEAWAYS_CONFIG=/nonexistent/takeaways-config.toml
cargo build --release --quiet --bin takeaways
writeup=bench/writeups/harbor-systems-2025.md
if ! python3 bench/gen_writeup.py 2>/dev/null | cmp -s - "$writeup"; then
  echo "note: $writeup differs from bench/gen_writeup.py's output; recording the committed file" >&2
fi
dir=bench/recordings/harbor-systems-2025
rm -rf "$dir"
target/release/takeaways summarize "$writeup" --model smollm2:135m --num-ctx 8192 \
  --no-cache --record "$dir" --stats --quiet >/dev/null
target/release/takeaways summarize "$writeup" --model smollm2:135m --num-ctx 8192 \
  --replay "$dir" --quiet >/dev/null
echo "recorded $(ls "$dir" | wc -l) exchanges in $dir; they replay"
