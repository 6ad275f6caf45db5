"""Comparing a result with its source: side-by-side canvases, swipe on the main canvas, pixel spectra.

The original is shown through a VRT that puts every source band on the 10 m grid (nearest
neighbour, so 20/60 m pixels stay visible as such) and converts DN to reflectance
((DN + offset) / 10000); the result is already reflectance. Both sides therefore share one band
order (core.bands.OUTPUT_BANDS) and one stretch.
"""
from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from osgeo import gdal
from qgis.core import (QgsMapRendererParallelJob, QgsMapSettings, QgsPointXY, QgsProject, QgsRaster,
                       QgsRasterLayer)
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem, QgsMapTool, QgsMapToolPan, QgsVertexMarker
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from qgis.PyQt.QtWidgets import (QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableWidget,
                                 QTableWidgetItem, QVBoxLayout, QWidget)

from ..core.bands import OUTPUT_BANDS, RESOLUTION
from ..core.sources import Product, open_product
from .layers import band_descriptions
from .render import COMBINATIONS, QUANTIFICATION, TRUE_COLOUR, apply_rgb, cumulative_range, rgb_indices
from .task import FinishedRun

gdal.UseExceptions()


# -- the original as reflectance ---------------------------------------------------------------
def reflectance_vrt(product: Product, path: Path, bands: tuple[str, ...] = OUTPUT_BANDS) -> Path:
    """Write a Float32 VRT of ``bands`` (those the product has) on a common 10 m grid, in reflectance."""
    present = [b for b in bands if b in product.bands]
    xmin, ymin, xmax, ymax = product.data_bounds(tuple(present))
    cols, rows = round((xmax - xmin) / 10), round((ymax - ymin) / 10)
    parts = [f'<VRTDataset rasterXSize="{cols}" rasterYSize="{rows}">',
             f"<SRS>{escape(product.crs_wkt)}</SRS>",
             f"<GeoTransform>{xmin!r}, 10, 0, {ymax!r}, 0, -10</GeoTransform>"]
    for k, band in enumerate(present, start=1):
        parts.append(_vrt_band(product, band, k, xmin, ymax))
    parts.append("</VRTDataset>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _vrt_band(product: Product, band: str, k: int, xmin: float, ymax: float) -> str:
    src = product.bands[band]
    x0, dx, _, y0, _, dy = src.geotransform
    scale = dx / 10
    ds = gdal.Open(src.path)  # keep the dataset alive while its band is used
    nodata = ds.GetRasterBand(src.index).GetNoDataValue()
    nd = f"<NODATA>{nodata!r}</NODATA>" if nodata is not None else ""
    return (f'<VRTRasterBand dataType="Float32" band="{k}"><Description>{band}</Description>'
            "<NoDataValue>nan</NoDataValue>"
            f"<ComplexSource resampling=\"nearest\"><SourceFilename relativeToVRT=\"0\">{escape(src.path)}"
            f"</SourceFilename><SourceBand>{src.index}</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{src.width}" ySize="{src.height}"/>'
            f'<DstRect xOff="{(x0 - xmin) / 10!r}" yOff="{(ymax - y0) / 10!r}" xSize="{src.width * scale!r}" '
            f'ySize="{src.height * scale!r}"/>{nd}'
            f"<ScaleOffset>{product.offset / QUANTIFICATION!r}</ScaleOffset>"
            f"<ScaleRatio>{1 / QUANTIFICATION!r}</ScaleRatio></ComplexSource></VRTRasterBand>")


# -- reading spectra ---------------------------------------------------------------------------
def layer_band_descriptions(layer: QgsRasterLayer) -> list[str]:
    """The band descriptions of a result/original layer, as written (ui.layers.layer_band_ids normalises them)."""
    return band_descriptions(layer.source())


def spectrum(layer: QgsRasterLayer, point: QgsPointXY) -> dict[str, float]:
    """Values of every band of ``layer`` at ``point`` (layer CRS), keyed by band id; NaN outside."""
    ids = layer_band_descriptions(layer)
    if not layer.extent().contains(point):
        return {b: math.nan for b in ids}
    result = layer.dataProvider().identify(point, QgsRaster.IdentifyFormatValue).results()
    return {b: _float(result.get(k)) for k, b in enumerate(ids, start=1)}


def _float(value) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


# -- widgets -----------------------------------------------------------------------------------
class SpectrumPlot(QWidget):
    """A tiny line plot of two spectra (original grey, result red) over the bands."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.series: list[tuple[QColor, list[float]]] = []
        self.labels: list[str] = []

    def set_spectra(self, labels: list[str], original: list[float], result: list[float]) -> None:
        self.labels = labels
        self.series = [(QColor(110, 110, 110), original), (QColor(200, 40, 40), result)]
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor(255, 255, 255))
        values = [v for _, s in self.series for v in s if math.isfinite(v)]
        if not values or len(self.labels) < 2:
            return
        top, left, bottom = max(values + [0.0]) * 1.15 or 1.0, 8.0, self.height() - 14.0
        step = (self.width() - 2 * left) / (len(self.labels) - 1)
        painter.setPen(QColor(90, 90, 90))
        for i, label in enumerate(self.labels):
            painter.drawText(QPointF(left + i * step - 9, self.height() - 2.0), label[1:])
        for k, (colour, name) in enumerate(zip((c for c, _ in self.series), ("original", "result"))):
            painter.setPen(QPen(colour, 2))
            painter.drawLine(QPointF(left + k * 90, 10.0), QPointF(left + k * 90 + 18, 10.0))
            painter.drawText(QPointF(left + k * 90 + 22, 14.0), name)
        for colour, series in self.series:
            painter.setPen(QPen(colour, 2))
            points = [QPointF(left + i * step, bottom - (v / top) * (bottom - 6)) for i, v in enumerate(series)
                      if math.isfinite(v)]
            painter.drawPolyline(QPolygonF(points))


class PixelInspector(QWidget):
    """Table (and plot) of the original and result spectra at a clicked point."""

    def __init__(self, original: QgsRasterLayer, result: QgsRasterLayer, parent: QWidget | None = None):
        super().__init__(parent)
        self.original, self.result = original, result
        self.point: QgsPointXY | None = None
        self.title = QLabel("Click the map to see the spectrum of a pixel.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Band", "Original", "Result", "Δ"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.setMinimumWidth(360)
        self.plot = SpectrumPlot()
        layout = QVBoxLayout(self)
        for w in (self.title, self.table, self.plot):
            layout.addWidget(w)

    def inspect(self, point: QgsPointXY) -> None:
        """Show both spectra at ``point`` (CRS of the layers)."""
        self.point = point
        orig, res = spectrum(self.original, point), spectrum(self.result, point)
        bands = [b for b in OUTPUT_BANDS if b in res or b in orig]
        self.title.setText(f"Reflectance at {point.x():.1f}, {point.y():.1f}")
        self.table.setRowCount(len(bands))
        for row, band in enumerate(bands):
            o, r = orig.get(band, math.nan), res.get(band, math.nan)
            for col, text in enumerate((f"{band} ({RESOLUTION[band]} m)", _fmt(o), _fmt(r), _fmt(r - o))):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.plot.set_spectra(bands, [orig.get(b, math.nan) for b in bands], [res.get(b, math.nan) for b in bands])

    def values(self) -> dict[str, tuple[float, float]]:
        """{band: (original, result)} currently shown."""
        return {self.table.item(r, 0).text().split()[0]: (_parse(self.table.item(r, 1).text()),
                                                           _parse(self.table.item(r, 2).text()))
                for r in range(self.table.rowCount())}


def _fmt(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.4f}"


def _parse(text: str) -> float:
    return math.nan if text == "—" else float(text)


class PanOrPickTool(QgsMapToolPan):
    """Drag to pan (linked canvases follow), click to pick a pixel for the inspector."""

    picked = pyqtSignal(QgsPointXY)
    CLICK_TOLERANCE = 3   # pixels the mouse may move and still count as a click

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self._pressed_at: QPoint | None = None

    def canvasPressEvent(self, event) -> None:  # noqa: N802 - QGIS API
        self._pressed_at = event.pos()
        super().canvasPressEvent(event)

    def canvasReleaseEvent(self, event) -> None:  # noqa: N802
        start, self._pressed_at = self._pressed_at, None
        if event.button() == Qt.LeftButton and start is not None and \
                (event.pos() - start).manhattanLength() <= self.CLICK_TOLERANCE:
            self.picked.emit(self.toMapCoordinates(event.pos()))   # a click: pick, do not re-centre the map
            return
        super().canvasReleaseEvent(event)


class CompareDialog(QDialog):
    """Original (left) and result (right) in two linked canvases, with band combinations and an inspector."""

    def __init__(self, original: QgsRasterLayer, result: QgsRasterLayer, parent: QWidget | None = None,
                 cleanup: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Compare: original (left) · super-resolved (right)")
        self.setAttribute(Qt.WA_DeleteOnClose)   # the canvases' signal lambdas keep a Python cycle alive
        self.original, self.result = original, result
        self._cleanup = cleanup
        self._syncing = False
        self.left, self.right = self._canvas(original), self._canvas(result)
        self.inspector = PixelInspector(original, result)
        self.combo = QComboBox()
        self._fill_combinations()
        self._build()
        self._link()
        self.tools = [self._click_tool(c) for c in (self.left, self.right)]
        self.markers = [self._marker(c) for c in (self.left, self.right)]
        self.apply_combination(TRUE_COLOUR)
        self.zoom_to_result()

    @classmethod
    def from_run(cls, run: FinishedRun, parent: QWidget | None = None) -> "CompareDialog":
        """Build the comparison of a finished run (the original comes from the run's band files)."""
        folder = Path(tempfile.mkdtemp(prefix="s2sr_compare_"))
        product = open_product(sorted({p for p, _ in run.request.band_map.values()}),
                               band_map=run.request.band_map, offset=run.offset)
        original = QgsRasterLayer(str(reflectance_vrt(product, folder / "original.vrt")), "original (10/20/60 m)")
        result = QgsRasterLayer(str(run.result.output), "super-resolved (2.5 m)")
        return cls(original, result, parent, cleanup=folder)

    def zoom_to_result(self) -> None:
        """Show the whole result on both sides."""
        self.left.setExtent(self.result.extent())
        self.left.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        """The canvases only know their size once shown: zoom to the result then."""
        super().showEvent(event)
        self.zoom_to_result()

    def _canvas(self, layer: QgsRasterLayer) -> QgsMapCanvas:
        canvas = QgsMapCanvas()
        canvas.setDestinationCrs(self.result.crs())
        canvas.setCanvasColor(QColor(255, 255, 255))
        canvas.setLayers([layer])
        canvas.setMinimumSize(320, 320)
        return canvas

    def _build(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Bands:"))
        top.addWidget(self.combo, 1)
        split = QSplitter(Qt.Horizontal)
        for canvas, title in ((self.left, "Original"), (self.right, "Super-resolved 2.5 m")):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(QLabel(f"<b>{title}</b>"))
            lay.addWidget(canvas, 1)
            split.addWidget(box)
        split.addWidget(self.inspector)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.resize(1300, 560)

    def _fill_combinations(self) -> None:
        ids_o, ids_r = layer_band_descriptions(self.original), layer_band_descriptions(self.result)
        for name, combo in COMBINATIONS.items():
            self.combo.addItem(name, combo)
            ok = rgb_indices(ids_o, combo) is not None and rgb_indices(ids_r, combo) is not None
            self.combo.model().item(self.combo.count() - 1).setEnabled(ok)
        self.combo.currentIndexChanged.connect(lambda _i: self.apply_combination(self.combo.currentData()))

    # -- linked navigation ---------------------------------------------------------------------
    def _link(self) -> None:
        for src, dst in ((self.left, self.right), (self.right, self.left)):
            src.extentsChanged.connect(lambda s=src, d=dst: self.sync(s, d))
            src.rotationChanged.connect(lambda _r, s=src, d=dst: self.sync(s, d))

    def sync(self, src: QgsMapCanvas, dst: QgsMapCanvas) -> None:
        """Give ``dst`` the centre, scale and rotation of ``src`` (re-entrancy guarded)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            dst.setRotation(src.rotation())
            if dst.extent().isEmpty():
                dst.setExtent(src.extent())
            dst.setCenter(src.center())
            dst.zoomScale(src.scale())
            dst.refresh()
        finally:
            self._syncing = False

    # -- band combinations ---------------------------------------------------------------------
    def apply_combination(self, combo: tuple[str, str, str]) -> None:
        """Render both sides with ``combo`` and one stretch: per channel, the 2-98 % range of the original
        over the result extent (QGIS's default stretch), applied identically to the result."""
        rgb_o = rgb_indices(layer_band_descriptions(self.original), combo)
        rgb_r = rgb_indices(layer_band_descriptions(self.result), combo)
        if rgb_o is None or rgb_r is None:
            return
        ranges = [cumulative_range(self.original, i, self.result.extent()) for i in rgb_o]
        apply_rgb(self.original, rgb_o, ranges)
        apply_rgb(self.result, rgb_r, ranges)
        for canvas in (self.left, self.right):
            canvas.refresh()

    # -- pixel inspector -----------------------------------------------------------------------
    def _click_tool(self, canvas: QgsMapCanvas) -> "PanOrPickTool":
        tool = PanOrPickTool(canvas)
        tool.picked.connect(self.inspect)
        canvas.setMapTool(tool)
        return tool

    def _marker(self, canvas: QgsMapCanvas) -> QgsVertexMarker:
        marker = QgsVertexMarker(canvas)
        marker.setIconType(QgsVertexMarker.ICON_CROSS)
        marker.setColor(QColor(255, 0, 255))
        marker.setIconSize(14)
        marker.setPenWidth(2)
        marker.hide()
        return marker

    def inspect(self, point: QgsPointXY) -> None:
        for marker in self.markers:
            marker.setCenter(point)
            marker.show()
        self.inspector.inspect(point)

    def done(self, result: int) -> None:  # noqa: D401 - Qt API
        """Close: remove markers and tools from the canvases, drop the layers and the temporary VRT folder."""
        for canvas, marker, tool in zip((self.left, self.right), self.markers, self.tools):
            canvas.stopRendering()
            canvas.scene().removeItem(marker)
            canvas.unsetMapTool(tool)
            canvas.setLayers([])
            sip.delete(marker)   # both are also owned by C++ (canvas scene / QObject parent): delete once, now
            sip.delete(tool)
        self.markers, self.tools = [], []
        # release the layers now: a layer destroyed after QGIS has exited crashes in GDALClose
        self.inspector.original = self.inspector.result = self.original = self.result = None
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None
        super().done(result)


# -- swipe on the main canvas --------------------------------------------------------------------
class SwipeItem(QgsMapCanvasItem):
    """Draws a pre-rendered image of one layer, clipped to the left of a vertical line."""

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.image = QImage()
        self.x = canvas.width() // 2
        self.setZValue(10)

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.setRect(self.canvas.extent())
        self.update()

    def set_position(self, x: int) -> None:
        self.x = max(0, min(int(x), self.canvas.width()))
        self.update()

    def paint(self, painter: QPainter, *_args) -> None:
        if self.image.isNull():
            return
        dpr = self.image.devicePixelRatio() or 1.0
        height = self.image.height() / dpr
        painter.drawImage(QRectF(0, 0, self.x, height), self.image, QRectF(0, 0, self.x * dpr, self.image.height()))
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawLine(QPointF(self.x, 0), QPointF(self.x, height))


class SwipeTool(QgsMapTool):
    """Drag on the main canvas to reveal ``layer`` left of the cursor over the layers below it.

    While active the layer is hidden in the layer tree (so the canvas draws what is below) and
    drawn by a SwipeItem instead; stop() restores the visibility.
    """

    positionChanged = pyqtSignal(int)
    stopped = pyqtSignal()   # the swipe ended (stop(), another map tool chosen, or the layer removed)

    def __init__(self, canvas: QgsMapCanvas, layer: QgsRasterLayer):
        super().__init__(canvas)
        self.canvas, self.layer = canvas, layer
        self.layer_id = layer.id()
        self.item: SwipeItem | None = None
        self.job: QgsMapRendererParallelJob | None = None
        self.previous_tool = None
        self.was_visible = True
        self.active = False
        self._dragging = False

    def start(self) -> None:
        """Hide the layer in the tree, draw it through the swipe item, take over the canvas' map tool."""
        node = QgsProject.instance().layerTreeRoot().findLayer(self.layer_id)
        if node is not None:
            self.was_visible = node.itemVisibilityChecked()
            node.setItemVisibilityChecked(False)
        self.item = SwipeItem(self.canvas)
        self.previous_tool = self.canvas.mapTool()
        self.active = True
        self.canvas.setMapTool(self)
        self.canvas.mapCanvasRefreshed.connect(self.render)
        QgsProject.instance().layerWillBeRemoved[str].connect(self._on_layer_removed)
        self.canvas.refresh()
        self.render()

    def stop(self) -> None:
        """Undo start() (idempotent) and emit ``stopped``."""
        if not self.active:
            return
        self.active = False
        self._cancel_job()
        for signal, slot in ((self.canvas.mapCanvasRefreshed, self.render),
                             (QgsProject.instance().layerWillBeRemoved[str], self._on_layer_removed)):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass
        if self.item is not None:
            self.canvas.scene().removeItem(self.item)
            sip.delete(self.item)
            self.item = None
        node = QgsProject.instance().layerTreeRoot().findLayer(self.layer_id)
        if node is not None:
            node.setItemVisibilityChecked(self.was_visible)
        if self.canvas.mapTool() is self:
            self.canvas.unsetMapTool(self)
            if self.previous_tool is not None:
                self.canvas.setMapTool(self.previous_tool)
        self.canvas.refresh()
        self.stopped.emit()

    def _on_layer_removed(self, layer_id: str) -> None:
        if layer_id == self.layer_id:
            self.stop()

    def render(self) -> None:
        """Render the swiped layer for the current view in the background (a large result can take a while)."""
        if self.item is None or not self.active:
            return
        self._cancel_job()
        settings = QgsMapSettings(self.canvas.mapSettings())
        settings.setLayers([self.layer])
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        self.job = QgsMapRendererParallelJob(settings)
        self.job.finished.connect(self._on_rendered)
        self.job.start()

    def _on_rendered(self) -> None:
        job, self.job = self.job, None
        if job is not None and self.item is not None and self.active:
            self.item.set_image(job.renderedImage())

    def _cancel_job(self) -> None:
        if self.job is not None:
            self.job.finished.disconnect(self._on_rendered)
            self.job.cancel()   # blocking: the job must not be deleted while its threads still run
            self.job = None

    def set_position(self, x: int) -> None:
        if self.item is not None:
            self.item.set_position(x)
            self.positionChanged.emit(self.item.x)

    def canvasPressEvent(self, event) -> None:  # noqa: N802 - QGIS API
        self._dragging = True
        self.set_position(event.pos().x())

    def canvasMoveEvent(self, event) -> None:  # noqa: N802
        if self._dragging:
            self.set_position(event.pos().x())

    def canvasReleaseEvent(self, event) -> None:  # noqa: N802
        self._dragging = False
        self.set_position(event.pos().x())

    def deactivate(self) -> None:
        """Another map tool was chosen: end the swipe (restores the layer's visibility)."""
        self._dragging = False
        super().deactivate()
        self.stop()
