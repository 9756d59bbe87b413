#!/usr/bin/env python3
"""PyTorch peer of facestream's `face` profile: PIL decode + torchvision transforms in a DataLoader.

Runs the torchvision equivalent of augment's built-in `face` profile (DESIGN.md) over a folder of
JPEGs with one DataLoader worker per core, uint8 output (no float normalisation, as facestream
serves uint8), and prints images/s as JSON:

    python3 bench/peer/torch_augment.py FOLDER [--workers N] [--seconds S] [--size 112]

The pipeline, in facestream's order:
    RandomHorizontalFlip(0.5)
    RandomResizedCrop(size, scale=(0.9, 1), ratio=(0.95, 1.05))      bilinear, like augment
    RandomApply([ColorJitter(0.2, 0.2, 0.2, 0)], p=0.2)
    RandomGrayscale(0.1)
    RandomApply([GaussianBlur(11, sigma=(0.5, 1.5))], p=0.1)           11 taps = augment's 2*ceil(3*1.5)+1
    RandomApply([LowResolution((0.25, 1))], p=0.1)                     PIL bilinear down and back up
    PILToTensor()                                                       uint8 CHW
"""

import argparse
import json
import os
import random
import sys
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class LowResolution:
    """Shrink by a random factor in `scale` and enlarge back (bilinear), like augment's lowres op."""

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, img):
        f = random.uniform(*self.scale)
        w, h = img.size
        small = img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.BILINEAR)
        return small.resize((w, h), Image.BILINEAR)


def face_transform(size):
    return transforms.Compose([
        transforms.RandomHorizontalFlip(0.5),
        transforms.RandomResizedCrop(size, scale=(0.9, 1.0), ratio=(0.95, 1.05)),
        transforms.RandomApply([transforms.ColorJitter(0.2, 0.2, 0.2, 0)], p=0.2),
        transforms.RandomGrayscale(0.1),
        transforms.RandomApply([transforms.GaussianBlur(11, sigma=(0.5, 1.5))], p=0.1),
        transforms.RandomApply([LowResolution((0.25, 1.0))], p=0.1),
        transforms.PILToTensor(),
    ])


class Folder(Dataset):
    """The images of one folder, repeated `repeat` times so an epoch outlasts the measurement."""

    def __init__(self, paths, transform, repeat):
        self.paths, self.transform, self.repeat = paths, transform, repeat

    def __len__(self):
        return len(self.paths) * self.repeat

    def __getitem__(self, i):
        with Image.open(self.paths[i % len(self.paths)]) as img:
            return self.transform(img.convert("RGB"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="DataLoader workers (one per core)")
    ap.add_argument("--seconds", type=float, default=10, help="measured duration, after one warm-up batch")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=112)
    args = ap.parse_args()

    paths = sorted(os.path.join(args.folder, f) for f in os.listdir(args.folder)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if not paths:
        sys.exit(f"torch_augment: no images in {args.folder}")
    torch.set_num_threads(1)  # the workers are the parallelism, as in a training job
    loader = DataLoader(Folder(paths, face_transform(args.size), repeat=1000), batch_size=args.batch,
                        shuffle=True, num_workers=args.workers, persistent_workers=args.workers > 0,
                        prefetch_factor=4 if args.workers > 0 else None)
    it = iter(loader)
    for _ in range(max(1, args.workers)):  # warm-up: every worker has started and produced a batch
        next(it)
    images, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        images += next(it).shape[0]
    elapsed = time.perf_counter() - t0
    rate = images / elapsed
    print(json.dumps({
        "peer": "torchvision", "torch": torch.__version__, "files": len(paths), "workers": args.workers,
        "size": args.size, "images": images, "seconds": round(elapsed, 3),
        "img_per_s": rate, "img_per_s_per_worker": rate / max(1, args.workers),
    }))


if __name__ == "__main__":
    main()
