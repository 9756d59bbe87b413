#!/usr/bin/env python3
"""The smallest training loop on a facestream stream: what a user's own loop looks like.

    facestream serve DS --addr 127.0.0.1:8080 &
    /usr/bin/python3 examples/train_stream.py --url http://127.0.0.1:8080 --epochs 1

Each epoch is read through facestream.StreamLoader (one sub-stream per DataLoader worker), moved to
the device as uint8 and normalised there, and fed to a small CNN with a softmax head. Prints the loss
and the images/s the loop saw, including the time it waited for data.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import facestream  # noqa: E402


def small_cnn(classes):
    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
    return nn.Sequential(block(3, 16), block(16, 32), block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="facestream server, e.g. http://127.0.0.1:8080")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers, each reading its own sub-stream")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--token", default=os.environ.get("FACESTREAM_TOKEN"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))

    ds = facestream.StreamDataset(args.url, batch_size=args.batch, seed=args.seed, token=args.token)
    classes = ds.info()["identities"]
    model = small_cnn(classes).to(args.device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        ds.set_epoch(epoch)
        images_seen, waited, began = 0, 0.0, time.perf_counter()
        loader = facestream.StreamLoader(ds, num_workers=args.workers)
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            try:
                images, labels = next(it)
            except StopIteration:
                break
            waited += time.perf_counter() - t0
            x = facestream.to_device(images, args.device)
            loss = loss_fn(model(x), labels.to(args.device, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images_seen += len(labels)
        secs = time.perf_counter() - began
        print(f"epoch {epoch}: {images_seen} images in {secs:.1f}s ({images_seen / secs:.0f} img/s, "
              f"{100 * waited / secs:.0f} % of the time waiting for data), last loss {loss.item():.3f}")


if __name__ == "__main__":
    main()
