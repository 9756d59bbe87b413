#!/usr/bin/env python3
"""Does it train better? The same network, seeds and number of training images on each arm:

  raw           the raw training set, uniform sampling
  raw-balanced  the raw training set, balanced sampling (every identity the same draws per epoch)
  cleaned       S2 only: the photos S2 keeps, uniform sampling (S4's weights ignored, no S3 images)
  equalized     S2-S4, the method's dataset, balanced sampling
  no-S3         S2 + S4 without the offline augmentation (S3's n = 0), balanced sampling
  (and, when asked: equalized-sqrt, S2-S4 with S4's sqrt policy)

every arm read through facestream's stream with the same online profile (`face` by default: the
method's S5), so only the dataset and the sampling differ. Each trained model is judged on
verification of held-out people (TAR at FAR 1e-2 and 1e-3, ROC AUC, LFW's 10-fold accuracy) and
on identification of held-out clean photos of the training identities (rank-1 against class
centres, per identity-size bucket). Reports: OUT/report.html, OUT/result.json, OUT/tables.md.

  # presets make their data first (synth: a long-tailed synthetic set with planted noise; lfw:
  # ../shared/data/lfw-ak.tar.gz split by person, noise planted by `facestream plant`)
  /usr/bin/python3 examples/experiment.py --preset synth --out experiment/synth
  /usr/bin/python3 examples/experiment.py --preset lfw --out experiment/lfw
  # your own: a training ImageFolder, an evaluation ImageFolder of other people, a pre-model
  /usr/bin/python3 examples/experiment.py --train T/images --truth T/truth.csv --eval E --model m.onnx --out OUT
"""

import argparse
import csv
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import facestream  # noqa: E402
from facestream import evaluate, experiment_report  # noqa: E402
from train_premodel import ArcFace, MobileFaceNetLite, learning_rate, read_images  # noqa: E402

