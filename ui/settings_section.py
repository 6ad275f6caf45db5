"""The dock's method section (preset, bands, output) and its collapsed advanced settings."""
from __future__ import annotations

from qgis.gui import QgsCollapsibleGroupBox, QgsFileWidget
from qgis.PyQt.QtGui import QStandardItemModel
from qgis.PyQt.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

from .layers import BAND_CHOICES
from .widgets import compact_combo, wrapping_label

PRESET_LABELS = {"fast": "Fast (single-pass network)", "diffusion": "Diffusion (best, slow)",
                 "bicubic": "Bicubic (reference)", "hpf": "HPF pansharpening (reference)"}
DEVICE_AUTO, DEVICE_CPU = "Automatic", "CPU"


def onnx_providers() -> list[str] | None:
    """onnxruntime's execution providers here, or None when onnxruntime is not installed."""
    try:
        import onnxruntime  # optional, imported only when the dock opens
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


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

    def fill_presets(self, availability: dict[str, str | None]) -> None:
        """One item per preset; those that cannot run are disabled, with the reason as tooltip."""
        model = QStandardItemModel()
        self.preset_combo.setModel(model)
        for name, why in availability.items():
            self.preset_combo.addItem(PRESET_LABELS.get(name, name), name)
            item = model.item(self.preset_combo.count() - 1)
            item.setEnabled(why is None)
            item.setToolTip(f"Not available: {why}" if why else PRESET_LABELS.get(name, name))


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

    def fill_devices(self, providers: list[str] | None) -> None:
        """Automatic, CPU, and one item per GPU provider of onnxruntime (None: not installed)."""
        self.device_combo.clear()
        self.device_combo.addItem(DEVICE_AUTO, None)
        self.device_combo.addItem(DEVICE_CPU, ["CPUExecutionProvider"])
        for p in providers or []:
            if p not in ("CPUExecutionProvider", "AzureExecutionProvider"):
                self.device_combo.addItem(f"GPU: {p.replace('ExecutionProvider', '')}", [p, "CPUExecutionProvider"])
        self.device_combo.setToolTip("onnxruntime is not installed: only the bicubic and hpf presets can run "
                                     "(Plugins ▸ Sentinel-2 super-resolution ▸ Install dependencies)"
                                     if providers is None else "onnxruntime providers here: " + ", ".join(providers))
