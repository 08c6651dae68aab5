#!/usr/bin/env bash
# run.sh — side-by-side benchmark of /wa-leave acknowledgement: the Bolt anchor,
# the bare-Go floor and (optionally) the waleave binary, on loopback, interleaved.
#
#   ./run.sh                                   # anchors only, defaults below
#   WALEAVE_BIN=path/to/waleave WALEAVE_ENV_FILE=bench.env.example ./run.sh -o results-x.md
#   ./run.sh --rounds 5 --concurrency "1 16 64 256" --duration 10 --kinds "command interaction"
#
# For every round, kind and concurrency level it starts each target afresh, waits
# until it is ready, warms it at that concurrency, measures it with loadgen, reads
# its CPU time (/proc/PID/stat) and peak RSS (VmHWM, /proc/PID/status), and stops
# it — targets in turn (A B C A B C …), so that noise hits them alike. At the end it
# prints a markdown table of medians and of per-round ratios (report/main.go).
#
# Settings (flags override the environment):
#   --rounds N          ROUNDS        rounds (3)
#   --concurrency "…"   CONCURRENCY   concurrency levels ("1 16 64")
#   --duration S        DURATION      seconds measured per run (5)
#   --warmup S          WARMUP        seconds of unmeasured load first (2)
#   --kinds "…"         KINDS         command and/or interaction ("command")
#   --targets "…"       TARGETS       anchors to run ("bolt floor"); waleave is added
#                                     when WALEAVE_BIN is set
#   --out FILE          OUT           also write header + table to FILE, raw data to
#                                     FILE with .jsonl instead of .md
#   --pin S:C           PIN           taskset CPU lists for servers and client, e.g. 0:1
#   --client K          CLIENT        loadgen client: raw (default; half the client CPU
#                                     per request) or std (net/http Transport)
#   WALEAVE_BIN, WALEAVE_ENV_FILE     the product binary and a KEY=VALUE env file for it;
#                                     LISTEN_ADDR and SLACK_SIGNING_SECRET are set by
#                                     this script and override the file
#   WALEAVE_NAME                      its name in the table (waleave)
#   BENCH_USERS                       user IDs rotated over requests
#   BENCH_TEXT                        command text (a group JID)
#   BENCH_VALUE                       button value(s) for interactions (comma list)
#   BENCH_SECRET                      signing secret (random per run)
#   PORT_BASE                         first loopback port (28200; keep it below the
#                                     ephemeral range, or a client's TIME_WAIT can take it)
#   READY_TIMEOUT                     seconds to wait for a target to be ready (30)
#   MAX_SECONDS                       give up starting new runs after this long (3600)
#   BUILD_DIR                         where Go binaries go (.build beside this script)
#   WORK_DIR                          logs and raw data (a fresh mktemp -d)
#   NETGUARD=0                        start Bolt without the outbound-connection guard
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
KINDS=${KINDS:-command}
TARGETS=${TARGETS:-"bolt floor"}
OUT=${OUT:-}
PIN=${PIN:-}
CLIENT=${CLIENT:-raw}
WALEAVE_NAME=${WALEAVE_NAME:-waleave}
BENCH_USERS=${BENCH_USERS:-U0BENCH0001,U0BENCH0002,U0BENCH0003,U0BENCH0004}
BENCH_TEXT=${BENCH_TEXT:-120363406289005073@g.us}
BENCH_VALUE=${BENCH_VALUE:-req-1}
PORT_BASE=${PORT_BASE:-28200}
READY_TIMEOUT=${READY_TIMEOUT:-30}
MAX_SECONDS=${MAX_SECONDS:-3600}
BUILD_DIR=${BUILD_DIR:-$here/.build}
NETGUARD=${NETGUARD:-1}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--concurrency) CONCURRENCY=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--kinds) KINDS=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	-o | --out) OUT=$2; shift 2 ;;
	--pin) PIN=$2; shift 2 ;;
	--client) CLIENT=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

