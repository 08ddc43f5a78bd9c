#!/usr/bin/env bash
# A/B of release binaries of the node on the match cycle: for each ROUND, each binary
# serves one vmload round (../shared/bench: 400 users, 12 s, wait=5) and the script prints
# vmload's req/s, the node's req/s over 8 s of the round (after vmload's sign-ups, counted
# by its /metrics) and the CPU time per request of the node, Redis and vmload over those
# 8 s, read from /proc/<pid>/stat. The 8 s figures are free of vmload's tail: a round where
# a user is left in a long poll at the end (waiting=1) runs up to 5 s longer, and its
# whole-run req/s drops by up to 30% (BENCHMARKS.md).
#   scripts/ab.sh /tmp/voxmatch-a /tmp/voxmatch-b      (ROUNDS=3 by default)
# CEILING=1 adds a round of the reference ceiling after each round of the binaries and
# prints each binary's steady req/s over the ceiling's req/s: a ratio without vmload's
# tail (the node's 8 s count against vmload's whole 12 s round of the ceiling, so not
# quite ratio.sh's quantity). The ceiling is started as ratio.sh starts it, on Redis
# database 5, which it empties; BENCH_DIR is ../shared/bench by default.
# Needs Redis (port 16379) and Postgres up (scripts/dev.sh run), and vmload and the
# ceiling built by ratio.sh.
set -euo pipefail
vmload=/tmp/bench-vmload-target/release/vmload
tick=$(getconf CLK_TCK)

node= ceiling=
trap '[ -z "$node" ] || kill "$node" 2>/dev/null || true; [ -z "$ceiling" ] || kill "$ceiling" 2>/dev/null || true' EXIT
if [ "${CEILING:-0}" = 1 ]; then
  redis-cli -p 16379 -n 5 flushdb >/dev/null
  /tmp/bench-ceiling-target/release/ceiling redis://127.0.0.1:16379/5 \
    "${BENCH_DIR:-$(dirname "$0")/../../shared/bench}/ref_pair.lua" 18989 >/dev/null 2>/tmp/ab.ceiling.err &
  ceiling=$!
  sleep 1
  kill -0 "$ceiling" 2>/dev/null || { echo "the ceiling did not start (/tmp/ab.ceiling.err)" >&2; exit 1; }
fi

# requests the node answered so far (every route but /metrics)
served() {
  curl -s http://127.0.0.1:8080/metrics |
    awk '/^http_request_duration_seconds_count/ && !/route="\/metrics"/ {s += $2} END {print s + 0}'
}

# CPU ticks used so far by the processes whose command line matches $1
ticks() { for p in $(pgrep -f "$1"); do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{t += $1} END {print t + 0}'; }

for _ in $(seq "${ROUNDS:-3}"); do
  rates=()
  for bin in "$@"; do
    REMATCH_COOLDOWN_SEC=0 SIGNUP_IP_LIMIT=1000000 RUST_LOG=warn \
      DATABASE_URL=postgres://voxmatch:voxmatch@127.0.0.1:15432/voxmatch_bench \
      REDIS_URL=redis://127.0.0.1:16379/6 "$bin" >/dev/null 2>&1 &
    node=$!
    sleep 2
    : >/tmp/ab.err
    "$vmload" http://127.0.0.1:8080 400 12 5 >/tmp/ab.out 2>/tmp/ab.err &
    vm=$!
    # the round starts once vmload has signed its users up
    until grep -q 'setup:' /tmp/ab.err; do
      kill -0 "$vm" 2>/dev/null || { cat /tmp/ab.out /tmp/ab.err >&2; exit 1; }
      sleep 0.2
    done
    sleep 1
    before=("$(ticks "^$bin")" "$(ticks "redis-server.*:16379")" "$(ticks "$vmload")" "$(served)")
    sleep 8
    after=("$(ticks "^$bin")" "$(ticks "redis-server.*:16379")" "$(ticks "$vmload")" "$(served)")
    wait "$vm"
    rps=$(grep -o 'req_per_s=[0-9]*' /tmp/ab.out | cut -d= -f2)
    steady=$(((after[3] - before[3]) / 8))
    per() { awk -v a="$1" -v b="$2" -v t="$tick" -v r="$steady" 'BEGIN {printf "%.0f", (b - a) / t / 8 * 1e6 / r}'; }
    echo "$(basename "$bin") req/s=$rps $(grep -o 'waiting=[0-9]*' /tmp/ab.out) steady_req/s=$steady" \
      "node=$(per "${before[0]}" "${after[0]}")us redis=$(per "${before[1]}" "${after[1]}")us" \
      "vmload=$(per "${before[2]}" "${after[2]}")us peak_rss=$(awk '/VmHWM/ {print int($2 / 1024) "MB"}' "/proc/$node/status")"
    kill "$node"
    wait "$node" 2>/dev/null || true
    node=
    rates+=("$(basename "$bin")=$steady")
  done
  if [ -n "$ceiling" ]; then
    c=$("$vmload" ceiling http://127.0.0.1:18989 200 12 | grep -o 'ceiling_req_per_s=[0-9]*' | cut -d= -f2 || true)
    [ "${c:-0}" -gt 0 ] || { echo "the ceiling's round served nothing" >&2; exit 1; }
    echo "ceiling req/s=$c steady ratio:$(for r in "${rates[@]}"; do
      awk -v r="${r#*=}" -v c="$c" -v n="${r%%=*}" 'BEGIN {printf " %s=%.2f", n, r / c}'
    done)"
  fi
done
