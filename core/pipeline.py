"""The tiled super-resolution run: extent -> tiles -> method -> blended, streamed GeoTIFF.

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

from .bands import GROUP_10, GROUP_20, GROUPS, OUTPUT_BANDS, OUTPUT_RESOLUTION, RESOLUTION, SCALE
from .coregister import GuideShift, measure_shift
from .errors import Cancelled, ExtentError, InputError
from .estimate import available_memory, check_resources, estimate
from .extent import Extent, snap_inward, snap_outward
from .methods.base import Method
from .reader import TileReader
from .sources import Product
from .tile import RunOptions
from .tiling import TileSpec, blend_window, context_margin, plan_tiles
from .writer import OutputGrid, OutputWriter, check_output_path

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
    notes: list[str] = field(default_factory=list)

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.rows * SCALE, self.cols * SCALE


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
    tile = max(6, tile - tile % 6)
    overlap = min(max(0, overlap - overlap % 2), tile // 2)
    return Plan(area, data, rows, cols, plan_tiles(rows, cols, tile), context_margin(method_margin, overlap),
                overlap, notes)


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
        shift = guide_shift(reader, plan) if method.coregisters and 20 in reader.groups else None
        if shift:
            plan.notes.append(f"The 20 m bands are offset from the 10 m bands by {shift.describe()}; the guide "
                              "was moved to match them (each band keeps its own geolocation).")
        for k, spec in enumerate(plan.tiles):
            if is_cancelled and is_cancelled():
                raise Cancelled()
            row, col, data = _process_tile(reader, method, options, plan, spec, bands + extra, shift)
            writers[0].add(row, col, data[: len(bands)])
            if extra:
                writers[1].add(row, col, data[len(bands):])
            if progress:
                progress(0.95 * (k + 1) / len(plan.tiles))
        tags = _tags(product, method, options, plan, dtype)
        if shift is not None:
            tags["SR_GUIDE_SHIFT_20M"] = shift.describe()
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


#: side of the central window (10 m pixels, a multiple of 6) on which the guide shift is measured
SHIFT_WINDOW = 504


def guide_shift(reader: TileReader, plan: Plan) -> GuideShift:
    """Offset of the 20 m bands from the 10 m bands (core.coregister), measured B08 vs B8A on the central
    window of the product's data area, so every extent of one product gets the same offset."""
    d = plan.data
    rows60, cols60 = round(d.height / 60), round(d.width / 60)
    n60 = SHIFT_WINDOW // 6
    r0, c0 = max(0, (rows60 - n60) // 2), max(0, (cols60 - n60) // 2)
    box = Extent(d.xmin + c0 * 60, d.ymax - (r0 + min(n60, rows60)) * 60,
                 d.xmin + (c0 + min(n60, cols60)) * 60, d.ymax - r0 * 60)
    tile, _ = reader.read(box)
    return measure_shift(tile.b10[GROUP_10.index("B08")], tile.b20[GROUP_20.index("B8A")], 2)


def _process_tile(reader: TileReader, method: Method, options: RunOptions, plan: Plan, spec: TileSpec,
                  bands: tuple[str, ...], shift: GuideShift | None = None) -> tuple[int, int, np.ndarray]:
    """Run the method on one tile with its margin; return the weighted, masked contribution."""
    m = plan.margin
    e = plan.extent
    box = Extent(e.xmin + (spec.col - m) * 10, e.ymax - (spec.row + spec.rows + m) * 10,
                 e.xmin + (spec.col + spec.cols + m) * 10, e.ymax - (spec.row - m) * 10)
    tile, masks = reader.read(box)
    if shift:
        tile.guide_shift = (shift.dy, shift.dx)
    result = method.superresolve_tile(tile, options).astype(np.float32)
    for i, band in enumerate(bands):
        band = band.split("_")[0]  # "B02_std" is masked like B02
        res = RESOLUTION[band]
        mask = masks[res][GROUPS[res].index(band)]
        if mask.any():
            up = int(res / OUTPUT_RESOLUTION)
            result[i][np.repeat(np.repeat(mask, up, 0), up, 1)] = np.nan
    row, col, weights = blend_window(spec, plan.rows, plan.cols, plan.overlap)
    r0, c0 = row - (spec.row - m) * SCALE, col - (spec.col - m) * SCALE
    h, w = weights.shape
    return row, col, result[:, r0:r0 + h, c0:c0 + w] * weights


def _tags(product: Product, method: Method, options: RunOptions, plan: Plan, dtype: str) -> dict[str, str]:
    tags = {
        "SR_SOFTWARE": f"s2-superres {VERSION}",
        "SR_CREATED": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "SR_SOURCE": product.source,
        "SR_SOURCE_OFFSET_DN": f"{product.offset:g} ({product.offset_origin})",
        "SR_UNITS": "reflectance" if dtype == "float32" else "DN = 10000 x reflectance (no offset)",
        "SR_SEED": str(options.seed),
        "SR_STEPS": str(options.steps),
        "SR_EXTENT": _fmt(plan.extent),
        "SR_TILE": f"{plan.tiles[0].rows} px, overlap {plan.overlap} px (10 m pixels)",
    }
    tags.update({f"SR_{k.upper()}": str(v) for k, v in method.describe(options).items()})
    if plan.notes:
        tags["SR_NOTES"] = " ".join(plan.notes)
    return tags


def _fmt(e: Extent | None) -> str:
    return "none" if e is None else f"{e.xmin:.1f}, {e.ymin:.1f}, {e.xmax:.1f}, {e.ymax:.1f}"
