#!/usr/bin/env bash
# Set up localchain in ./.venv: llama-cpp-python built for this CPU (AMX off),
# CPU-only torch 2.13.0, and localchain itself (editable) with the given extras.
#
#   bash scripts/setup.sh            # runtime + test extras
#   LOCALCHAIN_EXTRAS=dev bash scripts/setup.sh
#
# Idempotent: a second run checks a stamp and returns in about a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

python=${PYTHON:-python3}
venv=${LOCALCHAIN_VENV:-$here/.venv}
extras=${LOCALCHAIN_EXTRAS:-test}

llama_version=0.3.36
torch_version=2.13.0
# Why these flags: this CPU reports AMX but the VM does not enable AMX state, so a
# -march=native build of ggml segfaults on any prompt longer than one token.
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
cmake_args="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"

log() { printf '[setup] %s\n' "$*" >&2; }

# pip caches wheels by sdist, not by build flags: keep our own wheel directory keyed by them.
flags_key=$(printf '%s|%s|%s|%s' "$llama_version" "$cmake_args" "$no_amx" "$($python -c 'import sys; print(sys.version.split()[0])')" | sha256sum | cut -c1-16)
wheel_dir=${LOCALCHAIN_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/localchain/wheels}/llama-cpp-python-$llama_version-$flags_key

# The eval HTML report and the web chat of `localchain serve` are checked in a real headless
# browser (tests/evals, tests/serve): Debian's chromium, driven through chromium-driver.
# Checked before the stamp, so an up-to-date venv still gets them on a fresh machine.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing chromium and chromium-driver (Debian packages) for the browser tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null \
      || log "could not install chromium; the browser tests will be skipped"
  else
    log "chromium or chromedriver is missing; the browser tests need them: sudo apt-get install chromium chromium-driver"
  fi
fi

stamp_key=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$flags_key-$extras
stamp=$venv/.localchain-setup
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_key" ] && [ -x "$venv/bin/python" ]; then
  log "up to date ($venv)"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  $python -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade "pip>=24" "setuptools>=77" wheel

if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  log "building llama-cpp-python $llama_version (AMX off); takes about 3 minutes on 2 cores"
  rm -rf "$wheel_dir.tmp" && mkdir -p "$wheel_dir.tmp"
  CMAKE_ARGS="$cmake_args" CFLAGS="$no_amx" CXXFLAGS="$no_amx" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "${pip[@]}" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
    -w "$wheel_dir.tmp" "llama-cpp-python==$llama_version"
  rm -rf "$wheel_dir"
  mv "$wheel_dir.tmp" "$wheel_dir"
fi
# An exact pin takes the CPU wheel this machine kind provides; a looser one pulls CUDA builds.
log "installing torch $torch_version (CPU)"
"${pip[@]}" install --quiet "torch==$torch_version"

# --only-binary: never fall back to compiling the sdist with default (AMX) flags.
pinned=(--find-links "$wheel_dir" --only-binary llama-cpp-python
        "llama-cpp-python==$llama_version" "torch==$torch_version")
log "installing llama-cpp-python from $wheel_dir"
"${pip[@]}" install --quiet "${pinned[@]}"

log "installing localchain[$extras] (editable)"
"${pip[@]}" install --quiet "${pinned[@]}" -e ".[$extras]"

"$venv/bin/python" - <<'PY'
import llama_cpp
info = llama_cpp.llama_print_system_info().decode()
if "AMX_INT8 = 1" in info:
    raise SystemExit(f"llama.cpp was built with AMX, which crashes on this machine: {info}")
PY
echo "$stamp_key" > "$stamp"
log "done: $venv"
