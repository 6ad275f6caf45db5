"""The cost of a run as the dock shows it, when to warn and when to ask first.

The cost itself is core's (core.estimate.Estimate: bytes and seconds, the time at this machine's throughput
measured by its earlier runs, remembered in the QGIS profile folder); this module adds only what the user
interface needs on top: the store's folder, an (assumed) GPU speed-up, the thresholds, and the texts in
MB/GB and minutes.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from qgis.core import QgsApplication

from ..core import estimate as core_estimate
from ..core.bands import OUTPUT_RESOLUTION
from ..core.estimate import Estimate, Throughput, format_duration
from ..core.methods.registry import CLASSICAL

#: assumed speed-up of a CUDA/DirectML provider over the 2-core CPU figures (not measured here)
GPU_SPEEDUP = 8.0
#: ask for confirmation above this expected time (seconds) or disk use while writing (bytes)
CONFIRM_SECONDS = 180.0
CONFIRM_DISK_BYTES = 2 * 2**30
#: show a warning above this expected time (seconds) or disk use (bytes)
WARN_SECONDS = 600.0
WARN_DISK_BYTES = 4 * 2**30
MB = 2**20


def throughput() -> Throughput:
    """This machine's measured throughput, remembered in the QGIS profile folder (refined by every run)."""
    return Throughput(Path(QgsApplication.qgisSettingsDirPath()) / "s2_superres")


def estimate(preset: str, output_shape: tuple[int, int], n_bands: int, tile: int, margin: int, steps: int = 8,
             samples: int = 1, gpu: bool = False, pixel_size: float = OUTPUT_RESOLUTION,
             window_pixels: int | None = None) -> Estimate:
    """core's estimate of a run of ``preset`` producing ``output_shape`` (rows, cols) pixels of ``pixel_size``
    metres of ``n_bands`` (tiles' read windows of ``window_pixels``), at this machine's measured throughput,
    with the assumed GPU speed-up for the network presets."""
    cost = core_estimate.estimate(preset, output_shape, n_bands, tile, margin, steps=steps, samples=samples,
                                  pixel_size=pixel_size, window_pixels=window_pixels, throughput=throughput())
    return replace(cost, seconds=cost.seconds / GPU_SPEEDUP) if gpu and preset not in CLASSICAL else cost


def warning(cost: Estimate) -> str | None:
    """A short text when the run is large enough that the user should think twice."""
    if cost.seconds > WARN_SECONDS:
        return f"Long run: about {format_duration(cost.seconds)}. Consider a smaller extent or the 'fast' preset."
    if cost.disk_bytes > WARN_DISK_BYTES:
        return f"Large output: about {cost.disk_bytes / 2**30:.1f} GB of disk while writing."
    return None


def needs_confirmation(cost: Estimate) -> bool:
    """Runs estimated over a few minutes, or over a few GB of disk, are confirmed before they start."""
    return cost.seconds > CONFIRM_SECONDS or cost.disk_bytes > CONFIRM_DISK_BYTES


def summary(cost: Estimate) -> str:
    """Output size, disk while writing, memory and time, for the dock."""
    return (f"Output ≈ {cost.output_bytes / MB:,.0f} MB · disk ≈ {cost.disk_bytes / MB:,.0f} MB · "
            f"memory ≈ {cost.memory_bytes / MB:,.0f} MB · ≈ {format_duration(cost.seconds)}")
