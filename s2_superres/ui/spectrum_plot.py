"""A tiny line plot of two spectra (original grey, result red) over the bands, for the inspector."""
from __future__ import annotations

import math

from qgis.PyQt.QtCore import QPointF
from qgis.PyQt.QtGui import QColor, QPainter, QPen, QPolygonF
from qgis.PyQt.QtWidgets import QWidget


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

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
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
