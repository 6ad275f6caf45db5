"""The space-time super-resolution model "stliif" at inference: any output pixel size, several dates.

The model (trained by training/train_stliif.py, after Temporal LIIF) comes as two ONNX graphs:
``stliif_encoder`` maps every date's 10 m bands [B02, B03, B04, B08] (reflectance) and clear mask to
codes on the 10 m grid; ``stliif_decoder`` maps the codes to a residual over bicubic and a weight
per date for each output pixel, queried at the output pixel centres with the cell size and each
date's time offset from the target. This module composes them:

    output = sum_d w_d * bicubic_d + box(sum_d w_d * residual_d)   (then back-projected, observed dates only)

``box`` is the anti-imaging filter of one 10 m pixel (core.resize.box_filter); the back-projection
makes the result agree with the observed target date through the fitted sensor model
(core.resize.sensor_degrade) without amplifying anything, as core.consistency does at x4.
Scales are output pixels per 10 m pixel (10 / pixel size in metres).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .degrade import DEFAULT_K
from .resize import as_scale, fold_index, out_size, resize_cubic, sensor_degrade

#: output rows decoded per call of the decoder graph (memory: about 5 x 48 floats per output pixel and date)
DECODE_ROWS = 96
#: back-projection passes onto the observed target date
PROJECTION_PASSES = 4


def query_axis(n_lr: int, scale: Fraction | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the output pixels along one axis of an ``n_lr``-pixel LR axis at ``scale``: the two LR pixels
    around each output centre (2, N) int64 (mirrored into [0, n_lr)), the centre's offset from them in LR
    pixels (2, N) float32, and their local-ensemble weights (2, N) float32 (bilinear, summing to 1)."""
    s = as_scale(scale)
    n = out_size(n_lr, s)
    u = (np.arange(n) + 0.5) / float(s) - 0.5
    i0 = np.floor(u).astype(np.int64)
    idx = np.stack([i0, i0 + 1])
    rel = (u[None, :] - idx).astype(np.float32)
    frac = (u - i0).astype(np.float32)
    return fold_index(idx, n_lr).astype(np.int64), rel, np.stack([1 - frac, frac])


def nearest_mask(mask: np.ndarray, scale: Fraction | float) -> np.ndarray:
    """A (..., h, w) mask on the output grid at ``scale``: each output pixel takes the LR pixel it lies in."""
    s = as_scale(scale)
    h, w = mask.shape[-2:]
    rows = np.minimum((np.arange(out_size(h, s)) / float(s)).astype(int), h - 1)
    cols = np.minimum((np.arange(out_size(w, s)) / float(s)).astype(int), w - 1)
    return mask[..., rows[:, None], cols[None, :]]


def project(x: np.ndarray, lr: np.ndarray, scale: Fraction, passes: int = PROJECTION_PASSES,
            k: float = DEFAULT_K) -> np.ndarray:
    """Back-project ``x`` (C, H, W) onto the observation ``lr`` (C, h, w) through the sensor model:
    x <- x + bicubic(lr - sensor(x)); no preconditioner, so no frequency is amplified."""
    x = np.array(x, np.float32, copy=True)
    for _ in range(passes):
        x += resize_cubic(lr - sensor_degrade(x, scale, k), scale)[..., : x.shape[-2], : x.shape[-1]]
    return x
