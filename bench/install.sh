#!/usr/bin/env bash
# Install benchmark: wall time of `bash scripts/setup.sh` in a fresh clone with a fresh venv.
#
# Modes (each a fresh clone of this repository in /tmp/lc-install-bench, no .venv):
#   cached      the llama-cpp-python wheel cache is present (default ~/.cache/localchain/wheels)
#   idempotent  a second run of setup.sh in the clone the `cached` mode just set up
#   cold        LOCALCHAIN_WHEEL_DIR points at an empty temp dir, so llama.cpp is compiled
#               (about 3-6 minutes of both cores on a 2-core machine)
#
#   bash bench/install.sh                         # all three modes
#   BENCH_MODES="cached idempotent" bash bench/install.sh
#
# Prints one JSON object (seconds; null for a mode not run) and writes
# bench/results/install.json. setup.sh's own output goes to /tmp/lc-install-bench-<mode>.log.
# pip's download cache and PIP_FIND_LINKS are left as they are, so "cached" means "nothing
# to compile", not "nothing to download". If the clone lacks scripts/setup.sh (not yet
# committed), the working tree is copied instead (without .venv).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${BENCH_DEST:-/tmp/lc-install-bench}
modes=${BENCH_MODES:-cached idempotent cold}
source_kind=clone

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

fresh_tree() {
  rm -rf "$dest"
  git clone --quiet "$repo" "$dest"
  if [ ! -f "$dest/scripts/setup.sh" ]; then
    source_kind=copy
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$repo" --exclude=./.venv --exclude=./bench/results -cf - . | tar -C "$dest" -xf -
  fi
}

# run_setup MODE [VAR=value ...]: time one setup.sh run in $dest, print the seconds.
run_setup() {
  local mode=$1 start
  shift
  start=$(now)
  if ! (cd "$dest" && env "$@" bash scripts/setup.sh) >"/tmp/lc-install-bench-$mode.log" 2>&1; then
    echo "setup.sh failed in mode $mode; see /tmp/lc-install-bench-$mode.log" >&2
    exit 1
  fi
  elapsed "$start" "$(now)"
}

cached=null idempotent=null cold=null
for mode in $modes; do
  case $mode in
    cached)
      fresh_tree
      cached=$(run_setup cached)
      ;;
    idempotent)
      if [ "$cached" = null ]; then
        echo "mode idempotent needs mode cached first" >&2
        exit 2
      fi
      idempotent=$(run_setup idempotent)
      ;;
    cold)
      fresh_tree
      empty=$(mktemp -d)
      cold=$(run_setup cold "LOCALCHAIN_WHEEL_DIR=$empty")
      rm -rf "$empty"
      ;;
    *)
      echo "unknown mode $mode (cached, idempotent, cold)" >&2
      exit 2
      ;;
  esac
done

json=$(printf '{"benchmark": "install", "date": "%s", "nproc": %s, "source": "%s", "cached_wheel_s": %s, "idempotent_rerun_s": %s, "cold_build_s": %s}' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$source_kind" "$cached" "$idempotent" "$cold")
mkdir -p "$repo/bench/results"
echo "$json" >"$repo/bench/results/install.json"
echo "$json"
