"""The space-time model "stliif", after Temporal LIIF (Gutierrez 2023), scaled to two CPU cores.

Inputs are D acquisitions of the same ground on one low-resolution (LR) grid: reflectance of
[B02, B03, B04, B08] (D, 4, h, w), a clear mask (D, 1, h, w: 1 where the date sees the ground) and
each date's time from the target date in days (D,). A query is an output pixel centre (continuous LR
coordinates), the output cell size (1 / scale, LR pixels) and the target time.

* Encoder (per date, shared weights; on the LR grid): 3 x 3 convolutions and residual blocks, then a
  context branch: the clear-weighted mean of the dates' features is mixed back into every date, so
  each date's code knows what the others see. The first layer of the decoder MLP is applied here as a
  1 x 1 convolution (``proj``): the gathered codes are already 64-wide hidden pre-activations.
* Decoder (per output pixel): for each date and each of the 4 nearest LR codes (LIIF's local
  ensemble, weighted by the area of the opposite rectangle = bilinear weights), an MLP of the code,
  the relative position of the query to the code, the cell size and the date's time offset predicts
  a residual over that date's bicubic image and a logit. A softmax over the dates (clouded dates
  excluded) weighs the dates' predictions: an observed target date usually dominates; a synthesised
  date between two observations mixes them.
* The output = sum_d w_d * (bicubic_d + residual_d) = base_mix + residual_mix; the residual passes an
  anti-imaging box filter of one LR pixel (core.resize.box_taps) so no LR lattice is drawn.

Queries are separable on a regular output grid: rows and columns are gathered separately
(``query_axis``), so decoding is a handful of gathers and 1 x 1 convolutions, exportable to ONNX.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

BANDS = 4
WIDTH = 48      # encoder channels
HIDDEN = 48     # decoder MLP width
BLOCKS = 5      # encoder residual blocks
RESIDUAL_SCALE = 0.02   # reflectance; residuals are predicted in this unit
DAY_SCALE = 60.0        # days; time offsets enter the decoder as dt / DAY_SCALE


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + 0.2 * self.b(torch.relu(self.a(x)))


class Encoder(nn.Module):
    """(D, 4, h, w) reflectance + (D, 1, h, w) clear -> (D, HIDDEN, h, w) first-layer pre-activations."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(BANDS + 1, WIDTH, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(WIDTH) for _ in range(BLOCKS)])
        self.mix = nn.Conv2d(2 * WIDTH + 1, WIDTH, 1)
        self.tail = nn.Sequential(nn.Conv2d(WIDTH, WIDTH, 3, padding=1), nn.ReLU(), ResBlock(WIDTH))
        self.proj = nn.Conv2d(WIDTH, HIDDEN, 1)

    def forward(self, lr: torch.Tensor, clear: torch.Tensor) -> torch.Tensor:
        x = (lr - 0.1) / 0.1
        f = self.body(self.head(torch.cat([x * clear, clear], 1)))
        weight = clear.sum(0, keepdim=True)
        ctx = (f * clear).sum(0, keepdim=True) / (weight + 1e-3)       # clear-weighted mean over dates
        f = f + self.mix(torch.cat([f, ctx.expand_as(f), (weight > 0).float().expand_as(clear)], 1))
        return self.proj(self.tail(f))


class Decoder(nn.Module):
    """Gathered codes -> per-date residual (4) and logit (1) for every query, local ensemble included."""

    def __init__(self):
        super().__init__()
        self.coord = nn.Conv2d(5, HIDDEN, 1, bias=False)   # rel_y, rel_x, cell, dt, |dt|
        self.mlp = nn.Sequential(nn.ReLU(), nn.Conv2d(HIDDEN, HIDDEN, 1), nn.ReLU(),
                                 nn.Conv2d(HIDDEN, HIDDEN, 1), nn.ReLU(), nn.Conv2d(HIDDEN, BANDS + 1, 1))

    def per_date(self, codes, iy, ry, wy, ix, rx, wx, cell, dt, clear_q):
        """codes (D, HIDDEN, h, w); iy/ry/wy (2, H) int64 / float: the two LR rows around each output row,
        the query's offset from them (LR px) and their ensemble weights; the same for columns (2, W);
        cell (1,) = 1/scale; dt (D,) days from the target; clear_q (D, H, W) the dates' clear masks at the
        queries. Returns each date's residual (D, 4, H, W) in reflectance / RESIDUAL_SCALE and the dates'
        weights (D, H, W), summing to 1 over the dates."""
        d = codes.shape[0]
        H, W = iy.shape[1], ix.shape[1]
        t = (dt / DAY_SCALE).view(d, 1, 1, 1)
        out = None
        for a in range(2):
            rows = codes.index_select(2, iy[a])
            for b in range(2):
                g = rows.index_select(3, ix[b])                                   # (D, HIDDEN, H, W)
                geo = torch.stack([ry[a].view(H, 1).expand(H, W), rx[b].view(1, W).expand(H, W)])
                geo = geo.unsqueeze(0).expand(d, 2, H, W)
                rest = torch.cat([cell.view(1, 1, 1, 1).expand(d, 1, H, W), t.expand(d, 1, H, W),
                                  t.abs().expand(d, 1, H, W)], 1)
                o = self.mlp(g + self.coord(torch.cat([geo, rest], 1)))
                o = o * (wy[a].view(1, 1, H, 1) * wx[b].view(1, 1, 1, W))
                out = o if out is None else out + o
        logits = out[:, BANDS] - 30.0 * (1.0 - clear_q)
        return out[:, :BANDS], torch.softmax(logits, 0)

    def forward(self, codes, iy, ry, wy, ix, rx, wx, cell, dt, clear_q):
        """As :meth:`per_date`, with the residuals mixed by the weights: ((4, H, W), (D, H, W))."""
        residual, weights = self.per_date(codes, iy, ry, wy, ix, rx, wx, cell, dt, clear_q)
        return (residual * weights.unsqueeze(1)).sum(0), weights


class STLIIF(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()


def build() -> STLIIF:
    torch.manual_seed(0)
    return STLIIF()


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def query_tensors(h: int, w: int, scale: float):
    """The decoder's separable query arrays for an output of round(h*scale) x round(w*scale) (torch)."""
    from s2_superres.core.spacetime import query_axis  # the inference code builds the same arrays

    qy, qx = query_axis(h, scale), query_axis(w, scale)
    return tuple(torch.from_numpy(a) for a in (*qy, *qx))


def box_filter_torch(x: torch.Tensor, taps: np.ndarray) -> torch.Tensor:
    """Separable correlation of (N, C, H, W) with odd ``taps``, mirrored borders (as core.resize.box_filter)."""
    k = torch.from_numpy(np.asarray(taps, np.float32))
    r = len(taps) // 2
    n, c, hh, ww = x.shape
    x = torch.nn.functional.pad(x, (0, 0, r, r), mode="reflect") if r else x
    x = torch.nn.functional.conv2d(x.reshape(n * c, 1, *x.shape[2:]), k.view(1, 1, -1, 1)).reshape(n, c, hh, ww)
    x = torch.nn.functional.pad(x, (r, r, 0, 0), mode="reflect") if r else x
    return torch.nn.functional.conv2d(x.reshape(n * c, 1, *x.shape[2:]), k.view(1, 1, 1, -1)).reshape(n, c, hh, ww)


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(np.mean((x - y) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))
