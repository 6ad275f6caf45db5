"""The dock's method section (preset, bands, output) and its collapsed advanced settings."""
from __future__ import annotations

from qgis.gui import QgsCollapsibleGroupBox, QgsFileWidget
from qgis.PyQt.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

from .layers import BAND_CHOICES
from .widgets import compact_combo, wrapping_label


class MethodSection(QgsCollapsibleGroupBox):
    """Preset, output bands and the output file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Method and output", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.preset_combo = compact_combo("fast: single-pass networks (default) · diffusion: slower, finer texture · "
                                          "bicubic and hpf: classical references without a model")
        self.bands_combo = compact_combo("All 12 bands, or only the four 10 m bands (faster)")
        self.bands_combo.addItems(list(BAND_CHOICES))
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.SaveFile)
        self.output_widget.setFilter("GeoTIFF (*.tif *.tiff)")
        self.output_widget.setConfirmOverwrite(True)
        self.output_widget.setToolTip("The GeoTIFF to write. While a run goes on this names the file being written; "
                                      "an existing file is never overwritten (a _2 suffix is added)")
        self.output_widget.lineEdit().setToolTip(self.output_widget.toolTip())
        self.output_note = wrapping_label(style="color: #555;")
        form.addRow("Preset", self.preset_combo)
        form.addRow("Bands", self.bands_combo)
        form.addRow("Output", self.output_widget)
        form.addRow(self.output_note)


class AdvancedSection(QgsCollapsibleGroupBox):
    """Diffusion steps and seed, uncertainty, device and tile size (collapsed by default)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Advanced", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100)
        self.steps_spin.setToolTip("Diffusion sampling steps (more: slower, slightly finer); diffusion only")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Random seed of the diffusion noise: the same seed gives the same result")
        self.uncertainty_check = QCheckBox("Uncertainty (4 samples)")
        self.uncertainty_check.setToolTip("Diffusion only: run 4 samples and write their per-pixel standard "
                                          "deviation beside the output (*_std.tif)")
        self.device_combo = compact_combo("Where the networks run (onnxruntime execution provider)")
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(48, 768)
        self.tile_spin.setSingleStep(48)
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Tile size in 10 m pixels: larger tiles use more memory, the result is the same")
        form.addRow("Steps", self.steps_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow(self.uncertainty_check)
        form.addRow("Device", self.device_combo)
        form.addRow("Tile", self.tile_spin)
        self.setCollapsed(True)