# arm -> (dataset it trains on, sampling mode); datasets: raw (imported), and `offline run`s of it
# with the flags of OFFLINE (s2s4n0: S3's n = 0, the S2 base and S4's quotas without augmented rows)
ARMS = {
    "raw": ("raw", "uniform"),
    "raw-balanced": ("raw", "balanced"),
    "cleaned": ("s2s4n0", "uniform"),
    "equalized": ("s2s4", "balanced"),
    "no-S3": ("s2s4n0", "balanced"),
    "equalized-sqrt": ("s2s4sqrt", "balanced"),
}
DEFAULT_ARMS = ("raw", "raw-balanced", "cleaned", "equalized", "no-S3")
OFFLINE = {"s2s4": [], "s2s4n0": ["--n", "0"], "s2s4sqrt": ["--policy", "sqrt"]}
ARM_DOCS = {
    "raw": "the imported training set as it is (noise included), uniform sampling: a fresh permutation per epoch",
    "raw-balanced": "the same raw set, balanced sampling: every identity gets the same number of draws per epoch "
                    "(the raw set's quotas), so the tail is repeated and its noise with it",
    "cleaned": "S2 only: `offline run --n 0` keeps the photos S2 accepts and adds no S3 images; served with "
               "mode=uniform, so S4's quotas and weights are ignored",
    "equalized": "S2-S4, the method's dataset (`offline run` defaults: S3 fills each identity up to S4's "
                 "target), balanced sampling; with the online profile this is the method's S5",
    "no-S3": "the `--n 0` dataset of `cleaned` served with mode=balanced: S2 and S4 without the offline "
             "augmentation, so S3's share is equalized minus this",
    "equalized-sqrt": "S2-S4 with S4's other policy (`--policy sqrt`: an identity gets size x max(1, sqrt(T/size)) "
                      "draws per epoch, so the head keeps its photos), balanced sampling; not in the default arms",
}
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
SYNTH_MODEL = os.path.join(ROOT, "testdata", "premodel-synth.onnx")
LFW_MODEL = os.path.join(SHARED, "models", "arcface-mobilefacenet-casia.onnx")
LFW_ARCHIVE = os.path.join(SHARED, "data", "lfw-ak.tar.gz")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(shlex.quote(str(c)) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


# ----- data ---------------------------------------------------------------------------------


def read_truth(path):
    """{relative path: (true identity, kind)} from a truth.csv, or None."""
    if not path or not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return {row["path"]: (row["true_identity"], row["kind"]) for row in csv.DictReader(f)}


def list_folder(root):
    """[(identity, relative path)] of an ImageFolder, sorted."""
    out = []
    for ident in sorted(os.listdir(root)):
        d = os.path.join(root, ident)
        if os.path.isdir(d):
            out.extend((ident, f"{ident}/{name}") for name in sorted(os.listdir(d)))
    return out


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copyfile(src, dst)


def hold_out(train_root, truth, work, fraction, seed):
    """Moves a seeded share of each identity's clean photos out of the training set, for identification.

    An identity with at least two clean photos gives max(1, fraction * clean) of them; the rest,
    noise included, becomes WORK/train/images (hard links) with its truth.csv. Returns
    (training root, truth.csv or None, probes [(identity, path)], photos per identity left to train).
    """
    out = os.path.join(work, "train")
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(seed)
    files = list_folder(train_root)
    by_ident = {}
    for ident, rel in files:
        by_ident.setdefault(ident, []).append(rel)
    probes, sizes, kept_rows = [], {}, []
    for ident, rels in by_ident.items():
        clean = [r for r in rels if truth is None or truth.get(r, ("", "clean"))[1] == "clean"]
        held = set()
        if len(clean) >= 2:
            k = max(1, int(fraction * len(clean)))
            held = set(rng.choice(clean, k, replace=False).tolist())
        for rel in rels:
            if rel in held:
                probes.append((ident, os.path.join(train_root, rel)))
            else:
                link(os.path.join(train_root, rel), os.path.join(out, "images", rel))
                kept_rows.append(rel)
        sizes[ident] = len(rels) - len(held)
    truth_path = None
    if truth is not None:
        truth_path = os.path.join(out, "truth.csv")
        with open(truth_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "true_identity", "kind"])
            for rel in kept_rows:
                w.writerow([rel, *truth.get(rel, (rel.split("/")[0], "clean"))])
    return os.path.join(out, "images"), truth_path, probes, sizes


def prepare_synth(args, work):
    """A long-tailed synthetic training set with planted noise, and 120 other synthetic people to verify on."""
    src, ev = os.path.join(work, "synth-train"), os.path.join(work, "synth-eval")
    run([args.bin, "synth", "--out", src, "--identities", args.identities, "--seed", 7, "--noise", 0.05,
         "--junk", 0.01, "--force"], stdout=subprocess.DEVNULL)
    # other seeds draw other people; the evaluation set carries no noise so it judges the model only
    run([args.bin, "synth", "--out", ev, "--identities", 120, "--seed", 1007, "--noise", 0, "--junk", 0, "--force"],
        stdout=subprocess.DEVNULL)
    args.train, args.truth = os.path.join(src, "images"), os.path.join(src, "truth.csv")
    args.eval, args.eval_truth = os.path.join(ev, "images"), os.path.join(ev, "truth.csv")
    args.model = args.model or SYNTH_MODEL


