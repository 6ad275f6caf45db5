"""Results as they come: each finished tile is shown on the canvas in true colour while the run goes on.

``PreviewingMethod`` wraps the run's method (same protocol, every attribute delegated): after each
tile it hands a small 8-bit true-colour picture of the tile's core and its ground box to a callback
(worker thread). ``TilePreviewItem`` draws those pictures on the map canvas (main thread) until the
result layer replaces them. Nothing is written to disk.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsGeometry, QgsProject,
                       QgsRectangle)
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem, QgsRubberBand
from qgis.PyQt.QtCore import QRectF, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from ..core.bands import OUTPUT_RESOLUTION, SCALE
from ..core.extent import Extent

#: longest side of a tile's preview picture (pixels), and the side of all pictures of a run together:
#: a run of n tiles gets pictures of PREVIEW_TOTAL / sqrt(n) pixels a side, so their memory stays under
#: 3 * PREVIEW_TOTAL**2 bytes (12 MB) whatever the extent
PREVIEW_SIDE = 256
PREVIEW_TOTAL = 2048


def preview_side(tiles: int) -> int:
    """Side (pixels) of each tile's picture in a run of ``tiles`` tiles."""
    return max(16, min(PREVIEW_SIDE, int(PREVIEW_TOTAL / max(1, tiles) ** 0.5)))


@dataclass(frozen=True)
class TilePicture:
    """An RGB picture (rows, cols, 3) uint8 of the ground box ``extent`` (metres, raster CRS)."""

    rgb: np.ndarray
    extent: Extent


def to_rgb8(rgb: np.ndarray, ranges: list[tuple[float, float]]) -> np.ndarray:
    """(3, h, w) reflectance -> (h, w, 3) uint8 with a linear stretch per channel; NaN -> black."""
    out = np.empty(rgb.shape[1:] + (3,), np.uint8)
    for k, (lo, hi) in enumerate(ranges):
        scaled = (np.nan_to_num(rgb[k], nan=lo) - lo) / max(hi - lo, 1e-9)
        out[..., k] = (np.clip(scaled, 0, 1) * 255).astype(np.uint8)
    return out


class PreviewingMethod:
    """A method that also reports a true-colour picture of every tile it computed."""

    def __init__(self, method, rgb: tuple[int, int, int], ranges: list[tuple[float, float]], margin: int,
                 on_tile: Callable[[TilePicture], None], side: int = PREVIEW_SIDE):
        self._method, self._rgb, self._ranges, self._side = method, rgb, ranges, side
        self._crop = margin * SCALE          # 2.5 m pixels of context on each side of the tile's core
        self._on_tile = on_tile

    def __getattr__(self, name: str):
        return getattr(self._method, name)

    def superresolve_tile(self, tile, options):
        result = self._method.superresolve_tile(tile, options)
        try:
            self._on_tile(self.picture(tile, result))
        except Exception:  # a preview must never break the run
            pass
        return result

    def picture(self, tile, result: np.ndarray) -> TilePicture:
        """The core of ``result`` (margin cropped) as an 8-bit picture of at most ``side`` pixels a side."""
        c = self._crop
        core = np.asarray(result)[list(self._rgb), c:result.shape[1] - c, c:result.shape[2] - c]
        step = max(1, -(-max(core.shape[1:]) // self._side))
        xmin = (tile.out_col + c) * OUTPUT_RESOLUTION
        ymax = -(tile.out_row + c) * OUTPUT_RESOLUTION
        box = Extent(xmin, ymax - core.shape[1] * OUTPUT_RESOLUTION, xmin + core.shape[2] * OUTPUT_RESOLUTION, ymax)
        return TilePicture(np.ascontiguousarray(to_rgb8(core[:, ::step, ::step], self._ranges)), box)


class TilePreviewItem(QgsMapCanvasItem):
    """Draws the tile pictures of a running task on the canvas, and outlines the processed extent."""

    def __init__(self, canvas: QgsMapCanvas, crs: QgsCoordinateReferenceSystem, extent: Extent):
        super().__init__(canvas)
        self.canvas = canvas
        self._to_canvas = QgsCoordinateTransform(crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
        self.pictures: list[tuple[QgsRectangle, QImage]] = []
        self.outline = QgsRubberBand(canvas, True)
        self.outline.setStrokeColor(QColor(255, 0, 200))
        self.outline.setFillColor(QColor(0, 0, 0, 0))
        self.outline.setWidth(2)
        self.outline.setLineStyle(Qt.DashLine)
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
        image = QImage(picture.rgb.data, cols, rows, 3 * cols, QImage.Format_RGB888).copy()
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
