#!/usr/bin/env bash
# facestream end to end on a GPU machine: how many images/s the stream delivers onto the GPU, how
# fast a ResNet-18 trains from it and how long the GPU waits for data, side by side with PyTorch's
# DataLoader on the same JPEGs. Needs: a statically linked facestream binary, python3 with torch
# (2.x), torchvision and numpy (pyarrow used when present), a GPU. No Go, no network.
#
#   bench/gpu/run.sh --bin ./facestream                      # makes a synthetic set first
#   bench/gpu/run.sh --bin ./facestream --data DS --images DIR  # DIR: the ImageFolder DS was imported from
#   bench/gpu/run.sh --bin bin/facestream --cpu-smoke        # a few seconds on CPU: checks the script itself
#   options: --identities N (6000) --batch B (256) --workers "0 4 8" --torch-workers N (15)
#            --seconds S (measured window of each part) --warmup S (8) --work DIR
#            --device auto|cuda|cpu (auto) --trainer-cores N (a quarter of the cores; 0: no placement)
#
# Placement: the server runs `serve --workers auto --trainer-cores N`, pinned off the first N cores,
# and the stream's trainer is pinned to those N (taskset), so the two do not fight for cores.
# Parts, each its own process under a time limit, each writing WORK/part-*.json:
#   a  facestream stream -> GPU, no model (the loader's ceiling), for each --workers value
#      (0: StreamLoader's read-ahead thread in the trainer's process, straight into page-locked memory)
#   b  ResNet-18 (112x112, bf16 autocast, channels_last, SGD) trained from the stream, best workers of a;
#      b-train-unplaced: the same with the server on every core and the trainer unpinned
#   c  the same two with PyTorch's DataLoader (PIL decode + torchvision face profile, uint8 out), --torch-workers
#   d  ResNet-18 on tensors already on the GPU (the model's ceiling)
# Every part reports its CPU time per image (the client's and, for the stream, the server's too).
# Prints one JSON document (with a "summary": the ceiling, both trained rates, the GPU's waiting
# share and their ratios), then a markdown table, on stdout; progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

BIN="" DATA="" IMAGES="" WORK="" SMOKE=0 DEVICE=auto TRAINER_CORES=""
PY=${PY:-python3}
IDENTITIES=6000 BATCH=256 WORKERS="0 4 8" TORCH_WORKERS=15 WARMUP=8 SECONDS_EACH=25 TRAIN_SECONDS=40
usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
	case $1 in
	--bin) BIN=$2; shift ;;
	--data) DATA=$2; shift ;;
	--images) IMAGES=$2; shift ;;
	--work) WORK=$2; shift ;;
	--identities) IDENTITIES=$2; shift ;;
	--batch) BATCH=$2; shift ;;
	--workers) WORKERS=$2; shift ;;
	--torch-workers) TORCH_WORKERS=$2; shift ;;
	--seconds) SECONDS_EACH=$2; TRAIN_SECONDS=$2; shift ;;
	--warmup) WARMUP=$2; shift ;;
	--device) DEVICE=$2; shift ;;
	--trainer-cores) TRAINER_CORES=$2; shift ;;
	--cpu-smoke) SMOKE=1 ;;
	-h | --help) usage 0 ;;
	*) echo "unknown argument $1" >&2; usage ;;
	esac
	shift
