#!/usr/bin/python3
"""Makes the embedder's test fixtures: tiny ONNX models, a few PNG images and the embeddings PyTorch
computes for them. Run from this folder with Debian's python3-torch (no onnx package needed):

    /usr/bin/python3 make_models.py

The images are H×W = 40×32 (not square, so a swapped height and width shows) and stored as PNG, so
the Go side decodes exactly the pixels PyTorch saw.
"""
import json
import struct
import zlib

import numpy as np
import torch
from torch import nn

H, W = 40, 32
torch.manual_seed(7)


class Net(nn.Module):
    """A miniature embedding net: two strided convolutions, pooling, a linear head."""

    def __init__(self, dim):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.PReLU(8),
            nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.AvgPool2d(2),
        )
        self.head = nn.Linear(8 * (H // 8) * (W // 8), dim)

    def forward(self, x):  # x: N×3×H×W, already normalised
        return self.head(self.body(x).flatten(1))


class NHWC(nn.Module):
    """The same net taking N×H×W×3 input, as TensorFlow-born face models do."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x.permute(0, 3, 1, 2))


def export(model, shape, path, dynamic_batch=True, dynamic_hw=False, dynamic_width=False):
    model.eval()
    axes = {}
    if dynamic_batch:
        axes = {"input": {0: "batch"}, "embedding": {0: "batch"}}
    if dynamic_width:  # declared [-1,-1], as many exported models are
        axes["embedding"] = {0: "batch", 1: "width"}
    if dynamic_hw:
        axes["input"] = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(model, torch.zeros(shape), path, input_names=["input"], output_names=["embedding"],
                      dynamic_axes=axes or None, opset_version=13)


def write_png(path, rgb):
    """A minimal RGB PNG writer (no PIL on the build machine)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    net128, net512 = Net(128), Net(512)
    for net in (net128, net512):  # non-trivial batch-norm statistics, so eval mode matters
        net.body[1].running_mean.uniform_(-0.2, 0.2)
        net.body[1].running_var.uniform_(0.5, 1.5)
    export(net128, (1, 3, H, W), "nchw128.onnx")
    export(NHWC(net128), (1, H, W, 3), "nhwc128.onnx")
    export(NHWC(net512), (4, H, W, 3), "nhwc512-batch4.onnx", dynamic_batch=False)
    # Models whose input cannot take RGB images.
    export(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten()), (1, 1, H, W), "bad-gray.onnx")
    export(nn.Linear(3 * H * W, 16), (1, 3 * H * W), "bad-rank.onnx")
    export(net128, (1, 3, H, W), "bad-dynamic-size.onnx", dynamic_hw=True)
    export(net128, (1, 3, H, W), "nchw128-dynamic-width.onnx", dynamic_width=True)
    # An output that is a feature map, not one embedding per image.
    export(net128.body, (1, 3, H, W), "bad-feature-map.onnx")

    rng = np.random.default_rng(11)
    images = []
    for k in range(5):
        # Smooth gradients plus noise: a natural-ish image whose channels differ.
        yy, xx = np.mgrid[0:H, 0:W]
        base = np.stack([xx * 255 / W, yy * 255 / H, (xx + yy) * 255 / (H + W)], axis=-1)
        img = np.clip(np.roll(base, k, axis=-1) + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
        name = f"img{k}.png"
        write_png(name, img)
        images.append((name, img))

    batch = np.stack([img for _, img in images]).astype(np.float32)
    x = torch.from_numpy((batch - 127.5) / 127.5).permute(0, 3, 1, 2)  # default preprocessing, RGB
    x_bgr = x.flip(1)
    with torch.no_grad():
        expected = {
            "images": [name for name, _ in images],
            "nchw128": nn.functional.normalize(net128.eval()(x)).tolist(),
            "nchw128_bgr": nn.functional.normalize(net128(x_bgr)).tolist(),
            "nhwc512": nn.functional.normalize(net512.eval()(x)).tolist(),
        }
    with open("expected.json", "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
