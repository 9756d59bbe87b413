#!/usr/bin/env python3
"""Checks a pre-model for S2 against the truth of a synthetic set.

S2 keeps a photo when the cosine between its embedding and the mean embedding of
the identity it is filed under exceeds t. On a `facestream synth` set, whose
truth.csv says which photos are clean, mislabeled or junk, this script embeds
every photo and prints the share of noisy photos S2 would remove and the share
of clean photos it would keep, at t and over a sweep of thresholds, next to what
an ideal model that maps every identity (and every junk photo) to its own
orthogonal direction would reach: it cannot remove the wrong photo of an identity
with two photos, since both lie 45 degrees from their mean.

  /usr/bin/python3 examples/eval_premodel.py --model premodel.pt --data /tmp/synth
  /usr/bin/python3 examples/eval_premodel.py --model premodel.onnx --data /tmp/synth   # needs onnxruntime

Targets for a useful pre-model: >= 90 % of noisy photos removed, >= 95 % of clean photos kept.
"""

import argparse
import csv
import os
import sys
import time

import numpy as np
import torch

from train_premodel import INPUT_SIZE, Embedder, load_backbone, read_images

import facestream  # noqa: E402 - train_premodel has put the checkout's python/ on sys.path if needed

TARGET_REMOVED, TARGET_KEPT = 0.90, 0.95


def read_truth(data):
    with open(os.path.join(data, "truth.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or set(rows[0]) != {"path", "true_identity", "kind"}:
        sys.exit(f"{data}/truth.csv: want columns path,true_identity,kind")
    return rows


def torch_embedder(path, threads):
    model = Embedder(load_backbone(path)).eval()

    @torch.no_grad()
    def embed(images):
        return model(facestream.to_device(images, "cpu")).numpy()

    return embed


def onnx_embedder(path, threads):
    try:
        import onnxruntime as ort
    except ImportError:
        sys.exit("onnxruntime is not installed: evaluate the .pt checkpoint written next to the .onnx file")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    def embed(images):
        x = facestream.to_device(images, "cpu", channels_last=False).numpy()
        return session.run(["embedding"], {"input": x})[0]

    return embed


def centre_cosines(emb, groups):
    """Cosine of every row of emb to the normalised mean of its group."""
    groups = np.asarray(groups)
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((inverse.max() + 1, emb.shape[1]))
    np.add.at(sums, inverse, emb)
    centres = sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(1e-12)
    return np.einsum("ij,ij->i", emb, centres[inverse])


def ideal_embeddings(rows):
    """One orthonormal direction per true identity and per junk photo: the ideal model of the docstring."""
    keys = [r["true_identity"] or "junk:" + r["path"] for r in rows]
    _, inverse = np.unique(keys, return_inverse=True)
    emb = np.zeros((len(rows), inverse.max() + 1))
    emb[np.arange(len(rows)), inverse] = 1
    return emb


def rates(cos, clean, t):
    return float((cos[~clean] <= t).mean()), float((cos[clean] > t).mean())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="premodel.pt (torch) or premodel.onnx (needs onnxruntime)")
    p.add_argument("--data", required=True, help="a synth set: DIR/images and DIR/truth.csv")
    p.add_argument("--t", type=float, default=0.65, help="S2 threshold")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = read_truth(args.data)
    embed = (onnx_embedder if args.model.endswith(".onnx") else torch_embedder)(args.model, args.threads)
    t0 = time.time()
    paths = [os.path.join(args.data, "images", r["path"]) for r in rows]
    chunks = []
    for i in range(0, len(paths), args.batch_size):
        chunks.append(embed(read_images(paths[i : i + args.batch_size])))
    emb = np.concatenate(chunks).astype(np.float64)
    print(f"embedded {len(rows)} photos ({INPUT_SIZE}x{INPUT_SIZE}) in {time.time() - t0:.1f}s")

    filed = [r["path"].split("/")[0] for r in rows]
    kinds = np.array([r["kind"] for r in rows])
    clean = kinds == "clean"
    cos = centre_cosines(emb, filed)
    ideal = centre_cosines(ideal_embeddings(rows), filed)
    print(f"photos: {clean.sum()} clean, {(kinds == 'mislabeled').sum()} mislabeled, {(kinds == 'junk').sum()} junk")
    print(f"cosine to centre, median: clean {np.median(cos[clean]):.3f}, "
          f"mislabeled {np.median(cos[kinds == 'mislabeled']):.3f}, junk {np.median(cos[kinds == 'junk']):.3f}")
    print(" t     removed  kept    (ideal orthogonal model: removed kept)")
    for t in np.round(np.arange(0.30, 0.91, 0.05), 2):
        r, k = rates(cos, clean, t)
        ir, ik = rates(ideal, clean, t)
        print(f" {t:.2f}  {r:6.1%}  {k:6.1%}  ({ir:6.1%} {ik:6.1%})")
    removed, kept = rates(cos, clean, args.t)
    by_kind = ", ".join(f"{k} {(cos[kinds == k] <= args.t).mean():.1%}" for k in ("mislabeled", "junk"))
    ceiling, _ = rates(ideal, clean, args.t)
    verdict = "PASS" if removed >= TARGET_REMOVED and kept >= TARGET_KEPT else "FAIL"
    print(f"S2 at t={args.t}: removed {removed:.1%} of noisy photos ({by_kind}; ideal orthogonal model {ceiling:.1%}), "
          f"kept {kept:.1%} of clean photos -> {verdict} "
          f"(targets removed >= {TARGET_REMOVED:.0%}, kept >= {TARGET_KEPT:.0%})")


if __name__ == "__main__":
    main()
