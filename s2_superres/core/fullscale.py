"""Full-scale fidelity of a 2.5 m result on real, undegraded input: what the image itself shows.

There is no 2.5 m ground truth, so these statistics compare a result with its own input and with
bicubic run the same way. Every function takes one band: ``out`` (H, W) at 2.5 m and ``native``
(h, w) the input band on its own grid, ``factor`` = native pixel / 2.5 m (4, 8 or 24), both
reflectance.

* ``lattice_ratio``: power of ``out`` at the 10 m lattice frequencies (every non-zero multiple of
  1/4 cycle per 2.5 m pixel, where the phases of a x4 pixel shuffle repeat) divided by the median
  power of the surrounding frequencies, both plus the power of white noise of VISIBLE_AMPLITUDE
  (1 DN). A checkerboard stands out; where an image has almost no power (the diagonal frequencies of
  a smooth result) the floor keeps the ratio near 1 instead of measuring rounding noise (the README
  has the figures). Compare a result with bicubic run the same way.
* ``highpass_std``: standard deviation of ``out - Gaussian(out, 2 px)`` (reflectance).
* ``slope_ratio``: power of ``out`` above the input's Nyquist frequency divided by the power a
  power law fitted to the input's own spectrum (between a quarter and three quarters of its Nyquist)
  predicts there.
* ``overshoot``: mean amount (reflectance) by which ``out`` leaves the range [min, max] of the input
  pixels around it (3 x 3 native pixels): haloes and ringing at edges, but also true detail finer
  than a native pixel.
* ``consistency``: mean |wald_degrade(out, factor) - native| (reflectance).

What a true image shows on these statistics is not 0 or 1: ``real_image_reference`` describes a real
band against its own degradation by the sensor model (a real 10 m band is to its 40 m version what a
true 2.5 m image would be to the 10 m input), the yardstick beside bicubic.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter

from .degrade import k_for_grid, wald_degrade
from .resample import gaussian_blur

BORDER = 8  # native pixels left out at every edge (tile borders of the compared arrays)


def _power(x: np.ndarray) -> np.ndarray:
    """Periodogram of a Hann-windowed, mean-removed 2-D array (fftshift-ed: zero frequency at the centre)."""
    h, w = x.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    return np.fft.fftshift(np.abs(np.fft.fft2((x - x.mean()) * win)) ** 2)


#: reflectance of the weakest lattice counted by ``lattice_ratio``: 1 DN, below a grey level at any usual stretch
VISIBLE_AMPLITUDE = 1e-4


def lattice_ratio(out: np.ndarray) -> float:
    """Mean over the 10 m lattice frequencies of (power + floor) / (median power of a 9 x 9 neighbourhood around
    it + floor), floor = the power of white noise of VISIBLE_AMPLITUDE (reflectance) in this periodogram."""
    out = np.asarray(out, dtype=np.float64)
    h, w = (s // 8 * 8 for s in out.shape)
    spec = _power(out[:h, :w])
    floor = VISIBLE_AMPLITUDE ** 2 * float((np.hanning(h) ** 2).sum() * (np.hanning(w) ** 2).sum())
    cy, cx = h // 2, w // 2
    ratios = []
    for fy in (-2, -1, 0, 1):
        for fx in (-2, -1, 0, 1):
            if fy == fx == 0:
                continue
            py, px = cy + fy * h // 4, cx + fx * w // 4
            ys = np.arange(py - 4, py + 5) % h
            xs = np.arange(px - 4, px + 5) % w
            hood = spec[np.ix_(ys, xs)].copy()
            peak = hood[3:6, 3:6].max()
            hood[3:6, 3:6] = np.nan
            ratios.append((peak + floor) / (np.nanmedian(hood) + floor))
    return float(np.mean(ratios))


def highpass_std(out: np.ndarray) -> float:
    """Std of the detail finer than a 2-pixel Gaussian (reflectance)."""
    out = np.asarray(out, dtype=np.float32)
    return float(np.std((out - gaussian_blur(out, 2.0))[4 * BORDER:-4 * BORDER, 4 * BORDER:-4 * BORDER]))


def _radial(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(radial frequency in cycles per pixel, power) of every bin of a centred periodogram."""
    h, w = spec.shape
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    return np.hypot(*np.meshgrid(fy, fx, indexing="ij")).ravel(), spec.ravel()


