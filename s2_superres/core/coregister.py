"""Band-to-band co-registration of the guide: how far the 20 m and 60 m bands sit from the 10 m bands.

Fusion adds the high-frequency detail of the 10 m guide to a coarser band. If the band's grid is
off by a fraction of a pixel (crops cut on pixel centres, re-projected or re-gridded data, the
held-out dsen2_mock_crop scene: a quarter 20 m pixel), that detail lands beside the band's own
edges. So before fusion the offset is measured once per run and the guide is moved by it; no band
is resampled, and each fused band keeps the geolocation of its input band.

Measurement: B08 (10 m) against B8A (20 m), the band closest to B08 in wavelength. B08 is
shifted by a candidate offset, degraded to the coarse grid exactly like the Wald protocol
(core.degrade), and the correlation of its high-pass detail with the band's is maximised over
offsets up to one 10 m pixel, in steps of 1/4 then 1/8 pixel. Offsets are applied only when the
peak is clear (correlation >= MIN_SCORE) and the window has at least MIN_COARSE_PIXELS per side;
otherwise the guide is used as it is.

The 60 m group is measured the same way, B08 against B09, over up to half a 60 m pixel
(SEARCH_60), and moved only when the offset reaches SIGNIFICANT_60: on well-registered scenes the
measurement scatters by a fraction of that (noise of a 60 m grid), and moving the guide by noise
would only blur the fused detail.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .degrade import degrade_axis, k_for_grid
from .resample import correlate_axis, gaussian_blur, keys_cubic

MIN_SCORE = 0.9          # high-pass correlation needed to trust an offset
MIN_COARSE_PIXELS = 48   # smallest window side, in pixels of the coarse band
SEARCH = 1.0             # +- fine pixels searched
STEPS = (0.25, 0.125)    # coarse-to-fine search steps, fine pixels
SEARCH_60 = 3.0          # +- 10 m pixels searched for the 60 m group (half a 60 m pixel)
STEPS_60 = (0.5, 0.25)
SIGNIFICANT_60 = 0.5     # 10 m pixels: smaller 60 m offsets are left alone


@dataclass(frozen=True)
class GuideShift:
    """Offset (rows, columns) in guide pixels (10 m in the pipeline) by which the guide is moved before
    fusion; ``score`` is the high-pass correlation at that offset (None when nothing was measured)."""

    dy: float = 0.0
    dx: float = 0.0
    score: float | None = None

    def __bool__(self) -> bool:
        return bool(self.dy or self.dx)

    def describe(self, unit: str = "10 m px") -> str:
        """E.g. "dy +0.500, dx +0.500 (10 m px, correlation 0.915)"."""
        if self.score is None:
            return "not measured"
        return f"dy {self.dy:+.3f}, dx {self.dx:+.3f} ({unit}, correlation {self.score:.3f})"


def shift_image(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Move the content of ``img`` (..., H, W) by (dy, dx) pixels (Keys cubic, mirror borders)."""
    out = np.asarray(img, dtype=np.float32)
    out = shift_axis(shift_axis(out, dy, out.ndim - 2), dx, out.ndim - 1)
    return out if out is not img else out.copy()


def shift_axis(img: np.ndarray, d: float, axis: int) -> np.ndarray:
    """Move the content of float32 ``img`` by ``d`` pixels along ``axis`` (``img`` itself when d = 0)."""
    if not d:
        return img
    radius = int(np.ceil(abs(d))) + 2
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    return correlate_axis(img, keys_cubic(k + d).astype(np.float32), axis)


def _detail(img: np.ndarray) -> np.ndarray:
    """High-pass detail, flattened without a 4-pixel border."""
    return (img - gaussian_blur(img, 2.0))[4:-4, 4:-4].ravel()


def measure_shift(pan: np.ndarray, band: np.ndarray, factor: int, search: float = SEARCH,
                  steps: tuple[float, ...] = STEPS) -> GuideShift:
    """Offset (fine pixels, at most ``search``) that best moves ``pan`` (H, W) onto ``band`` (H/factor, W/factor).

    Both in the same unit (reflectance). Returns GuideShift() (no shift) when the window is too small
    or the best correlation is below MIN_SCORE.
    """
    h, w = band.shape[0], band.shape[1]
    if min(h, w) < MIN_COARSE_PIXELS:
        return GuideShift()
    pan = np.asarray(pan, dtype=np.float32)[: h * factor, : w * factor]
    target = _detail(np.asarray(band, dtype=np.float32))
    if not np.std(target) > 0 or not np.std(pan) > 0:   # featureless (e.g. a window of filled nodata)
        return GuideShift()
    scores: dict[tuple[float, float], float] = {}
    rows: dict[float, np.ndarray] = {}   # pan moved by dy and degraded along the rows, shared by every dx
    k = k_for_grid(10 * factor)

    def score(dy: float, dx: float) -> float:
        if (dy, dx) not in scores:
            if dy not in rows:
                rows[dy] = degrade_axis(shift_axis(pan, dy, 0), factor, 0, k)
            moved = degrade_axis(shift_axis(rows[dy], dx, 1), factor, 1, k)   # = wald_degrade(shift_image(pan))
            scores[(dy, dx)] = float(np.corrcoef(_detail(moved), target)[0, 1])
        return scores[(dy, dx)]

    best = (0.0, 0.0)
    for step, reach in ((steps[0], search), *((s, prev) for prev, s in zip(steps, steps[1:]))):
        grid = np.arange(-reach, reach + 1e-9, step)
        best = max(((best[0] + a, best[1] + b) for a in grid for b in grid if abs(best[0] + a) <= search
                    and abs(best[1] + b) <= search), key=lambda s: score(*s))
    value = score(*best)
    if not np.isfinite(value) or value < MIN_SCORE:
        return GuideShift(score=value if np.isfinite(value) else None)
    return GuideShift(float(best[0]), float(best[1]), value)


def measure_shift_60(pan: np.ndarray, band60: np.ndarray) -> GuideShift:
    """Offset (10 m pixels) of a 60 m band from the 10 m ``pan``; zero (with its score) below SIGNIFICANT_60."""
    shift = measure_shift(pan, band60, 6, SEARCH_60, STEPS_60)
    if max(abs(shift.dy), abs(shift.dx)) < SIGNIFICANT_60:
        return GuideShift(score=shift.score)
    return shift


@dataclass(frozen=True)
class GuideShifts:
    """The run's guide offsets (10 m pixels) for the 20 m group (B08 vs B8A) and the 60 m group (B08 vs B09)."""

    g20: GuideShift = GuideShift()
    g60: GuideShift = GuideShift()

    def __bool__(self) -> bool:
        return bool(self.g20 or self.g60)

    def describe(self) -> str:
        """Both offsets, for notes."""
        return f"20 m bands: {self.g20.describe()}; 60 m bands: {self.g60.describe()}"
