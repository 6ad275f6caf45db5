"""Resampling kernels shared by inference, training and evaluation.

Arrays are channels-first ``(C, H, W)`` or plain ``(H, W)``; values are whatever
the caller uses (DN or reflectance): these functions are linear and unit-free.
Pixel-area convention: output pixel ``j`` of an ``f``-times upsampling has its
centre at input coordinate ``(j + 0.5) / f - 0.5`` (GDAL / ``align_corners=False``).
Image borders are handled by reflection, so a tile that touches the border is
treated exactly like the whole image.
"""
from __future__ import annotations

import numpy as np

try:  # SciPy ships with QGIS and Debian; the NumPy path below gives the same numbers
    from scipy.ndimage import correlate1d as _scipy_correlate1d
except ImportError:  # pragma: no cover
    _scipy_correlate1d = None

_A = -0.5  # Keys cubic convolution parameter, as GDAL's cubic resampling (OpenCV's INTER_CUBIC uses -0.75)


def keys_cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel (a = -0.5) at offsets ``x`` (input pixels)."""
    x = np.abs(x)
    x2, x3 = x * x, x * x * x
    near = (_A + 2) * x3 - (_A + 3) * x2 + 1
    far = _A * x3 - 5 * _A * x2 + 8 * _A * x - 4 * _A
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _upsample_axis(img: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """Bicubic upsampling by an integer factor along one axis (reflect padding).

    Each output phase is the float32 sum, tap by tap in order, of four shifted views of the padded input
    times their weights. Along the last axis the phases are summed contiguously and interleaved once at
    the end; along another axis they are summed in place in their (row-strided) slice of the output."""
    n = img.shape[axis]
    pad = 2
    width = [(0, 0)] * img.ndim
    width[axis] = (pad, pad)
    padded = np.pad(img, width, mode="symmetric")
    out_shape = list(img.shape)
    out_shape[axis] = n * factor
    last = axis == img.ndim - 1
    out = np.empty((factor,) + img.shape if last else out_shape, dtype=np.float32)
    tmp = np.empty(img.shape, dtype=np.float32)

    def along(index: slice) -> tuple[slice, ...]:
        full = [slice(None)] * img.ndim
        full[axis] = index
        return tuple(full)

    for phase in range(factor):
        pos = (phase + 0.5) / factor - 0.5           # offset from the input pixel centre
        base = int(np.floor(pos))
        frac = pos - base
        weights = keys_cubic(np.array([frac + 1, frac, frac - 1, frac - 2]))
        acc = out[phase] if last else out[along(slice(phase, None, factor))]
        for k, w in enumerate(weights):
            start = pad + base - 1 + k
            part = padded[along(slice(start, start + n))]
            if k == 0:
                np.multiply(part, np.float32(w), out=acc)
            else:
                np.multiply(part, np.float32(w), out=tmp)
                acc += tmp
    return np.moveaxis(out, 0, -1).reshape(out_shape) if last else out


def upsample_bicubic(img: np.ndarray, factor: int) -> np.ndarray:
    """Upsample the last two axes by an integer ``factor`` with Keys bicubic (a = -0.5)."""
    img = np.asarray(img, dtype=np.float32)
    if factor == 1:
        return img.copy()
    return _upsample_axis(_upsample_axis(img, factor, img.ndim - 2), factor, img.ndim - 1)


def block_average(img: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor x factor`` blocks (trailing rows/cols that do not fill a block are dropped)."""
    img = np.asarray(img, dtype=np.float32)
    h, w = img.shape[-2] // factor, img.shape[-1] // factor
    cut = img[..., : h * factor, : w * factor]
    return cut.reshape(*img.shape[:-2], h, factor, w, factor).mean(axis=(-3, -1))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian kernel, radius ceil(3 sigma); ``sigma`` in pixels."""
    radius = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def correlate_axis(img: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``img`` with the centred, odd-length 1-D ``kernel`` along ``axis``, mirror padding."""
    img = np.asarray(img, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    if _scipy_correlate1d is not None:
        return _scipy_correlate1d(img, kernel, axis=axis, mode="reflect")
    r, n = len(kernel) // 2, img.shape[axis]
    width = [(0, 0)] * img.ndim
    width[axis] = (r, r)
    padded = np.pad(img, width, mode="symmetric")
    acc = np.zeros_like(img)
    for k, w in enumerate(kernel):
        acc += np.take(padded, np.arange(k, k + n), axis=axis) * w
    return acc


def decimate_axis(img: np.ndarray, kernel: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """``correlate_axis(img, kernel, axis)`` (mirror borders) followed by the mean of each run of ``factor``
    samples along ``axis`` (a trailing part run is dropped), computed only where a run starts: one filter of
    len(kernel) + factor - 1 taps, summed in float32."""
    img = np.asarray(img, dtype=np.float32)
    r, n = len(kernel) // 2, img.shape[axis] // factor
    taps = (np.convolve(np.asarray(kernel, np.float64), np.ones(factor)) / factor).astype(np.float32)
    width = [(0, 0)] * img.ndim
    width[axis] = (r, r)
    padded = np.pad(img, width, mode="symmetric")
    shape = list(img.shape)
    shape[axis] = n
    out, tmp = np.empty(shape, np.float32), np.empty(shape, np.float32)
    index = [slice(None)] * img.ndim
    for m, w in enumerate(taps):
        index[axis] = slice(m, m + factor * (n - 1) + 1, factor)
        if m == 0:
            np.multiply(padded[tuple(index)], w, out=out)
        else:
            np.multiply(padded[tuple(index)], w, out=tmp)
            out += tmp
    return out


def gaussian_blur(img: np.ndarray, sigma: float | tuple[float, float]) -> np.ndarray:
    """Separable Gaussian blur of the last two axes, mirror padding; ``sigma`` in pixels, or (sigma_y, sigma_x)."""
    img = np.asarray(img, dtype=np.float32)
    sy, sx = sigma if isinstance(sigma, tuple) else (sigma, sigma)
    out = img
    for axis, s in ((img.ndim - 2, sy), (img.ndim - 1, sx)):
        if s > 0:
            out = correlate_axis(out, gaussian_kernel(s), axis)
    return out if out is not img else img.copy()


#: separable anti-imaging taps on the 2.5 m grid: zeros at 1/4, 1/2 and 3/4 cycle per pixel in each axis (every
#: multiple of the 10 m sampling frequency), gain 1 at 0 and about 0.65 at the 10 m Nyquist frequency; the same
#: filter the sr10 2.x network applies inside its graph (training/sr10_model.ANTI_IMAGE_TAPS)
ANTI_IMAGE_TAPS = np.array([0.125, 0.25, 0.25, 0.25, 0.125], dtype=np.float32)


def anti_image(img: np.ndarray) -> np.ndarray:
    """Remove what a x4 (or x2) upsampling images onto the lattice frequencies of the coarse grid: the
    checkerboard a pixel shuffle draws (mirror borders)."""
    out = correlate_axis(img, ANTI_IMAGE_TAPS, np.ndim(img) - 2)
    return correlate_axis(out, ANTI_IMAGE_TAPS, np.ndim(img) - 1)
