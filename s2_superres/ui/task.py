"""The background run: a QgsTask whose run() calls core and whose finished() touches the map.

QGIS reports a task whose run() returns False as "Task failed"; a cancelled run is not a failure,
so run() returns True with ``cancelled`` set, and finished() says "Run cancelled" once.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from qgis.core import Qgis, QgsMessageLog, QgsProject, QgsRasterLayer, QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from ..core.bands import OUTPUT_BANDS
from ..core.errors import Cancelled, UserError, printable
from ..core.estimate import format_duration
from ..core.extent import Extent
from ..core.methods.base import RunOptions
from ..core.pipeline import RunResult, uncertainty_path
from ..core.remote import private_hosts
from .layers import BandRef
from .tile_pictures import PreviewingMethod, TilePicture, preview_side
from .reflectance_vrt import true_colour_vrt
from .render import TRUE_COLOUR, apply_rgb, renderer_ranges
from .result_layer import GROUP_NAME, open_result_layer, prepare_result_layer, result_group, result_metadata

LOG_TAG = "S2 super-resolution"
#: core.pipeline.superresolve reports its tiles as progress 0 .. 0.95 and the final write as the rest
TILE_SHARE = 0.95
_reserved: set[str] = set()
_reserved_lock = threading.Lock()


@dataclass
class RunRequest:
    """Everything a run needs, resolved in the main thread (no QGIS objects, only ids and paths)."""

    band_map: dict[str, tuple[str, int]]          # band -> (file path, 1-based index), for core
    output: Path
    preset: str = "bicubic"
    extent: Extent | None = None                  # metres in the raster CRS; None = everything
    bands: tuple[str, ...] = OUTPUT_BANDS
    options: RunOptions = field(default_factory=RunOptions)
    tile: int = 288
    refs: dict[str, BandRef] = field(default_factory=dict)   # band -> project layer band, for the stretch
    source_name: str = ""
    product_label: str = "sentinel2"              # names the result layer (ui.outputs.layer_name)
    offset: float | None = None                   # DN offset set by the user; None = the product's own
    preview_ranges: list[tuple[float, float]] | None = None   # true-colour stretch (reflectance) of tile previews
    product_source: str | None = None             # a STAC item (JSON path or http(s) URL), .SAFE or zip: opened
                                                  # as the CLI opens it, instead of band_map
    extent_crs: str | None = None                 # WKT of ``extent``'s CRS (picks a multi-granule product's
                                                  # granule); None = the product's CRS
    other_dates: list[list[str]] = field(default_factory=list)   # files of each other date (open_product)
    target_date: dt.date | None = None            # None = the input's date
    fill_clouds: bool = False                     # the other dates fill the target's cloudy pixels
    allow_private_hosts: bool = False             # remote reads may reach loopback/private hosts (core.remote)

    def open_product(self, offset: float | None = None):
        """The product (core.sources.Product) through core.sources.open_product, as every path opens it:
        ``product_source`` like the CLI (with ``extent``, which picks the granule of a multi-granule product),
        else the explicit ``band_map``. ``offset`` (DN) overrides the product's."""
        from ..core.sources import open_product
        with private_hosts(self.allow_private_hosts):
            if self.product_source:
                return open_product(self.product_source, offset=offset, extent=self.extent,
                                    extent_crs=self.extent_crs)
            return open_product(sorted({p for p, _ in self.band_map.values()}), band_map=self.band_map,
                                offset=offset)

    def open_stack(self, product, method):
        """The TimeStack (core.timestack.open_stack, as the command line builds it) of ``product`` and the other
        dates, or None for a single date."""
        if not self.other_dates:
            return None
        from ..core.timestack import open_stack
        return open_stack(product, [list(p) for p in self.other_dates], self.target_date, self.fill_clouds, method,
                          self.offset, self.extent, self.extent_crs)


@dataclass
class FinishedRun:
    """A successful run as the rest of the UI needs it (plain data: the task object is deleted later)."""

    result: RunResult
    request: RunRequest
    offset: float          # DN offset of the source product
    layer_id: str          # the result layer added to the project
    dates: list[dt.date] = field(default_factory=list)   # the dates of a several-dates run, in time order
    date_products: list = field(default_factory=list)    # their core.sources.Product, in the same order
    reference_index: int = 0                             # the date the run read its own bands from


@dataclass(frozen=True)
class TileProgress:
    """Tile ``done`` of ``total`` is finished; ``seconds_left`` is extrapolated from the time so far."""

    done: int
    total: int
    seconds_left: float

    def text(self) -> str:
        left = f" · about {format_duration(self.seconds_left)} left" if self.done < self.total else " · writing"
        return f"Tile {self.done} of {self.total}{left}"


def reserve_output(path: Path) -> Path:
    """A path like ``path`` that neither exists nor is the output of another running task."""
    path = Path(path)
    with _reserved_lock:
        candidate, k = path, 1
        while candidate.exists() or uncertainty_path(candidate).exists() or str(candidate) in _reserved:
            k += 1
            candidate = path.with_name(f"{path.stem}_{k}{path.suffix}")
        _reserved.add(str(candidate))
    return candidate


