"""Date-to-date registration: how far one acquisition of a tile sits from another, to a fraction of a pixel.

Two Sentinel-2 acquisitions of one MGRS tile share the tile's grid, but their ground can be off by a
fraction of a 10 m pixel (multi-temporal registration of the archive: typically < 0.3 px since 2019,
more before). A method that combines dates must first move each date onto the reference date.

Measurement (:func:`measure`): both images are reduced to their high-pass detail (the image minus a
Gaussian blur of sigma ``HIGH_PASS_SIGMA`` px, so brightness changes between dates do not count),
masked where either date does not see the ground (clouds, shadows, nodata: the mask is grown by the
blur's reach), tapered with a Hann window, and phase-correlated over spatial frequencies below
``FREQ_MAX`` cycles/px (above it, interpolation and aliasing pull the phase towards whole pixels: on
real data shifted with GDAL's cubic warp the full band is off by up to 0.15 px, the limited band by
0.03 px); the integer peak is refined to
1/``UPSAMPLE`` px by a matrix-multiply DFT of the cross-power spectrum around it (Guizar-Sicairos et
al., Opt. Lett. 33(2), 2008). The score is the correlation of the two detail images once aligned.

Convention: ``(dy, dx)`` is where ``mov``'s content lies relative to ``ref``'s, in pixels (rows down,
columns right): ``mov ≈ shift_image(ref, dy, dx)``, so ``shift_image(mov, -dy, -dx)`` registers ``mov``
onto ``ref``. ``shift_image`` is core.coregister's (Keys cubic, mirrored borders).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clouds import grow
from .coregister import shift_image
from .resample import gaussian_blur

__all__ = ["Offset", "measure", "measure_offset", "register", "shift_image"]

HIGH_PASS_SIGMA = 2.0   # px: the blur removed from both images before correlating
UPSAMPLE = 100          # sub-pixel refinement: 1/UPSAMPLE px
FREQ_MAX = 0.25         # cycles/px: highest spatial frequency correlated
MAX_OFFSET = 5.0        # px: larger offsets are not dates of one tile (refused by build_stack)
MIN_VALID = 0.2         # fraction of the window that both dates must see
MIN_SCORE = 0.2         # detail correlation below this: the offset is not trusted (left at zero)


@dataclass(frozen=True)
class Offset:
    """Offset (rows, columns; pixels) of one image's content from another's, and how well they then match
    (``score``: correlation of the aligned detail, None when nothing could be measured)."""

    dy: float = 0.0
    dx: float = 0.0
    score: float | None = None

    @property
    def trusted(self) -> bool:
        """True when the measurement can be applied (enough common detail)."""
        return self.score is not None and self.score >= MIN_SCORE

    def describe(self) -> str:
        """E.g. "dy +0.120, dx -0.310 px (correlation 0.83)"."""
        if self.score is None:
            return "not measured"
        return f"dy {self.dy:+.3f}, dx {self.dx:+.3f} px (correlation {self.score:.2f})"


def measure_offset(ref: np.ndarray, mov: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(dy, dx) in pixels of ``mov``'s content relative to ``ref`` (both (H, W), same grid); ``mask`` (H, W)
    True where both see the ground. (0, 0) when it cannot be measured."""
    found = measure(ref, mov, mask)
    return (found.dy, found.dx) if found.trusted else (0.0, 0.0)


def register(img: np.ndarray, offset: Offset) -> np.ndarray:
    """``img`` (..., H, W) moved back by a trusted ``offset`` (onto the reference); unchanged otherwise."""
    if not offset.trusted or not (offset.dy or offset.dx):
        return np.asarray(img, np.float32)
    return shift_image(img, -offset.dy, -offset.dx)


