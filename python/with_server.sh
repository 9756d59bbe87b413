#!/usr/bin/env bash
# Runs a command against a live facestream server over a small synthetic dataset:
#   python/with_server.sh CMD [ARGS...]
# builds the binary (unless $BIN names one), makes a synth set of 40 identities at 32x32,
# imports it, serves it on a free loopback port and runs CMD with
#   FACESTREAM_URL      http://127.0.0.1:PORT
#   FACESTREAM_BIN      the facestream binary
#   FACESTREAM_DATASET  the served dataset folder
# in its environment. The server is always stopped on exit; CMD's status is the script's.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/facestream-test.XXXXXX")
server=""
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${BIN:-}" ]; then
	BIN="$work/facestream"
	go build -o "$BIN" ./cmd/facestream
fi
SIZE=32
"$BIN" synth --out "$work/synth" --identities 40 --seed 1 --size "$SIZE" >/dev/null
"$BIN" import imagefolder "$work/synth/images" --out "$work/ds" >/dev/null

"$BIN" serve "$work/ds" --addr 127.0.0.1:0 --size "$SIZE" 2>"$work/serve.log" &
server=$!
url=""
for _ in $(seq 100); do
	url=$(grep -o -m1 'serving .* on http://127\.0\.0\.1:[0-9]*' "$work/serve.log" | grep -o 'http://.*' || true)
	[ -n "$url" ] && break
	if ! kill -0 "$server" 2>/dev/null; then
		echo "with_server: facestream serve exited:" >&2
		cat "$work/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "with_server: no 'serving ... on URL' line from facestream serve within 10s:" >&2
	cat "$work/serve.log" >&2
	exit 1
fi

status=0
FACESTREAM_URL="$url" FACESTREAM_BIN="$BIN" FACESTREAM_DATASET="$work/ds" "$@" || status=$?
if [ "$status" -ne 0 ]; then
	echo "with_server: server log:" >&2
	tail -n 20 "$work/serve.log" >&2
fi
exit "$status"
