#!/bin/sh
# augment_compare.sh: facestream's decode+augment (`face` profile, 112x112) side by side, in one
# run on the same JPEGs, with libjpeg-turbo's tjbench (decode only, one core) and with PyTorch's
# DataLoader running the torchvision equivalent (bench/peer/torch_augment.py, one worker per core).
# Prints one JSON object with every rate and the ratios the issue sets targets for:
#   face_vs_tjbench  = facestream decode+face, one core / tjbench decode, one core    (target >= 0.5)
#   face_vs_torch    = facestream decode+face per core / torchvision per core, N cores (target >= 3)
#
# usage: bench/peer/augment_compare.sh
# env:   WORKERS (default nproc)  SECONDS_PER_RUN (5)  IMAGES (512)  PYTHON (/usr/bin/python3)
#        FACESTREAM (a built binary; default: go build)  FACES (a folder of JPEGs; default: generated)
#        TJBENCH (tjbench)
set -eu
cd "$(dirname "$0")/../.."
workers=${WORKERS:-$(nproc)}
seconds=${SECONDS_PER_RUN:-5}
python=${PYTHON:-/usr/bin/python3}
tjbench=${TJBENCH:-tjbench}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

faces=${FACES:-}
if [ -z "$faces" ]; then
	faces=$tmp/faces
	go run ./augment/internal/cmd/mkfaces -out "$faces" -n "${IMAGES:-512}" -size 112 -quality 94
fi
facestream=${FACESTREAM:-}
if [ -z "$facestream" ]; then
	facestream=$tmp/facestream
	go build -o "$facestream" ./cmd/facestream
fi

# tjbench decodes one file at a time: average its rate (Mpixels/s) over eight of the files,
# before and after facestream's single-core run, so that both see the same machine state.
tj() {
	for f in $(ls "$faces" | head -n 8); do
		"$tjbench" "$faces/$f" -rgb -benchtime 1 -warmup 1 -quiet -nowrite | grep '^RGB' | awk '{print $NF}'
	done
}
tj >"$tmp/tj.txt"
"$facestream" augment bench "$faces" --workers 1 --seconds "$seconds" >"$tmp/fs1.json"
tj >>"$tmp/tj.txt"
"$facestream" augment bench "$faces" --workers "$workers" --seconds "$seconds" >"$tmp/fsn.json"
"$python" bench/peer/torch_augment.py "$faces" --workers "$workers" --seconds "$seconds" >"$tmp/torch.json"

"$python" - "$tmp" "$workers" <<'PY'
import json, sys
tmp, workers = sys.argv[1], int(sys.argv[2])
mpix = [float(x) for x in open(f"{tmp}/tj.txt").read().split()]
tj = sum(mpix) / len(mpix) * 1e6 / (112 * 112)
one = json.load(open(f"{tmp}/fs1.json"))
many = json.load(open(f"{tmp}/fsn.json"))
torch = json.load(open(f"{tmp}/torch.json"))
print(json.dumps({
    "workers": workers,
    "tjbench_decode_img_per_s_1core": round(tj),
    "facestream_decode_img_per_s_1core": round(one["decode_img_per_s"]),
    "facestream_face_img_per_s_1core": round(one["process_img_per_s"]),
    "facestream_face_img_per_s_per_core": round(many["process_img_per_s_per_worker"]),
    "facestream_face_img_per_s_all_cores": round(many["process_img_per_s"]),
    "torch_face_img_per_s_per_core": round(torch["img_per_s_per_worker"]),
    "torch_face_img_per_s_all_cores": round(torch["img_per_s"]),
    "decode_vs_tjbench": round(one["decode_img_per_s"] / tj, 3),
    "face_vs_tjbench": round(one["process_img_per_s"] / tj, 3),
    "face_vs_torch": round(many["process_img_per_s_per_worker"] / torch["img_per_s_per_worker"], 2),
}, indent=2))
PY
