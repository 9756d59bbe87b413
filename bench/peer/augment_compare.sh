#!/bin/sh
# augment_compare.sh: facestream's decode+augment (`face` profile, 112x112 output) side by side,
# in one run on the same JPEGs, with libjpeg-turbo's tjbench (decode only, one core, at the scale
# facestream decodes at) and with PyTorch's DataLoader running the torchvision equivalent
# (bench/peer/torch_augment.py, one worker per core), on several sets of face JPEGs:
#   synth112  512 synthetic 112x112 faces, quality 94 (augment/internal/cmd/mkfaces; or FACES)
#   lfw112    the team's real 112x112 faces (lfw-ak, q95, in ../shared or $FACESTREAM_SHARED), the
#             first 512; skipped, saying why, when absent
#   full250   250x250 photos: the real faces enlarged (Catmull-Rom) and saved at quality 85
#             (about 8.7 KB, like LFW's own 250x250 crops), or synthetic faces when those are absent
#   full500   the same at 500x500
# Prints one JSON object: the synth112 figures at the top level, as before, and every set's under
# "sets", with the ratios the issues set targets for:
#   face_vs_tjbench  = facestream decode+face, one core / tjbench decode at facestream's scale, one core
#   face_vs_torch    = facestream decode+face per core / torchvision per core, N cores
# and face_vs_tjbench_cpu, the first per second of CPU time (facestream's process, tjbench's),
# steadier than wall time where other work shares the machine.
# A large photo decodes at 1/2, 1/4 or 1/8 (tjbench -scale) when the crop allows; decode_scale
# says which. With REPEAT > 1, tjbench and facestream's one-core run alternate REPEAT times and
# the one-core figures are medians.
#
# usage: bench/peer/augment_compare.sh
# env:   WORKERS (default nproc)  SECONDS_PER_RUN (5)  IMAGES (512)  PYTHON (/usr/bin/python3)
#        FACESTREAM (a built binary; default: go build)  FACES (a folder of JPEGs for synth112)
#        TJBENCH (tjbench)  SETS ("synth112 lfw112 full250 full500")  REPEAT (1)
set -eu
cd "$(dirname "$0")/../.."
workers=${WORKERS:-$(nproc)}
seconds=${SECONDS_PER_RUN:-5}
images=${IMAGES:-512}
python=${PYTHON:-/usr/bin/python3}
tjbench=${TJBENCH:-tjbench}
sets=${SETS:-synth112 lfw112 full250 full500}
repeat=${REPEAT:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/mkfaces" ./augment/internal/cmd/mkfaces
facestream=${FACESTREAM:-}
if [ -z "$facestream" ]; then
	facestream=$tmp/facestream
	go build -o "$facestream" ./cmd/facestream
fi

# make_set NAME: writes the set's JPEGs to $tmp/NAME and what they are to $tmp/NAME.source, or
# why it is skipped to $tmp/NAME.skipped.
make_set() {
	dir=$tmp/$1
	case $1 in
	synth112)
		if [ -n "${FACES:-}" ]; then
			ln -s "$FACES" "$dir"
			echo "FACES=$FACES" >"$tmp/$1.source"
		else
			"$tmp/mkfaces" -out "$dir" -n "$images" -size 112 -quality 94
			echo "synthetic (mkfaces), quality 94" >"$tmp/$1.source"
		fi
		;;
	lfw112)
		if "$tmp/mkfaces" -real -out "$dir" -n "$images" -size 0 2>"$tmp/$1.err"; then
			echo "lfw-ak as it is (q95)" >"$tmp/$1.source"
		elif [ $? -eq 3 ]; then
			sed 's/^mkfaces: //' "$tmp/$1.err" >"$tmp/$1.skipped"
		else
			cat "$tmp/$1.err" >&2
			return 1
		fi
		;;
	full250 | full500)
		size=${1#full}
		if "$tmp/mkfaces" -real -out "$dir" -n "$images" -size "$size" -quality 85 2>"$tmp/$1.err"; then
			echo "lfw-ak enlarged to ${size}x$size (Catmull-Rom), quality 85" >"$tmp/$1.source"
		elif [ $? -eq 3 ]; then
			rm -rf "$dir"
			"$tmp/mkfaces" -out "$dir" -n "$images" -size "$size" -quality 85
			echo "synthetic (mkfaces), quality 85: $(sed 's/^mkfaces: //' "$tmp/$1.err")" >"$tmp/$1.source"
		else
			cat "$tmp/$1.err" >&2
			return 1
		fi
		;;
	*)
		echo "augment_compare.sh: unknown set $1 (known: synth112 lfw112 full250 full500)" >&2
		return 1
		;;
	esac
}

