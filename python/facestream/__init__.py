"""facestream: read a facestream server's training stream from PyTorch.

    import facestream, torch
    ds = facestream.StreamDataset("http://127.0.0.1:8080", batch_size=256, epoch=0)
    for images, labels in facestream.StreamLoader(ds, num_workers=4, pin_memory=True):
        x = facestream.to_device(images, "cuda")  # uint8 NHWC -> normalised float NCHW, on the GPU
        ...

See StreamDataset for sharding across ranks and workers, resuming and formats.
"""

from .device import to_device
from .stream import StreamDataset, StreamError, StreamLoader, TruncatedStream

__all__ = ["StreamDataset", "StreamLoader", "StreamError", "TruncatedStream", "to_device"]
__version__ = "0.1.0"
