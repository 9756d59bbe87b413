#!/bin/bash
# S2–S4 on a Slurm cluster, on a folder every node mounts: embed, the two passes of select's
# nearest-centre check and augment as arrays of N parts, select and equalize as single jobs, each
# submitted to start once the one before succeeded (afterok).
# usage: deploy/slurm/offline.sh RAW EQ MODEL.onnx [N]   (N parts, default 8)
# env:   SBATCH (default sbatch), SBATCH_FLAGS (extra flags for every job, e.g. "--partition=cpu"),
#        FACESTREAM (the binary on the nodes, default facestream on PATH)
set -euo pipefail
if [ $# -lt 3 ]; then
	echo "usage: $0 RAW EQ MODEL.onnx [N]" >&2
	exit 2
fi
raw=$1 eq=$2 model=$3 n=${4:-8}
here=$(cd "$(dirname "$0")" && pwd)
sbatch=${SBATCH:-sbatch}
after=""

# submit ARRAY STAGE [FLAGS...]: one job (ARRAY empty) or an array, after the previous submission.
submit() {
	local array=$1 stage=$2
	shift 2
	local opts=(--parsable --job-name="facestream-$stage")
	[ -z "$array" ] || opts+=(--array="$array")
	[ -z "$after" ] || opts+=(--dependency="afterok:$after")
	# shellcheck disable=SC2086 # SBATCH_FLAGS is a list of flags
	after=$($sbatch "${opts[@]}" ${SBATCH_FLAGS:-} "$here/stage.sbatch" "$stage" "$raw" --out "$eq" --model "$model" "$@")
	after=${after%%;*} # --parsable prints jobid[;cluster]
	echo "facestream-$stage${array:+ [$array]}: job $after" >&2
}

tasks="0-$((n - 1))"
submit "$tasks" embed --part "auto/$n"
submit "$tasks" select --part "auto/$n" # pass 1 of every photo against every centre
submit "$tasks" select --part "auto/$n" # pass 2, against the robust centres
submit "" select
submit "$tasks" augment --part "auto/$n"
submit "" equalize
echo "$after"
