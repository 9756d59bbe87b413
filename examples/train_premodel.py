#!/usr/bin/env python3
"""S1 of facestream: train a small face-embedding pre-model and export it to ONNX.

The pre-model only has to be good enough for S2 (the cosine of each photo to its
identity's mean embedding tells clean photos from mislabeled ones and junk), so it
is a MobileFaceNet-like network kept deliberately small: depthwise-separable
inverted residuals behind a stride-2 stem, a global depthwise ("GDC") head and a
linear embedding, trained with a sub-center ArcFace margin head (robust to the very
label noise S2 is to find).

Two sources of batches, the same training loop:

  # from a running server (the raw dataset in uniform order; S1 of the method)
  facestream serve DS --addr 127.0.0.1:8080 &
  /usr/bin/python3 examples/train_premodel.py --url http://127.0.0.1:8080 --out premodel.onnx

  # straight from an ImageFolder, to bootstrap without a server
  /usr/bin/python3 examples/train_premodel.py --images /tmp/synth/images --out premodel.onnx

The ONNX graph takes `input` float32 [N,3,112,112], RGB normalised as
(x - 127.5) / 127.5, and returns `embedding` float32 [N,D], L2-normalised inside
the graph, with a dynamic batch axis. Next to it, `premodel.pt` keeps the weights
and the architecture so that `examples/eval_premodel.py` can embed with torch.
"""

import argparse
import inspect
import io
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import facestream
except ImportError:  # running from a checkout without `pip install ./python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import facestream

INPUT_SIZE = 112


def conv_bn(cin, cout, kernel=1, stride=1, groups=1, act=True):
    layers = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.PReLU(cout))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block as MobileFaceNet uses it: expand, depthwise 3x3, linear project."""

    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            conv_bn(cin, hidden),
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            conv_bn(hidden, cout, act=False),
        )

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileFaceNetLite(nn.Module):
    """A MobileFaceNet-like embedding network for 112x112 faces.

    The stem halves the resolution twice before any expensive layer (a 3x3
    stride-2 convolution, then a stride-2 depthwise one: 112 -> 28), which keeps
    training on a 2-core CPU at a few hundred images per second. Two stages of
    inverted residuals go 28 -> 14 -> 7, and a 7x7 depthwise convolution (GDC)
    replaces global pooling so the embedding keeps where features are. Other input
    sizes (a multiple of 16, e.g. 64 for CPU experiments) get a GDC as wide as their
    final map.
    """

    # (expansion, out channels, repeats, first stride) per stage
    STAGES = ((2, 48, 2, 2), (4, 64, 2, 2))

    def __init__(self, emb_dim=128, width=1.0, input_size=INPUT_SIZE):
        super().__init__()
        self.emb_dim, self.width = emb_dim, width
        c = lambda n: max(8, int(round(n * width / 8)) * 8)  # noqa: E731 - channel rounding
        stem = c(24)
        layers = [conv_bn(3, stem, 3, 2), conv_bn(stem, stem, 3, 2, groups=stem), conv_bn(stem, c(32))]
        cin = c(32)
        for expansion, cout, repeats, stride in self.STAGES:
            for i in range(repeats):
                layers.append(InvertedResidual(cin, c(cout), stride if i == 0 else 1, expansion))
                cin = c(cout)
        head = c(256)
        layers.append(conv_bn(cin, head))
        self.features = nn.Sequential(*layers)
        self.gdc = conv_bn(head, head, input_size // 16, 1, groups=head, act=False)
        self.gdc[0].padding = (0, 0)  # 7x7 map (at 112) -> 1x1
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(head, emb_dim, bias=False)
        self.bn = nn.BatchNorm1d(emb_dim)

    def forward(self, x):
        x = self.gdc(self.features(x)).flatten(1)
        return self.bn(self.linear(self.dropout(x)))


class Embedder(nn.Module):
    """The exported graph: backbone plus L2 normalisation, so ORT callers get unit vectors."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return F.normalize(self.backbone(x), dim=1)


