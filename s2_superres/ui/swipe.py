"""Swipe on the main canvas: the result drawn left of a vertical line over what lies below it (the
original true colour, added beside the result)."""
from __future__ import annotations

from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsProject, QgsRasterLayer
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem, QgsMapTool
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QPointF, QRectF, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen


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

    def canvasPressEvent(self, event) -> None:
        self._dragging = True
        self.set_position(event.originalPixelPoint().x())

    def canvasMoveEvent(self, event) -> None:
        if self._dragging:
            self.set_position(event.originalPixelPoint().x())

    def canvasReleaseEvent(self, event) -> None:
        self._dragging = False
        self.set_position(event.originalPixelPoint().x())

    def deactivate(self) -> None:
        """Another map tool was chosen: end the swipe (restores the layer's visibility)."""
        self._dragging = False
        super().deactivate()
        self.stop()
