"""The background run: a QgsTask whose run() calls core and whose finished() touches the map.

QGIS reports a task whose run() returns False as "Task failed"; a cancelled run is not a failure,
so run() returns True with ``cancelled`` set, and finished() says "Run cancelled" once. The task is
Silent where QGIS knows the flag (3.26+) and its description never carries the message, so the message
bar gets one message per run. run() also opens and styles the result layers (QGIS computes a histogram
when it opens a raster: seconds for a large result), so finished() only adds them to the project.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from qgis.core import Qgis, QgsMessageLog, QgsProject, QgsRasterLayer, QgsTask
from qgis.PyQt.QtCore import QCoreApplication, pyqtSignal

from ..core.bands import OUTPUT_BANDS
from ..core.errors import Cancelled, UserError, cancellable, printable
from ..core.estimate import format_duration
from ..core.extent import Extent
from ..core.methods.base import RunOptions
from ..core.pipeline import RunResult, uncertainty_path
from ..core.remote import private_hosts
from .estimates import throughput
from .layers import BandRef
from .tile_pictures import PreviewingMethod, TilePicture, preview_side
from .reflectance_vrt import true_colour_vrt
from .render import TRUE_COLOUR, apply_rgb, renderer_ranges
from .result_layer import (GROUP_NAME, distinct_suffix, open_result_layer, prepare_result_layer, result_group,
                           result_metadata)

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
    """A path like ``path`` that neither exists nor is the output of another running task: ``_2``, ``_3`` …
    on the base name, also when ``path`` is itself such a numbered name (``x_2.tif`` -> ``x_3.tif``)."""
    path = Path(path)

    def taken(p: Path) -> bool:
        return p.exists() or uncertainty_path(p).exists() or str(p) in _reserved
    with _reserved_lock:
        numbered = re.fullmatch(r"(.+)_\d+", path.stem)
        if numbered and taken(path.with_name(numbered[1] + path.suffix)):
            path = path.with_name(numbered[1] + path.suffix)
        candidate, k = path, 1
        while taken(candidate):
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
        silent = getattr(QgsTask.Flag, "Silent", None)  # QGIS 3.26+: no "Task complete" notification of its own
        super().__init__(f"Super-resolve ({request.preset}) → {request.output.name}",
                         QgsTask.Flag.CanCancel | silent if silent is not None else QgsTask.Flag.CanCancel)
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
        self.layers: ResultLayers | None = None   # opened and styled in run(), added to the project in finished()
        self.throughput = throughput()            # this machine's measured speed, refined by the run
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
            with cancellable(self.isCanceled):     # stops inside a tile too (model passes, the COG copy)
                self.result = superresolve(product, method, req.output, extent=req.extent, bands=req.bands,
                                           options=req.options, tile=req.tile, progress=progress,
                                           is_cancelled=self.isCanceled, stack=self.stack,
                                           throughput=self.throughput,
                                           confirmed=True)   # the dock asked before a long run (confirm_long_run)
            self.layers = open_result_layers(self.result, req, self.offset, self.product)
            self.layers.move_to_main_thread()
        except Cancelled:
            self.cancelled = True
        except Exception as exc:  # reported in finished()
            if self.isCanceled() and self.result is None:
                self.cancelled = True
                return True
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
            self._message("Run cancelled; nothing was written.", Qgis.MessageLevel.Info)
        elif ok and self.result is not None and self.layers is not None:
            self.layer = add_result_layers(self.layers, self.result)
            stack = self.stack
            self.finished_run = FinishedRun(self.result, self.request, self.offset, self.layer.id(),
                                            list(stack.dates) if stack else [], list(stack.products) if stack else [],
                                            stack.reference_index if stack else 0)
            written = self.result.output     # a synthesised date's file says so in its name (TimeStack.output_path)
            renamed = (f" ('{self.requested_output.name}' already existed or was in use, so the result was "
                       "written under this name)" if self.request.output != self.requested_output else "")
            granule = (f"Granule {self.product.granule.rstrip('/').rsplit('/', 1)[-1]} of the multi-granule product. "
                       if self.product is not None and self.product.granule else "")
            self._message(f"{written.name}{renamed}: {self.result.tiles} tile(s) in "
                          f"{self.result.seconds:.0f} s. " + granule + " ".join(self.result.notes),
                          Qgis.MessageLevel.Success)
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
        QgsMessageLog.logMessage(f"Run to {self.request.output} failed: {err}\n{self.details}", LOG_TAG,
                                 Qgis.MessageLevel.Critical)
        self._message(text, Qgis.MessageLevel.Critical)

    def _message(self, text: str, level: Qgis.MessageLevel) -> None:
        """The run's one message: in the message bar and the log (not in the task's description, which QGIS
        shows as "Task complete: …" in its own notification)."""
        self.message = text
        QgsMessageLog.logMessage(text, LOG_TAG, level)
        if self.iface is not None:
            duration = 0 if level == Qgis.MessageLevel.Critical else 8
            self.iface.messageBar().pushMessage("Super-resolution", text, level=level, duration=duration)


def original_vrt_path(output: Path) -> Path:
    """Where the true-colour VRT of the original goes: beside the result."""
    return output.with_name(f"{output.stem}.original_rgb.vrt")


def original_layer(product, output: Path, name: str,
                   ranges: list[tuple[float, float]] | None) -> QgsRasterLayer | None:
    """The original's true colour (a small VRT beside the result, in reflectance), to go under the result so
    swipe and A/B compare like with like; drawn with the result's stretch."""
    try:
        layer = open_result_layer(true_colour_vrt(product, original_vrt_path(output)), name)
    except UserError:
        return None
    if ranges is not None:
        apply_rgb(layer, (1, 2, 3), ranges)
    return layer


