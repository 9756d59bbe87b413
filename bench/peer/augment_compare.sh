#!/bin/sh
# augment_compare.sh: facestream's decode+augment (`face` profile, 112x112) side by side, in one
# run on the same JPEGs, with libjpeg-turbo's tjbench (decode only, one core) and with PyTorch's
# DataLoader running the torchvision equivalent (bench/peer/torch_augment.py, one worker per core).
# Prints one JSON object with every rate and the two ratios the issue sets targets for:
#   process_vs_tjbench  = facestream decode+face per core / tjbench decode per core   (target >= 0.5)
#   process_vs_torch    = facestream decode+face per core / torchvision per core      (target >= 3)
#
# usage: bench/peer/augment_compare.sh      env: WORKERS (default nproc), SECONDS_PER_RUN (default 5),
#                                                 IMAGES (default 512), PYTHON (default /usr/bin/python3)
set -eu
cd "$(dirname "$0")/../.."
workers=${WORKERS:-$(nproc)}
seconds=${SECONDS_PER_RUN:-5}
images=${IMAGES:-512}
python=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go run ./augment/internal/cmd/mkfaces -out "$tmp/faces" -n "$images" -size 112 -quality 94
go build -o "$tmp/facestream" ./cmd/facestream

# tjbench decodes one file at a time: average its decode rate over eight of the files.
for f in $(ls "$tmp/faces" | head -n 8); do
	tjbench "$tmp/faces/$f" -rgb -benchtime 1 -warmup 1 -quiet | tail -n 1 | awk '{print $NF}'
done >"$tmp/tj.txt"
"$tmp/facestream" augment bench "$tmp/faces" --workers 1 --seconds "$seconds" >"$tmp/fs1.json"
"$tmp/facestream" augment bench "$tmp/faces" --workers "$workers" --seconds "$seconds" >"$tmp/fsn.json"
"$python" bench/peer/torch_augment.py "$tmp/faces" --workers "$workers" --seconds "$seconds" >"$tmp/torch.json"

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
    "tjbench_decode_img_per_s": round(tj),
    "facestream_decode_img_per_s_1core": round(one["decode_img_per_s"]),
    "facestream_face_img_per_s_1core": round(one["process_img_per_s"]),
    "facestream_face_img_per_s_per_core": round(many["process_img_per_s_per_worker"]),
    "torch_face_img_per_s_per_core": round(torch["img_per_s_per_worker"]),
    "decode_vs_tjbench": round(one["decode_img_per_s"] / tj, 3),
    "process_vs_tjbench": round(one["process_img_per_s"] / tj, 3),
    "process_vs_torch": round(many["process_img_per_s_per_worker"] / torch["img_per_s_per_worker"], 2),
}, indent=2))
PY
