#!/usr/bin/env bash
# clicks.sh — leave_confirm clicks on distinct pending requests, against the
# running product, with bench/loadgen and bench/stub.
#
# bench/run.sh rotates a fixed list of button values, so after one
# pass every click is a repeat (already decided). This script measures
# first clicks: it creates N pending requests through the product's own
# /slack/commands, reads their IDs from the SQLite file, clicks each once
# (in chunks of 6,000: one loadgen argument holds no more), and reports
# req/s and p99 per chunk, the server's CPU per click, its peak RSS, and
# whether every click made exactly one leave job.
#
#   bench/clicks.sh [N]        # N pending requests (default 24000)
#   BOLT=1 bench/clicks.sh     # also Bolt's clicks at the same concurrency,
#                              # right after, for a ratio from one run
#
# Needs: Go, the sqlite3 CLI; node and npm for BOLT=1.
# Settings: CONCURRENCY (64), PORT (28430), STUB_PORT (28431).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-24000}
C=${CONCURRENCY:-64}
PORT=${PORT:-28430}
STUB_PORT=${STUB_PORT:-28431}
WORK=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -o "$WORK/waleave" .
(cd bench && go build -o "$WORK/loadgen" ./loadgen && go build -o "$WORK/stub" ./stub)

"$WORK/stub" -addr "127.0.0.1:$STUB_PORT" >"$WORK/stub.log" 2>&1 &
pids+=($!)
disown # killed by cleanup, without a "Killed" line
db="$WORK/clicks.db"
secret=bench-clicks
(
	set -a
	# shellcheck disable=SC1091
	. ./bench.env.example
	set +a
	export SLACK_API_URL="http://127.0.0.1:$STUB_PORT/api/" WA_API_URL="http://127.0.0.1:$STUB_PORT"
	export DATABASE_URL="sqlite:$db" LISTEN_ADDR="127.0.0.1:$PORT" SLACK_SIGNING_SECRET=$secret
	exec "$WORK/waleave"
) >"$WORK/waleave.log" 2>&1 &
pid=$!
pids+=($pid)
disown
"$WORK/loadgen" -url "http://127.0.0.1:$PORT/healthz" -wait -wait-timeout 30s >/dev/null

echo "creating $N pending requests"
"$WORK/loadgen" -url "http://127.0.0.1:$PORT/slack/commands" -secret $secret -kind command \
	-users U0BENCH0001,U0BENCH0002,U0BENCH0003,U0BENCH0004 -n "$N" -c "$C" -client raw -json >/dev/null
sqlite3 "$db" "SELECT id FROM requests WHERE state = 'pending' ORDER BY id" >"$WORK/ids"
echo "$(wc -l <"$WORK/ids") pending; clicking each once at c=$C"
split -l 6000 "$WORK/ids" "$WORK/chunk."

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick=$(getconf CLK_TCK)
before=$(cpu)
clicks=0
for f in "$WORK"/chunk.*; do
	n=$(wc -l <"$f")
	clicks=$((clicks + n))
	"$WORK/loadgen" -url "http://127.0.0.1:$PORT/slack/interactions" -secret $secret -kind interaction \
		-action leave_confirm -value "$(paste -sd, "$f")" -users U0BENCH0001 -n "$n" -c "$C" -client raw -json |
		grep -o '"requests":[0-9]*\|"non2xx":[0-9]*\|"rps":[0-9]*\|"p50_ms":[0-9.]*\|"p99_ms":[0-9.]*' | paste -sd' '
done
after=$(cpu)
echo "server CPU per click: $(( (after - before) * 1000000 / tick / clicks )) µs; $(grep VmHWM "/proc/$pid/status")"
sleep 1
jobs=$(sqlite3 "$db" "SELECT count(*) FROM river_job WHERE kind = 'leave'")
# args hold only the request ID, so equal args mean the same request.
distinct=$(sqlite3 "$db" "SELECT count(DISTINCT args) FROM river_job WHERE kind = 'leave'")
confirmed=$(sqlite3 "$db" "SELECT count(*) FROM requests WHERE confirmed_at > 0")
echo "clicks: $clicks, confirmed: $confirmed, leave jobs: $jobs for $distinct requests"
if [ -n "${BOLT:-}" ]; then
	# Bolt answers a click without persisting it, so a repeated value costs
	# it what a first one does: bench/run.sh measures it as is.
	kill -9 "$pid" 2>/dev/null || true
	(bench/run.sh --targets bolt --kinds interaction --concurrency "$C" --rounds 3 -o "$WORK/bolt.md") >"$WORK/bolt.log" 2>&1 ||
		{ tail -5 "$WORK/bolt.log"; exit 1; }
	grep -E "^\| bolt \| $C \|" "$WORK/bolt.md" | head -1 | awk -F'|' '{gsub(/ /, "", $4); print "bolt: " $4 " req/s (median of 3 rounds)"}'
fi
[ "$jobs" -eq "$clicks" ] && [ "$confirmed" -eq "$clicks" ] && [ "$distinct" -eq "$jobs" ]
