#!/usr/bin/env bash
# Does it train better, at GPU scale: examples/experiment.py on a larger synthetic set (2,000
# identities, long-tailed, 5 % mislabeled, 1 % junk) with a torchvision ResNet-18 at 112x112 in bf16
# autocast on the GPU, fed through facestream's stream; 5 arms x 3 seeds, 300,000 training images
# per run. Sized for one run of at most 8 minutes on an H100/H200 with 16 cores (not measured yet).
# Needs: a facestream binary (the static one: no Go there), ONNX Runtime for `offline run` (carry
# .cache/onnxruntime, or set $ONNXRUNTIME_SHARED_LIBRARY_PATH), python3 with torch, torchvision, numpy.
#
#   bench/gpu/experiment.sh --bin bin/facestream-static [--out DIR] [--net mobilefacenet] [-- more experiment.py flags]
#   bench/gpu/experiment.sh --bin bin/facestream --cpu-smoke    # a few minutes on CPU: checks the script itself
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PY:-python3}
BIN="" OUT=$ROOT/experiment/gpu NET=resnet18 SMOKE=0 LIMIT=480
while (($#)); do
	case $1 in
	--bin) BIN=$2; shift ;;
	--out) OUT=$2; shift ;;
	--net) NET=$2; shift ;;
	--cpu-smoke) SMOKE=1 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[[ -x $BIN ]] || { echo "--bin PATH: a facestream binary is required" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
export ONNXRUNTIME_SHARED_LIBRARY_PATH=${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$ROOT/.cache/onnxruntime/libonnxruntime.so.1.24.3}

CORES=$(nproc)
# 16 cores: the server's decode+augment workers and the DataLoader's stream readers share them
# with the trainer, which must keep launching kernels (see bench/gpu's README figures).
ARGS=(--preset synth --identities 2000 --net "$NET" --input-size 112 --budget 300000 --batch 256
	--checkpoints 5 --seeds 0,1,2 --device cuda --threads 4 --loader-workers 4
	--serve-workers $((CORES > 6 ? CORES - 6 : 2)) --impostors 100000)
if ((SMOKE)); then
	ARGS=(--preset synth --identities 60 --net "$NET" --input-size 64 --budget 512 --batch 32
		--checkpoints 2 --seeds 0,1 --device cpu --threads 2 --loader-workers 1 --serve-workers 2)
	LIMIT=600
fi
cd "$ROOT"
timeout -k 10 "$LIMIT" "$PY" examples/experiment.py "${ARGS[@]}" --bin "$BIN" --out "$OUT" "$@"