def prepare_lfw(args, work, notes):
    """lfw-ak split by person: people with 2-49 photos go to evaluation with probability 0.3 (a
    seeded hash of the name), the others train; `facestream plant` files 5 % of the training photos
    under a wrong identity and 5 % outsiders (one-photo people) under identities of >= 2 photos."""
    if not os.path.exists(LFW_ARCHIVE):
        return f"skipped: {LFW_ARCHIVE} is absent (the team's shared folder; a clone does not have it)"
    cache = os.path.join(ROOT, ".cache", "lfw-ak")
    faces = os.path.join(cache, "lfw-ak")
    if not os.path.isdir(faces):
        log(f"unpacking {LFW_ARCHIVE} into {cache}")
        tmp = cache + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with tarfile.open(LFW_ARCHIVE) as tar:
            # the "data" filter (no links out, no devices) where this Python has it (3.11.4+)
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        shutil.rmtree(cache, ignore_errors=True)
        os.replace(tmp, cache)  # whole or not at all: an interrupted unpack is redone
    split = os.path.join(work, "lfw-split")
    shutil.rmtree(split, ignore_errors=True)
    n_eval = 0
    for ident, rel in list_folder(faces):
        count = len(os.listdir(os.path.join(faces, ident)))
        h = int(hashlib.sha1(f"split:{ident}".encode()).hexdigest()[:8], 16) / 2 ** 32
        to_eval = 2 <= count < 50 and h < 0.3
        link(os.path.join(faces, rel), os.path.join(split, "eval" if to_eval else "train", rel))
        n_eval += to_eval
    planted = os.path.join(work, "lfw-planted")
    run([args.bin, "plant", os.path.join(split, "train"), "--out", planted, "--mislabel", 0.05, "--outsiders", 0.05,
         "--min-photos", 2, "--seed", 1, "--force"], stdout=subprocess.DEVNULL)
    args.train, args.truth = os.path.join(planted, "images"), os.path.join(planted, "truth.csv")
    args.eval, args.eval_truth = os.path.join(split, "eval"), None
    args.model = args.model or (LFW_MODEL if os.path.exists(LFW_MODEL) else SYNTH_MODEL)
    notes.append(f"lfw-ak: {n_eval} photos of people with 2-49 photos held out for verification by a hash of "
                 "the name; noise planted by `facestream plant --mislabel 0.05 --outsiders 0.05 --min-photos 2 "
                 "--seed 1` on the rest")
    return None


def load_images(paths, size):
    """Decodes photos at 112x112 (PIL, as train_premodel does) and brings them to the training input
    exactly as the training batches are: normalised, then resized by antialiased bilinear."""
    out = []
    for i in range(0, len(paths), 512):
        x = facestream.to_device(read_images(paths[i:i + 512]), "cpu", channels_last=False)
        out.append(resize(x, size))
    return torch.cat(out) if out else torch.zeros(0, 3, size, size)


def resize(x, size):
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


# ----- datasets and servers -----------------------------------------------------------------


def build_datasets(args, needed, raw_root, truth_path, work, notes):
    """Imports the training folder and runs the offline stages the chosen arms need."""
    # Every dataset is made afresh in an emptied folder, stage records (EQ/.work) included: the
    # training folder was just rebuilt, and a stage record must not outlive the outputs it vouches for.
    paths = {"raw": os.path.join(work, "raw")}
    shutil.rmtree(paths["raw"], ignore_errors=True)
    run([args.bin, "import", "imagefolder", raw_root, "--out", paths["raw"]], stdout=subprocess.DEVNULL)
    base = ["--model", args.model] + (["--truth", truth_path] if truth_path else [])
    for name, extra in OFFLINE.items():
        if name not in needed:
            continue
        paths[name] = os.path.join(work, name)
        shutil.rmtree(paths[name], ignore_errors=True)
        run([args.bin, "offline", "run", paths["raw"], "--out", paths[name]] + base + extra, stdout=subprocess.DEVNULL)
        report = os.path.join(paths[name], "report", "report.json")
        if os.path.exists(report):
            with open(report) as f:
                notes.append(f"{name}: " + offline_summary(json.load(f)))
    return paths


def offline_summary(report):
    """One line of what the offline run did, from whatever report.json fields are there."""
    flat = {}

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else k, x)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            flat[prefix] = v

    walk("", report)
    want = [k for k in flat if re.search(r"(samples|photos|removed|kept|recall|precision|entropy|target)$", k)]
    return ", ".join(f"{k}={flat[k]:.4g}" for k in sorted(want)[:14]) or "report.json has no summary figures"


