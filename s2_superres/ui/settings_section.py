"""The dock's method section (preset, pixel size, bands, output) and its collapsed advanced settings."""
from __future__ import annotations

from qgis.gui import QgsCollapsibleGroupBox, QgsFileWidget
from qgis.PyQt.QtGui import QStandardItemModel
from qgis.PyQt.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

from ..core.bands import OUTPUT_RESOLUTION, PIXEL_SIZES, pixel_label
from ..core.methods.registry import makes_pixel_size
from .layers import BAND_CHOICES
from .widgets import compact_combo, wrapping_label

PRESET_LABELS = {"fast": "Fast (single-pass network)", "diffusion": "Diffusion (best, slow)",
                 "spacetime": "Space-time (several dates, any pixel size)",
                 "bicubic": "Bicubic (reference)", "hpf": "HPF pansharpening (reference)"}
DEVICE_AUTO, DEVICE_CPU = "Automatic", "CPU"


def onnx_providers() -> list[str] | None:
    """onnxruntime's execution providers here, or None when onnxruntime is not installed."""
    try:
        import onnxruntime  # optional, imported only when the dock opens
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def pixel_tooltip(pixel_size: float, preset: str, sizes: tuple[float, ...] | None) -> str:
    """Why a pixel size can or cannot be chosen with ``preset`` (whose pixel_sizes are ``sizes``)."""
    label = f"{pixel_label(pixel_size)} m pixels (60 m / {round(60 / pixel_size)})"
    if makes_pixel_size(sizes, pixel_size):
        return label
    made = ", ".join(f"{pixel_label(p)} m" for p in sizes or ())
    return f"{label}: not with '{preset}', which makes only {made} pixels. Choose the bicubic preset for this size"


class MethodSection(QgsCollapsibleGroupBox):
    """Preset, output pixel size, output bands and the output file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Method and output", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.preset_combo = compact_combo("fast: single-pass networks (default) · diffusion: slower, finer texture · "
                                          "bicubic and hpf: classical references without a model")
        self.pixel_combo = compact_combo("Output pixel size, 60 m / n from 10 m down to 2 m (default 2.5 m). "
                                         "spacetime and bicubic make every size; fast, diffusion and hpf only 2.5 m")
        self.pixel_combo.setModel(QStandardItemModel(self.pixel_combo))
        for size in PIXEL_SIZES:
            self.pixel_combo.addItem(f"{pixel_label(size)} m", size)
        self.pixel_combo.setCurrentIndex(PIXEL_SIZES.index(OUTPUT_RESOLUTION))
        self.bands_combo = compact_combo("All 12 bands, or only the four 10 m bands (faster)")
        self.bands_combo.addItems(list(BAND_CHOICES))
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output_widget.setFilter("GeoTIFF (*.tif *.tiff)")
        self.output_widget.setConfirmOverwrite(True)
        self.output_widget.setToolTip("The GeoTIFF to write. While a run goes on this names the file being written; "
                                      "an existing file is never overwritten (a _2 suffix is added)")
        self.output_widget.lineEdit().setToolTip(self.output_widget.toolTip())
        self.output_note = wrapping_label(style="color: #555;")
        form.addRow("Preset", self.preset_combo)
        form.addRow("Pixel size", self.pixel_combo)
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


    def grey_pixel_sizes(self, preset: str, sizes: tuple[float, ...] | None) -> None:
        """Enable the pixel sizes preset ``preset`` makes (``sizes``, None = all); the others are greyed out with
        the reason as tooltip. A greyed-out current size falls back to 2.5 m (or the first the preset makes)."""
        model = self.pixel_combo.model()
        for i, size in enumerate(PIXEL_SIZES):
            item = model.item(i)
            item.setEnabled(makes_pixel_size(sizes, size))
            item.setToolTip(pixel_tooltip(size, preset, sizes))
        if not model.item(self.pixel_combo.currentIndex()).isEnabled():
            default = PIXEL_SIZES.index(OUTPUT_RESOLUTION)
            enabled = [i for i in range(len(PIXEL_SIZES)) if model.item(i).isEnabled()]
            self.pixel_combo.setCurrentIndex(default if default in enabled else (enabled or [default])[0])

    def select_pixel_size(self, pixel_size: float) -> None:
        """Select the listed size nearest ``pixel_size`` metres."""
        self.pixel_combo.setCurrentIndex(min(range(len(PIXEL_SIZES)), key=lambda i: abs(PIXEL_SIZES[i] - pixel_size)))


class AdvancedSection(QgsCollapsibleGroupBox):
    """Diffusion steps and seed, uncertainty, device and tile size (collapsed by default)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Advanced", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
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
