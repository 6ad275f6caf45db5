"""Reflectance consistency between a 2.5 m result and its 10 m input.

A super-resolved tile ``x`` (C, 4h, 4w) is *consistent* with its 10 m input ``lr`` (C, h, w)
when the Wald degradation of ``x`` (core.degrade.wald_degrade: MTF Gaussian then 4x4 block mean)
gives back ``lr``. ``project`` enforces that by iterative back-projection

    x <- x + upsample_bicubic(P * (lr - wald_degrade(x, 4)), 4)

where P is a small separable LR-grid filter (a regularised inverse of the 1-D response of
wald_degrade(upsample_bicubic(.)), which is only 0.19 at the 10 m Nyquist frequency, so that
plain back-projection (P = identity, ``precondition=False``) converges very slowly for fine
detail). ``consistency_error`` reports the mean absolute difference in reflectance.

The degradation here is numerically the same as core.degrade.wald_degrade (same kernel, same
half-sample symmetric borders), computed with scipy.ndimage when available for speed.
h and w of the 10 m input should be whole (the pipeline's tiles are multiples of 6 px).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .bands import SCALE
from .degrade import wald_degrade
from .resample import correlate_axis, upsample_bicubic


def degrade(x: np.ndarray, factor: int = SCALE) -> np.ndarray:
    """The forward model the projection inverts: core.degrade.wald_degrade."""
    return wald_degrade(x, factor)


@lru_cache(maxsize=4)
def _precond_taps(factor: int = SCALE, lam: float = 0.005, taps: int = 15) -> np.ndarray:
    """1-D FIR P with response g / (g^2 + lam), g = response of wald_degrade(upsample_bicubic(.)) per axis."""
    n = 64
    imp = np.zeros((n, n), np.float32)
    imp[n // 2, n // 2] = 1.0
    resp = wald_degrade(upsample_bicubic(imp[None], factor), factor)[0]
    g = np.real(np.fft.fft(np.fft.ifftshift(resp[n // 2]) / resp[n // 2].sum() * 1.0))
    g = g / g[0]
    want = g / (g * g + lam)
    want = want / want[0]  # unit DC gain
    kern = np.fft.fftshift(np.real(np.fft.ifft(want)))
    r = taps // 2
    k = kern[n // 2 - r: n // 2 + r + 1]
    return (k / k.sum()).astype(np.float32)


def _precondition(r: np.ndarray) -> np.ndarray:
    k = _precond_taps()
    return correlate_axis(correlate_axis(r, k, r.ndim - 2), k, r.ndim - 1)


def consistency_error(x: np.ndarray, lr: np.ndarray, factor: int = SCALE) -> float:
    """Mean |wald_degrade(x, factor) - lr| (reflectance units when both are reflectance)."""
    d = degrade(x, factor)
    lr = np.asarray(lr, dtype=np.float32)
    h, w = d.shape[-2:]
    return float(np.mean(np.abs(d - lr[..., :h, :w])))


def project(x: np.ndarray, lr: np.ndarray, iterations: int = 4, precondition: bool = True,
            factor: int = SCALE) -> np.ndarray:
    """Back-project ``x`` (C, fh, fw) so that wald_degrade(x, factor) ~= ``lr`` (C, h, w)."""
    x = np.array(x, dtype=np.float32, copy=True)
    lr = np.asarray(lr, dtype=np.float32)
    h, w = lr.shape[-2] , lr.shape[-1]
    if x.shape[-2] != h * factor or x.shape[-1] != w * factor:
        raise ValueError(f"project: x {x.shape} is not {factor}x lr {lr.shape}")
    for _ in range(iterations):
        r = lr - degrade(x, factor)
        if precondition:
            r = _precondition(r)
        x += upsample_bicubic(r, factor)
    return x