def release_output(path: Path) -> None:
    with _reserved_lock:
        _reserved.discard(str(path))


class SuperResolutionTask(QgsTask):
    """Runs core.superresolve in a worker thread; adds the result layer when done."""

    tileDone = pyqtSignal(object)      # TileProgress, emitted from the worker thread
    tilePicture = pyqtSignal(object)   # TilePicture of the tile just finished
    def __init__(self, request: RunRequest, iface=None):
        self.requested_output = Path(request.output)
        request.output = reserve_output(request.output)   # never overwrite a file or another run's output
        super().__init__(f"Super-resolve ({request.preset}) → {request.output.name}", QgsTask.CanCancel)
        self.request = request
        self.iface = iface
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.details = ""
        self.offset = 0.0
        self.product = None      # core.sources.Product, set in run(): the one the run read its bands from
        self.stack = None        # core.timestack.TimeStack of a several-dates run, set in run()
        self.layer: QgsRasterLayer | None = None
        self.finished_run: FinishedRun | None = None
        self.on_success = None   # optional callable(FinishedRun), main thread, after the layer is added
        self.done = False        # plain attribute: readable even after the task manager deleted the task
        self.message = ""        # the one message the run ended with

    # -- worker thread -------------------------------------------------------------------------
    def run(self) -> bool:
        """Open the product, build the method and run the pipeline; never touches QGIS GUI objects.

        Returns False only on failure (QGIS then says "Task failed"); a cancelled run returns True."""
        with private_hosts(self.request.allow_private_hosts):
            return self._run()

    def _run(self) -> bool:
        from ..core.methods.registry import create_method
        from ..core.pipeline import plan_run, superresolve
        req = self.request
        try:
            product = req.open_product(req.offset)
            self.offset = product.offset
            self.product = product
            method = create_method(req.preset, req.bands, providers=req.options.providers)
            self.stack = req.open_stack(product, method)
            if self.stack is not None:
                self.product = product = self.stack.reference
            plan = plan_run(product, req.extent, req.bands, method.margin, req.tile,
                            pixel_size=req.options.pixel_size)
            method = self._previewing(method, plan)
            start, total = time.monotonic(), len(plan.tiles)

            def progress(fraction: float) -> None:
                self.setProgress(100.0 * fraction)
                done = min(total, round(fraction / TILE_SHARE * total))
                elapsed = time.monotonic() - start
                self.tileDone.emit(TileProgress(done, total, elapsed / max(done, 1) * (total - done)))
            self.result = superresolve(product, method, req.output, extent=req.extent, bands=req.bands,
                                       options=req.options, tile=req.tile, progress=progress,
                                       is_cancelled=self.isCanceled, stack=self.stack,
                                       confirmed=True)   # the dock asked before a long run (confirm_long_run)
        except Cancelled:
            self.cancelled = True
        except Exception as exc:  # reported in finished()
            self.error = exc
            self.details = traceback.format_exc()
            return False
        finally:
            if self.stack is not None:
                self.stack.close()
        return True

    def _previewing(self, method, plan):
        """Wrap ``method`` so each finished tile is also sent as a true-colour picture (tilePicture)."""
        req = self.request
        if req.preview_ranges is None or not set(TRUE_COLOUR) <= set(req.bands):
            return method
        rgb = tuple(req.bands.index(b) for b in TRUE_COLOUR)
        return PreviewingMethod(method, rgb, req.preview_ranges, plan, self.tilePicture.emit,
                                preview_side(len(plan.tiles)))

    # -- main thread ---------------------------------------------------------------------------
    def finished(self, ok: bool) -> None:
        try:
            self._finish(ok)
        finally:
            release_output(self.request.output)
            self.done = True

    def _finish(self, ok: bool) -> None:
        if self.cancelled or (self.result is None and self.error is None and self.isCanceled()):
            self.cancelled = True
            self._message("Run cancelled; nothing was written.", Qgis.Info)
        elif ok and self.result is not None:
            try:
                self.layer = add_result_layer(self.result, self.request, self.offset, product=self.product)
            except Exception as exc:  # the file exists; say so instead of losing the run
                self.error, self.details = exc, traceback.format_exc()
                self._report_failure()
                return
            stack = self.stack
            self.finished_run = FinishedRun(self.result, self.request, self.offset, self.layer.id(),
                                            list(stack.dates) if stack else [], list(stack.products) if stack else [],
                                            stack.reference_index if stack else 0)
            renamed = (f" ('{self.requested_output.name}' already existed or was in use, so the result was "
                       "written under this name)" if self.request.output != self.requested_output else "")
            granule = (f"Granule {self.product.granule.rstrip('/').rsplit('/', 1)[-1]} of the multi-granule product. "
                       if self.product is not None and self.product.granule else "")
            self._message(f"{self.request.output.name}{renamed}: {self.result.tiles} tile(s) in "
                          f"{self.result.seconds:.0f} s. " + granule + " ".join(self.result.notes), Qgis.Success)
            if self.on_success:
                self.on_success(self.finished_run)
        else:
            self._report_failure()

    def _report_failure(self) -> None:
        err = self.error
        if isinstance(err, UserError):
            text = printable(err)
        elif err is not None:
            text = (f"Unexpected error ({type(err).__name__}: {printable(err)}). Details are in the log panel "
                    f"({LOG_TAG}).")
        else:
            text = "The run stopped without a result. Details are in the log panel."
        QgsMessageLog.logMessage(f"Run to {self.request.output} failed: {err}\n{self.details}", LOG_TAG, Qgis.Critical)
        self._message(text, Qgis.Critical)

    def _message(self, text: str, level: Qgis.MessageLevel) -> None:
        """The run's one message: in the message bar, the log, and as the task's description (which QGIS
        shows in its own end-of-task notification)."""
        self.message = text
        self.setDescription(f"Super-resolution: {text}")
        QgsMessageLog.logMessage(text, LOG_TAG, level)
        if self.iface is not None:
            duration = 0 if level == Qgis.Critical else 8
            self.iface.messageBar().pushMessage("Super-resolution", text, level=level, duration=duration)