class ArcFace(nn.Module):
    """Additive angular margin head (Deng et al.): logits s*cos(theta + m) for the true class.

    With subcenters K > 1 it is sub-center ArcFace (Deng et al., 2020): each class has K
    centres and a photo is scored against the nearest one, so mislabeled photos and junk
    gather around a minor centre instead of dragging the class's main one towards them;
    the pre-model is trained on the very labels S2 is to clean.
    """

    def __init__(self, emb_dim, classes, scale=64.0, margin=0.5, subcenters=1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes * subcenters, emb_dim))
        nn.init.normal_(self.weight, std=0.01)
        self.classes, self.subcenters = classes, subcenters
        self.scale, self.margin = scale, margin

    def forward(self, emb, labels, margin=None):
        m = self.margin if margin is None else margin
        cos = F.linear(F.normalize(emb), F.normalize(self.weight))
        cos = cos.view(-1, self.classes, self.subcenters).amax(2).clamp(-1 + 1e-7, 1 - 1e-7)
        target = cos.gather(1, labels[:, None])
        theta = torch.acos(target)
        # Past pi - m the margin would make the logit grow again; fall back to the
        # linear penalty there, as the reference implementation does.
        with_margin = torch.where(theta + m < math.pi, torch.cos(theta + m), target - m * math.sin(m))
        logits = cos.scatter(1, labels[:, None], with_margin)
        return logits * self.scale, cos


def read_images(paths):
    """Decodes image files into uint8 [N,112,112,3] (RGB, resized when needed)."""
    from PIL import Image

    images = np.empty((len(paths), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (INPUT_SIZE, INPUT_SIZE):
                im = im.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
            images[i] = np.asarray(im)
    return torch.from_numpy(images)


def load_image_folder(root):
    """Decodes an ImageFolder once into memory: uint8 [N,112,112,3], int64 labels, class count."""
    from torchvision.datasets import ImageFolder

    folder = ImageFolder(root)
    images = read_images([path for path, _ in folder.samples])
    return images, torch.tensor(folder.targets, dtype=torch.int64), len(folder.classes)


def folder_epoch(images, labels, batch_size, generator):
    """One shuffled pass over in-memory images; the ragged tail is dropped (BatchNorm dislikes size-1 batches)."""
    order = torch.randperm(len(labels), generator=generator)
    for i in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[i : i + batch_size]
        yield images[idx], labels[idx]


def augment(x, generator):
    """Light face augmentation on a normalised NCHW batch, in one resampling pass:
    horizontal flip, zoom 1.0-1.12, shift up to 4 px, rotation up to 8 degrees,
    then brightness and contrast jitter. Used for the ImageFolder source only;
    the server applies its own online profile to streamed batches."""
    n = x.shape[0]
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(x.device)  # noqa: E731
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0).to(x.device)
    zoom = 1.0 / (1.0 + 0.12 * rand(n))
    angle = (rand(n) * 2 - 1) * math.radians(8)
    shift = (rand(n, 2) * 2 - 1) * (8.0 / INPUT_SIZE)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    brightness = ((rand(n) * 2 - 1) * 0.2).view(n, 1, 1, 1)
    contrast = (1 + (rand(n) * 2 - 1) * 0.2).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + brightness).to(memory_format=torch.channels_last)


def stream_source(args):
    """Batches from a running server (uniform order, the server's online augmentation),
    read by DataLoader workers, one StreamDataset per epoch."""

    def dataset(e):
        return facestream.StreamDataset(args.url, args.batch_size, epoch=e, seed=args.seed, mode="uniform",
                                        profile=args.profile, token=args.token)

    probe = dataset(0)
    info = probe.info()
    shape = (info["image"]["height"], info["image"]["width"], info["image"]["channels"])
    if shape != (INPUT_SIZE, INPUT_SIZE, 3):
        sys.exit(f"{args.url} serves {shape} images; the pre-model wants {INPUT_SIZE}x{INPUT_SIZE}x3 (serve --size 112)")
    classes = info["identities"]
    steps = probe.batches_per_epoch(args.workers)
    return (lambda e: facestream.StreamLoader(dataset(e), num_workers=args.workers)), classes, steps


def folder_source(args):
    t0 = time.time()
    images, labels, classes = load_image_folder(args.images)
    print(f"loaded {len(labels)} images of {classes} identities from {args.images} in {time.time() - t0:.1f}s",
          flush=True)
    generator = torch.Generator().manual_seed(args.seed)
    return (lambda e: folder_epoch(images, labels, args.batch_size, generator)), classes, len(labels) // args.batch_size


def export_onnx(backbone, path, opset):
    """Writes the ONNX graph as one self-contained file, atomically."""
    model = Embedder(backbone).eval().cpu()
    dummy = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        # PyTorch >= 2.9 defaults to the dynamo exporter, which forces opset 18 and may
        # put the weights in a side file; the TorchScript exporter gives the requested opset.
        kwargs["dynamo"] = False
    buf = io.BytesIO()
    torch.onnx.export(
        model, dummy, buf, input_names=["input"], output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=opset, do_constant_folding=True, **kwargs,
    )
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)


