"""Conditional diffusion denoiser for x4 super-resolution of B02, B03, B04, B08 (DiffFuSR-style, CPU-sized).

Interface (= the ONNX graph models/sr10.onnx):
  z_t (N, 4, 4h, 4w)  noisy residual state on the 2.5 m grid,
                      z = (x0 - upsample_bicubic(lr, 4)) / RESIDUAL_SCALE
  lr  (N, 4, h, w)    reflectance on the 10 m grid [B02, B03, B04, B08]
  t   (N,)            diffusion time in [0, 1] (cosine schedule, alpha_bar(1) = 0)
  ->  z0 (N, 4, 4h, 4w) predicted clean state (x0-prediction)

Inside: z_t is folded (pixel-unshuffle by 4) to the LR grid (64 channels), concatenated with the
normalised lr, processed by a small normalisation-free U-Net (two downsamplings, so h and w must be
multiples of 4) with a sinusoidal time embedding added in every residual block, and unfolded
(``head`` = 0, version 1: pixel-shuffle) back, or (``head`` > 0) turned into ``head`` feature maps that
are bilinearly upsampled to the 2.5 m grid and, with z_t, convolved there (resize-convolution); with
``anti_image`` the prediction z0 passes a fixed anti-imaging filter (ANTI_IMAGE_TAPS) that removes
what an x4 upsampling images onto the 10 m lattice frequencies (the checkerboard and the 10 m rhythm). The
output is z0 = c_skip(t) * z_t + F(...), with c_skip the Wiener factor
for data of standard deviation SIGMA_DATA, so c_skip(1) = 0 and the single-pass "fast" preset
(z_t = 0, t = 1) is the plain regression F. No normalisation layer or attention: every output pixel
depends on a bounded neighbourhood only, so tiles agree away from their borders.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FACTOR = 4
RESIDUAL_SCALE = 0.02
SIGMA_DATA = 0.75
LR_MEAN = (0.10, 0.10, 0.09, 0.22)
LR_STD = (0.05, 0.05, 0.06, 0.10)
SIZE_MULTIPLE = 4
#: separable anti-imaging filter on the prediction: core.resample.ANTI_IMAGE_TAPS (zeros at every multiple of
#: the 10 m sampling frequency on the 2.5 m grid)
ANTI_IMAGE_TAPS = (0.125, 0.25, 0.25, 0.25, 0.125)
COSINE_S = 0.008


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal) on continuous t in [0, 1], normalised so alpha_bar(0) = 1."""
    f = torch.cos((t + COSINE_S) / (1 + COSINE_S) * math.pi / 2) ** 2
    f0 = math.cos(COSINE_S / (1 + COSINE_S) * math.pi / 2) ** 2
    return (f / f0).clamp(0.0, 1.0)


