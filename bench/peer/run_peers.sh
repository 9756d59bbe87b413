#!/usr/bin/env bash
# facestream side by side with its peers, on the same JPEGs and the same cores, as markdown tables
# (`make bench` runs it). Every row is images/s at 112x112 with the `face` profile unless it says not:
#
#   facestream bench      in-process server, one stream per core, read by the Go client (median of 3 runs)
#   PyTorch DataLoader    PIL decode + the torchvision face profile, one worker per core (torch_augment.py)
#   tjbench               libjpeg-turbo decoding alone, one core, scaled by the cores (the physical bound)
#   Python client         facestream.StreamDataset in a DataLoader, one worker per core, and StreamLoader
#                         reading ahead in a thread, from `facestream serve`
#   Go client, remote     facestream bench --url against the same `facestream serve`
#
# and the CPU cost of the served path: CPU-µs per image delivered (user + system time of the server
# and of the client over the measured window, divided by the images the client received), for the Go
# client in one process with the server, and for the Python and Go clients each apart from the
# server (its time from /proc/PID/stat or its /metrics). CPU time, unlike images/s, does not drop
# when other work shares the cores, so a regression shows even on a busy 2-core machine.
#
# Sets: the synthetic one (made once in WORK: synth, then import; the ImageFolder it was imported
# from holds the very JPEG bytes the server decodes, so the peers read those files), and the team's
# real 112x112 faces (lfw-ak, through internal/realdata's lookup: ../shared or $FACESTREAM_SHARED)
# when present, with the served-path targets: >= 0.5x tjbench's decode rate per core and
# >= 10x PyTorch's DataLoader on the same files.
#
#   bench/peer/run_peers.sh                       # uses bin/facestream (make build), work in .cache/bench
#   CORES=2 SECONDS_EACH=8 IDENTITIES=200 bench/peer/run_peers.sh
#
# Results: WORK/peers.json.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../gpu/lib.sh
source "$ROOT/bench/gpu/lib.sh"

BIN=${FACESTREAM_BIN:-$ROOT/bin/facestream}
PY=${PY:-/usr/bin/python3}
GO=${GO:-go}
CORES=${CORES:-$(nproc)}
SECONDS_EACH=${SECONDS_EACH:-8}
IDENTITIES=${IDENTITIES:-$((CORES > 2 ? 100 * CORES : 200))} # every stream needs whole batches in an epoch
BATCH=${BATCH:-128}
WORK=${WORK:-$ROOT/.cache/bench}
[[ -x $BIN ]] || { echo "no facestream binary at $BIN: run make build, or set FACESTREAM_BIN" >&2; exit 2; }
command -v tjbench >/dev/null || { echo "tjbench not found: apt-get install libjpeg-turbo-progs" >&2; exit 2; }

# The same cores for everyone: pin every process to the first CORES when that is fewer than the machine has.
PIN=()
if ((CORES < $(nproc))); then
	PIN=(taskset -c "0-$((CORES - 1))")
fi
mkdir -p "$WORK"
trap 'stop_server' EXIT
trap 'exit 130' INT TERM

