"""The tiled super-resolution run: extent -> tiles -> method -> streamed GeoTIFF -> COG.

Pure Python (numpy + GDAL + onnxruntime through the methods); the CLI, the QGIS task and the
Processing algorithm all call :func:`superresolve`.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .bands import (GROUP_10, GROUP_20, GROUP_60, GROUPS, LATTICE, OUTPUT_BANDS, OUTPUT_RESOLUTION, RESOLUTION, SCALE,
                    output_scale, pixel_label)
from .coregister import GuideShifts, measure_shift, measure_shift_60
from .errors import Cancelled, ExtentError, InputError
from .estimate import (Throughput, available_memory, check_resources, check_scope, estimate,
                       stage_repeats)
from .extent import Extent, snap_inward, snap_outward
from .gdal_env import gdal_scope
from .methods.base import Method
from .methods.registry import check_pixel_size
from .reader import TileReader
from .sources import Product
from .tile import RunOptions
from .tiling import ALIGN, TileSpec, block_side, context_margin, plan_tiles, read_window
from .timestack import OBSERVED
from .writer import CACHE_BYTES, OutputGrid, OutputWriter, check_output_path

if TYPE_CHECKING:
    from .timestack import TimeStack

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
    scale: Fraction = Fraction(SCALE)   # output pixels per 10 m pixel (core.bands.output_scale)

    @property
    def pixel_size(self) -> float:
        """The output pixel size in metres (60 / n exactly)."""
        return LATTICE / int(self.scale * 6)

    @property
    def output_shape(self) -> tuple[int, int]:
        """(rows, cols) of the output grid, in output pixels."""
        return self.out_pixels(self.rows), self.out_pixels(self.cols)

    def out_pixels(self, pixels_10m: int) -> int:
        """Output pixels on ``pixels_10m`` 10 m pixels (a whole number on the tile and 60 m lattices)."""
        return int(pixels_10m * self.scale)

    @cached_property
    def window_pixels(self) -> int:
        """Output pixels of every tile's read window (margins included): what the run's time grows with."""
        windows = (read_window(spec, self.margin, self.phase) for spec in self.tiles)
        return sum(self.out_pixels(w.rows) * self.out_pixels(w.cols) for w in windows)

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
    pixel_size: float = OUTPUT_RESOLUTION   # metres


def groups_needed(bands: tuple[str, ...]) -> tuple[int, ...]:
    """Native resolutions whose bands a run needs; the 10 m bands are always needed as guidance."""
    return tuple(sorted({10} | {RESOLUTION[b] for b in bands}))


def plan_run(product: Product, extent: Extent | None, bands: tuple[str, ...], method_margin: int,
             tile: int = 288, overlap: int = 12, pixel_size: float = OUTPUT_RESOLUTION) -> Plan:
    """Check the request against the product and lay out the tiles; ``method_margin`` is the context the
    method needs around a tile (10 m pixels, see ``registry.preset_margin``), ``pixel_size`` the output pixel
    in metres (one of core.bands.PIXEL_SIZES; UserError otherwise)."""
    scale = output_scale(pixel_size)
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
    return Plan(area, data, rows, cols, plan_tiles(rows, cols, tile, scale), context_margin(method_margin, overlap),
                overlap, phase, notes, scale)


@gdal_scope(cache_max=CACHE_BYTES)
def superresolve(product: Product, method: Method, output: Path, *, extent: Extent | None = None,
                 bands: tuple[str, ...] = OUTPUT_BANDS, options: RunOptions | None = None, tile: int = 288,
                 overlap: int = 12, dtype: str = "float32", overwrite: bool = False,
                 progress: Callable[[float], None] | None = None,
                 is_cancelled: Callable[[], bool] | None = None, max_seconds: float | None = None,
                 stack: TimeStack | None = None, confirmed: bool = False,
                 throughput: Throughput | None = None) -> RunResult:
    """Super-resolve ``extent`` (metres in the product CRS; None = everything) to a GeoTIFF of
    ``options.pixel_size`` metres (2.5 m by default).

    With ``stack`` (several dates of the tile, core.timestack) the run reads its own bands from the stack's
    reference product (``product`` is then only the input as given), every tile gets ``Tile.dates``, the
    tags name the dates, and a synthesised target's file name says so (``TimeStack.output_path``); a
    method that does not use dates is refused. Refuses before any work: a pixel size the method does not
    make (UserError naming the presets that do), and (ExtentError) when the estimated disk, memory or time
    (``max_seconds``) does not fit; without ``max_seconds`` and unless ``confirmed``, also a run estimated over
    core.estimate.UNCONFIRMED_SECONDS or an extent far larger than the product (core.estimate.check_scope),
    and before any model runs (ExtentError) an extent where the product has no data. The output is claimed for
    the run (a second run to it is refused) and is never one of the files the run reads. The time is estimated at
    ``throughput``'s measured rate, and the finished run refines it (core.estimate.Throughput)."""
    start = time.perf_counter()
    options = options or RunOptions()
    check_pixel_size(method.name, options.pixel_size, method.pixel_sizes)
    if stack is not None:
        check_uses_dates(method)
        product, output = stack.reference, stack.output_path(Path(output))
        options = replace(options, fill_clouds=options.fill_clouds or stack.fill_clouds)
    plan = plan_run(product, extent, bands, method.margin, tile, overlap, options.pixel_size)
    if stack is not None:
        plan.notes.extend(stack.notes)
    cost = estimate(method.name, plan.output_shape, len(bands), plan.tiles[0].rows, plan.margin, dtype,
                    options.steps, options.samples, plan.pixel_size, plan.window_pixels, throughput)
    reads = input_files(product) + (tuple(f for p in stack.products for f in input_files(p)) if stack else ())
    check_output_path(Path(output), overwrite, reads)
    check_resources(cost, Path(output).resolve().parent, max_seconds, available_memory())
    if max_seconds is None and not confirmed:
        check_scope(cost, extent, plan.data)
    grid = output_grid(plan, product.crs_wkt)
    extra = method.uncertainty_bands if options.samples > 1 or (stack is not None and stack.kind != OBSERVED) else ()
    reader = TileReader(product, plan.data, groups_needed(bands))
    writers: list[OutputWriter] = []
    try:
        if not reader.has_data(plan.extent):
            raise ExtentError(f"The product has no data in the extent ({_fmt(plan.extent)}, metres in the raster "
                              "CRS): every pixel is nodata there, so nothing was computed. Choose an extent over the "
                              "image (zoom to the layer).")
        writers.append(OutputWriter(Path(output), grid, bands, dtype, overwrite, reads))
        if extra:
            writers.append(OutputWriter(uncertainty_path(Path(output), extra[0].split("_")[-1]), grid, extra,
                                        "float32", overwrite, reads))
        shift = run_guide_shift(reader, plan, method.coregisters)
        for k, spec in enumerate(plan.tiles):
            if is_cancelled and is_cancelled():
                raise Cancelled()
            row, col, data = process_tile(reader, method, options, plan, spec, bands + extra, shift, stack)
            writers[0].add(row, col, data[: len(bands)])
            if extra:
                writers[1].add(row, col, data[len(bands):])
            if progress:
                progress(0.95 * (k + 1) / len(plan.tiles))
        tags = output_tags(product, method.describe(options), options, plan, dtype, shift, stack)
        paths = [w.finish(tags, (lambda f: progress(0.95 + 0.05 * f)) if progress else None) for w in writers]
    except BaseException:
        for w in writers:
            w.abort()
            if len(writers) > 1 and w.finished:
                w.path.unlink(missing_ok=True)  # the pair is all or nothing
        raise
    finally:
        reader.close()
        if stack is not None:
            stack.close()
    seconds = time.perf_counter() - start
    if throughput is not None:
        rows, cols = plan.output_shape
        throughput.record(method.name, len(bands), plan.window_pixels / 1e6, rows * cols / 1e6, seconds,
                          stage_repeats(method.name, options.steps, options.samples))
    return RunResult(paths[0], bands, paths[1] if extra else None, plan.extent, product.crs_wkt, tags,
                     seconds, len(plan.tiles), plan.notes, plan.pixel_size)


