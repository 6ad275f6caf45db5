"""The band mapping table: for each output band, the project layer and band number that feed it."""
from __future__ import annotations

from qgis.core import QgsRasterLayer
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QBrush, QColor
from qgis.PyQt.QtWidgets import QComboBox, QHeaderView, QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QWidget

from ..core.bands import OUTPUT_BANDS, RESOLUTION
from .layers import BandRef
from .widgets import compact_combo

MISSING = "— missing —"
MISSING_COLOUR = QColor(255, 205, 205)


class MappingTable(QTableWidget):
    """Output band ← (layer, band number), one row per output band, all rows visible; ``edited`` fires when
    the user changes a cell (not when the dock fills it)."""

    edited = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(len(OUTPUT_BANDS), 3, parent)
        self._filling = False
        self._layers: dict[str, QgsRasterLayer] = {}
        self.setHorizontalHeaderLabels(["Band", "Layer", "#"])
        self.horizontalHeaderItem(2).setToolTip("Band number inside the layer")
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip("Output band ← layer and band number; red rows are missing")
        for row, band in enumerate(OUTPUT_BANDS):
            item = QTableWidgetItem(band)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip(f"{band}, native {RESOLUTION[band]} m")
            self.setItem(row, 0, item)
            combo = compact_combo(f"The layer that holds {band}", 6)
            combo.currentIndexChanged.connect(self._on_cell_changed)
            self.setCellWidget(row, 1, combo)
            spin = QSpinBox()
            spin.setRange(1, 1)
            spin.setToolTip(f"Band number of {band} inside the chosen layer")
            spin.valueChanged.connect(self._on_cell_changed)
            self.setCellWidget(row, 2, spin)
        self.resizeRowsToContents()
        self.setFixedHeight(self.horizontalHeader().height() + sum(self.rowHeight(r) for r in range(self.rowCount()))
                            + 4)                  # all 12 rows, no inner scrolling
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def layer_cell(self, row: int) -> QComboBox:
        return self.cellWidget(row, 1)

    def index_cell(self, row: int) -> QSpinBox:
        return self.cellWidget(row, 2)

    def show_mapping(self, mapping: dict[str, BandRef], layers: list[QgsRasterLayer],
                     keep: bool = False) -> dict[str, BandRef]:
        """Show ``mapping`` with ``layers`` to choose from in every row; with ``keep``, bands whose layer is
        gone are dropped. Returns the mapping shown."""
        self._filling = True
        self._layers = {lyr.id(): lyr for lyr in layers}
        shown = dict(mapping)
        for row, band in enumerate(OUTPUT_BANDS):
            combo = self.layer_cell(row)
            combo.clear()
            combo.addItem(MISSING, None)
            for layer in layers:
                combo.addItem(layer.name(), layer.id())
            ref = shown.get(band)
            combo.setCurrentIndex(max(0, combo.findData(ref.layer_id)) if ref else 0)
            if ref and combo.currentIndex() == 0 and keep:
                shown.pop(band)
            self._show_index(row, shown.get(band))
        self._filling = False
        return shown

    def _show_index(self, row: int, ref: BandRef | None) -> None:
        layer = self._layers.get(ref.layer_id) if ref else None
        spin = self.index_cell(row)
        spin.blockSignals(True)
        spin.setRange(1, max(1, layer.bandCount() if layer is not None else 1))
        spin.setValue(ref.index if ref else 1)
        spin.setEnabled(ref is not None)
        spin.blockSignals(False)

    def read(self, old: dict[str, BandRef]) -> dict[str, BandRef]:
        """The mapping the cells show now (a newly chosen layer starts at its band 1)."""
        mapping = {}
        for row, band in enumerate(OUTPUT_BANDS):
            layer_id = self.layer_cell(row).currentData()
            if layer_id is not None:
                before = old.get(band)
                index = self.index_cell(row).value() if before and before.layer_id == layer_id else 1
                mapping[band] = BandRef(layer_id, index)
            self._show_index(row, mapping.get(band))
        return mapping

    def set_row(self, band: str, layer_id: str | None, index: int = 1) -> None:
        """Choose a layer and band number for ``band``, as a user would."""
        row = OUTPUT_BANDS.index(band)
        combo = self.layer_cell(row)
        combo.setCurrentIndex(combo.findData(layer_id) if layer_id else 0)
        self.index_cell(row).setValue(index)

    def flag(self, missing: set[str]) -> None:
        """Colour the rows of the missing bands."""
        for row, band in enumerate(OUTPUT_BANDS):
            item = self.item(row, 0)
            item.setBackground(QBrush(MISSING_COLOUR if band in missing else QColor(0, 0, 0, 0)))
            item.setToolTip("missing: map a layer band here" if band in missing else f"{band}, native "
                            f"{RESOLUTION[band]} m")

    def _on_cell_changed(self, *_args) -> None:
        if not self._filling:
            self.edited.emit()