def synthesised_date(result: RunResult) -> str | None:
    """The target date (YYYY-MM-DD) of a synthesised result (core.timestack tags), None for an observation."""
    if not result.tags.get("SR_TARGET_KIND", "").startswith("synthesised"):
        return None
    return result.tags.get("SR_TARGET_DATE")


def synthesised_group_name(target: str) -> str:
    """The layer group of a synthesised result: it is not an observation, and the map says so."""
    return f"Synthesised {target} (not an observation)"


def uncertainty_layer(result: RunResult, request: RunRequest, name: str) -> QgsRasterLayer | None:
    """The run's uncertainty layer (the diffusion samples' std, or a synthesised date's spread of the dates)."""
    what = "spread of the dates" if result.uncertainty.stem.endswith("_spread") else "uncertainty (std)"
    try:
        std = open_result_layer(result.uncertainty, f"{name} {what}")
    except UserError:
        return None    # the result itself is fine: show it without its uncertainty layer
    opts = request.options
    std.setMetadata(result_metadata(std.metadata(), result, request.preset, opts.steps, opts.seed,
                                    request.source_name))
    return std


@dataclass
class ResultLayers:
    """A run's layers, opened, named and styled (the slow part: QGIS computes a histogram on opening)."""

    result: QgsRasterLayer
    original: QgsRasterLayer | None = None      # the original's true colour
    uncertainty: QgsRasterLayer | None = None

    def all(self) -> list[QgsRasterLayer]:
        """Bottom to top as they go into the group: original, uncertainty (hidden), result."""
        return [lyr for lyr in (self.original, self.uncertainty, self.result) if lyr is not None]

    def move_to_main_thread(self) -> None:
        """Hand layers opened in the task's thread to the main thread, which adds them to the project."""
        for layer in self.all():
            layer.moveToThread(QCoreApplication.instance().thread())


def open_result_layers(result: RunResult, request: RunRequest, offset: float, product=None) -> ResultLayers:
    """The result named after the product and styled like the source (the request's stretch, else its own
    2-98 % cut), its uncertainty layer, and the original's true colour when ``product`` (core.sources.Product)
    is given. Touches no project: runs in the task's thread."""
    opts = request.options
    layer = prepare_result_layer(open_result_layer(result.output, result.output.stem), result,
                                 request.product_label, request.preset, {}, offset, QgsProject.instance(),
                                 opts.steps, opts.seed, request.source_name, ranges=request.preview_ranges)
    target = synthesised_date(result)
    if target is not None:
        layer.setName(f"{layer.name()} synthesised {target}")
    layers = ResultLayers(layer)
    if product is not None and set(TRUE_COLOUR) <= set(product.bands):
        date = f" {product.date.isoformat()}" if request.other_dates and product.date else ""
        layers.original = original_layer(product, result.output, f"{request.product_label} original true colour"
                                         f"{date}", renderer_ranges(layer, TRUE_COLOUR))
    if result.uncertainty is not None:
        layers.uncertainty = uncertainty_layer(result, request, layer.name())
    return layers


def add_result_layers(layers: ResultLayers, result: RunResult, project: QgsProject | None = None) -> QgsRasterLayer:
    """Add opened layers to the 'Super-resolution' group (main thread; nothing is computed here): the result at
    the top, its uncertainty (hidden) and the original's true colour below it. Names already in the project
    get ' (2)', ' (3)' …; a synthesised date's layers go to their own group, named as not an observation."""
    project = project or QgsProject.instance()
    group = result_group(project)
    target = synthesised_date(result)
    if target is not None:
        group = group.findGroup(synthesised_group_name(target)) or group.insertGroup(0, synthesised_group_name(target))
    suffix = distinct_suffix(layers.result.name(), project)
    for layer in layers.all():    # in the group before the project: the dock's list of dated inputs skips them
        layer.setName(layer.name() + suffix)
        group.insertLayer(0, layer).setItemVisibilityChecked(layer is not layers.uncertainty)
    project.addMapLayers(layers.all(), False)
    return layers.result


def add_result_layer(result: RunResult, request: RunRequest, offset: float,
                     project: QgsProject | None = None, product=None) -> QgsRasterLayer:
    """open_result_layers then add_result_layers, in one thread."""
    return add_result_layers(open_result_layers(result, request, offset, product), result, project)


__all__ = ["GROUP_NAME", "FinishedRun", "ResultLayers", "RunRequest", "SuperResolutionTask", "TilePicture",
           "TileProgress", "add_result_layer", "add_result_layers", "open_result_layers", "reserve_output"]
