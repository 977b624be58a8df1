#!/usr/bin/env bash
# PostgreSQL beside SQLite, in one sitting, alternating: each run starts its server(s) on a
# fresh database (SQLite in a temp directory; PostgreSQL in a new database made here).
#
#   crates/bench/scripts/pg-vs-sqlite.sh SCENARIO ROUNDS [bench args...]
#   e.g. crates/bench/scripts/pg-vs-sqlite.sh single 2 --seconds 10
#
# Each round runs SQLite, PostgreSQL with one server, PostgreSQL with two replicas (`live`
# watches on the second). ADMIN_URL (default postgres://assetlog:assetlog@127.0.0.1/assetlog)
# names a database where the role may create others. Needs a release build:
#   cargo build --release -p assetlog-server -p assetlog-bench
set -euo pipefail
cd "$(dirname "$0")/../../.."
scenario=${1:?scenario}; rounds=${2:?rounds}; shift 2
admin=${ADMIN_URL:-postgres://assetlog:assetlog@127.0.0.1/assetlog}
bench=target/release/assetlog-bench

fresh() {
    local name="assetlog_bench_$1"
    psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
    echo "${admin%/*}/$name"
}

for round in $(seq "$rounds"); do
    echo "## round $round: SQLite"
    "$bench" "$scenario" "$@"
    echo "## round $round: PostgreSQL, one server"
    "$bench" "$scenario" --database-url "$(fresh one)" "$@"
    echo "## round $round: PostgreSQL, two replicas"
    "$bench" "$scenario" --database-url "$(fresh two)" --replicas 2 "$@"
done
