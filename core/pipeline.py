"""The tiled super-resolution run: extent -> tiles -> method -> streamed GeoTIFF -> COG.

Pure Python (numpy + GDAL + onnxruntime through the methods); the CLI, the QGIS task and the
Processing algorithm all call :func:`superresolve`.
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .bands import GROUP_10, GROUP_20, GROUP_60, GROUPS, OUTPUT_BANDS, OUTPUT_RESOLUTION, RESOLUTION, SCALE
from .coregister import GuideShifts, measure_shift, measure_shift_60
from .errors import Cancelled, ExtentError, InputError
from .estimate import available_memory, check_resources, estimate
from .extent import Extent, snap_inward, snap_outward
from .gdal_env import gdal_scope
from .methods.base import Method
from .reader import TileReader
from .sources import Product
from .tile import RunOptions
from .tiling import ALIGN, TileSpec, context_margin, plan_tiles, read_window
from .writer import CACHE_BYTES, OutputGrid, OutputWriter, check_output_path

VERSION = "0.1.0"


@dataclass
class Plan:
    """What a run will do: the processed extent (metres), its grids and tiles."""

    extent: Extent
    data: Extent                # where every needed band has data, on the 60 m lattice
    rows: int                   # 10 m rows of the extent
    cols: int
    tiles: list[TileSpec]
    margin: int                 # 10 m pixels of context read around each tile
    overlap: int
    phase: tuple[int, int]      # (row, col) of the extent's first 10 m pixel on the absolute ALIGN lattice
    notes: list[str] = field(default_factory=list)

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.rows * SCALE, self.cols * SCALE

    def read_box(self, spec: TileSpec) -> Extent:
        """The ground (metres) read for tile ``spec``: its core, the margin, grown to the absolute lattice."""
        win, e = read_window(spec, self.margin, self.phase), self.extent
        return Extent(e.xmin + win.col * 10, e.ymax - (win.row + win.rows) * 10,
                      e.xmin + (win.col + win.cols) * 10, e.ymax - win.row * 10)


@dataclass
class RunResult:
    """What a finished run produced."""

    output: Path
    bands: tuple[str, ...]
    uncertainty: Path | None
    extent: Extent
    crs_wkt: str
    tags: dict[str, str]
    seconds: float
    tiles: int
    notes: list[str]


def groups_needed(bands: tuple[str, ...]) -> tuple[int, ...]:
    """Native resolutions whose bands a run needs; the 10 m bands are always needed as guidance."""
    return tuple(sorted({10} | {RESOLUTION[b] for b in bands}))


def plan_run(product: Product, extent: Extent | None, bands: tuple[str, ...], method_margin: int,
             tile: int = 288, overlap: int = 12) -> Plan:
    """Check the request against the product and lay out the tiles; ``method_margin`` is the context the
    method needs around a tile (10 m pixels, see ``registry.preset_margin``)."""
    needed = tuple(b for res in groups_needed(bands) for b in GROUPS[res])
    missing = product.missing(needed)
    if missing:
        hint = " or produce only the four 10 m bands (--bands 10m)" if set(missing).isdisjoint(GROUPS[10]) else ""
        raise InputError(f"Missing band(s) {', '.join(missing)} in '{product.source}'. Add the band files, "
                         f"map them explicitly{hint}.")
    origin = product.lattice_origin()
    data = snap_inward(Extent(*product.data_bounds(needed)), origin)
    if data is None:
        raise InputError("The bands do not overlap on a common 60 m grid cell; they are not from one product.")
    notes: list[str] = []
    wanted = data if extent is None else snap_outward(extent, origin)
    area = wanted.intersect(data)
    if area is None:
        raise ExtentError(f"The extent ({_fmt(extent)}) lies outside the raster ({_fmt(data)}, metres in the raster "
                          "CRS). Zoom to the layer or choose an extent that overlaps it.")
    if area != wanted:
        notes.append(f"Only the part of the extent that overlaps the raster was processed: {_fmt(area)}.")
    if extent is not None and (extent.width < 60 or extent.height < 60):
        notes.append("The extent was smaller than one 60 m pixel; it was grown to the 60 m grid.")
    cols, rows = area.pixels(10)
    overlap = max(0, overlap)
    phase = (round((origin[1] - area.ymax) / 10) % ALIGN, round((area.xmin - origin[0]) / 10) % ALIGN)
    return Plan(area, data, rows, cols, plan_tiles(rows, cols, tile), context_margin(method_margin, overlap),
                overlap, phase, notes)


@gdal_scope(cache_max=CACHE_BYTES)
def superresolve(product: Product, method: Method, output: Path, *, extent: Extent | None = None,
                 bands: tuple[str, ...] = OUTPUT_BANDS, options: RunOptions | None = None, tile: int = 288,
                 overlap: int = 12, dtype: str = "float32", overwrite: bool = False,
                 progress: Callable[[float], None] | None = None,
                 is_cancelled: Callable[[], bool] | None = None, max_seconds: float | None = None) -> RunResult:
    """Super-resolve ``extent`` (metres in the product CRS; None = everything) to a 2.5 m GeoTIFF.

    Refuses (ExtentError) before any work when the estimated disk, memory or time (``max_seconds``)
    does not fit."""
    start = time.perf_counter()
    options = options or RunOptions()
    plan = plan_run(product, extent, bands, method.margin, tile, overlap)
    cost = estimate(method.name, plan.output_shape, len(bands), plan.tiles[0].rows, plan.margin, dtype,
                    options.steps, options.samples)
    check_output_path(Path(output), overwrite)
    check_resources(cost, Path(output).resolve().parent, max_seconds, available_memory())
    grid = OutputGrid(plan.extent.xmin, plan.extent.ymax, plan.cols * SCALE, plan.rows * SCALE, product.crs_wkt)
    extra = method.uncertainty_bands if options.samples > 1 else ()
    writers = [OutputWriter(Path(output), grid, bands, dtype, overwrite)]
    if extra:
        writers.append(OutputWriter(uncertainty_path(Path(output)), grid, extra, "float32", overwrite))
    reader = TileReader(product, plan.data, groups_needed(bands))
    try:
        shift = run_guide_shift(reader, plan, method.coregisters)
        for k, spec in enumerate(plan.tiles):
            if is_cancelled and is_cancelled():
                raise Cancelled()
            row, col, data = process_tile(reader, method, options, plan, spec, bands + extra, shift)
            writers[0].add(row, col, data[: len(bands)])
            if extra:
                writers[1].add(row, col, data[len(bands):])
            if progress:
                progress(0.95 * (k + 1) / len(plan.tiles))
        tags = output_tags(product, method.describe(options), options, plan, dtype, shift)
        paths = [w.finish(tags, (lambda f: progress(0.95 + 0.05 * f)) if progress else None) for w in writers]
    except BaseException:
        for w in writers:
            w.abort()
            if len(writers) > 1 and w.finished:
                w.path.unlink(missing_ok=True)  # the pair is all or nothing
        raise
    finally:
        reader.close()
    return RunResult(paths[0], bands, paths[1] if extra else None, plan.extent, product.crs_wkt, tags,
                     time.perf_counter() - start, len(plan.tiles), plan.notes)


def uncertainty_path(output: Path) -> Path:
    """Where the per-pixel standard deviation of the diffusion samples goes: beside the output."""
    return output.with_name(f"{output.stem}_std{output.suffix}")


def run_guide_shift(reader: TileReader, plan: Plan, coregisters: bool) -> GuideShifts | None:
    """The run's guide shifts when the method co-registers its guide (None otherwise); a non-zero shift is
    added to the plan's notes."""
    if not coregisters or 20 not in reader.groups:
        return None
    shift = guide_shift(reader, plan)
    for group, s in ((20, shift.g20), (60, shift.g60)):
        if s:
            plan.notes.append(f"The {group} m bands are offset from the 10 m bands by {s.describe()}; the guide "
                              "was moved to match them (each band keeps its own geolocation).")
    return shift


