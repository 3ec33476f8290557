#!/usr/bin/env bash
# Installs what building takeaways needs, only when it is missing (Debian/Ubuntu, apt-get; sudo
# only when not root): cmake and libclang-dev for llama.cpp (the cargo feature `embedded`: CMake
# builds it, bindgen reads its header through libclang), a C++ compiler, and pip for
# scripts/fetch-model.sh. Says nothing when everything is there. Used by scripts/demo.sh and
# .ci/run.
set -euo pipefail
log() { echo "[build-deps] $*" >&2; }

# bindgen (clang-sys) needs libclang.so and clang's own headers (stddef.h): libclang-dev brings
# both; the runtime library alone (libclang1-NN) is not enough.
have_libclang() {
  [ -n "${LIBCLANG_PATH:-}" ] && return 0
  local d
  for d in /usr/lib/llvm-*/lib; do
    [ -e "$d/libclang.so" ] && ls "$d"/clang/*/include/stddef.h >/dev/null 2>&1 && return 0
  done
  return 1
}

missing=()
command -v cmake >/dev/null || missing+=(cmake)
have_libclang || missing+=(libclang-dev)
command -v c++ >/dev/null || missing+=(g++)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null || { log "missing ${missing[*]}: install them with your package manager (no apt-get here)"; exit 1; }
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { log "missing ${missing[*]}: run as root or install sudo"; exit 1; }
  sudo=(sudo)
fi
log "installing ${missing[*]} (apt-get)"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