# tj DIR SCALE: tjbench's decode rate at SCALE on eight of the files, one line each: decodes per
# second of wall time, and per second of the CPU time tjbench used (no warm-up, so that all of
# it went to the decodes counted).
tj() {
	"$python" - "$tjbench" "$1" "$2" <<'PY'
import os, resource, subprocess, sys
from PIL import Image

tjbench, folder, scale = sys.argv[1:]
for name in sorted(os.listdir(folder))[:8]:
    path = os.path.join(folder, name)
    width, height = Image.open(path).size
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([tjbench, path, "-rgb", "-scale", scale, "-benchtime", "1", "-warmup", "0", "-quiet", "-nowrite"],
                         capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    mpix = float([line for line in out.splitlines() if line.startswith("RGB")][0].split()[-1])
    rate = mpix * 1e6 / (width * height)  # tjbench counts the full-size pixels
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(rate, rate * 1.0 / cpu)  # the decodes of its one second over the CPU time they took
PY
}

for set in $sets; do
	make_set "$set"
	[ -e "$tmp/$set.skipped" ] && continue
	dir=$tmp/$set
	# A short run says the scale facestream decodes these photos at (and warms the caches).
	"$facestream" augment bench "$dir" --workers 1 --seconds 0.2 >"$tmp/$set.probe.json"
	scale=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["decode_scale"])' "$tmp/$set.probe.json")
	# tjbench before and after each of facestream's one-core runs, so that both see the same
	# machine state.
	for r in $(seq "$repeat"); do
		tj "$dir" "$scale" >"$tmp/$set.tj.$r"
		"$facestream" augment bench "$dir" --workers 1 --seconds "$seconds" >"$tmp/$set.fs1.$r.json"
		tj "$dir" "$scale" >>"$tmp/$set.tj.$r"
	done
	"$facestream" augment bench "$dir" --workers "$workers" --seconds "$seconds" >"$tmp/$set.fsn.json"
	"$python" bench/peer/torch_augment.py "$dir" --workers "$workers" --seconds "$seconds" >"$tmp/$set.torch.json"
done

"$python" - "$tmp" "$workers" "$repeat" "$sets" <<'PY'
import glob, json, os, statistics, sys
from PIL import Image

tmp, workers, repeat, sets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split()


def read(path):
    return open(path).read().strip()


def measure(name):
    if os.path.exists(f"{tmp}/{name}.skipped"):
        return {"skipped": read(f"{tmp}/{name}.skipped")}
    files = sorted(glob.glob(f"{tmp}/{name}/*"))
    width, height = Image.open(files[0]).size
    # Per repeat: tjbench's mean rate (img/s) over its runs, facestream's one-core rates.
    runs = []
    for r in range(1, repeat + 1):
        tj = [[float(x) for x in line.split()] for line in read(f"{tmp}/{name}.tj.{r}").splitlines()]
        tj_wall, tj_cpu = (sum(col) / len(col) for col in zip(*tj))
        one = json.load(open(f"{tmp}/{name}.fs1.{r}.json"))
        runs.append((tj_wall, one["decode_img_per_s"], one["process_img_per_s"], one["process_img_per_s"] / tj_wall,
                     tj_cpu, one["decode_img_per_cpu_s"], one["process_img_per_cpu_s"], one["process_img_per_cpu_s"] / tj_cpu))
    tj, decode, face, ratio, tj_cpu, decode_cpu, face_cpu, ratio_cpu = (statistics.median(col) for col in zip(*runs))
    many = json.load(open(f"{tmp}/{name}.fsn.json"))
    torch = json.load(open(f"{tmp}/{name}.torch.json"))
    scale = many["decode_scale"]
    out = {
        "source": read(f"{tmp}/{name}.source"),
        "files": len(files),
        "mean_bytes": round(sum(os.path.getsize(f) for f in files) / len(files)),
        "width": width,
        "height": height,
        "decode_scale": scale,
        "repeats": repeat,
        "tjbench_decode_img_per_s_1core": round(tj),
        "facestream_decode_img_per_s_1core": round(decode),  # whole, not scaled
        "facestream_face_img_per_s_1core": round(face),
        "facestream_face_img_per_s_per_core": round(many["process_img_per_s_per_worker"]),
        "facestream_face_img_per_s_all_cores": round(many["process_img_per_s"]),
        "torch_face_img_per_s_per_core": round(torch["img_per_s_per_worker"]),
        "torch_face_img_per_s_all_cores": round(torch["img_per_s"]),
        "face_vs_tjbench": round(ratio, 3),
        "face_vs_torch": round(many["process_img_per_s_per_worker"] / torch["img_per_s_per_worker"], 2),
        # The same one-core figures per second of CPU time, which other load on the machine
        # does not dilute (tjbench's from its own CPU time).
        "tjbench_decode_img_per_cpu_s": round(tj_cpu),
        "facestream_decode_img_per_cpu_s": round(decode_cpu),
        "facestream_face_img_per_cpu_s": round(face_cpu),
        "face_vs_tjbench_cpu": round(ratio_cpu, 3),
    }
    if scale == "1/1":  # tjbench decoded whole too
        out["decode_vs_tjbench"] = round(decode / tj, 3)
        out["decode_vs_tjbench_cpu"] = round(decode_cpu / tj_cpu, 3)
    return out


result = {"workers": workers, "sets": {name: measure(name) for name in sets}}
synth = result["sets"].get("synth112", {})
if "face_vs_tjbench" in synth:  # the figures this script printed before it had sets
    result.update({
        "tjbench_decode_img_per_s_1core": synth["tjbench_decode_img_per_s_1core"],
        "facestream_decode_img_per_s_1core": synth["facestream_decode_img_per_s_1core"],
        "facestream_face_img_per_s_1core": synth["facestream_face_img_per_s_1core"],
        "facestream_face_img_per_s_per_core": synth["facestream_face_img_per_s_per_core"],
        "facestream_face_img_per_s_all_cores": synth["facestream_face_img_per_s_all_cores"],
        "torch_face_img_per_s_per_core": synth["torch_face_img_per_s_per_core"],
        "torch_face_img_per_s_all_cores": synth["torch_face_img_per_s_all_cores"],
        "decode_vs_tjbench": synth["decode_vs_tjbench"],
        "face_vs_tjbench": synth["face_vs_tjbench"],
        "face_vs_torch": synth["face_vs_torch"],
    })
print(json.dumps(result, indent=2))
PY
