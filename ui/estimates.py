"""The cost of a run as the dock shows it, and when to warn.

Throughput constants (seconds per output megapixel per preset, memory per tile pixel) live in
one place, ``core/estimate.py``: they were measured with ``make bench`` (bench/run.py, whole runs,
median of 3) on the project's 2-core CPU; core also uses them to refuse runs that cannot fit.
This module only adds what the user interface needs on top of them: an (assumed) GPU speed-up
and the warning thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core import estimate as core_estimate
from ..core.estimate import format_duration
from ..core.methods.registry import CLASSICAL

#: assumed speed-up of a CUDA/DirectML provider over the 2-core CPU figures (not measured here)
GPU_SPEEDUP = 8.0
#: warn when a run is expected to take longer than this (seconds) or to need more disk (MB)
WARN_SECONDS = 600.0
WARN_DISK_MB = 4000.0
MB = 2**20


@dataclass(frozen=True)
class Estimate:
    """Expected cost of a run, in MB and seconds."""

    output_mb: float
    disk_mb: float        # peak disk use while writing (scratch raster + final file)
    memory_mb: float
    seconds: float

    @property
    def warning(self) -> str | None:
        """A short text when the run is large enough that the user should think twice."""
        if self.seconds > WARN_SECONDS:
            return (f"Long run: about {format_duration(self.seconds)}. Consider a smaller extent or the "
                    "'fast' preset.")
        if self.disk_mb > WARN_DISK_MB:
            return f"Large output: about {self.disk_mb / 1024:.1f} GB of disk while writing."
        return None

    def summary(self) -> str:
        return (f"Output ≈ {self.output_mb:,.0f} MB · disk while writing ≈ {self.disk_mb:,.0f} MB · "
                f"memory ≈ {self.memory_mb:,.0f} MB · time ≈ {format_duration(self.seconds)}")


def estimate(preset: str, output_shape: tuple[int, int], n_bands: int, tile: int, margin: int, steps: int = 8,
             samples: int = 1, gpu: bool = False) -> Estimate:
    """Estimate a run of ``preset`` producing ``output_shape`` (rows, cols) 2.5 m pixels of ``n_bands``."""
    cost = core_estimate.estimate(preset, output_shape, n_bands, tile, margin, steps=steps, samples=samples)
    seconds = cost.seconds / GPU_SPEEDUP if gpu and preset not in CLASSICAL else cost.seconds
    return Estimate(cost.output_bytes / MB, cost.disk_bytes / MB, cost.memory_bytes / MB, seconds)