# flatten IMAGES FLAT links every JPEG of an ImageFolder into one folder (torch_augment.py reads one
# flat folder): the same files.
flatten() {
	local images=$1 flat=$2
	[[ -d $flat ]] && return 0
	rm -rf "$flat.tmp"
	mkdir -p "$flat.tmp"
	find "$images" -name '*.jpg' -print0 | while IFS= read -r -d '' f; do
		rel=${f#"$images"/}
		ln -s "$f" "$flat.tmp/${rel//\//_}"
	done
	mv "$flat.tmp" "$flat"
}

# measure_set NAME DS IMAGES: the Go client with the server in-process, PyTorch's DataLoader and
# tjbench on the JPEGs of IMAGES (the ImageFolder DS was imported from): WORK/NAME-*.json, -tjbench.txt.
measure_set() {
	local name=$1 ds=$2 images=$3
	local flat=$WORK/$name-flat
	flatten "$images" "$flat"
	local files
	files=$(find -L "$flat" -name '*.jpg' | wc -l)
	log "$name: $files JPEGs, $CORES cores, ${SECONDS_EACH}s per measurement"

	log "$name: facestream bench: in-process server, $CORES streams"
	"${PIN[@]}" "$BIN" bench "$ds" --streams "$CORES" --workers "$CORES" --batch "$BATCH" \
		--duration "${SECONDS_EACH}s" --warmup 2s --repeat 3 --profile face --json >"$WORK/$name-facestream.json"

	log "$name: PyTorch DataLoader: PIL + torchvision, $CORES workers"
	"${PIN[@]}" "$PY" "$HERE/torch_augment.py" "$flat" --workers "$CORES" --seconds "$SECONDS_EACH" \
		--batch "$BATCH" --size 112 >"$WORK/$name-torch.json"

	log "$name: tjbench: decode only, one core, 6 of the files"
	: >"$WORK/$name-tjbench.txt"
	local sample f fps times TIMEFORMAT='%R %U %S'
	mapfile -t sample < <(find -L "$flat" -name '*.jpg' | sort | awk -v n="$files" 'NR % int(n / 6 + 1) == 1' | head -n 6)
	for f in "${sample[@]}"; do
		# -rgb: decode to RGB as facestream does; -nowrite: no output file in the timing. Its wall,
		# user and system seconds give its rate per CPU-second, which other work on the core does not lower.
		times=$({ time taskset -c 0 tjbench "$f" -rgb -nowrite -benchtime 1 -warmup 0.3 >"$WORK/tjbench.out"; } 2>&1)
		fps=$(awk '/Decompress/ && /Frame rate/ {print $(NF-1)}' "$WORK/tjbench.out")
		[[ -n $fps ]] || { echo "tjbench printed no decompression frame rate for $f" >&2; exit 1; }
		echo "$f $fps $times" >>"$WORK/$name-tjbench.txt"
	done
}

make_dataset "$BIN" "$WORK" "$IDENTITIES"
measure_set synth "$WORK/ds" "$WORK/synth/images"

log "served path apart: facestream serve with $CORES workers, read by the Python and the Go client"
SERVER_PIN=()
((${#PIN[@]} == 0)) || SERVER_PIN=(--cpus "0-$((CORES - 1))") # the server pins itself, GOMAXPROCS with it
start_server "$BIN" "$WORK/ds" "$WORK/serve.log" --profile face --workers "$CORES" "${SERVER_PIN[@]}"
"${PIN[@]}" env PYTHONPATH="$ROOT/python" "$PY" "$ROOT/bench/gpu/gpu_bench.py" loader --url "$SERVER_URL" \
	--server-pid "$SERVER_PID" --device cpu --uint8 --workers 0 "$CORES" --batch "$BATCH" --warmup 3 \
	--seconds "$SECONDS_EACH" --name python-client --out "$WORK/client.json"
"${PIN[@]}" "$BIN" bench --url "$SERVER_URL" --streams "$CORES" --batch "$BATCH" --duration "${SECONDS_EACH}s" \
	--warmup 2s --repeat 3 --profile face --json >"$WORK/go-remote.json"
stop_server

# The real faces, when internal/realdata finds them (status 3: absent, and why on stderr).
SETS=(synth)
rm -f "$WORK/lfw-skipped.txt"
"$GO" build -C "$ROOT" -o "$WORK/realfaces" ./bench/realfaces
rc=0
FACES=$("$WORK/realfaces" 2>"$WORK/realfaces.err") || rc=$?
if ((rc == 0)); then
	if [[ ! -f $WORK/lfw-ds/dataset.json ]]; then
		log "lfw: import $FACES into $WORK/lfw-ds"
		"$BIN" import imagefolder "$FACES" --out "$WORK/lfw-ds" --force >&2
	fi
	measure_set lfw "$WORK/lfw-ds" "$FACES"
	SETS+=(lfw)
elif ((rc == 3)); then
	log "lfw: skipped: $(cat "$WORK/realfaces.err")"
	cp "$WORK/realfaces.err" "$WORK/lfw-skipped.txt"
else
	cat "$WORK/realfaces.err" >&2
	exit 1
fi

"$PY" "$HERE/peers_report.py" "$WORK" "$CORES" "${SETS[@]}"
log "details in $WORK/peers.json"
