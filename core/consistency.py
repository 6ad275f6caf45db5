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
from .degrade import wald_degrade
from .resample import upsample_bicubic


def consistency_error(x: np.ndarray, lr: np.ndarray, factor: int = SCALE) -> float:
    """Mean |wald_degrade(x, factor) - lr| (reflectance units when both are reflectance)."""
    d = wald_degrade(x, factor)
    lr = np.asarray(lr, dtype=np.float32)
    h, w = d.shape[-2:]
    return float(np.mean(np.abs(d - lr[..., :h, :w])))


def project(x: np.ndarray, lr: np.ndarray, iterations: int = 4, factor: int = SCALE) -> np.ndarray:
    """Back-project ``x`` (C, fh, fw) so that wald_degrade(x, factor) ~= ``lr`` (C, h, w)."""
    x = np.array(x, dtype=np.float32, copy=True)
    lr = np.asarray(lr, dtype=np.float32)
    h, w = lr.shape[-2], lr.shape[-1]
    if x.shape[-2] != h * factor or x.shape[-1] != w * factor:
        raise ValueError(f"project: x {x.shape} is not {factor}x lr {lr.shape}")
    for _ in range(iterations):
        x += upsample_bicubic(lr - wald_degrade(x, factor), factor)
    return x
