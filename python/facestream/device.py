"""Moving uint8 batches to the accelerator and normalising them there."""

import torch


def to_device(images, device, mean=127.5, std=127.5, channels_last=True, dtype=torch.float32):
    """Moves a uint8 NHWC batch to `device` and returns it normalised as float NCHW.

    Shipping uint8 and converting on the device moves a quarter of the bytes of a
    float32 batch over PCIe and keeps the conversion off the data-loading cores.

    Args:
        images: uint8 tensor [B,H,W,C] as StreamDataset yields it.
        device: target device ("cuda", torch.device("cuda:1"), "cpu").
        mean, std: scalars or per-channel sequences; the result is (x - mean) / std.
        channels_last: keep the NHWC memory layout under the NCHW view (what
            convolutions on tensor cores prefer); False returns a contiguous NCHW tensor.
        dtype: floating type of the result (torch.float32, torch.bfloat16, torch.float16).

    Returns:
        float tensor [B,C,H,W] on `device`.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"to_device wants uint8 [B,H,W,C], got {images.dtype} {tuple(images.shape)}")
    device = torch.device(device)
    x = images.to(device, non_blocking=images.is_pinned())
    x = x.permute(0, 3, 1, 2)  # a view: memory stays NHWC, i.e. channels_last
    channels = x.shape[1]
    mean_t = torch.as_tensor(mean, dtype=dtype, device=device).reshape(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=dtype, device=device).reshape(-1, 1, 1)
    if mean_t.numel() not in (1, channels) or std_t.numel() not in (1, channels):
        raise ValueError(f"mean/std need 1 or {channels} values")
    out = x.to(dtype).sub_(mean_t).div_(std_t)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return out.contiguous(memory_format=memory_format)
