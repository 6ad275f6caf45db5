"""What a run will cost before it starts: output size, disk, memory and time.

Seconds per output megapixel (2.5 m) were measured with ``make bench`` (bench/run.py ``speed`` and
``speed10``: whole 5 x 5 km runs, median of 3, diffusion 1 run, 8 steps) on the project's 2-core CPU
without GPU (bench/results.json); measure them again when the methods change. A run costs the 10 m stage plus,
when any other band is wanted, the fusion of the 20 m and 60 m bands. The time is modelled from what costs:
a start-up, the tiles with their read margins, and the bands written; ``Throughput`` scales it to this
machine (bench/estimate.py compares it with whole runs). Memory does not grow with the extent (tiles are
streamed); it grows with the tile size.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import statistics
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
# The time of a run (all 12 bands): start-up + seconds per megapixel of the tiles' read windows (output
# pixels, margins included: core.pipeline.Plan.window_pixels; the 10 m network sees all of it) + seconds per
# output megapixel (the tile cores: fusion at 2.5 m, the COG with its overviews). Fitted to whole runs of 1, 6
# and 50 tiles (bench/estimate.py, fastest of 3, on the shared 2-core machine) for bicubic and fast; hpf and
# diffusion scaled from them by the totals above. The four 10 m bands alone take the 10 m share of the
# totals above; diffusion's work grows with steps x samples. Throughput scales this to the machine at hand.
STARTUP_SECONDS = {"bicubic": 0.6, "hpf": 0.8, "fast": 1.0, "diffusion": 2.0}
SECONDS_PER_WINDOW_MEGAPIXEL = {"bicubic": 0.42, "hpf": 0.83, "fast": 1.23, "diffusion": 3.0}
SECONDS_PER_OUTPUT_MEGAPIXEL = {"bicubic": 0.64, "hpf": 1.27, "fast": 6.9, "diffusion": 16.8}
THROUGHPUT_FILE = "throughput.json"
KEEP_RUNS = 20          # measured runs remembered per preset and band count


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


def default_seconds(method: str, bands: int, window: float, output: float, repeats: float = 1.0) -> float:
    """Seconds of a run of ``method`` with ``bands`` bands on the benchmark machine: start-up, ``window``
    megapixels of read windows and ``output`` megapixels of output; the 10 m stage's share of that work runs
    ``repeats`` times (stage_repeats), the fusion of the other bands once."""
    ten = SECONDS_PER_MEGAPIXEL_10M.get(method, 1.0)
    share = ten / (ten + SECONDS_PER_MEGAPIXEL_OTHERS.get(method, 1.0))
    work = (SECONDS_PER_WINDOW_MEGAPIXEL.get(method, 3.0) * window
            + SECONDS_PER_OUTPUT_MEGAPIXEL.get(method, 10.0) * output)
    others = (1 - share) * work if bands > 4 else 0.0
    return STARTUP_SECONDS.get(method, 2.0) + share * work * repeats + others


def stage_repeats(method: str, steps: int = DIFFUSION_REFERENCE_STEPS, samples: int = 1) -> float:
    """How many times the 10 m stage's benchmark work a run does: steps / 8 times samples for diffusion."""
    return max(1, steps) / DIFFUSION_REFERENCE_STEPS * max(1, samples) if method == "diffusion" else 1.0


class Throughput:
    """This machine's speed per preset and band count: how many times the default time (default_seconds) its
    runs took, the median over the last KEEP_RUNS runs. Calibrated by the first run, refined by every run
    (``record``), remembered in ``folder``/throughput.json (the QGIS profile folder in the plugin, a user
    cache folder for the command line)."""

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / THROUGHPUT_FILE

    def _load(self) -> dict[str, list[list[float]]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def runs(self, method: str, bands: int) -> list[tuple[float, float, float, float]]:
        """The remembered (window megapixels, output megapixels, seconds, stage repeats) of ``method`` with
        ``bands`` bands, oldest first; entries that are not four finite positive numbers (a damaged or edited
        file) are left out, so they can never make a run look free."""
        try:
            runs = [(float(r[0]), float(r[1]), float(r[2]), float(r[3]) if len(r) > 3 else 1.0)
                    for r in self._load().get(f"{method}/{bands}", [])]
        except (TypeError, ValueError, IndexError):
            return []
        return [run for run in runs if all(math.isfinite(v) and v > 0 for v in run)]

    def record(self, method: str, bands: int, window: float, output: float, seconds: float,
               repeats: float = 1.0) -> None:
        """Remember one finished run (never raises: a read-only profile only loses the refinement)."""
        data = self._load()
        key = f"{method}/{bands}"
        entry = [round(window, 4), round(output, 4), round(seconds, 3), repeats]
        data[key] = (data.get(key, []) + [entry])[-KEEP_RUNS:]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(self.path)
        except OSError:
            pass

    def factor(self, method: str, bands: int) -> float:
        """Measured time over default time of this machine's runs of ``method`` (1 before the first run)."""
        ratios = [s / default_seconds(method, bands, w, o, r) for w, o, s, r in self.runs(method, bands)]
        return statistics.median(ratios) if ratios else 1.0


def estimate(method: str, output_shape: tuple[int, int], bands: int, tile: int, margin: int,
             dtype: str = "float32", steps: int = DIFFUSION_REFERENCE_STEPS, samples: int = 1,
             pixel_size: float = OUTPUT_RESOLUTION, window_pixels: int | None = None,
             throughput: Throughput | None = None) -> Estimate:
    """Cost of super-resolving ``output_shape`` (rows, cols of ``pixel_size``-metre output pixels) with tiles of
    ``tile`` 10 m pixels; ``samples`` > 1 (diffusion) adds an uncertainty file of 4 bands. Disk is per output
    pixel, the tile memory per output pixel of a tile at ``pixel_size``. Time is start-up plus the work of the
    tiles' read windows (``window_pixels`` output pixels, core.pipeline.Plan.window_pixels; without it the
    output grown by the margin on every side of each tile) and of the output, at ``throughput``'s measured
    speed (the benchmark machine's without it)."""
    pixels = output_shape[0] * output_shape[1]
    raw = pixels * bands * (4 if dtype == "float32" else 2)
    full = int(raw * 0.65)  # DEFLATE level 1 with the predictor keeps ~0.65
    out = full * 4 // 3   # with overviews
    # while the COG is written: the tiled copy and the overviews' temporary file (ZSTD level 1 without a
    # predictor keeps ~0.85, core.writer) and the COG itself
    copies = int(raw * 0.85) * 4 // 3
    tile_pixels = int((tile + 2 * margin) * output_scale(pixel_size)) ** 2
    memory = BASE_MEMORY + tile_pixels * BYTES_PER_TILE_PIXEL.get(method, 2500) // 100 * bands
    if window_pixels is None:
        window_pixels = int(pixels * ((tile + 2 * margin) / max(1, tile)) ** 2)
    seconds = default_seconds(method, bands, window_pixels / 1e6, pixels / 1e6, stage_repeats(method, steps, samples))
    seconds *= throughput.factor(method, bands) if throughput else 1.0
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