die() { echo "run.sh: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for v in ROUNDS DURATION WARMUP READY_TIMEOUT MAX_SECONDS PORT_BASE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$DURATION" -ge 1 ] || die "DURATION must be at least 1 second"
for c in $CONCURRENCY; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "bad concurrency level '$c'"; done
for k in $KINDS; do [[ $k == command || $k == interaction ]] || die "bad kind '$k'"; done
[[ $CLIENT == raw || $CLIENT == std ]] || die "CLIENT must be raw or std"
for t in $TARGETS; do [[ $t == bolt || $t == floor ]] || die "unknown anchor '$t' (bolt, floor)"; done

if [ -n "${WALEAVE_BIN:-}" ]; then
	[ -x "$WALEAVE_BIN" ] || die "WALEAVE_BIN is not an executable file"
	[ -z "${WALEAVE_ENV_FILE:-}" ] || [ -r "$WALEAVE_ENV_FILE" ] || die "WALEAVE_ENV_FILE is not readable"
	TARGETS="$TARGETS $WALEAVE_NAME"
fi

server_pfx=()
client_pfx=()
if [ -n "$PIN" ]; then
	[[ $PIN == *:* ]] || die "PIN must look like SERVER_CPUS:CLIENT_CPUS, e.g. 0:1"
	server_pfx=(taskset -c "${PIN%%:*}")
	client_pfx=(taskset -c "${PIN#*:}")
fi

# ---- processes: every PID started here is tracked and killed on exit --------------

PIDS=()

