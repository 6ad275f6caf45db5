"""The sensor model: what Sentinel-2 would record on a grid ``factor`` times coarser.

A Gaussian blur of sigma = k * factor fine pixels followed by ``factor x factor`` block averaging
(the detector aperture). The blur k is *fitted to real data*: training/fit_sensor.py degrades a
real band to the grid of a spectrally close coarser band of the same acquisition (B08 -> B8A at
20 m; B02 -> B01 and B8A -> B09 at 60 m) and records the best k per scene in
training/sensor_model.json. ``SENSOR_K`` holds the medians over the scenes, by the grid of the
coarser band; the x4 degradation of the 10 m bands (10 -> 40 m) uses the 20 m value (the same
relative blur, scale invariance). ``EVAL_K`` are the degradations every evaluation reports: the
fitted one and a sharper and a blurrier one that the models are not trained with. Units pass
through unchanged.
"""
from __future__ import annotations

import numpy as np

from .resample import decimate_axis, gaussian_kernel

#: fitted blur k (sigma / factor) by the native grid (metres) of the coarser band; see the module docstring
SENSOR_K = {20: 0.35, 60: 0.40}
#: the k used for a degradation of a given factor when no grid is named: the 20 m fit
DEFAULT_K = SENSOR_K[20]
#: degradations reported by evaluation: the fit, and two the models were not trained with
EVAL_K = {"fitted": DEFAULT_K, "sharper": 0.25, "blurrier": 0.50}


def sensor_sigma(factor: int, k: float = DEFAULT_K) -> float:
    """Gaussian sigma in fine pixels of the sensor model for a ``factor`` times coarser grid."""
    return k * factor


def wald_degrade(img: np.ndarray, factor: int, k: float = DEFAULT_K) -> np.ndarray:
    """Blur with sigma = ``k * factor`` fine pixels, then average ``factor x factor`` blocks."""
    if factor == 1:
        return np.asarray(img, dtype=np.float32).copy()
    img = np.asarray(img, dtype=np.float32)
    return degrade_axis(degrade_axis(img, factor, img.ndim - 2, k), factor, img.ndim - 1, k)


def degrade_axis(img: np.ndarray, factor: int, axis: int, k: float = DEFAULT_K) -> np.ndarray:
    """wald_degrade along one ``axis`` only. The blur and the block mean are one decimating filter (the
    Gaussian convolved with the block mean, evaluated only where a block starts): the blur-then-average with
    mirror borders up to float rounding, several times faster."""
    return decimate_axis(img, gaussian_kernel(sensor_sigma(factor, k)), factor, axis)


def k_for_grid(native_m: int) -> float:
    """Fitted k for degrading onto the native grid ``native_m`` (10 m group: the 20 m fit)."""
    return SENSOR_K.get(native_m, DEFAULT_K)
