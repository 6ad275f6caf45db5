"""What a run will cost before it starts: output size, disk, memory and time.

Seconds per output megapixel (2.5 m) were measured with ``make bench`` (bench/run.py ``speed`` and
``speed10``: whole 5 x 5 km runs, median of 3, diffusion 1 run, 8 steps) on the project's 2-core CPU
without GPU (bench/results.json); measure them again when the methods change. A run costs the 10 m stage plus,
when any other band is wanted, the fusion of the 20 m and 60 m bands. Memory does not grow with the extent
(tiles are streamed); it grows with the tile size.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .bands import OUTPUT_RESOLUTION, output_scale
from .errors import ExtentError, OutputError
from .extent import Extent

SECONDS_PER_MEGAPIXEL_10M = {"bicubic": 0.24, "hpf": 0.24, "fast": 2.18, "diffusion": 8.96}  # the 4 10 m bands
SECONDS_PER_MEGAPIXEL_OTHERS = {"bicubic": 0.62, "hpf": 1.46, "fast": 2.53, "diffusion": 2.51}  # + the other 8
# peak memory per 2.5 m tile pixel (margin included) and band, in 1/100 bytes: fitted to the peak RSS of
# the speed benchmark (tile 288: bicubic 352 MiB, hpf 402 MiB, fast 1296 MiB, diffusion 1276 MiB)
BYTES_PER_TILE_PIXEL = {"bicubic": 250, "hpf": 430, "fast": 3300, "diffusion": 3300}
BASE_MEMORY = 300 * 2**20  # interpreter, GDAL cache cap, onnxruntime sessions
DIFFUSION_REFERENCE_STEPS = 8  # the diffusion figure above is for 8 sampling steps; time is linear in steps
UNCONFIRMED_SECONDS = 600.0   # a run estimated longer starts only when the user confirms it (check_scope)
OVERSIZE_RATIO = 4.0          # ... as does an extent more than this many times the area of the product it covers
CONFIRM_HINT = ("Confirm with --yes (in Processing: 'Start large runs without asking'), or give a time budget "
                "with --max-minutes.")


@dataclass(frozen=True)
class Estimate:
    """Sizes in bytes, time in seconds."""

    output_bytes: int
    disk_bytes: int
    memory_bytes: int
    seconds: float

    def summary(self) -> str:
        return (f"output about {self.output_bytes / 2**20:,.0f} MB (needs {self.disk_bytes / 2**20:,.0f} MB free "
                f"while writing), memory about {self.memory_bytes / 2**20:,.0f} MB, time about "
                f"{format_duration(self.seconds)} on a 2-core CPU")


def estimate(method: str, output_shape: tuple[int, int], bands: int, tile: int, margin: int,
             dtype: str = "float32", steps: int = DIFFUSION_REFERENCE_STEPS, samples: int = 1,
             pixel_size: float = OUTPUT_RESOLUTION) -> Estimate:
    """Cost of super-resolving ``output_shape`` (rows, cols of ``pixel_size``-metre output pixels) with tiles of
    ``tile`` 10 m pixels; ``samples`` > 1 (diffusion) adds an uncertainty file of 4 bands. Time and disk are
    per output pixel (measured at 2.5 m), the tile memory per output pixel of a tile at ``pixel_size``."""
    pixels = output_shape[0] * output_shape[1]
    raw = pixels * bands * (4 if dtype == "float32" else 2)
    full = int(raw * 0.65)  # DEFLATE level 1 with the predictor keeps ~0.65
    out = full * 4 // 3   # with overviews
    # while the COG is written: the tiled copy and the overviews' temporary file (ZSTD level 1 without a
    # predictor keeps ~0.85, core.writer) and the COG itself
    copies = int(raw * 0.85) * 4 // 3
    tile_pixels = int((tile + 2 * margin) * output_scale(pixel_size)) ** 2
    memory = BASE_MEMORY + tile_pixels * BYTES_PER_TILE_PIXEL.get(method, 2500) // 100 * bands
    per_mp = SECONDS_PER_MEGAPIXEL_10M.get(method, 10.0) * max(1, samples)
    if method == "diffusion":
        per_mp *= max(1, steps) / DIFFUSION_REFERENCE_STEPS
    if bands > 4:
        per_mp += SECONDS_PER_MEGAPIXEL_OTHERS.get(method, 4.0)
    seconds = pixels / 1e6 * per_mp
    extra = pixels * 4 * 4 * 3 if samples > 1 else 0   # the std file: 4 float32 bands, the same three copies
    return Estimate(out, out + copies + extra, memory, seconds)


def check_resources(cost: Estimate, folder: Path, max_seconds: float | None = None,
                    max_memory: int | None = None) -> None:
    """Refuse a run that cannot fit: OutputError for disk space, ExtentError for memory or time budget."""
    free = shutil.disk_usage(folder).free
    if cost.disk_bytes > free:
        raise OutputError(f"Not enough disk space in '{folder}': the run needs about {cost.disk_bytes / 2**20:,.0f} "
                          f"MB while writing and {free / 2**20:,.0f} MB are free. Choose a smaller extent, the four "
                          "10 m bands only, uint16 output, or another output folder.")
    if max_memory is not None and cost.memory_bytes > max_memory:
        raise ExtentError(f"The run needs about {cost.memory_bytes / 2**20:.0f} MB of memory for one tile, more "
                          f"than the {max_memory / 2**20:.0f} MB allowed. Use a smaller tile size.")
    if max_seconds is not None and cost.seconds > max_seconds:
        raise ExtentError(f"The run would take about {format_duration(cost.seconds)}, more than the budget of "
                          f"{format_duration(max_seconds)}. Choose a smaller extent or a faster preset, or raise the "
                          "time budget (--max-minutes).")


def check_scope(cost: Estimate, requested: Extent | None, product: Extent) -> None:
    """Refuse (ExtentError, with the estimate) what the user may not have meant, until confirmed: an extent
    ``requested`` (metres in the raster CRS; None = the whole product) more than OVERSIZE_RATIO times the area
    of the ``product`` (its data area; a world box would start the whole product), or a run estimated over
    UNCONFIRMED_SECONDS."""
    ratio = requested.width * requested.height / (product.width * product.height) if requested else 1.0
    if ratio > OVERSIZE_RATIO:
        raise ExtentError(f"The extent is {ratio:,.0f} times larger than the product: the run would process all of "
                          f"it that the extent covers ({cost.summary()}). Check the extent. {CONFIRM_HINT}")
    if cost.seconds > UNCONFIRMED_SECONDS:
        raise ExtentError(f"This run is large: {cost.summary()}, more than {format_duration(UNCONFIRMED_SECONDS)}. "
                          f"Choose a smaller extent or a faster preset. {CONFIRM_HINT}")


def available_memory() -> int | None:
    """Bytes of memory available now (Linux /proc/meminfo), or None when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def format_duration(seconds: float) -> str:
    """'45 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
