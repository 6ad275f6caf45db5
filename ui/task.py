"""The background run: a QgsTask whose run() calls core and whose finished() touches the map."""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from qgis.core import (Qgis, QgsLayerMetadata, QgsMessageLog, QgsProject, QgsRasterLayer, QgsTask)

from ..core.bands import OUTPUT_BANDS
from ..core.errors import Cancelled, UserError
from ..core.extent import Extent
from ..core.methods.base import RunOptions
from ..core.pipeline import RunResult, uncertainty_path
from .layers import BandRef, band_descriptions
from .render import TRUE_COLOUR, apply_rgb, cumulative_range, rgb_indices, source_reflectance_range

LOG_TAG = "S2 super-resolution"
GROUP_NAME = "Super-resolution"
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
    offset: float | None = None                   # DN offset override; None = detected from the product


@dataclass
class FinishedRun:
    """A successful run as the rest of the UI needs it (plain data: the task object is deleted later)."""

    result: RunResult
    request: RunRequest
    offset: float          # DN offset of the source product
    layer_id: str          # the result layer added to the project


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

    def __init__(self, request: RunRequest, iface=None):
        self.requested_output = Path(request.output)
        request.output = reserve_output(request.output)   # never overwrite a file or another run's output
        super().__init__(f"Super-resolve ({request.preset}) → {request.output.name}", QgsTask.CanCancel)
        self.request = request
        self.iface = iface
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self.details = ""
        self.offset = 0.0
        self.layer: QgsRasterLayer | None = None
        self.finished_run: FinishedRun | None = None
        self.on_success = None   # optional callable(FinishedRun), main thread, after the layer is added
        self.done = False        # plain attribute: readable even after the task manager deleted the task

    # -- worker thread -------------------------------------------------------------------------
    def run(self) -> bool:
        """Open the product, build the method and run the pipeline; never touches QGIS GUI objects."""
        from ..core.methods.registry import create_method
        from ..core.pipeline import superresolve
        from ..core.sources import open_product
        req = self.request
        try:
            product = open_product(sorted({p for p, _ in req.band_map.values()}), band_map=req.band_map,
                                   offset=req.offset)
            self.offset = product.offset
            method = create_method(req.preset, req.bands, providers=req.options.providers)
            self.result = superresolve(product, method, req.output, extent=req.extent, bands=req.bands,
                                       options=req.options, tile=req.tile,
                                       progress=lambda f: self.setProgress(100.0 * f),
                                       is_cancelled=self.isCanceled)
            return True
        except Cancelled as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - reported in finished()
            self.error = exc
            self.details = traceback.format_exc()
        return False

    # -- main thread ---------------------------------------------------------------------------
    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QGIS API
        try:
            self._finish(ok)
        finally:
            release_output(self.request.output)
            self.done = True

    def _finish(self, ok: bool) -> None:  # noqa: FBT001
        if ok and self.result is not None:
            try:
                self.layer = add_result_layer(self.result, self.request, self.offset)
            except Exception as exc:  # noqa: BLE001 - the file exists; say so instead of losing the run
                self.error, self.details = exc, traceback.format_exc()
                self._report_failure()
                return
            self.finished_run = FinishedRun(self.result, self.request, self.offset, self.layer.id())
            renamed = (f" ('{self.requested_output.name}' already existed or was in use, so the result was "
                       "written under this name)" if self.request.output != self.requested_output else "")
            self._message(f"{self.request.output.name}{renamed}: {self.result.tiles} tile(s) in "
                          f"{self.result.seconds:.0f} s. " + " ".join(self.result.notes), Qgis.Success)
            if self.on_success:
                self.on_success(self.finished_run)
        elif isinstance(self.error, Cancelled) or (self.error is None and self.isCanceled()):
            self._message("Run cancelled; nothing was written.", Qgis.Info)
        else:
            self._report_failure()

    def _report_failure(self) -> None:
        err = self.error
        if isinstance(err, UserError):
            text = str(err)
        elif err is not None:
            text = f"Unexpected error ({type(err).__name__}: {err}). Details are in the log panel ({LOG_TAG})."
        else:
            text = "The run stopped without a result. Details are in the log panel."
        QgsMessageLog.logMessage(f"Run to {self.request.output} failed: {err}\n{self.details}", LOG_TAG, Qgis.Critical)
        self._message(text, Qgis.Critical)

    def _message(self, text: str, level: Qgis.MessageLevel) -> None:
        QgsMessageLog.logMessage(text, LOG_TAG, level)
        if self.iface is not None:
            duration = 0 if level == Qgis.Critical else 8
            self.iface.messageBar().pushMessage("Super-resolution", text, level=level, duration=duration)


