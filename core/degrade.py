"""Wald-protocol degradation: what a sensor with ``factor`` times coarser pixels would see.

An MTF-matched Gaussian (its response at the coarse grid's Nyquist frequency equals the
sensor MTF there, about 0.3 for Sentinel-2) followed by block averaging, as in DSen2 Sec. 4.1
and the pansharpening literature (Aiazzi et al.). Units pass through unchanged.
"""
from __future__ import annotations

import math

import numpy as np

from .resample import block_average, gaussian_blur

MTF_AT_NYQUIST = 0.3


def mtf_sigma(factor: int, mtf: float = MTF_AT_NYQUIST) -> float:
    """Gaussian sigma in fine pixels whose gain at the coarse Nyquist frequency ``1/(2*factor)`` equals ``mtf``."""
    return factor / math.pi * math.sqrt(-2.0 * math.log(mtf))


def wald_degrade(img: np.ndarray, factor: int, mtf: float = MTF_AT_NYQUIST) -> np.ndarray:
    """Blur with the MTF-matched Gaussian, then average ``factor x factor`` blocks."""
    if factor == 1:
        return np.asarray(img, dtype=np.float32).copy()
    return block_average(gaussian_blur(img, mtf_sigma(factor, mtf)), factor)