def save_checkpoint(backbone, classes, path):
    torch.save(
        {"state_dict": backbone.state_dict(), "emb_dim": backbone.emb_dim, "width": backbone.width, "classes": classes},
        path,
    )


def load_backbone(path):
    """Rebuilds the backbone saved by save_checkpoint (used by eval_premodel.py)."""
    ckpt = torch.load(path, map_location="cpu")
    backbone = MobileFaceNetLite(ckpt["emb_dim"], ckpt["width"])
    backbone.load_state_dict(ckpt["state_dict"])
    return backbone.eval()


def learning_rate(step, warmup, total, peak):
    """Linear warm-up over `warmup` steps, then cosine decay to zero at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--url", help="facestream server serving the raw dataset, e.g. http://127.0.0.1:8080")
    src.add_argument("--images", help="ImageFolder root (DIR/images), to train without a server")
    p.add_argument("--out", default="premodel.onnx", help="ONNX file to write; the torch checkpoint goes next to it as .pt")
    p.add_argument("--emb-dim", type=int, default=128, choices=(128, 256, 512))
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier of the backbone")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak SGD learning rate (cosine decay after one warm-up epoch)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    # ArcFace's paper uses s=64, m=0.5 on millions of photos; a gentler head learns
    # faster and overfits label noise less on a few thousand photos (the synth sets).
    p.add_argument("--scale", type=float, default=32.0, help="ArcFace scale s (64 for large sets)")
    p.add_argument("--margin", type=float, default=0.3, help="ArcFace margin m (0.5 for large sets)")
    p.add_argument("--subcenters", type=int, default=1, help="centres per identity: 1 is plain ArcFace (the shipped model); K > 1 is sub-center ArcFace")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", help="server augmentation profile (--url only; default: the server's)")
    p.add_argument("--token", default=os.environ.get("FACESTREAM_TOKEN"), help="bearer token (--url only)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers reading sub-streams (--url only)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--opset", type=int, default=13, choices=range(13, 18))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    epoch_batches, classes, steps_per_epoch = (stream_source if args.url else folder_source)(args)
    backbone = MobileFaceNetLite(args.emb_dim, args.width).to(device).to(memory_format=torch.channels_last)
    head = ArcFace(args.emb_dim, classes, args.scale, args.margin, args.subcenters).to(device)
    params = sum(p.numel() for p in backbone.parameters())
    print(f"backbone {params / 1e6:.2f}M parameters, {classes} identities, device {device}", flush=True)

    opt = torch.optim.SGD(
        [{"params": backbone.parameters()}, {"params": head.parameters(), "weight_decay": 0}],
        lr=args.lr, momentum=0.9, weight_decay=args.weight_decay, nesterov=True,
    )
    total = args.epochs * steps_per_epoch
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    gen = torch.Generator().manual_seed(args.seed + 1)
    step, t_start = 0, time.time()
    for e in range(args.epochs):
        backbone.train()
        seen, correct, loss_sum, batches, t0 = 0, 0, 0.0, 0, time.time()
        for images, labels in epoch_batches(e):
            # Warm up the learning rate and the margin over the first epoch: a full
            # margin on random weights stalls ArcFace on small sets.
            warmup = min(1.0, (step + 1) / steps_per_epoch)
            lr = learning_rate(step, steps_per_epoch, total, args.lr)
            for g in opt.param_groups:
                g["lr"] = lr
            x = facestream.to_device(images, device)
            if args.images:
                x = augment(x, gen)
            labels = labels.to(device, non_blocking=True)
            with autocast:
                emb = backbone(x)
            logits, cos = head(emb.float(), labels, margin=args.margin * warmup)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step, batches = step + 1, batches + 1
            seen += len(labels)
            loss_sum += loss.item() * len(labels)
            correct += (cos.argmax(1) == labels).sum().item()
        if batches == 0:
            sys.exit("no batches: is the dataset smaller than one batch?")
        dt = time.time() - t0
        print(f"epoch {e + 1}/{args.epochs}: loss {loss_sum / seen:.3f} train-acc {correct / seen:.3f} "
              f"lr {lr:.4f} {seen / dt:.0f} img/s ({dt:.0f}s)", flush=True)

    backbone.eval()
    ckpt = os.path.splitext(args.out)[0] + ".pt"
    save_checkpoint(backbone, classes, ckpt)
    export_onnx(backbone, args.out, args.opset)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB) and {ckpt} "
          f"after {time.time() - t_start:.0f}s of training", flush=True)


if __name__ == "__main__":
    main()
