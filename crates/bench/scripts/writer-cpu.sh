#!/usr/bin/env bash
# Runs one bench scenario against a given server binary and reports, over 3 s in mid-run, the
# events stored per second and the CPU the server's writer thread and the whole server spent per
# event. Used for the alternating A/B runs in docs/PERFORMANCE.md:
#
#   for i in 1 2 3; do for b in /tmp/assetlog-a /tmp/assetlog-b; do
#     crates/bench/scripts/writer-cpu.sh "$b" single; done; done
#
# Needs target/release/assetlog-bench (cargo build --release -p assetlog-bench) and curl.
set -euo pipefail
bin=$(realpath "$1")
scenario=$2
bench=$(dirname "$0")/../../../target/release/assetlog-bench
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$bench" "$scenario" --seconds 7 --server-bin "$bin" >"$out" 2>&1 &
sleep 3.5
pid=$(pgrep -f "^$bin serve" | head -1)
addr=$(grep -o '127.0.0.1:[0-9]*' "$out" | head -1)
writer=""
for t in /proc/"$pid"/task/*; do
    [ "$(cat "$t/comm")" = db-writer ] && writer=$(basename "$t")
done
ticks=$(getconf CLK_TCK)
stored() { curl -s "http://$addr/metrics" | awk '/^assetlog_events_ingested_total/ {print $2}'; }
cpu() { awk '{print $14 + $15}' "$1"; }

e0=$(stored); w0=$(cpu /proc/"$pid"/task/"$writer"/stat); s0=$(cpu /proc/"$pid"/stat)
sleep 3
e1=$(stored); w1=$(cpu /proc/"$pid"/task/"$writer"/stat); s1=$(cpu /proc/"$pid"/stat)
wait
awk -v e=$((e1 - e0)) -v w=$((w1 - w0)) -v s=$((s1 - s0)) -v hz="$ticks" -v name="$(basename "$bin") $scenario" \
    'BEGIN { printf "%s: %8.0f events/s  writer %5.1f us/event  server %5.1f us/event\n",
             name, e / 3, w / hz * 1e6 / e, s / hz * 1e6 / e }'
