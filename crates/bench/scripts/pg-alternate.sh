#!/usr/bin/env bash
# Two server builds on PostgreSQL, alternating, each run on a fresh database: the way to
# compare a change (save the release binary before it, build after it).
#
#   crates/bench/scripts/pg-alternate.sh BEFORE_BIN AFTER_BIN SCENARIO ROUNDS [bench args...]
#   e.g. crates/bench/scripts/pg-alternate.sh /tmp/assetlog-before target/release/assetlog single 2 --seconds 8
#
# ADMIN_URL (default postgres://assetlog:assetlog@127.0.0.1/assetlog) names a database where the
# role may create others. Needs target/release/assetlog-bench.
set -euo pipefail
cd "$(dirname "$0")/../../.."
before=${1:?before}; after=${2:?after}; scenario=${3:?scenario}; rounds=${4:?rounds}; shift 4
admin=${ADMIN_URL:-postgres://assetlog:assetlog@127.0.0.1/assetlog}
name=assetlog_bench_alternate
for round in $(seq "$rounds"); do
    for bin in "$before" "$after"; do
        psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
        echo "## round $round: $bin"
        target/release/assetlog-bench "$scenario" --server-bin "$bin" \
            --database-url "${admin%/*}/$name" "$@" | grep -E "^\| $scenario|^\*\*Other"
    done
done
psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)"
