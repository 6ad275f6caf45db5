"""Reflectance consistency between a 2.5 m result and its 10 m input, without adding energy.

A super-resolved tile ``x`` (C, 4h, 4w) is *consistent* with its 10 m input ``lr`` (C, h, w)
when the sensor model (core.degrade.wald_degrade, the blur fitted to real Sentinel-2) applied to
``x`` gives back ``lr``. ``project`` enforces it by plain back-projection through that forward model

    x <- x + upsample_bicubic(lr - wald_degrade(x, 4), 4)

with no preconditioner. Each pass removes the fraction g(f) of the residual at frequency f, where
g <= 1 is the response of wald_degrade(upsample_bicubic(.)): the residual well below the 10 m
Nyquist frequency vanishes in a few passes, near Nyquist it shrinks slowly, and nothing is ever
amplified (a preconditioner g / (g^2 + lambda) would multiply the Nyquist residual several times
and put a 10 m rhythm into the result). ``consistency_error`` reports the mean absolute difference
in the unit of the inputs.

h and w of the 10 m input should be whole (the pipeline's tiles are multiples of 6 px).
"""
from __future__ import annotations

import numpy as np

from .bands import SCALE
from .degrade import DEFAULT_K, sensor_sigma, wald_degrade
from .resample import gaussian_kernel, upsample_bicubic


def consistency_error(x: np.ndarray, lr: np.ndarray, factor: int = SCALE) -> float:
    """Mean |wald_degrade(x, factor) - lr| (reflectance units when both are reflectance)."""
    d = wald_degrade(x, factor)
    lr = np.asarray(lr, dtype=np.float32)
    h, w = d.shape[-2:]
    return float(np.mean(np.abs(d - lr[..., :h, :w])))


def project(x: np.ndarray, lr: np.ndarray, iterations: int = 4, factor: int = SCALE,
            keep: tuple[int, int, int, int] | None = None, k: float = DEFAULT_K) -> np.ndarray:
    """Back-project ``x`` (C, fh, fw) so that wald_degrade(x, factor, k) ~= ``lr`` (C, h, w); ``k`` is the
    sensor model's blur (core.degrade.k_for_grid of the grid of ``lr``).

    ``keep`` (row, col, rows, cols of ``lr``): only the window ``keep`` grown by ``reach(factor)`` pixels per
    pass is projected, which gives the same result on ``keep`` (bit for bit: the operators are local and computed
    pixel by pixel); outside that window ``x`` is returned as it came."""
    x = np.array(x, dtype=np.float32, copy=True)
    lr = np.asarray(lr, dtype=np.float32)
    h, w = lr.shape[-2], lr.shape[-1]
    if x.shape[-2] != h * factor or x.shape[-1] != w * factor:
        raise ValueError(f"project: x {x.shape} is not {factor}x lr {lr.shape}")
    if keep is not None:
        grow = reach(factor, k) * iterations
        r0, c0 = max(0, keep[0] - grow), max(0, keep[1] - grow)
        r1, c1 = min(h, keep[0] + keep[2] + grow), min(w, keep[1] + keep[3] + grow)
        if (r0, c0, r1, c1) != (0, 0, h, w):
            window = (..., slice(r0 * factor, r1 * factor), slice(c0 * factor, c1 * factor))
            x[window] = project(x[window], lr[..., r0:r1, c0:c1], iterations, factor, k=k)
            return x
    for _ in range(iterations):
        x += upsample_bicubic(lr - wald_degrade(x, factor, k), factor)
    return x


def reach(factor: int = SCALE, k: float = DEFAULT_K) -> int:
    """Coarse pixels by which one back-projection pass spreads a difference: the residual at a coarse pixel
    reads the fine result as far as the blur radius plus the block reach (2 for x4: 5 fine pixels of blur),
    and the bicubic upsampling of the residual reads 2 coarse pixels each side."""
    radius = len(gaussian_kernel(sensor_sigma(factor, k))) // 2
    return max(-(-radius // factor), (factor - 1 + radius) // factor) + 2