#: side of the central window (10 m pixels, a multiple of 6) on which the guide shift is measured
SHIFT_WINDOW = 504


def guide_shift(reader: TileReader, plan: Plan) -> GuideShifts:
    """Offsets of the 20 m and 60 m bands from the 10 m bands (core.coregister), measured B08 vs B8A and B08
    vs B09 on the central window of the product's data area, so every extent of one product gets the same."""
    d = plan.data
    rows60, cols60 = round(d.height / 60), round(d.width / 60)
    n60 = SHIFT_WINDOW // 6
    r0, c0 = max(0, (rows60 - n60) // 2), max(0, (cols60 - n60) // 2)
    box = Extent(d.xmin + c0 * 60, d.ymax - (r0 + min(n60, rows60)) * 60,
                 d.xmin + (c0 + min(n60, cols60)) * 60, d.ymax - r0 * 60)
    tile, _ = reader.read(box)
    b08 = tile.b10[GROUP_10.index("B08")]
    g60 = measure_shift_60(b08, tile.b60[GROUP_60.index("B09")]) if 60 in reader.groups else GuideShifts().g60
    return GuideShifts(measure_shift(b08, tile.b20[GROUP_20.index("B8A")], 2), g60)


def process_tile(reader: TileReader, method: Method, options: RunOptions, plan: Plan, spec: TileSpec,
                  bands: tuple[str, ...], shift: GuideShifts | None = None) -> tuple[int, int, np.ndarray]:
    """Run the method on one tile's read window; return the output pixel (row, col) of its core and the core
    (bands, h, w) reflectance, NaN where the input has no data."""
    box = plan.read_box(spec)
    tile, masks = reader.read(box)
    if shift:
        tile.guide_shift = (shift.g20.dy, shift.g20.dx)
        tile.guide_shift_60 = (shift.g60.dy, shift.g60.dx)
    r0 = round((box.ymax - plan.extent.ymax) / OUTPUT_RESOLUTION) + spec.row * SCALE
    c0 = round((plan.extent.xmin - box.xmin) / OUTPUT_RESOLUTION) + spec.col * SCALE
    tile.keep = (r0 // SCALE, c0 // SCALE, spec.rows, spec.cols)
    core = (slice(r0, r0 + spec.rows * SCALE), slice(c0, c0 + spec.cols * SCALE))
    result = np.array(method.superresolve_tile(tile, options)[(slice(None),) + core], dtype=np.float32)
    for i, band in enumerate(bands):
        band = band.split("_")[0]  # "B02_std" is masked like B02
        res = RESOLUTION[band]
        mask = masks[res][GROUPS[res].index(band)]
        if mask.any():
            up = int(res / OUTPUT_RESOLUTION)
            result[i][np.repeat(np.repeat(mask, up, 0), up, 1)[core]] = np.nan
    return spec.row * SCALE, spec.col * SCALE, result


def output_tags(product: Product, method_info: dict[str, str], options: RunOptions, plan: Plan,
                dtype: str, shift: GuideShifts | None = None) -> dict[str, str]:
    """The SR_* metadata of an output; ``method_info`` is the method's describe(), ``shift`` the guide
    shift of the run (when it was measured)."""
    tags = {
        "SR_SOFTWARE": f"s2-superres {VERSION}",
        "SR_CREATED": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "SR_SOURCE": product.source,
        "SR_SOURCE_OFFSET_DN": f"{product.offset:g} ({product.offset_origin})",
        "SR_UNITS": "reflectance" if dtype == "float32" else "DN = 10000 x reflectance (no offset)",
        "SR_SEED": str(options.seed),
        "SR_STEPS": str(options.steps),
        "SR_EXTENT": _fmt(plan.extent),
        "SR_TILE": f"{plan.tiles[0].rows} px, context {plan.margin} px (10 m pixels), not blended",
    }
    tags.update({f"SR_{k.upper()}": str(v) for k, v in method_info.items()})
    if shift is not None:
        tags["SR_GUIDE_SHIFT_20M"] = shift.g20.describe()
        tags["SR_GUIDE_SHIFT_60M"] = shift.g60.describe()
    if plan.notes:
        tags["SR_NOTES"] = " ".join(plan.notes)
    return tags


def _fmt(e: Extent | None) -> str:
    return "none" if e is None else f"{e.xmin:.1f}, {e.ymin:.1f}, {e.xmax:.1f}, {e.ymax:.1f}"
