"""Fusion networks (DSen2-style, small and fast): guide + upsampled LR bands -> corrected LR bands.

Input ``x`` (N, 4 + C, H, W) reflectance: [B02, B03, B04, B08] guide at the target grid, then the
C low-resolution bands bicubic-upsampled to the target grid. Output (N, C, H, W) reflectance:
``x[:, 4:] + net(x)`` (long skip, the network learns only the correction). Inside, inputs are
scaled by 5 (reflectance * 5 = DN / 2000, as DSen2), pixel-unshuffled by 2 (H and W must be even),
run through ``blocks`` residual blocks (conv-ReLU-conv, scaled by 0.1, no batch norm) of width
``width``, and pixel-shuffled back.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SCALE = 5.0  # reflectance -> network units (DN / 2000)
CONFIGS = {
    "fusion20": {"in_ch": 10, "out_ch": 6, "width": 48, "blocks": 4},
    "fusion60": {"in_ch": 6, "out_ch": 2, "width": 32, "blocks": 3},
}


class ResBlock(nn.Module):
    """conv3x3-ReLU-conv3x3, output scaled by ``res_scale`` and added to the input."""

    def __init__(self, width: int, res_scale: float = 0.1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class FusionNet(nn.Module):
    """Guided correction of bicubic-upsampled bands; see module docstring. ``size_multiple`` = 2."""

    size_multiple = 2

    def __init__(self, in_ch: int, out_ch: int, width: int, blocks: int, shuffle: int = 2) -> None:
        super().__init__()
        self.in_ch, self.out_ch, self.shuffle = in_ch, out_ch, shuffle
        s2 = shuffle * shuffle
        self.head = nn.Conv2d(in_ch * s2, width, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, out_ch * s2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lr = x[:, self.in_ch - self.out_ch:]
        h = F.pixel_unshuffle(x * SCALE, self.shuffle)
        h = F.relu(self.head(h))
        h = self.body(h)
        h = F.pixel_shuffle(self.tail(h), self.shuffle)
        return lr + h / SCALE


def build(name: str) -> FusionNet:
    """A fresh network for ``name`` in CONFIGS."""
    return FusionNet(**CONFIGS[name])


def load_checkpoint(path: str, name: str | None = None) -> FusionNet:
    """Rebuild a network from a training checkpoint (``{"name", "model", ...}``) in eval mode."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    net = build(name or ckpt["name"])
    net.load_state_dict(ckpt.get("ema", ckpt["model"]))
    return net.eval()