forget() {
	local pid=$1 keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

is_running() { # alive and not a zombie
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do is_running "$pid" || break; sleep 0.1; done
	if is_running "$pid"; then
		log "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	forget "$pid"
}

cleanup() {
	local pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# run_bounded SECONDS OUTFILE CMD… : runs CMD in the background under timeout,
# stdout to OUTFILE, waits (interruptibly), returns its status.
run_bounded() {
	local secs=$1 outfile=$2 pid rc=0
	shift 2
	timeout -k 5 "$secs" "$@" >"$outfile" 2>>"$WORK_DIR/loadgen.log" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	forget "$pid"
	return "$rc"
}

# ---- build and install -------------------------------------------------------------

WORK_DIR=${WORK_DIR:-$(mktemp -d -t waleave-bench.XXXXXX)}
mkdir -p "$WORK_DIR" "$BUILD_DIR"
log "logs and raw data in $WORK_DIR"

command -v go >/dev/null || die "go is not installed"
log "building loadgen, floor, report"
(cd "$here" && timeout 600 go build -trimpath -o "$BUILD_DIR/" ./loadgen ./floor ./report) || die "go build failed"
LG=$BUILD_DIR/loadgen

bolt_version=""
if [[ " $TARGETS " == *" bolt "* ]]; then
	command -v node >/dev/null || die "node is not installed (needed for the Bolt anchor)"
	command -v npm >/dev/null || die "npm is not installed (needed for the Bolt anchor)"
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$node_major" -ge 20 ] || die "Bolt 5 needs node >= 20, found $(node --version)"
	registry=$(npm config get registry 2>/dev/null)
	node "$here/bolt/checklock.cjs" "$registry" >&2 || die "package-lock.json failed its check"
	if [ ! -f "$here/bolt/node_modules/.package-lock.json" ] ||
		[ "$here/bolt/package-lock.json" -nt "$here/bolt/node_modules/.package-lock.json" ]; then
		log "installing the Bolt anchor (npm ci)"
		(cd "$here/bolt" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund >&2) || die "npm ci failed"
	fi
	bolt_version=$(node -p "require('$here/bolt/node_modules/@slack/bolt/package.json').version")
fi

# ---- targets -----------------------------------------------------------------------

SECRET=${BENCH_SECRET:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}

waleave_env=()
if [ -n "${WALEAVE_ENV_FILE:-}" ]; then
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		line=${line#export }
		[[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "WALEAVE_ENV_FILE: not KEY=VALUE: ${line%%=*}…"
		key=${line%%=*} val=${line#*=}
		if [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]]; then val=${BASH_REMATCH[1]}; fi
		waleave_env+=("$key=$val")
	done <"$WALEAVE_ENV_FILE"
	if ! printf '%s\n' "${waleave_env[@]}" | grep -Eq '^WALEAVE_ALLOWED_(USERS|CHANNELS)='; then
		log "warning: WALEAVE_ENV_FILE sets neither WALEAVE_ALLOWED_USERS nor WALEAVE_ALLOWED_CHANNELS;"
		log "         every command will be refused (users sent: $BENCH_USERS, channel C0BENCH0001)"
	fi
fi

port_of() { # a distinct port per target
	local i=0 t
	for t in $TARGETS; do
		[ "$t" = "$1" ] && { echo $((PORT_BASE + i)); return; }
		i=$((i + 1))
	done
}

port_busy() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if read -r eph_lo eph_hi 2>/dev/null <"/proc/sys/net/ipv4/ip_local_port_range"; then
	ntargets=$(wc -w <<<"$TARGETS")
	if [ "$PORT_BASE" -le "$eph_hi" ] && [ $((PORT_BASE + ntargets - 1)) -ge "$eph_lo" ]; then
		log "warning: ports $PORT_BASE.. lie in the ephemeral range $eph_lo-$eph_hi; a target may fail to bind"
	fi
fi

# wait_ready PID URL [-wait-any]: until URL answers, the process dies, or READY_TIMEOUT.
wait_ready() {
	local pid=$1 url=$2 deadline=$((SECONDS + READY_TIMEOUT))
	shift 2
	while :; do
		run_bounded 10 /dev/null "$LG" -wait -url "$url" "$@" -wait-timeout 1s && return 0
		is_running "$pid" || return 1
		[ "$SECONDS" -lt "$deadline" ] || return 1
	done
}

TPID=""
start_target() { # name port logfile
	local name=$1 port=$2 logf=$3
	port_busy "$port" && die "port $port is already in use (set PORT_BASE)"
	case $name in
	floor)
		"${server_pfx[@]}" env SLACK_SIGNING_SECRET="$SECRET" \
			"$BUILD_DIR/floor" -addr "127.0.0.1:$port" >>"$logf" 2>&1 &
		;;
	bolt)
		local guard=()
		[ "$NETGUARD" = 0 ] || guard=(--require ./netguard.cjs)
		"${server_pfx[@]}" env -C "$here/bolt" SLACK_SIGNING_SECRET="$SECRET" PORT="$port" HOST=127.0.0.1 \
			node "${guard[@]}" app.js >>"$logf" 2>&1 &
		;;
	*)
		"${server_pfx[@]}" env "${waleave_env[@]}" LISTEN_ADDR="127.0.0.1:$port" SLACK_SIGNING_SECRET="$SECRET" \
			"$WALEAVE_BIN" >>"$logf" 2>&1 &
		;;
	esac
	TPID=$!
	PIDS+=("$TPID")
	local ready=("http://127.0.0.1:$port/healthz")
	[ "$name" = bolt ] && ready=("http://127.0.0.1:$port/" -wait-any)
	if ! wait_ready "$TPID" "${ready[@]}" || ! is_running "$TPID"; then
		tail -n 20 "$logf" >&2 || true
		die "$name exited or was not ready on port $port within ${READY_TIMEOUT}s"
	fi
}

cpu_ticks() { # utime + stime of a process, in clock ticks
	local st f
	st=$(cat "/proc/$1/stat") || return 1
	st=${st##*) }
	read -ra f <<<"$st"
	echo $((f[11] + f[12]))
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

summary() { # loadgen JSON file, server CPU ticks, peak RSS kB → one line
	sed -E 's/.*"rps":([-0-9.e+]+).*"p50_ms":([-0-9.e+]+).*"p99_ms":([-0-9.e+]+).*"client_cpu_cores":([-0-9.e+]+).*/\1 \2 \3 \4/' "$1" |
		awk -v t="$2" -v h="$CLK_TCK" -v m="$3" '{ printf "%7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  server %5.2f CPU-s  client %.2f cores  peak %.0f MB", $1, $2, $3, t / h, $4, m / 1024 }'
}

path_of() { [ "$1" = interaction ] && echo /slack/interactions || echo /slack/commands; }

# ---- the runs ----------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)
RAW=$WORK_DIR/results.jsonl
: >"$RAW"
declare -A shown=()
started=$SECONDS
nlevels=$(wc -w <<<"$CONCURRENCY")
total=$((ROUNDS * $(wc -w <<<"$KINDS") * nlevels * $(wc -w <<<"$TARGETS")))
log "targets: $TARGETS; kinds: $KINDS; c: $CONCURRENCY; $ROUNDS rounds of ${DURATION}s (+${WARMUP}s warm-up); client $CLIENT"
log "$total runs, about $((total * (DURATION + WARMUP + 2) / 60 + 1)) min"

load_args() { # kind c
	local a=(-secret "$SECRET" -client "$CLIENT" -kind "$1" -c "$2" -users "$BENCH_USERS" -text "$BENCH_TEXT")
	[ "$1" = interaction ] && a+=(-action leave_confirm -value "$BENCH_VALUE")
	printf '%s\n' "${a[@]}"
}

n=0
for round in $(seq "$ROUNDS"); do
	for kind in $KINDS; do
		for c in $CONCURRENCY; do
			for t in $TARGETS; do
				n=$((n + 1))
				[ $((SECONDS - started)) -lt "$MAX_SECONDS" ] || die "MAX_SECONDS ($MAX_SECONDS) reached after $((n - 1)) runs"
				port=$(port_of "$t")
				url="http://127.0.0.1:$port$(path_of "$kind")"
				logf="$WORK_DIR/$t.log"
				mapfile -t args < <(load_args "$kind" "$c")

				start_target "$t" "$port" "$logf"
				sleep 0.3
				idle=$(status_kb "$TPID" VmRSS)

				# one request first: it must succeed; show its answer once per target and kind
				smoke=$WORK_DIR/smoke.json
				expect=()
				[ "$t/$kind" = bolt/command ] && expect=(-expect-body leave_confirm)
				[ "$t/$kind" = floor/command ] && expect=(-expect-body ephemeral)
				run_bounded 30 "$smoke" "${client_pfx[@]}" "$LG" -url "$url" "${args[@]}" -n 1 -json -print-first "${expect[@]}" ||
					die "loadgen failed against $t (see $WORK_DIR/loadgen.log)"
				if [ -z "${shown[$t/$kind]:-}" ]; then
					shown[$t/$kind]=1
					log "$t answers $kind with: $(tail -n 2 "$WORK_DIR/loadgen.log" | head -c 400 | tr '\n' ' ')"
				fi
				grep -q '"statuses":{"2[0-9][0-9]":1}' "$smoke" || die "$t did not answer a signed $kind with 2xx: $(cat "$smoke")"
				grep -q '"bad_body"' "$smoke" && die "$t answered $kind with an unexpected body (see $WORK_DIR/loadgen.log)"

				[ "$WARMUP" -gt 0 ] && { run_bounded $((WARMUP + 30)) /dev/null "${client_pfx[@]}" "$LG" -url "$url" "${args[@]}" -d "${WARMUP}s" ||
					die "warm-up load against $t failed"; }

				cpu0=$(cpu_ticks "$TPID")
				one=$WORK_DIR/one.json
				run_bounded $((DURATION + 30)) "$one" "${client_pfx[@]}" "$LG" -url "$url" "${args[@]}" -d "${DURATION}s" -json -label "$t" ||
					die "load against $t failed"
				cpu1=$(cpu_ticks "$TPID")
				hwm=$(status_kb "$TPID" VmHWM)
				is_running "$TPID" || die "$t exited during the run"
				stop_pid "$TPID"

				printf '{"target":"%s","round":%d,"kind":"%s","c":%d,"clk_tck":%d,"server_cpu_ticks":%d,"hwm_kb":%d,"idle_rss_kb":%d,"load":%s}\n' \
					"$t" "$round" "$kind" "$c" "$CLK_TCK" $((cpu1 - cpu0)) "$hwm" "$idle" "$(cat "$one")" >>"$RAW"
				log "$(printf '[%d/%d] round %d %-11s c=%-3d %-8s' "$n" "$total" "$round" "$kind" "$c" "$t") $(summary "$one" $((cpu1 - cpu0)) "$hwm")"
			done
		done
	done
done

# ---- the table ---------------------------------------------------------------------

netguard_note=""
if [[ " $TARGETS " == *" bolt "* ]] && [ "$NETGUARD" != 0 ]; then
	hits=$(grep -c '^NETGUARD' "$WORK_DIR/bolt.log" || true)
	if [ "$hits" -gt 0 ]; then
		netguard_note="**WARNING: the Bolt anchor attempted $hits outbound connections or DNS lookups** (first: $(grep -m1 '^NETGUARD' "$WORK_DIR/bolt.log"))."
	else
		netguard_note="Bolt ran under a connect/DNS guard (bolt/netguard.cjs): no outbound connection or lookup was attempted."
	fi
fi

table=$WORK_DIR/table.md
"$BUILD_DIR/report" -baseline bolt -floor floor -order "bolt,floor,$WALEAVE_NAME" "$RAW" >"$table"
[ -z "$netguard_note" ] || printf '\n%s\n' "$netguard_note" >>"$table"

header() {
	echo "# /wa-leave acknowledgement benchmark — $(date -u +%Y-%m-%d)"
	echo
	echo "Generated by \`bench/run.sh\` at $(date -u +%Y-%m-%dT%H:%M:%SZ)."
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), \`nproc\` = $(nproc) |"
	echo "| kernel | $(uname -sr) |"
	echo "| go | $(go version) |"
	[ -z "$bolt_version" ] || echo "| node | $(node --version) |"
	[ -z "$bolt_version" ] || echo "| @slack/bolt | $bolt_version (HTTPReceiver, signature verification on) |"
	if [ -n "${WALEAVE_BIN:-}" ]; then
		echo "| $WALEAVE_NAME | $(basename "$WALEAVE_BIN"), sha256 $(sha256sum "$WALEAVE_BIN" | cut -c1-12) |"
	fi
	echo "| load | closed loop, loadgen -client $CLIENT, keep-alive; ${DURATION} s measured after ${WARMUP} s warm-up, fresh server process per run |"
	echo "| runs | $ROUNDS rounds × kinds ($KINDS) × c ($CONCURRENCY) × targets ($TARGETS), interleaved in that order |"
	echo "| CPU pinning | ${PIN:-none (servers and client share all CPUs)} |"
	echo
	echo "Medians over rounds. ± is half the range of req/s over rounds, as % of the median."
	echo "Ratios are medians of per-round ratios (same round, same concurrency). CPU-s / 1k req"
	echo "is the server's own user+system CPU during the measured window; client cores is the"
	echo "load generator's CPU use (when servers and client share the machine, a client near"
	echo "a full core means the figures for fast targets are bounded by the client)."
	echo
}

echo
header
cat "$table"
if [ -n "$OUT" ]; then
	mkdir -p "$(dirname "$OUT")"
	{ header; cat "$table"; } >"$OUT"
	cp "$RAW" "${OUT%.md}.jsonl"
	log "wrote $OUT and ${OUT%.md}.jsonl"
fi
