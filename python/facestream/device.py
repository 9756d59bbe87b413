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
    out = x.to(dtype).sub_(_operand(mean, channels, dtype, device)).div_(_operand(std, channels, dtype, device))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return out.contiguous(memory_format=memory_format)


def _operand(value, channels, dtype, device):
    """A scalar stays a Python number: building a device tensor from it would be a host-to-device
    copy that synchronises the stream on every batch. Per-channel values become a [C,1,1] tensor
    (pass one already on the device to avoid the copy)."""
    if isinstance(value, (int, float)):
        return float(value)
    t = torch.as_tensor(value, dtype=dtype, device=device).reshape(-1, 1, 1)
    if t.numel() == 1:
        return t.reshape(())
    if t.numel() != channels:
        raise ValueError(f"mean/std need 1 or {channels} values, got {t.numel()}")
    return t
