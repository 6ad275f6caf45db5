"""The pixel inspector: original and result reflectance of every band at a clicked point, table and plot."""
from __future__ import annotations

import math

from qgis.core import QgsPointXY, QgsRasterLayer
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QHeaderView, QLabel, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..core.bands import OUTPUT_BANDS, RESOLUTION
from ..qgis_compat import IDENTIFY_VALUE
from .layers import band_descriptions
from .spectrum_plot import SpectrumPlot


def layer_band_descriptions(layer: QgsRasterLayer) -> list[str]:
    """The band descriptions of a result/original layer, as written (ui.layers.layer_band_ids normalises them)."""
    return band_descriptions(layer.source())


def spectrum(layer: QgsRasterLayer, point: QgsPointXY) -> dict[str, float]:
    """Values of every band of ``layer`` at ``point`` (layer CRS), keyed by band id; NaN outside."""
    ids = layer_band_descriptions(layer)
    if not layer.extent().contains(point):
        return {b: math.nan for b in ids}
    result = layer.dataProvider().identify(point, IDENTIFY_VALUE).results()
    return {b: _float(result.get(k)) for k, b in enumerate(ids, start=1)}


def _float(value) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


class PixelInspector(QWidget):
    """Table (and plot) of the original and result spectra at a clicked point."""

    def __init__(self, original: QgsRasterLayer, result: QgsRasterLayer, parent: QWidget | None = None):
        super().__init__(parent)
        self.original, self.result = original, result
        self.point: QgsPointXY | None = None
        self.title = QLabel("Click the map to see the spectrum of a pixel.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Band", "Original", "Result", "Δ"])
        self.table.setToolTip("Reflectance of each band at the clicked point: original (its native pixel), "
                              "result (2.5 m) and their difference")
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setRowCount(len(OUTPUT_BANDS))
        self.table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._fit_rows()
        self.setMinimumWidth(360)
        self.plot = SpectrumPlot()
        layout = QVBoxLayout(self)
        for w in (self.title, self.table, self.plot):
            layout.addWidget(w)

    def _fit_rows(self) -> None:
        """Make the table exactly as tall as its rows: every band visible at once, never a scroll bar."""
        self.table.resizeRowsToContents()
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + rows
                                  + 2 * self.table.frameWidth())

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
        self._fit_rows()
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