def input_files(product: Product) -> tuple[Path, ...]:
    """The local files a run of ``product`` reads: band files (the zip of a zipped product, the metadata file
    of a SENTINEL2 subdataset), the metadata file and the scene classification; remote inputs are left out."""
    files = []
    for name in [s.path for s in product.bands.values()] + [product.metadata, product.scl]:
        if not name:
            continue
        if name.startswith("/vsizip/"):
            name = re.split(r"(?<=\.zip)/", name[len("/vsizip/"):], maxsplit=1, flags=re.IGNORECASE)[0]
        elif name.startswith("SENTINEL2_"):
            name = name.split(":", 1)[1].rsplit(":", 2)[0]
        if os.path.isfile(name) and Path(name) not in files:
            files.append(Path(name))
    return tuple(files)


def output_grid(plan: Plan, crs_wkt: str) -> OutputGrid:
    """The output grid of ``plan``: its extent's corner (on the 60 m lattice), its pixel size and block side."""
    rows, cols = plan.output_shape
    return OutputGrid(plan.extent.xmin, plan.extent.ymax, cols, rows, crs_wkt, plan.pixel_size,
                      block_side(plan.scale))


def output_name(product: str, preset: str, pixel_size: float = OUTPUT_RESOLUTION) -> str:
    """The default file name of a result: ``<product>_<preset>_<p>m.tif`` (2.5m, 3m, 3.33m, 8.57m)."""
    return f"{product}_{preset}_{pixel_label(pixel_size)}m.tif"


