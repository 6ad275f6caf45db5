"""Map tools of the comparison view."""
from __future__ import annotations

from qgis.core import QgsPointXY
from qgis.gui import QgsMapCanvas, QgsMapToolPan
from qgis.PyQt.QtCore import QPoint, Qt, pyqtSignal


class PanOrPickTool(QgsMapToolPan):
    """Drag to pan (linked canvases follow), click to pick a pixel for the inspector."""

    picked = pyqtSignal(QgsPointXY)
    CLICK_TOLERANCE = 3   # pixels the mouse may move and still count as a click

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self._pressed_at: QPoint | None = None

    def canvasPressEvent(self, event) -> None:
        self._pressed_at = event.originalPixelPoint()
        super().canvasPressEvent(event)

    def canvasReleaseEvent(self, event) -> None:
        start, self._pressed_at = self._pressed_at, None
        pos = event.originalPixelPoint()
        if event.button() == Qt.MouseButton.LeftButton and start is not None and \
                (pos - start).manhattanLength() <= self.CLICK_TOLERANCE:
            self.picked.emit(self.toMapCoordinates(pos))   # a click: pick, do not re-centre the map
            return
        super().canvasReleaseEvent(event)
