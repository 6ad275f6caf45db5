"""The dock's input section: which layers, which band is where, and how DN become reflectance."""
from __future__ import annotations

from qgis.gui import QgsCollapsibleGroupBox, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import (QCheckBox, QHBoxLayout, QLineEdit, QListWidget, QPushButton, QSpinBox, QVBoxLayout,
                                 QWidget)

from ..qgis_compat import RASTER_LAYER_FILTER
from .mapping_table import MappingTable
from .widgets import compact_combo, wrapping_label

MODE_LAYER, MODE_LIST, MODE_PRODUCT = 0, 1, 2
MODE_LABELS = ("Multi-band layer", "Single-band layers", "STAC item or product (path or URL)")
WARNING_STYLE = "color: #b36b00;"


class InputSection(QgsCollapsibleGroupBox):
    """Mode, layer(s), the band mapping table and the product's level / baseline / DN offset."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Input", parent)
        self.setObjectName("S2InputSection")
        layout = QVBoxLayout(self)
        self.mode_combo = compact_combo("How the bands are loaded: one layer whose bands are the Sentinel-2 bands "
                                        "(named in its band descriptions), one single-band layer per band, or a "
                                        "STAC item / product opened by its path or URL")
        self.mode_combo.addItems(list(MODE_LABELS))
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(RASTER_LAYER_FILTER)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip("The multi-band Sentinel-2 raster layer to super-resolve")
        self.layer_list = QListWidget()
        self.layer_list.setMaximumHeight(110)
        self.layer_list.setToolTip("Check the single-band layers of one product (one per band)")
        self.check_bands_button = QPushButton("One layer per band")
        self.check_bands_button.setToolTip("Check the first layer of each recognised Sentinel-2 band in the project")
        self.standard_order_button = QPushButton("Standard S2 order")
        self.standard_order_button.setToolTip(
            "The layer's bands have no names: map them in the standard Sentinel-2 order (13 bands: B01–B12 "
            "with B8A after B08 and B10; 12 bands: the same without B10, as in L2A stacks)")
        self.product_row = self._product_row()
        buttons = QVBoxLayout()          # one of the two shows, depending on the mode
        buttons.addWidget(self.check_bands_button)
        buttons.addWidget(self.standard_order_button)
        self.mapping_box = QgsCollapsibleGroupBox("Band mapping")
        self.mapping_box.setToolTip("Which layer band feeds each output band (detected, editable)")
        self.mapping_table = MappingTable()
        mapping_layout = QVBoxLayout(self.mapping_box)
        mapping_layout.setContentsMargins(2, 2, 2, 2)
        mapping_layout.addWidget(self.mapping_table)
        self.mapping_label = wrapping_label()
        self.product_label = wrapping_label()
        self.product_label.setToolTip("What the plugin found in the product: processing level, processing baseline "
                                      "and the DN offset used for reflectance = (DN + offset) / 10000")
        self.offset_warning = wrapping_label(style=WARNING_STYLE)
        self.offset_check = QCheckBox("Override DN offset")
        self.offset_check.setToolTip("Use this offset instead of the detected one: -1000 for processing baseline "
                                     "04.00 and later (products from 25 January 2022 on), 0 before")
        self.offset_spin = QSpinBox()
        self.offset_spin.setRange(-2000, 2000)
        self.offset_spin.setSingleStep(1000)
        self.offset_spin.setValue(-1000)
        self.offset_spin.setEnabled(False)
        self.offset_spin.setToolTip("DN added before dividing by 10000")
        self.offset_check.toggled.connect(self.offset_spin.setEnabled)
        offset_row = QHBoxLayout()
        offset_row.addWidget(self.offset_check, 1)
        offset_row.addWidget(self.offset_spin)
        for w in (self.mode_combo, self.layer_combo, self.layer_list, self.product_row):
            layout.addWidget(w)
        layout.addLayout(buttons)
        layout.addWidget(self.mapping_label)
        layout.addWidget(self.mapping_box)
        layout.addWidget(self.product_label)
        layout.addWidget(self.offset_warning)
        layout.addLayout(offset_row)

    def _product_row(self) -> QWidget:
        """The path / URL field of a STAC item (or a .SAFE folder or zip) and its file button."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.product_edit = QLineEdit()
        self.product_edit.setPlaceholderText("item.json, https://…/items/…, .SAFE or .zip")
        self.product_edit.setToolTip("A STAC item of a Sentinel-2 product (local JSON file or http(s) URL), a .SAFE "
                                     "folder or a zipped product: opened exactly as the command line opens it, "
                                     "with the item's DN offset")
        self.product_button = QPushButton("STAC item…")
        self.product_button.setToolTip("Choose a STAC item JSON file (or a product's metadata file or zip)")
        layout.addWidget(self.product_edit, 1)
        layout.addWidget(self.product_button)
        return row