def product_container(source: str) -> str | None:
    """The name (without suffix) of the .SAFE folder or zip that holds ``source`` (a path, /vsizip/ path or
    GDAL subdataset such as ``SENTINEL2_L1C:/x/S2A_….SAFE/MTD_MSIL1C.xml:10m:EPSG_32618``), else None."""
    text = str(source).rstrip("/")
    if re.match(r"^[A-Z][A-Z0-9_]+:(?![\\/]{2})", text):        # DRIVER:path[:resolution:crs]
        text = text.split(":", 1)[1]
        text = text.rsplit(":", 2)[0] if text.count(":") >= 2 else text
    for part in reversed(re.split(r"[\\/]", text)):
        if part.lower().endswith((".safe", ".zip")):
            return part.rsplit(".", 1)[0]
    return None


def product_stem(source: str) -> str:
    """A product's short name from its path, URL or subdataset: the .SAFE folder or zip holding it, else the
    last part without .zip/.SAFE/.tif/.json/.xml."""
    container = product_container(source)
    if container:
        return container
    base = Path(str(source).rstrip("/")).name
    for suffix in (".zip", ".SAFE", ".tif", ".tiff", ".json", ".xml", ".jp2"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base.split(":")[-1] or "sentinel2"


def check_uses_dates(method: Method) -> None:
    """Refuse several dates for a method that super-resolves one acquisition."""
    if not getattr(method, "uses_dates", False):
        raise InputError(f"Several dates need the spacetime preset: '{method.name}' super-resolves one acquisition "
                         "and would ignore the others. Choose the spacetime preset, or give a single date.")


def uncertainty_path(output: Path, kind: str = "std") -> Path:
    """Where the uncertainty layer goes, beside the output: ``_std`` (the diffusion samples' standard deviation)
    or ``_spread`` (the spacetime dates' spread)."""
    return output.with_name(f"{output.stem}_{kind}{output.suffix}")


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
                  bands: tuple[str, ...], shift: GuideShifts | None = None,
                  stack: TimeStack | None = None) -> tuple[int, int, np.ndarray]:
    """Run the method on one tile's read window (with the other dates of ``stack`` as ``Tile.dates``); return
    the output pixel (row, col) of its core and the core (bands, h, w) reflectance on the plan's output grid,
    NaN where the input has no data (an output pixel that overlaps a nodata input pixel of its band)."""
    box = plan.read_box(spec)
    tile, masks = reader.read(box)
    if stack is not None:
        tile.dates = stack.read(box)
    if shift:
        tile.guide_shift = (shift.g20.dy, shift.g20.dx)
        tile.guide_shift_60 = (shift.g60.dy, shift.g60.dx)
    p = plan.pixel_size
    r0 = round((box.ymax - plan.extent.ymax) / p) + plan.out_pixels(spec.row)
    c0 = round((plan.extent.xmin - box.xmin) / p) + plan.out_pixels(spec.col)
    h, w = plan.out_pixels(spec.rows), plan.out_pixels(spec.cols)
    # the core in 10 m pixels of the window (window and core lie on the 10 m grid)
    tile.keep = (round((box.ymax - plan.extent.ymax) / 10) + spec.row,
                 round((plan.extent.xmin - box.xmin) / 10) + spec.col, spec.rows, spec.cols)
    core = (slice(r0, r0 + h), slice(c0, c0 + w))
    result = np.array(method.superresolve_tile(tile, options)[(slice(None),) + core], dtype=np.float32)
    for i, band in enumerate(bands):
        band = band.split("_")[0]  # "B02_std" is masked like B02
        res = RESOLUTION[band]
        mask = masks[res][GROUPS[res].index(band)]
        if mask.any():
            result[i][expand_mask(mask, plan.scale * res / 10)[core]] = np.nan
    return plan.out_pixels(spec.row), plan.out_pixels(spec.col), result


