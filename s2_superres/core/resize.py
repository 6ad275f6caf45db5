"""Resampling between grids at any rational scale, as separable matrices.

The output pixel size of a run is 60 m / n (10 m down to 2 m), so the factor between the 10 m grid
and the output grid is ``n / 6``: not always an integer. Everything here works for any positive
:class:`fractions.Fraction` ``scale`` = output pixels per input pixel along an axis (> 1 upsamples,
< 1 downsamples). Both grids share their top-left corner (the 60 m lattice); output pixel ``j`` has
its centre at input coordinate ``(j + 0.5) / scale - 0.5`` (GDAL's pixel-area convention, as
core.resample). Borders are mirrored (half-sample symmetric, as numpy's "symmetric" padding), so a
tile that touches the image border is treated as the whole image would be.

Each operator is a sparse (n_out, n_in) matrix per axis (a few taps per row), applied as
``My @ img @ Mx.T``. Values pass through unchanged in unit.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import erf, sqrt

import numpy as np
from scipy import sparse

from .resample import correlate_axis, keys_cubic

#: sub-samples per input pixel when a sensor point-spread function is integrated over a pixel
_PSF_SUBSAMPLES = 16


def as_scale(value: Fraction | float | int) -> Fraction:
    """``value`` as an exact fraction (floats are rounded to the nearest fraction with denominator <= 60)."""
    return value if isinstance(value, Fraction) else Fraction(value).limit_denominator(60)


def out_size(n_in: int, scale: Fraction | float | int) -> int:
    """Whole output pixels that fit on ``n_in`` input pixels at ``scale`` (partial pixels are dropped)."""
    return int(n_in * as_scale(scale))


def fold_index(index: np.ndarray, n: int) -> np.ndarray:
    """Half-sample symmetric reflection of integer indices into [0, n)."""
    period = 2 * n
    i = np.mod(index, period)
    return np.where(i < n, i, period - 1 - i)


def _scatter(rows: int, n_in: int, taps_index: np.ndarray, taps_weight: np.ndarray) -> sparse.csr_matrix:
    """A sparse (rows, n_in) float32 matrix from per-row tap indices (possibly outside [0, n_in)) and weights;
    taps that fold onto the same input pixel are summed."""
    r = np.repeat(np.arange(rows), taps_index.shape[1])
    m = sparse.coo_matrix((taps_weight.ravel(), (r, fold_index(taps_index.ravel(), n_in))), shape=(rows, n_in))
    return m.tocsr().astype(np.float32)


@lru_cache(maxsize=64)
def cubic_matrix(n_in: int, scale: Fraction) -> sparse.csr_matrix:
    """(n_out, n_in) Keys bicubic (a = -0.5) interpolation at ``scale`` > 0 (upsampling; for scale < 1 it
    samples without prefiltering, use :func:`sensor_matrix` to model a coarser sensor)."""
    n_out = out_size(n_in, scale)
    pos = (np.arange(n_out) + 0.5) / float(scale) - 0.5
    base = np.floor(pos).astype(int)
    idx = base[:, None] + np.arange(-1, 3)[None, :]
    w = keys_cubic(pos[:, None] - idx)
    return _scatter(n_out, n_in, idx, w)


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))


@lru_cache(maxsize=64)
def sensor_matrix(n_in: int, factor: Fraction, k: float) -> sparse.csr_matrix:
    """(n_out, n_in) sensor model onto a grid ``factor`` (>= 1) times coarser: each coarse pixel integrates
    a box of ``factor`` fine pixels convolved with a Gaussian of sigma = ``k * factor`` fine pixels
    (core.degrade's model, for any rational factor). Rows sum to 1."""
    f = float(factor)
    n_out = int(n_in / factor)
    sigma = max(k * f, 1e-6)
    radius = int(np.ceil(f / 2 + 4 * sigma)) + 1
    centre = (np.arange(n_out) + 0.5) * f                       # coarse pixel centres in fine coordinates
    first = np.floor(centre - radius).astype(int)
    idx = first[:, None] + np.arange(2 * radius + 1)[None, :]
    sub = (np.arange(_PSF_SUBSAMPLES) + 0.5) / _PSF_SUBSAMPLES  # positions inside a fine pixel
    x = idx[:, :, None] + sub[None, None, :] - centre[:, None, None]
    psf = (_phi((x + f / 2) / sigma) - _phi((x - f / 2) / sigma)).mean(axis=2)
    w = psf / psf.sum(axis=1, keepdims=True)
    return _scatter(n_out, n_in, idx, w)


def apply_separable(img: np.ndarray, rows: sparse.csr_matrix, cols: sparse.csr_matrix) -> np.ndarray:
    """``rows @ img @ cols.T`` over the last two axes of ``img`` (float32), leading axes kept."""
    img = np.asarray(img, dtype=np.float32)
    lead, (h, w) = img.shape[:-2], img.shape[-2:]
    flat = img.reshape(-1, h, w)
    n = flat.shape[0]
    tall = rows @ np.moveaxis(flat, 1, 0).reshape(h, n * w)                 # (H, n * w)
    out = (cols @ tall.reshape(-1, w).T).T                                  # (H * n, W)
    hh, ww = rows.shape[0], cols.shape[0]
    return np.ascontiguousarray(np.moveaxis(out.reshape(hh, n, ww), 0, 1).reshape(*lead, hh, ww), dtype=np.float32)


def resize_cubic(img: np.ndarray, scale: Fraction | float | int) -> np.ndarray:
    """Keys bicubic resampling of the last two axes to ``scale`` output pixels per input pixel."""
    s = as_scale(scale)
    h, w = np.shape(img)[-2:]
    return apply_separable(img, cubic_matrix(h, s), cubic_matrix(w, s))


def sensor_degrade(img: np.ndarray, factor: Fraction | float | int, k: float) -> np.ndarray:
    """What the sensor would record on a grid ``factor`` times coarser (Gaussian k * factor fine pixels,
    then the pixel box), for any rational ``factor`` >= 1; k as core.degrade.SENSOR_K."""
    f = as_scale(factor)
    h, w = np.shape(img)[-2:]
    return apply_separable(img, sensor_matrix(h, f, float(k)), sensor_matrix(w, f, float(k)))


def box_taps(width: Fraction | float | int) -> np.ndarray:
    """Odd taps of a box ``width`` pixels wide integrated over each pixel (sum 1): zero response at every
    multiple of 1/``width`` cycles per pixel, the lattice frequencies of a grid ``width`` times coarser.
    For width 4 these are core.resample.ANTI_IMAGE_TAPS."""
    half = float(width) / 2
    r = int(np.ceil(half - 0.5))
    k = np.arange(-r, r + 1, dtype=np.float64)
    overlap = np.clip(np.minimum(k + 0.5, half) - np.maximum(k - 0.5, -half), 0, None)
    return (overlap / overlap.sum()).astype(np.float32)


def box_filter(img: np.ndarray, width: Fraction | float | int) -> np.ndarray:
    """The anti-imaging box of :func:`box_taps` along the last two axes (mirrored borders)."""
    taps = box_taps(width)
    out = correlate_axis(img, taps, np.ndim(img) - 2)
    return correlate_axis(out, taps, np.ndim(img) - 1)