done
[[ -n $BIN ]] || { echo "--bin PATH (a facestream binary) is required" >&2; usage; }
[[ -x $BIN ]] || { echo "$BIN is not an executable file" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

"$PY" -c 'import torch, torchvision' || { echo "$PY lacks torch or torchvision (set PY=/path/to/python3)" >&2; exit 2; }
CORES=$(nproc)
TRAINER_CORES=${TRAINER_CORES:-$((CORES / 4))}
if ((SMOKE)); then
	# Tiny everything: the point is to run every code path of the script and the parts on CPU.
	DEVICE=cpu IDENTITIES=${SMOKE_IDENTITIES:-30} BATCH=16 WORKERS="0 1" TORCH_WORKERS=1 WARMUP=0.5 SECONDS_EACH=1 TRAIN_SECONDS=1
	TRAINER_CORES=$((CORES > 1 ? 1 : 0))
fi
if [[ $DEVICE == auto ]]; then
	DEVICE=$("$PY" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
fi
if [[ $DEVICE == cpu ]] && ((!SMOKE)); then
	log "no GPU (device cpu): every figure is the CPU's, not a GPU host's; the GPU's waiting share becomes time blocked in next()"
fi
# The stream's trainer and its DataLoader workers on the first TRAINER_CORES cores, the server on the rest.
PLACE=() TRAINER_PIN=()
if ((TRAINER_CORES > 0)); then
	PLACE=(--trainer-cores "$TRAINER_CORES")
	TRAINER_PIN=(taskset -c "0-$((TRAINER_CORES - 1))")
fi
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/facestream-gpu.XXXXXX")}
mkdir -p "$WORK"
trap 'stop_server' EXIT
trap 'exit 130' INT TERM

if [[ -z $DATA ]]; then
	make_dataset "$BIN" "$WORK" "$IDENTITIES"
	DATA=$WORK/ds IMAGES=$WORK/synth/images
fi
[[ -f $DATA/dataset.json ]] || { echo "$DATA is not a facestream dataset (no dataset.json)" >&2; exit 2; }
[[ -n $IMAGES && -d $IMAGES ]] || { echo "--images DIR: the ImageFolder of the same JPEGs, for PyTorch's DataLoader" >&2; exit 2; }
CLASSES=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["identities"])' "$DATA/dataset.json")
log "dataset $DATA: $CLASSES identities; images for PyTorch in $IMAGES; work in $WORK"
# DataLoader workers hand batches over in shared memory; a small /dev/shm is the usual cause of their crashes.
log "$(nproc) cores; /dev/shm: $(df -h /dev/shm 2>/dev/null | awk 'NR == 2 {print $4 " free"}')"

export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
COMMON=(--device "$DEVICE" --batch "$BATCH" --classes "$CLASSES" --warmup "$WARMUP")
PARTS=()

# part [taskset ...] NAME TITLE LIMIT_S ARGS... runs one part of gpu_bench.py under a time limit
# (pinned when it starts with a taskset command); a part that fails or overruns leaves a JSON saying
# so, and the script goes on with the next.
part() {
	local pin=()
	if [[ $1 == taskset ]]; then
		pin=("$1" "$2" "$3")
		shift 3
	fi
	local name=$1 title=$2 limit=$3
	shift 3
	local out=$WORK/part-$name.json
	rm -f "$out"
	log "part $name: $title (at most ${limit}s)"
	local rc=0
	timeout -k 10 "$limit" "${pin[@]}" "$PY" "$HERE/gpu_bench.py" "$@" "${COMMON[@]}" --name "$name" --title "$title" --out "$out" || rc=$?
	if [[ ! -s $out ]]; then
		"$PY" -c 'import json, sys; json.dump({"part": sys.argv[1], "title": sys.argv[2], "error": sys.argv[3]}, open(sys.argv[4], "w"))' \
			"$name" "$title" "exit status $rc (124: over its ${limit}s limit)" "$out"
	fi
	PARTS+=("$out")
}

# A part's limit: its warm-up and window per configuration, plus start-up and shutdown slack.
limit() { echo $(($1 * (${WARMUP%.*} + ${2%.*}) + 45)); }

start_server "$BIN" "$DATA" "$WORK/serve.log" --profile face --workers auto "${PLACE[@]}"
log "serving on $SERVER_URL: $(grep -o 'workers=[0-9]* cpus=[^ ]*' "$WORK/serve.log" | head -n 1); trainer on ${TRAINER_PIN[*]:-every core}"
read -ra WLIST <<<"$WORKERS"
part "${TRAINER_PIN[@]}" a-loader "facestream -> $DEVICE, no model" "$(limit ${#WLIST[@]} "$SECONDS_EACH")" \
	loader --url "$SERVER_URL" --server-pid "$SERVER_PID" --workers "${WLIST[@]}" --seconds "$SECONDS_EACH"
BEST=$("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["result"]["best"]["workers"] if "result" in d else sys.argv[2])' "$WORK/part-a-loader.json" "${WLIST[0]}")
part "${TRAINER_PIN[@]}" b-train "facestream -> ResNet-18 ($BEST workers)" "$(limit 1 "$TRAIN_SECONDS")" \
	train --url "$SERVER_URL" --server-pid "$SERVER_PID" --workers "$BEST" --seconds "$TRAIN_SECONDS"
stop_server
if ((TRAINER_CORES > 0)); then
	start_server "$BIN" "$DATA" "$WORK/serve-unplaced.log" --profile face --workers "$CORES"
	part b-train-unplaced "facestream -> ResNet-18 ($BEST workers), server on every core" "$(limit 1 "$TRAIN_SECONDS")" \
		train --url "$SERVER_URL" --server-pid "$SERVER_PID" --workers "$BEST" --seconds "$TRAIN_SECONDS"
	stop_server
fi

part c-torch-loader "PyTorch DataLoader -> $DEVICE, no model ($TORCH_WORKERS workers)" "$(limit 1 "$SECONDS_EACH")" \
	loader --images "$IMAGES" --workers "$TORCH_WORKERS" --seconds "$SECONDS_EACH"
part c-torch-train "PyTorch DataLoader -> ResNet-18 ($TORCH_WORKERS workers)" "$(limit 1 "$TRAIN_SECONDS")" \
	train --images "$IMAGES" --workers "$TORCH_WORKERS" --seconds "$TRAIN_SECONDS"
part d-synthetic "ResNet-18 on tensors already on the $DEVICE" "$(limit 1 "$SECONDS_EACH")" \
	synthetic --seconds "$SECONDS_EACH"

"$PY" "$HERE/gpu_bench.py" report "${PARTS[@]}" --out "$WORK/gpu_bench.json" >"$WORK/table.md"
cat "$WORK/gpu_bench.json"
echo
cat "$WORK/table.md"
log "results in $WORK/gpu_bench.json and $WORK/table.md"