def add_result_layer(result: RunResult, request: RunRequest, offset: float,
                     project: QgsProject | None = None) -> QgsRasterLayer:
    """Add the output to the 'Super-resolution' group, true colour, stretched like the source."""
    project = project or QgsProject.instance()
    layer = QgsRasterLayer(str(result.output), f"{result.output.stem} ({request.preset}, 2.5 m)", "gdal")
    if not layer.isValid():
        raise UserError(f"QGIS cannot open the result '{result.output}'.")
    style_like_source(layer, request.refs, offset, project)
    layer.setMetadata(result_metadata(layer.metadata(), result, request))
    group = project.layerTreeRoot().findGroup(GROUP_NAME) or project.layerTreeRoot().insertGroup(0, GROUP_NAME)
    if result.uncertainty is not None:
        std = QgsRasterLayer(str(result.uncertainty), f"{result.output.stem} uncertainty (std)", "gdal")
        if std.isValid():
            std.setMetadata(result_metadata(std.metadata(), result, request))
            project.addMapLayer(std, False)
            group.insertLayer(0, std).setItemVisibilityChecked(False)
    project.addMapLayer(layer, False)
    group.insertLayer(0, layer)
    return layer


def style_like_source(layer: QgsRasterLayer, refs: dict[str, BandRef], offset: float,
                      project: QgsProject) -> None:
    """True colour (B04, B03, B02) with the min/max of the source layers' renderers, in reflectance."""
    ids = band_descriptions(layer.source())
    rgb = rgb_indices(ids, TRUE_COLOUR)
    if rgb is None:
        return  # no true colour in this output: keep the QGIS default rendering
    ranges = []
    for band, index in zip(TRUE_COLOUR, rgb):
        ref = refs.get(band)
        source = project.mapLayer(ref.layer_id) if ref else None
        if isinstance(source, QgsRasterLayer) and source.isValid():
            ranges.append(source_reflectance_range(source, ref.index, offset))
        else:
            ranges.append(cumulative_range(layer, index))
    apply_rgb(layer, rgb, ranges)


def result_metadata(meta: QgsLayerMetadata, result: RunResult, request: RunRequest) -> QgsLayerMetadata:
    """Record method, steps, seed and source in the layer metadata (abstract + keywords)."""
    tags = result.tags
    method = tags.get("SR_METHOD", request.preset)
    meta.setTitle(f"Sentinel-2 super-resolved to 2.5 m ({method})")
    meta.setAbstract(
        f"Super-resolved to 2.5 m by {tags.get('SR_SOFTWARE', 's2-superres')} with method '{method}' "
        f"(preset {request.preset}, steps {request.options.steps}, seed {request.options.seed}) from "
        f"{request.source_name or tags.get('SR_SOURCE', '')}.\nBands: {', '.join(result.bands)} (reflectance). "
        f"Extent: {tags.get('SR_EXTENT', '')}. Created {tags.get('SR_CREATED', '')}.")
    meta.addKeywords("s2-superres", [f"method={method}", f"preset={request.preset}",
                                     f"steps={request.options.steps}", f"seed={request.options.seed}",
                                     f"source={tags.get('SR_SOURCE', '')}"])
    return meta
