"""Results as they come: each finished tile is shown on the canvas in true colour while the run goes on.

``TilePreviewItem`` draws the pictures of ui.tile_pictures on the map canvas (main thread), with the
processed extent outlined, until the result layer replaces them. Nothing is written to disk.
"""
from __future__ import annotations

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsGeometry, QgsProject,
                       QgsRectangle)
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem, QgsRubberBand
from qgis.PyQt.QtCore import QRectF, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from ..core.extent import Extent
from ..qgis_compat import POLYGON_GEOMETRY
from .tile_pictures import TilePicture


class TilePreviewItem(QgsMapCanvasItem):
    """Draws the tile pictures of a running task on the canvas, and outlines the processed extent."""

    def __init__(self, canvas: QgsMapCanvas, crs: QgsCoordinateReferenceSystem, extent: Extent):
        super().__init__(canvas)
        self.canvas = canvas
        self._to_canvas = QgsCoordinateTransform(crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
        self.pictures: list[tuple[QgsRectangle, QImage]] = []
        self.outline = QgsRubberBand(canvas, POLYGON_GEOMETRY)
        self.outline.setStrokeColor(QColor(255, 0, 200))
        self.outline.setFillColor(QColor(0, 0, 0, 0))
        self.outline.setWidth(2)
        self.outline.setLineStyle(Qt.PenStyle.DashLine)
        self.outline.addGeometry(self._geometry(extent), None)
        self.setZValue(5)
        self.setRect(canvas.extent())
        canvas.extentsChanged.connect(self._follow_canvas)

    def _follow_canvas(self) -> None:
        """Cover the whole view after a pan or zoom (the pictures are placed in map coordinates)."""
        self.setRect(self.canvas.extent())

    def _rect(self, e: Extent) -> QgsRectangle:
        return self._to_canvas.transformBoundingBox(QgsRectangle(e.xmin, e.ymin, e.xmax, e.ymax))

    def _geometry(self, e: Extent) -> QgsGeometry:
        return QgsGeometry.fromRect(self._rect(e))

    def add(self, picture: TilePicture) -> None:
        """Show one more tile."""
        rows, cols, _ = picture.rgb.shape
        image = QImage(picture.rgb.data, cols, rows, 3 * cols, QImage.Format.Format_RGB888).copy()
        self.pictures.append((self._rect(picture.extent), image))
        self.setRect(self.canvas.extent())
        self.update()

    def paint(self, painter: QPainter, *_args) -> None:
        for rect, image in self.pictures:
            top_left = self.canvas.getCoordinateTransform().transform(rect.xMinimum(), rect.yMaximum())
            bottom_right = self.canvas.getCoordinateTransform().transform(rect.xMaximum(), rect.yMinimum())
            target = QRectF(top_left.x(), top_left.y(), bottom_right.x() - top_left.x(),
                            bottom_right.y() - top_left.y())
            painter.drawImage(target.translated(-self.pos()), image)

    def remove(self) -> None:
        """Take the outline and the pictures off the canvas."""
        self.canvas.extentsChanged.disconnect(self._follow_canvas)
        scene = self.canvas.scene()
        for item in (self.outline, self):
            scene.removeItem(item)