def expand_mask(mask: np.ndarray, factor: Fraction) -> np.ndarray:
    """A (h, w) nodata mask on a native grid onto the output grid ``factor`` (>= 1) times finer, both grids
    sharing their corner: an output pixel is masked when any input pixel it overlaps is (at whole factors,
    each pixel repeated ``factor`` times)."""
    out = mask
    for axis in (0, 1):
        n_out = int(mask.shape[axis] * factor)
        j = np.arange(n_out)
        lo = j * factor.denominator // factor.numerator                  # first input pixel under output pixel j
        hi = ((j + 1) * factor.denominator - 1) // factor.numerator      # last one
        out = np.take(out, lo, axis=axis) | np.take(out, hi, axis=axis)
    return out


def output_tags(product: Product, method_info: dict[str, str], options: RunOptions, plan: Plan,
                dtype: str, shift: GuideShifts | None = None, stack: TimeStack | None = None) -> dict[str, str]:
    """The SR_* metadata of an output; ``method_info`` is the method's describe(), ``shift`` the guide
    shift of the run (when it was measured), ``stack`` the dates of a multi-date run (core.timestack)."""
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
        "SR_PIXEL_SIZE": f"{plan.pixel_size:.12g}",   # metres (60 / n)
    }
    tags.update({f"SR_{k.upper()}": str(v) for k, v in method_info.items()})
    if shift is not None:
        tags["SR_GUIDE_SHIFT_20M"] = shift.g20.describe()
        tags["SR_GUIDE_SHIFT_60M"] = shift.g60.describe()
    if stack is not None:
        tags.update(stack.tags())
    if plan.notes:
        tags["SR_NOTES"] = " ".join(plan.notes)
    return tags


def _fmt(e: Extent | None) -> str:
    return "none" if e is None else f"{e.xmin:.1f}, {e.ymin:.1f}, {e.xmax:.1f}, {e.ymax:.1f}"
