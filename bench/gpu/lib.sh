# Shell helpers shared by bench/gpu/run.sh and bench/peer/run_peers.sh; source it, do not run it.

# log prints a progress line on stderr, so stdout keeps only the results.
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# start_server BIN DS LOG [serve flags...] starts `facestream serve` on a free loopback port and
# waits for /healthz; it sets SERVER_PID and SERVER_URL. The caller's EXIT trap calls stop_server.
start_server() {
	local bin=$1 ds=$2 logfile=$3
	shift 3
	"$bin" serve "$ds" --addr 127.0.0.1:0 "$@" 2>"$logfile" &
	SERVER_PID=$!
	local i
	for i in $(seq 1 300); do
		SERVER_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$logfile" | head -n 1 || true)
		if [[ -n $SERVER_URL ]] && "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2)' "$SERVER_URL" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "facestream serve exited: $(tail -n 5 "$logfile")" >&2
			SERVER_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "facestream serve did not answer /healthz within 30 s: $(tail -n 5 "$logfile")" >&2
	return 1
}

# stop_server ends the server started by start_server (SIGTERM, then SIGKILL after 10 s).
stop_server() {
	[[ -n ${SERVER_PID:-} ]] || return 0
	kill "$SERVER_PID" 2>/dev/null || true
	local i
	for i in $(seq 1 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# make_dataset BIN WORK IDENTITIES makes WORK/synth (an ImageFolder of JPEGs) and imports it into WORK/ds,
# once: a later call with the same WORK reuses them. Peers read WORK/synth/images, the same files.
make_dataset() {
	local bin=$1 work=$2 identities=$3
	if [[ -f $work/ds/dataset.json && -d $work/synth/images ]]; then
		return 0
	fi
	log "synth: $identities identities into $work/synth"
	"$bin" synth --out "$work/synth" --identities "$identities" --seed 1 --force >&2
	log "import into $work/ds"
	"$bin" import imagefolder "$work/synth/images" --out "$work/ds" --force >&2
}
