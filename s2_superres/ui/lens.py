"""The live lens: a map tool that super-resolves (``fast``) a small window around the cursor and shows
it in a floating magnifier beside the original, at 2.5 m per screen pixel, as the cursor moves.

Mouse moves are debounced; each window is computed in a background QgsTask (ui.lens_compute, core's
reader and method), one at a time: when the cursor moved on meanwhile, only its latest position is
computed next. The UI never waits for the network.
"""
from __future__ import annotations

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY,
                       QgsProject, QgsTask)
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem, QgsMapTool
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QPointF, QRectF, QTimer, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen

from ..core.bands import GROUP_10
from ..core.errors import UserError
from .layers import to_core_band_map
from .lens_compute import LENS_SIDE, LensPicture, compute_lens
from .result_layer import shared_stretch

DEBOUNCE_MS = 120
GAP = 4         # pixels between the two halves of the magnifier
OFFSET = 12     # pixels from the outlined window to the magnifier


def lens_inputs(mapping: dict, offset: float | None, providers: list[str]) -> tuple | None:
    """(product, fast method for the 10 m bands, raster CRS, true-colour stretch) for ui.lens.LensTool from
    the dock's mapping of GROUP_10 {band: ui.layers.BandRef}; None when they cannot be opened."""
    from ..core.methods.registry import create_method
    from ..core.sources import open_product
    project = QgsProject.instance()
    band_map = to_core_band_map(mapping, project)
    try:
        product = open_product(sorted({p for p, _ in band_map.values()}), band_map=band_map, offset=offset)
        method = create_method("fast", GROUP_10, providers=providers)
    except UserError:
        return None
    crs = project.mapLayer(mapping["B04"].layer_id).crs()
    return product, method, crs, shared_stretch(mapping, product.offset, project) or [(0.0, 0.25)] * 3


def to_qimage(rgb) -> QImage:
    rows, cols, _ = rgb.shape
    return QImage(rgb.data, cols, rows, 3 * cols, QImage.Format.Format_RGB888).copy()


class LensTask(QgsTask):
    """Computes one lens window in a worker thread."""

    def __init__(self, product, method, x: float, y: float, ranges):
        super().__init__("Super-resolution lens", QgsTask.Flag(0))   # no flags: not cancellable from the task list
        self.args = (product, method, x, y, ranges)
        self.picture: LensPicture | None = None
        self.error: str | None = None
        self.on_done = None      # callable(LensTask), main thread
        self.done = False

    def run(self) -> bool:
        try:
            self.picture = compute_lens(*self.args)
        except UserError as exc:
            self.error = str(exc)      # e.g. the window left the data: nothing to show there
        except Exception as exc:  # shown in the magnifier, never raised into QGIS
            self.error = f"{type(exc).__name__}: {exc}"
        return True

    def finished(self, ok: bool) -> None:
        self.done = True
        if self.on_done:
            self.on_done(self)