def original_vrt_path(output: Path) -> Path:
    """Where the true-colour VRT of the original goes: beside the result."""
    return output.with_name(f"{output.stem}.original_rgb.vrt")


def add_original_layer(product, output: Path, name: str, ranges: list[tuple[float, float]] | None,
                       project: QgsProject, group) -> QgsRasterLayer | None:
    """The original's true colour (a small VRT beside the result, in reflectance) added under the result, so
    swipe and A/B compare like with like; drawn with the result's stretch."""
    try:
        layer = open_result_layer(true_colour_vrt(product, original_vrt_path(output)), name)
    except UserError:
        return None
    if ranges is not None:
        apply_rgb(layer, (1, 2, 3), ranges)
    project.addMapLayer(layer, False)
    group.insertLayer(0, layer)
    return layer


def synthesised_date(result: RunResult) -> str | None:
    """The target date (YYYY-MM-DD) of a synthesised result (core.timestack tags), None for an observation."""
    if not result.tags.get("SR_TARGET_KIND", "").startswith("synthesised"):
        return None
    return result.tags.get("SR_TARGET_DATE")


def synthesised_group_name(target: str) -> str:
    """The layer group of a synthesised result: it is not an observation, and the map says so."""
    return f"Synthesised {target} (not an observation)"


def add_uncertainty_layer(result: RunResult, request: RunRequest, name: str, project: QgsProject, group) -> None:
    """The run's uncertainty layer (the diffusion samples' std, or a synthesised date's spread of the dates),
    hidden, at the top of ``group`` (right below the result, added next)."""
    what = "spread of the dates" if result.uncertainty.stem.endswith("_spread") else "uncertainty (std)"
    try:
        std = open_result_layer(result.uncertainty, f"{name} {what}")
    except UserError:
        return     # the result itself is fine: show it without its uncertainty layer
    opts = request.options
    std.setMetadata(result_metadata(std.metadata(), result, request.preset, opts.steps, opts.seed,
                                    request.source_name))
    project.addMapLayer(std, False)
    group.insertLayer(0, std).setItemVisibilityChecked(False)


def add_result_layer(result: RunResult, request: RunRequest, offset: float,
                     project: QgsProject | None = None, product=None) -> QgsRasterLayer:
    """Add the output to the 'Super-resolution' group, named after the product, styled like the source, with
    its uncertainty layer below it and the original's true colour below that when ``product``
    (core.sources.Product) is given. A synthesised date's result and its spread get their own group, named as
    not an observation."""
    project = project or QgsProject.instance()
    opts = request.options
    layer = prepare_result_layer(open_result_layer(result.output, result.output.stem), result,
                                 request.product_label, request.preset, request.refs, offset, project,
                                 opts.steps, opts.seed, request.source_name)
    group = result_group(project)
    target = synthesised_date(result)
    if target is not None:
        layer.setName(f"{layer.name()} synthesised {target}")
        group = group.findGroup(synthesised_group_name(target)) or group.insertGroup(0, synthesised_group_name(target))
    if product is not None and set(TRUE_COLOUR) <= set(product.bands):
        date = f" {product.date.isoformat()}" if request.other_dates and product.date else ""
        add_original_layer(product, result.output, f"{request.product_label} original true colour{date}",
                           renderer_ranges(layer, TRUE_COLOUR), project, group)
    if result.uncertainty is not None:
        add_uncertainty_layer(result, request, layer.name(), project, group)
    project.addMapLayer(layer, False)
    group.insertLayer(0, layer)
    return layer


__all__ = ["GROUP_NAME", "FinishedRun", "RunRequest", "SuperResolutionTask", "TilePicture", "TileProgress",
           "add_result_layer", "reserve_output"]