def measure(ref: np.ndarray, mov: np.ndarray, mask: np.ndarray | None = None) -> Offset:
    """The sub-pixel offset of ``mov`` from ``ref`` and its score (see the module docstring)."""
    ref, mov = np.asarray(ref, np.float64), np.asarray(mov, np.float64)
    valid = np.isfinite(ref) & np.isfinite(mov)
    if mask is not None:
        valid &= np.asarray(mask, bool)
    if ref.shape != mov.shape or min(ref.shape) < 32 or valid.mean() < MIN_VALID:
        return Offset()
    a, b = _detail(ref, valid), _detail(mov, valid)
    if not (a.std() > 0 and b.std() > 0):
        return Offset()
    taper = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    cross = np.fft.fft2(a * taper) * np.conj(np.fft.fft2(b * taper))
    cross /= np.maximum(np.abs(cross), 1e-12 * np.abs(cross).max())
    fy, fx = np.abs(np.fft.fftfreq(a.shape[0], 1.0))[:, None], np.abs(np.fft.fftfreq(a.shape[1], 1.0))[None, :]
    cross *= (fy < FREQ_MAX) & (fx < FREQ_MAX)
    surface = np.fft.ifft2(cross).real
    peak = np.array(np.unravel_index(int(np.argmax(surface)), surface.shape), float)
    size = np.array(surface.shape)
    peak[peak > size // 2] -= size[peak > size // 2]
    dy, dx = -_refine(cross, peak)
    if max(abs(dy), abs(dx)) > MAX_OFFSET:
        return Offset(float(dy), float(dx), None)
    return Offset(float(dy), float(dx), _score(a, b, dy, dx))


def _detail(img: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """High-pass detail of ``img`` normalised to unit std, zero where not ``valid`` (grown by the blur)."""
    filled = np.where(valid, img, img[valid].mean() if valid.any() else 0.0).astype(np.float32)
    detail = filled - gaussian_blur(filled, HIGH_PASS_SIGMA)
    reach = int(np.ceil(2 * HIGH_PASS_SIGMA))
    keep = ~grow(~valid, reach)
    detail = np.where(keep, detail, 0.0).astype(np.float64)
    std = detail[keep].std() if keep.any() else 0.0
    return detail / std if std > 0 else detail


def _refine(cross: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """The correlation peak near ``peak`` (integer, signed) to 1/UPSAMPLE px, by an upsampled DFT of
    ``cross`` over a 1.5 px neighbourhood."""
    region = int(np.ceil(UPSAMPLE * 1.5))
    centre = np.fix(region / 2.0)
    start = centre - np.round(peak * UPSAMPLE)
    surface = np.abs(_upsampled_dft(np.conj(cross), region, UPSAMPLE, start))
    best = np.array(np.unravel_index(int(np.argmax(surface)), surface.shape), float)
    return np.round(peak * UPSAMPLE) / UPSAMPLE + (best - centre) / UPSAMPLE


def _upsampled_dft(data: np.ndarray, region: int, factor: int, start: np.ndarray) -> np.ndarray:
    """Inverse DFT of ``data`` on a ``region`` x ``region`` grid of step 1/``factor`` px whose first sample is
    ``start`` (in upsampled pixels), by two matrix products."""
    rows, cols = data.shape
    col_kernel = np.exp((-2j * np.pi / (cols * factor)) *
                        np.outer(np.fft.ifftshift(np.arange(cols)) - cols // 2, np.arange(region) - start[1]))
    row_kernel = np.exp((-2j * np.pi / (rows * factor)) *
                        np.outer(np.arange(region) - start[0], np.fft.ifftshift(np.arange(rows)) - rows // 2))
    return row_kernel @ data @ col_kernel


def _score(a: np.ndarray, b: np.ndarray, dy: float, dx: float) -> float:
    """Correlation of the detail ``a`` with ``b`` moved back by (dy, dx), away from the borders."""
    moved = shift_image(b.astype(np.float32), -dy, -dx).astype(np.float64)
    edge = int(np.ceil(max(abs(dy), abs(dx)))) + 4
    x, y = a[edge:-edge, edge:-edge].ravel(), moved[edge:-edge, edge:-edge].ravel()
    keep = (x != 0) & (y != 0)
    if keep.sum() < 100:
        return float("nan")
    value = float(np.corrcoef(x[keep], y[keep])[0, 1])
    return value if np.isfinite(value) else float("nan")