class LensItem(QgsMapCanvasItem):
    """Draws the original | result magnifier next to the cursor (canvas pixels)."""

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.images: tuple[QImage, QImage] | None = None
        self.anchor = QPointF(0, 0)
        self.text = "Move over the product to super-resolve around the cursor"
        self.window_m = LENS_SIDE * 10.0     # ground side of the window, outlined around the cursor
        self.setZValue(20)
        self.setRect(canvas.extent())

    def set_pictures(self, picture: LensPicture) -> None:
        self.images = (to_qimage(picture.original), to_qimage(picture.result))
        self.window_m = picture.extent.width          # the window as snapped to the 60 m lattice
        self.text = f"original 10 m | fast 2.5 m · {picture.seconds:.2f} s"
        self.update()

    def set_text(self, text: str) -> None:
        self.text = text
        self.update()

    def move_to(self, pos: QPointF) -> None:
        self.anchor = QPointF(pos)
        self.setRect(self.canvas.extent())
        self.update()

    def paint(self, painter: QPainter, *_args) -> None:
        side = self.window_m / max(self.canvas.mapUnitsPerPixel(), 1e-9)
        centre = self.anchor - self.pos()
        painter.setPen(QPen(QColor(255, 0, 200), 1.5))
        painter.drawRect(QRectF(centre.x() - side / 2, centre.y() - side / 2, side, side))
        half = side / 2 + OFFSET
        origin = self.anchor + QPointF(half, half) - self.pos()
        width, height = 260, 18
        if self.images is not None:
            left, right = self.images
            width, height = left.width() + GAP + right.width(), max(left.height(), right.height()) + 18
        frame = QRectF(origin.x() - 3, origin.y() - 3, width + 6, height + 6)
        painter.fillRect(frame, QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(255, 0, 200), 2))
        painter.drawRect(frame)
        if self.images is not None:
            left, right = self.images
            painter.drawImage(origin, left)
            painter.drawImage(origin + QPointF(left.width() + GAP, 0), right)
        painter.setPen(QColor(40, 40, 40))
        painter.drawText(QRectF(origin.x(), origin.y() + height - 16, width, 16), Qt.AlignmentFlag.AlignLeft, self.text)


class LensTool(QgsMapTool):
    """Hover to see the fast super-resolution of the window under the cursor; any other tool ends it."""

    pictureShown = pyqtSignal(object)   # LensPicture, after it is drawn
    stopped = pyqtSignal()

    def __init__(self, canvas: QgsMapCanvas, product, method, crs: QgsCoordinateReferenceSystem, ranges):
        super().__init__(canvas)
        self.canvas, self.product, self.method, self.ranges = canvas, product, method, ranges
        self.to_raster = QgsCoordinateTransform(canvas.mapSettings().destinationCrs(), crs, QgsProject.instance())
        self.item: LensItem | None = None
        self.task: LensTask | None = None
        self.pending: QgsPointXY | None = None     # latest position not computed yet (raster CRS)
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._compute_pending)
        self.active = False
        self.setCursor(Qt.CursorShape.CrossCursor)

    def start(self) -> None:
        self.item = LensItem(self.canvas)
        self.active = True
        self.canvas.setMapTool(self)

    def stop(self) -> None:
        """Remove the magnifier (idempotent) and emit ``stopped``."""
        if not self.active:
            return
        self.active = False
        self.timer.stop()
        if self.task is not None:
            self.task.on_done = None
        if self.item is not None:
            self.canvas.scene().removeItem(self.item)
            sip.delete(self.item)
            self.item = None
        if self.canvas.mapTool() is self:
            self.canvas.unsetMapTool(self)
        self.stopped.emit()

    def deactivate(self) -> None:
        super().deactivate()
        self.stop()

    def canvasMoveEvent(self, event) -> None:
        self.hover(event.originalPixelPoint(), event.originalMapPoint())

    def hover(self, pos, map_point: QgsPointXY) -> None:
        """The cursor is at ``pos`` (canvas pixels) over ``map_point`` (canvas CRS): move the magnifier and
        compute this place once the cursor rests for DEBOUNCE_MS."""
        if self.item is None:
            return
        self.item.move_to(QPointF(pos))
        self.pending = self.to_raster.transform(map_point)
        self.timer.start()

    def _compute_pending(self) -> None:
        if self.pending is None or not self.active or (self.task is not None and not self.task.done):
            return                         # the running window finishes first; then the latest position
        point, self.pending = self.pending, None
        self.task = LensTask(self.product, self.method, point.x(), point.y(), self.ranges)
        self.task.on_done = self._on_done
        QgsApplication.taskManager().addTask(self.task)

    def _on_done(self, task: LensTask) -> None:
        if self.item is None or not self.active:
            return
        if task.picture is not None:
            self.item.set_pictures(task.picture)
            self.pictureShown.emit(task.picture)
        elif task.error:
            self.item.set_text(task.error.split(". ")[0])
        if self.pending is not None:
            self._compute_pending()