class Server:
    """`facestream serve DS` on a free loopback port, for the duration of a with-block."""

    def __init__(self, args, dataset, log_path):
        self.cmd = [args.bin, "serve", dataset, "--addr", "127.0.0.1:0", "--workers", str(args.serve_workers),
                    "--profile", args.profile]
        self.log_path = log_path

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            m = re.search(r"serving .* on (http://127\.0\.0\.1:\d+)", self._log_text())
            if m:
                self.url = m.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"facestream serve did not start: {self._log_text()[-2000:]}")

    def _log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


# ----- training and evaluation --------------------------------------------------------------


def make_net(args):
    if args.net == "resnet18":
        import torchvision

        return torchvision.models.resnet18(num_classes=args.emb_dim)  # its last layer is the embedding
    return MobileFaceNetLite(args.emb_dim, input_size=args.input_size)


@torch.no_grad()
def embed(backbone, x, device, autocast):
    backbone.eval()
    out = []
    for i in range(0, len(x), 512):
        with autocast:
            e = backbone(x[i:i + 512].to(device).contiguous(memory_format=torch.channels_last))
        out.append(F.normalize(e.float(), dim=1).cpu())
    backbone.train()
    return torch.cat(out).numpy().astype(np.float64)


def train_arm(args, url, mode, seed, evalset, final_eval):
    """Trains one arm from `url` for args.budget images; returns (metrics, curve, train seconds)."""
    device = torch.device(args.device)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else torch.autocast("cpu", enabled=False))
    ds = facestream.StreamDataset(url, args.batch, epoch=0, seed=seed, mode=mode, profile=args.profile,
                                  epochs=0, format="npy")
    classes = ds.info()["identities"]
    torch.manual_seed(seed)  # the same initial weights in every arm of a seed
    backbone = make_net(args).to(device).to(memory_format=torch.channels_last)
    head = ArcFace(args.emb_dim, classes, args.scale, args.margin).to(device)
    opt = torch.optim.SGD([{"params": backbone.parameters()}, {"params": head.parameters(), "weight_decay": 0}],
                          lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    total = args.budget // args.batch
    warmup = max(1, total // 10)
    marks = {round(total * (k + 1) / args.checkpoints) for k in range(args.checkpoints)}
    curve, loss_sum, n_loss, train_s, t0 = [], 0.0, 0, 0.0, time.perf_counter()
    step = 0
    for images, labels in facestream.StreamLoader(ds, num_workers=args.loader_workers):
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, warmup, total, args.lr)
        x = resize(facestream.to_device(images, device, channels_last=False), args.input_size)
        x = x.contiguous(memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        with autocast:
            emb = backbone(x)
        # the margin grows with the learning rate's warm-up: a full margin on random weights stalls ArcFace
        logits, _ = head(emb.float(), labels, margin=args.margin * min(1.0, (step + 1) / warmup))
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_sum, n_loss = loss_sum + loss.item(), n_loss + 1
        if step in marks:
            train_s += time.perf_counter() - t0
            emb_eval = embed(backbone, evalset["x"], device, autocast)
            scores = np.einsum("nd,nd->n", emb_eval[evalset["i"]], emb_eval[evalset["j"]])
            tar = evaluate.tar_at_far(scores[evalset["same"]], scores[~evalset["same"]], 1e-2)
            curve.append({"images": step * args.batch, "loss": loss_sum / n_loss, "tar": tar})
            log(f"  {step * args.batch} images: loss {loss_sum / n_loss:.3f}, held-out TAR@FAR=1e-2 {100 * tar:.1f} %")
            loss_sum, n_loss, t0 = 0.0, 0, time.perf_counter()
        if step >= total:
            break
    metrics = final_eval(backbone, device, autocast)
    return metrics, curve, train_s


def evaluator(evalset, gallery, probes):
    """The final evaluation of a trained backbone: verification on evalset, identification of probes."""

    def final_eval(backbone, device, autocast):
        emb = embed(backbone, evalset["x"], device, autocast)
        metrics = evaluate.verification_metrics(emb, evalset["i"], evalset["j"], evalset["same"])
        centres = evaluate.class_centres(embed(backbone, gallery["x"], device, autocast), gallery["labels"],
                                         gallery["classes"])
        correct = evaluate.rank1_correct(embed(backbone, probes["x"], device, autocast), probes["labels"], centres)
        for bucket, v in evaluate.accuracy_by_bucket(correct, probes["sizes"]).items():
            metrics[f"rank1:{bucket}"] = v["accuracy"]
        return metrics

    return final_eval


# ----- main ---------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=("synth", "lfw"), help="make the data (and pick the pre-model) first")
    p.add_argument("--train", help="training ImageFolder (DIR/<identity>/<photo>)")
    p.add_argument("--truth", help="truth.csv of the training folder (path,true_identity,kind): probes are clean photos")
    p.add_argument("--eval", help="evaluation ImageFolder of other people (>= 2 photos each count)")
    p.add_argument("--eval-truth", help="truth.csv of the evaluation folder: only clean photos are used")
    p.add_argument("--model", help="pre-model .onnx for S2-S4")
    p.add_argument("--out", default="experiment", help="report folder")
    p.add_argument("--work", help="scratch folder (default .cache/experiment/<name of --out>)")
    p.add_argument("--bin", default=os.path.join(ROOT, "bin", "facestream"))
    p.add_argument("--arms", default=",".join(DEFAULT_ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--budget", type=int, default=10240, help="training images each run sees")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--checkpoints", type=int, default=5, help="points on the learning curves")
    p.add_argument("--net", choices=("mobilefacenet", "resnet18"), default="mobilefacenet")
    p.add_argument("--input-size", type=int, default=64, help="network input side: served 112x112 batches are resized to it")
    p.add_argument("--emb-dim", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--scale", type=float, default=32.0, help="ArcFace s")
    p.add_argument("--margin", type=float, default=0.3, help="ArcFace m")
    p.add_argument("--profile", default="face", help="online augmentation profile of every arm")
    p.add_argument("--holdout", type=float, default=0.1, help="share of each identity's clean photos held out as probes")
    p.add_argument("--eval-max-photos", type=int, default=10, help="photos per evaluation person at most")
    p.add_argument("--impostors", type=int, default=30000, help="impostor pairs for verification")
    p.add_argument("--identities", type=int, default=400, help="--preset synth: training identities")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--loader-workers", type=int, default=1, help="DataLoader workers reading the stream")
    p.add_argument("--serve-workers", type=int, default=2, help="decode+augment workers of the server")
    args = p.parse_args(argv)
    args.arms = [a for a in args.arms.split(",") if a]
    for a in args.arms:
        if a not in ARMS:
            p.error(f"unknown arm {a!r}; arms are {', '.join(ARMS)}")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if not args.preset and not (args.train and args.eval and args.model):
        p.error("--train, --eval and --model are needed without --preset")
    return args


def main(argv=None):
    args = parse_args(argv)
    command = " ".join(shlex.quote(a) for a in [sys.executable, os.path.relpath(__file__, ROOT)] + (argv or sys.argv[1:]))
    torch.set_num_threads(args.threads)
    name = args.preset or os.path.basename(os.path.normpath(args.out))
    work = os.path.abspath(args.work or os.path.join(ROOT, ".cache", "experiment", name))
    os.makedirs(work, exist_ok=True)
    notes, t_start = [], time.time()
    if args.preset == "synth":
        prepare_synth(args, work)
    elif args.preset == "lfw":
        skipped = prepare_lfw(args, work, notes)
        if skipped:
            log(f"lfw {skipped}")
            return
    notes.append(f"pre-model {os.path.relpath(args.model, ROOT)}")

    truth = read_truth(args.truth)
    raw_root, truth_path, probe_list, sizes = hold_out(args.train, truth, work, args.holdout, seed=12345)
    needed = {ARMS[a][0] for a in args.arms}
    datasets = build_datasets(args, needed, raw_root, truth_path, work, notes)

    idents = sorted(sizes)
    index = {ident: k for k, ident in enumerate(idents)}
    gallery_files = list_folder(raw_root)
    log(f"loading {len(gallery_files)} gallery and {len(probe_list)} probe photos")
    gallery = {"x": load_images([os.path.join(raw_root, rel) for _, rel in gallery_files], args.input_size),
               "labels": np.array([index[i] for i, _ in gallery_files]), "classes": len(idents)}
    probes = {"x": load_images([p for _, p in probe_list], args.input_size),
              "labels": np.array([index[i] for i, _ in probe_list]),
              "sizes": np.array([sizes[i] for i, _ in probe_list])}
    eval_truth = read_truth(args.eval_truth)
    eval_files, per_person = [], {}
    for ident, rel in list_folder(args.eval):
        if eval_truth is None or eval_truth.get(rel, ("", "clean"))[1] == "clean":
            per_person[ident] = per_person.get(ident, 0) + 1
            # a cap, or the largest people would own most genuine pairs (n photos: n(n-1)/2 pairs)
            if per_person[ident] <= args.eval_max_photos:
                eval_files.append((ident, rel))
    eval_labels = np.array([i for i, _ in eval_files])
    ei, ej, same = evaluate.verification_pairs(eval_labels, args.impostors, seed=0)
    evalset = {"x": load_images([os.path.join(args.eval, rel) for _, rel in eval_files], args.input_size),
               "i": ei, "j": ej, "same": same}
    log(f"verification: {len(eval_files)} photos of {len(set(eval_labels))} people, {int(same.sum())} genuine and "
        f"{int((~same).sum())} impostor pairs")
    final_eval = evaluator(evalset, gallery, probes)

    runs = []
    for dataset in sorted(needed):
        with Server(args, datasets[dataset], os.path.join(work, f"serve-{dataset}.log")) as server:
            for arm in [a for a in args.arms if ARMS[a][0] == dataset]:
                for seed in args.seeds:
                    log(f"{arm}, seed {seed}: {args.budget} images from {dataset} ({ARMS[arm][1]})")
                    metrics, curve, secs = train_arm(args, server.url, ARMS[arm][1], seed, evalset, final_eval)
                    log(f"  {arm} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                              if isinstance(v, float)))
                    runs.append({"arm": arm, "seed": seed, "metrics": metrics, "curve": curve, "train_seconds": secs})
    runs.sort(key=lambda r: (args.arms.index(r["arm"]), r["seed"]))

    buckets = evaluate.accuracy_by_bucket(np.ones(len(probes["sizes"]), bool), probes["sizes"])
    config = {k: v for k, v in vars(args).items() if k not in ("bin",)}
    config.update(training_identities=len(idents), training_photos=len(gallery_files),
                  verification_photos=len(eval_files), verification_people=len(set(eval_labels)),
                  genuine_pairs=int(same.sum()), impostor_pairs=int((~same).sum()), torch=torch.__version__,
                  wall_seconds=round(time.time() - t_start))
    result = {"name": name, "command": command, "config": config, "arms": args.arms, "seeds": args.seeds,
              "arm_docs": {a: ARM_DOCS[a] for a in args.arms}, "notes": notes, "runs": runs,
              "probes_by_bucket": {k: v["probes"] for k, v in buckets.items()}}
    experiment_report.write(result, args.out)
    with open(os.path.join(args.out, "tables.md")) as f:
        print(f.read())
    log(f"wrote {args.out}/report.html, result.json and tables.md in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