def slope_ratio(out: np.ndarray, native: np.ndarray, factor: int) -> float:
    """Power of ``out`` beyond the input's Nyquist over a power law fitted to the input's spectrum."""
    f_in, p_in = _radial(_power(np.asarray(native, dtype=np.float64)))
    sel = (f_in > 0.125) & (f_in < 0.375) & (p_in > 0)
    slope, intercept = np.polyfit(np.log(f_in[sel]), np.log(p_in[sel]), 1)
    f_out, p_out = _radial(_power(np.asarray(out, dtype=np.float64)))
    f_native = f_out * factor                     # the same frequencies in cycles per native pixel
    band = (f_native > 0.5) & (f_out <= 0.5)
    # a native-grid periodogram bin holds factor^2 times less area than a 2.5 m one for the same image,
    # and the 2.5 m image has factor^2 as many pixels: predicted 2.5 m power = law * factor^4
    predicted = np.exp(intercept) * f_native[band] ** slope * factor ** 4
    return float(p_out[band].sum() / predicted.sum())


def overshoot(out: np.ndarray, native: np.ndarray, factor: int) -> float:
    """Mean distance (reflectance) of ``out`` outside the [min, max] of the 3 x 3 native pixels around it."""
    native = np.asarray(native, dtype=np.float32)
    hi = np.repeat(np.repeat(maximum_filter(native, 3, mode="nearest"), factor, 0), factor, 1)
    lo = np.repeat(np.repeat(minimum_filter(native, 3, mode="nearest"), factor, 0), factor, 1)
    out = np.asarray(out, dtype=np.float32)[: hi.shape[0], : hi.shape[1]]
    b = BORDER * factor
    hi, lo = hi[: out.shape[0], : out.shape[1]], lo[: out.shape[0], : out.shape[1]]
    excess = np.maximum(out - hi, 0) + np.maximum(lo - out, 0)
    return float(excess[b:-b, b:-b].mean())


def consistency(out: np.ndarray, native: np.ndarray, factor: int, native_m: int) -> float:
    """Mean |sensor model(out) - native| (reflectance), without a border of BORDER native pixels."""
    est = wald_degrade(np.asarray(out, dtype=np.float32), factor, k_for_grid(native_m))
    ref = np.asarray(native, dtype=np.float32)[: est.shape[0], : est.shape[1]]
    est = est[: ref.shape[0], : ref.shape[1]]
    return float(np.abs(est - ref)[BORDER:-BORDER, BORDER:-BORDER].mean())


def band_report(out: np.ndarray, native: np.ndarray, factor: int, native_m: int) -> dict[str, float]:
    """All full-scale statistics of one band (reflectance where they have a unit)."""
    return {"lattice_ratio": lattice_ratio(out), "highpass_std": highpass_std(out),
            "slope_ratio": slope_ratio(out, native, factor), "overshoot": overshoot(out, native, factor),
            "consistency": consistency(out, native, factor, native_m)}


def real_image_reference(native: np.ndarray, factor: int, native_m: int) -> dict[str, float]:
    """The statistics of a true image ``factor`` times finer than its input: the real band ``native`` (H, W,
    reflectance) described against its own degradation by the fitted sensor model of grid ``native_m``
    (consistency is 0 by construction, and the lattice ratio would describe the real band's own pixel grid, not
    scene detail: both are left out). H and W should be multiples of ``factor``."""
    native = np.asarray(native, dtype=np.float32)
    low = wald_degrade(native, factor, k_for_grid(native_m))
    return {"highpass_std": highpass_std(native), "slope_ratio": slope_ratio(native, low, factor),
            "overshoot": overshoot(native, low, factor)}
