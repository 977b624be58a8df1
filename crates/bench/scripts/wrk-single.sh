#!/usr/bin/env bash
# The independent load generator of the architecture issue: wrk, 2 threads, 64 connections,
# single `POST /api/asset-state` with device keys, events of 64 loggers x 8 pins, one in 16
# with a timestamp 5 s in the past (out of order). Starts its own server on a fresh data dir:
#
#   crates/bench/scripts/wrk-single.sh target/release/assetlog [SECONDS]
#
# Prints wrk's latency distribution and the events the server stored per second (from
# /metrics, so refused requests do not count). Needs wrk and curl (Debian: apt install wrk).
set -euo pipefail
bin=$(realpath "$1")
seconds=${2:-30}
loggers=64
dir=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

# Every connection comes from 127.0.0.1 (older builds have no per-address cap).
cap=()
"$bin" serve --help | grep -q max-connections-per-address && cap=(--max-connections-per-address 100000)
RUST_LOG=warn "$bin" serve --bind 127.0.0.1:0 --enrollment auto "${cap[@]}" \
    --data-dir "$dir/data" >"$dir/out" 2>&1 &
server=$!
for _ in $(seq 100); do
    addr=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$dir/out" | sed 's|.*//||' || true)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$dir/out"; echo "the server did not start" >&2; exit 1; }
url="http://$addr"

curl -sf "$url/api/v1/auth/signup" -d '{"email":"wrk@example.com","password":"wrk bench password 1","tenant_name":"wrk"}' >/dev/null
{
    echo "loggers = {"
    for n in $(seq 0 $((loggers - 1))); do
        key=$(curl -sf "$url/api/device/register" -d "{\"logger_id\":\"wrk-$n\"}" |
            sed 's/.*"device_key":"\([^"]*\)".*/\1/')
        echo "  {id = \"wrk-$n\", key = \"$key\", seq = 0},"
    done
    echo "}"
    cat <<'LUA'
-- Each wrk thread takes every other logger, so no two threads share a logger's seq.
local counter = 0
function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end
function init(args)
  mine = {}
  for i = first + 1, #loggers, 2 do mine[#mine + 1] = loggers[i] end
  turn = 0
  base = os.time() * 1000
  tick = 0
end
function request()
  turn = turn % #mine + 1
  local logger = mine[turn]
  logger.seq = logger.seq + 1
  tick = tick + 1
  local pin = logger.seq % 8
  local running = (math.floor(logger.seq / 8) % 2 == 0) and "true" or "false"
  local ts = math.max(base, os.time() * 1000) + tick % 1000
  if tick % 16 == 0 then ts = ts - 5000 end
  local body = string.format(
    '{"logger_id":"%s","pin_number":%d,"is_running":%s,"timestamp":%d,"seq":%d}',
    logger.id, pin, running, ts, logger.seq)
  return wrk.format("POST", "/api/asset-state",
    {["Authorization"] = "Bearer " .. logger.key, ["Content-Type"] = "application/json"}, body)
end
LUA
} >"$dir/single.lua"

stored() { curl -s "$url/metrics" | awk '/^assetlog_events_ingested_total/ {print $2}'; }
e0=$(stored)
t0=$(date +%s.%N)
wrk -t2 -c64 -d"${seconds}s" --latency -s "$dir/single.lua" "$url"
t1=$(date +%s.%N)
e1=$(stored)
awk -v e=$((e1 - e0)) -v t0="$t0" -v t1="$t1" \
    'BEGIN { printf "stored: %d events in %.1f s = %.0f events/s\n", e, t1 - t0, e / (t1 - t0) }'