class TimeEmbed(nn.Module):
    def __init__(self, dim: int = 128, freqs: int = 32):
        super().__init__()
        self.freqs = freqs
        self.mlp = nn.Sequential(nn.Linear(2 * freqs, dim), nn.SiLU(), nn.Linear(dim, dim), nn.SiLU())

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        k = torch.arange(self.freqs, dtype=t.dtype, device=t.device)
        w = torch.exp(k * (-math.log(1000.0) / (self.freqs - 1))) * 1000.0
        a = t[:, None] * w[None, :]
        return self.mlp(torch.cat([torch.sin(a), torch.cos(a)], dim=1))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, tdim: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.t = nn.Linear(tdim, 2 * cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.t(temb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.c1(F.silu(x)))
        h = h * (1 + scale) + shift
        return self.skip(x) + self.c2(F.silu(h))


class SR10Net(nn.Module):
    def __init__(self, widths=(64, 96, 128), tdim: int = 128, blocks0: int = 1, head: int = 0,
                 anti_image: bool = False):
        super().__init__()
        c0, c1, c2 = widths
        zin = 4 * FACTOR * FACTOR
        self.temb = TimeEmbed(tdim)
        self.head = nn.Conv2d(zin + 4, c0, 3, padding=1)
        self.enc0 = nn.ModuleList([ResBlock(c0, c0, tdim) for _ in range(blocks0)])
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.enc1 = ResBlock(c1, c1, tdim)
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c2, c2, tdim)
        self.mid2 = ResBlock(c2, c2, tdim)
        self.up2 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec1 = ResBlock(2 * c1, c1, tdim)
        self.up1 = nn.Conv2d(c1, c0, 3, padding=1)
        self.dec0 = nn.ModuleList([ResBlock(2 * c0 if i == 0 else c0, c0, tdim) for i in range(blocks0)])
        self.head_channels = head
        if head:  # resize-convolution: features upsampled, then convolutions on the 2.5 m grid
            self.out = nn.Conv2d(c0, head, 3, padding=1)
            self.fine = _fine_head(head)
        else:     # pixel shuffle of 64 channels (version 1)
            self.out = nn.Conv2d(c0, zin, 3, padding=1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        self.anti_image = anti_image
        if anti_image:
            taps = torch.tensor(ANTI_IMAGE_TAPS)
            self.register_buffer("anti_image_kernel", torch.outer(taps, taps).expand(4, 1, 5, 5).contiguous())
        self.register_buffer("lr_mean", torch.tensor(LR_MEAN).view(1, 4, 1, 1))
        self.register_buffer("lr_std", torch.tensor(LR_STD).view(1, 4, 1, 1))

    def forward(self, z_t: torch.Tensor, lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.temb(t)
        zf = F.pixel_unshuffle(z_t, FACTOR)
        x = torch.cat([zf, (lr - self.lr_mean) / self.lr_std], dim=1)
        h0 = self.head(x)
        for b in self.enc0:
            h0 = b(h0, temb)
        h1 = self.enc1(self.down1(F.silu(h0)), temb)
        h2 = self.down2(F.silu(h1))
        h2 = self.mid2(self.mid1(h2, temb), temb)
        u1 = self.up2(F.interpolate(h2, scale_factor=2.0, mode="nearest"))
        u1 = self.dec1(torch.cat([u1, h1], dim=1), temb)
        u0 = self.up1(F.interpolate(u1, scale_factor=2.0, mode="nearest"))
        u0 = torch.cat([u0, h0], dim=1)
        for b in self.dec0:
            u0 = b(u0, temb)
        if self.head_channels:
            g = F.interpolate(self.out(F.silu(u0)), scale_factor=float(FACTOR), mode="bilinear", align_corners=False)
            f = self.fine(torch.cat([g, z_t], dim=1))
        else:
            f = F.pixel_shuffle(self.out(F.silu(u0)), FACTOR)
        ab = alpha_bar(t)[:, None, None, None]
        c_skip = ab.sqrt() * SIGMA_DATA ** 2 / (ab * SIGMA_DATA ** 2 + (1 - ab))
        z0 = c_skip * z_t + f
        if self.anti_image:  # on the whole prediction, so the last DDIM step leaves no noise on the lattice
            z0 = F.conv2d(F.pad(z0, (2, 2, 2, 2), mode="reflect"), self.anti_image_kernel, groups=4)
        return z0


def _fine_head(channels: int) -> nn.Sequential:
    """Three 3x3 convolutions on the 2.5 m grid over the bilinearly upsampled features and z_t. The same
    filters serve every 2.5 m pixel, whatever its position inside its 10 m pixel, so the head cannot make
    a pattern locked to the 10 m lattice (a pixel shuffle gives each of the 16 sub-pixel phases its own
    filters: the checkerboard). The last layer starts at zero (output = bicubic at first)."""
    last = nn.Conv2d(channels, 4, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(channels + 4, channels, 3, padding=1), nn.SiLU(),
                         nn.Conv2d(channels, channels, 3, padding=1), nn.SiLU(), last)


def build(config: dict | None = None) -> SR10Net:
    config = config or {}
    return SR10Net(widths=tuple(config.get("widths", (64, 96, 128))), tdim=config.get("tdim", 128),
                   blocks0=config.get("blocks0", 1), head=config.get("head", 0),
                   anti_image=config.get("anti_image", False))
