#!/usr/bin/env bash
# facestream side by side with its peers, on the same JPEGs and the same cores, as one markdown table
# (`make bench` runs it). Every row is images/s at 112x112 with the `face` profile unless it says not:
#
#   facestream bench      in-process server, one stream per core, read by the Go client (median of 3 runs)
#   PyTorch DataLoader    PIL decode + the torchvision face profile, one worker per core (torch_augment.py)
#   tjbench               libjpeg-turbo decoding alone, one core, scaled by the cores (the physical bound)
#   Python client         facestream.StreamDataset in a DataLoader, one worker per core, from `facestream serve`
#
#   bench/peer/run_peers.sh                       # uses bin/facestream (make build), work in .cache/bench
#   CORES=2 SECONDS_EACH=8 IDENTITIES=200 bench/peer/run_peers.sh
#
# The synthetic set is made once in WORK (synth, then import): the ImageFolder the dataset was imported
# from holds the very JPEG bytes the server decodes, so the peers read those files. Results: WORK/peers.json.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../gpu/lib.sh
source "$ROOT/bench/gpu/lib.sh"

BIN=${FACESTREAM_BIN:-$ROOT/bin/facestream}
PY=${PY:-/usr/bin/python3}
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

make_dataset "$BIN" "$WORK" "$IDENTITIES"
IMAGES=$WORK/synth/images
# torch_augment.py reads one flat folder: link every JPEG of the ImageFolder into one, same files.
FLAT=$WORK/flat
if [[ ! -d $FLAT ]]; then
	mkdir -p "$FLAT.tmp"
	find "$IMAGES" -name '*.jpg' -print0 | while IFS= read -r -d '' f; do
		rel=${f#"$IMAGES"/}
		ln -s "$f" "$FLAT.tmp/${rel//\//_}"
	done
	mv "$FLAT.tmp" "$FLAT"
fi
FILES=$(find -L "$FLAT" -name '*.jpg' | wc -l)
log "$FILES JPEGs, $CORES cores, ${SECONDS_EACH}s per measurement"

log "facestream bench: in-process server, $CORES streams"
"${PIN[@]}" "$BIN" bench "$WORK/ds" --streams "$CORES" --workers "$CORES" --batch "$BATCH" \
	--duration "${SECONDS_EACH}s" --warmup 2s --repeat 3 --profile face --json >"$WORK/facestream.json"

log "PyTorch DataLoader: PIL + torchvision, $CORES workers"
"${PIN[@]}" "$PY" "$HERE/torch_augment.py" "$FLAT" --workers "$CORES" --seconds "$SECONDS_EACH" \
	--batch "$BATCH" --size 112 >"$WORK/torch.json"

log "tjbench: decode only, one core, 6 of the files"
: >"$WORK/tjbench.txt"
mapfile -t SAMPLE < <(find -L "$FLAT" -name '*.jpg' | sort | awk -v n="$FILES" 'NR % int(n / 6 + 1) == 1' | head -n 6)
for f in "${SAMPLE[@]}"; do
	# -rgb: decode to RGB as facestream does; -nowrite: no output file in the timing.
	fps=$(taskset -c 0 tjbench "$f" -rgb -nowrite -benchtime 1 -warmup 0.3 | awk '/Decompress/ && /Frame rate/ {print $(NF-1)}')
	[[ -n $fps ]] || { echo "tjbench printed no decompression frame rate for $f" >&2; exit 1; }
	echo "$f $fps" >>"$WORK/tjbench.txt"
done

log "Python client: StreamDataset in a DataLoader, $CORES workers, from facestream serve"
start_server "$BIN" "$WORK/ds" "$WORK/serve.log" --profile face --workers "$CORES"
"${PIN[@]}" env PYTHONPATH="$ROOT/python" "$PY" "$ROOT/bench/gpu/gpu_bench.py" loader --url "$SERVER_URL" \
	--device cpu --uint8 --workers "$CORES" --batch "$BATCH" --warmup 3 --seconds "$SECONDS_EACH" \
	--name python-client --out "$WORK/client.json"
stop_server

"$PY" - "$WORK" "$CORES" <<'EOF'
import json, os, platform, sys

work, cores = sys.argv[1], int(sys.argv[2])
load = lambda name: json.load(open(os.path.join(work, name)))
fs = load("facestream.json")
torch = load("torch.json")
client = load("client.json")["result"]["best"]
fps = [float(line.split()[-1]) for line in open(os.path.join(work, "tjbench.txt"))]
tj_core = len(fps) / sum(1 / f for f in fps)  # images/s decoding the sample files in turn on one core

base = fs["median"]["images_per_s"]
rows = [
    ("facestream bench (Go client, in-process server)", base, f'{cores} streams, batch {fs["config"]["batch"]}'),
    ("PyTorch DataLoader, PIL + torchvision face profile", torch["img_per_s"], f'{torch["workers"]} workers, torch {torch["torch"]}'),
    ("tjbench decode only (libjpeg-turbo), 1 core × cores", tj_core * cores, f"{tj_core:,.0f} img/s on one core, {len(fps)} files"),
    ("Python client (StreamDataset in a DataLoader)", client["images_per_s"], f'{client["workers"]} workers, from facestream serve'),
]
cpu = platform.processor() or platform.machine()
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
print(f"Measured on {cores} cores of {cpu}; {fs['image']['height']}x{fs['image']['width']} images, face profile.\n")
print("| peer | img/s | img/s per core | ratio to facestream | notes |")
print("|---|---:|---:|---:|---|")
for name, rate, note in rows:
    print(f"| {name} | {rate:,.0f} | {rate / cores:,.0f} | {rate / base:.2f} | {note} |")
per_cpu_s = 1000 / fs["median"]["cpu_s_per_1000_images"]
print(f"\nfacestream ÷ PyTorch = {base / torch['img_per_s']:.2f}× (target ≥ 3); "
      f"facestream ÷ decode-only bound = {base / (tj_core * cores):.2f} (the whole served path, client "
      f"included; the image pipeline's own ratio, target ≥ 0.5, is bench/peer/augment_compare.sh's).")
# CPU time is the steadier figure when other work shares the cores: images per CPU-second of the
# whole facestream process (server and Go client) against tjbench's images per second of one core.
print(f"facestream used {fs['median']['cpu_s_per_1000_images']:.3f} CPU s per 1,000 images "
      f"({per_cpu_s:,.0f} img per CPU-second, {per_cpu_s / tj_core:.2f} of tjbench's decode-only rate); "
      f"load average {os.getloadavg()[0]:.1f} at the end.")
json.dump({"schema": "facestream.peers/v1", "cores": cores, "cpu": cpu,
           "rows": [{"peer": n, "images_per_s": r, "ratio_to_facestream": r / base, "notes": t} for n, r, t in rows],
           "facestream": fs, "torch": torch, "tjbench_fps": fps, "python_client": client},
          open(os.path.join(work, "peers.json"), "w"), indent=2)
EOF
log "details in $WORK/peers.json"
