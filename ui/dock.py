"""The dock: choose the input, the extent and the settings, see the cost, run in the background."""
from __future__ import annotations

import datetime as _dt
import os
import re
import tempfile
from pathlib import Path

from qgis.core import (QgsApplication, QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsRectangle,
                       QgsSettings)
from qgis.gui import QgsDockWidget, QgsExtentGroupBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QBrush, QColor, QStandardItemModel
from qgis.PyQt.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView,
                                 QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                                 QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..core import estimate as core_estimate
from ..core.bands import GROUP_10, OUTPUT_BANDS
from ..core.errors import UserError
from ..core.extent import Extent
from ..core.methods.base import RunOptions
from ..core.methods.registry import preset_margin
from ..core.pipeline import Plan, plan_run
from ..core.sources import Product, open_product
from .deps import preset_availability
from .estimates import Estimate, estimate
from .layers import BAND_CHOICES, BandRef, auto_map, layer_band_ids, raster_layers, to_core_band_map
from .task import FinishedRun, RunRequest, SuperResolutionTask

SETTINGS_PREFIX = "s2_superres/"
MODE_LAYER, MODE_LIST = 0, 1
DEVICE_AUTO, DEVICE_CPU = "Automatic", "CPU"
MISSING = "— missing —"
AUTO_NAME = re.compile(r"superres_(\w+?)_(\d{8}_\d{6}(?:_\d+)?\.tif)")
PRESET_LABELS = {"fast": "Fast (single-pass network)", "diffusion": "Diffusion (best, slow)",
                 "bicubic": "Bicubic (reference, no model)",
                 "hpf": "HPF pansharpening (classical reference, no model)"}


def onnx_providers() -> list[str] | None:
    """onnxruntime's execution providers here, or None when onnxruntime is not installed."""
    try:
        import onnxruntime  # noqa: PLC0415 - optional, imported only when the dock opens
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def default_output(preset: str) -> Path:
    """A new file name in the project folder, else the last output folder, else a temp folder."""
    candidates = [QgsProject.instance().homePath(), QgsSettings().value(SETTINGS_PREFIX + "output_dir", "")]
    folder = next((Path(c) for c in candidates if c and os.path.isdir(c) and os.access(c, os.W_OK)),
                  Path(tempfile.gettempdir()) / "s2_superres")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
    return folder / f"superres_{preset}_{stamp}.tif"


class SuperResolutionDock(QgsDockWidget):
    """Input, extent, settings, estimates and the Run button."""

    def __init__(self, iface, parent: QWidget | None = None):
        super().__init__("Sentinel-2 super-resolution", parent)
        self.setObjectName("S2SuperResolutionDock")
        self.iface = iface
        self.tasks: list[SuperResolutionTask] = []
        self.last_run: FinishedRun | None = None
        self.mapping: dict[str, BandRef] = {}
        self.plan: Plan | None = None
        self.product: Product | None = None
        self.reason: str | None = None
        self._product_key: tuple | None = None
        self._filling = False
        self._build()
        self._load_settings()
        self._connect()
        self._fill_layer_list()
        self.on_input_changed()

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self._build_input())
        self.extent_box = QgsExtentGroupBox()
        self.extent_box.setTitle("Extent (map units of the raster CRS)")
        if self.iface is not None:
            self.extent_box.setMapCanvas(self.iface.mapCanvas())
        self.pixels_label = QLabel()
        self.pixels_label.setWordWrap(True)
        layout.addWidget(self.extent_box)
        layout.addWidget(self.pixels_label)
        layout.addWidget(self._build_settings())
        layout.addLayout(self._build_run())
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.setWidget(scroll)

    def _build_input(self) -> QGroupBox:
        box = QGroupBox("Input")
        layout = QVBoxLayout(box)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["One raster layer (bands named in its descriptions)",
                                  "Several single-band layers of one product"])
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_list = QListWidget()
        self.layer_list.setMaximumHeight(130)
        self.check_bands_button = QPushButton("Check one layer per recognised band")
        self.mapping_table = QTableWidget(len(OUTPUT_BANDS), 3)
        self.mapping_table.setHorizontalHeaderLabels(["Band", "Layer", "Band #"])
        self.mapping_table.verticalHeader().setVisible(False)
        self.mapping_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.mapping_table.setMinimumHeight(200)
        for row, band in enumerate(OUTPUT_BANDS):
            item = QTableWidgetItem(band)
            item.setFlags(Qt.ItemIsEnabled)
            self.mapping_table.setItem(row, 0, item)
            self.mapping_table.setCellWidget(row, 1, QComboBox())
            spin = QSpinBox()
            spin.setRange(1, 1)
            self.mapping_table.setCellWidget(row, 2, spin)
        self.mapping_label = QLabel()
        self.mapping_label.setWordWrap(True)
        for w in (self.mode_combo, self.layer_combo, self.layer_list, self.check_bands_button,
                  QLabel("Band mapping (detected, editable):"), self.mapping_table,
                  self.mapping_label):
            layout.addWidget(w)
        return box

    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        self.preset_combo = QComboBox()
        self._fill_presets()
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.bands_combo = QComboBox()
        self.bands_combo.addItems(list(BAND_CHOICES))
        self.uncertainty_check = QCheckBox("Estimate uncertainty (4 samples, diffusion only)")
        self.device_combo = QComboBox()
        self._fill_devices()
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(48, 768)
        self.tile_spin.setSingleStep(48)
        self.tile_spin.setSuffix(" px (10 m)")
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.SaveFile)
        self.output_widget.setFilter("GeoTIFF (*.tif *.tiff)")
        self.output_widget.setConfirmOverwrite(True)
        for label, w in (("Preset", self.preset_combo), ("Steps", self.steps_spin), ("Seed", self.seed_spin),
                         ("Bands", self.bands_combo), ("", self.uncertainty_check), ("Device", self.device_combo),
                         ("Tile size", self.tile_spin), ("Output", self.output_widget)):
            form.addRow(label, w)
        return box

    def _build_run(self) -> QVBoxLayout:
        layout = QVBoxLayout()
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b36b00; font-weight: bold;")
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: #c0392b;")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.compare_button = QPushButton("Compare…")
        self.swipe_button = QPushButton("Swipe")
        self.swipe_button.setCheckable(True)
        self.cancel_button.setEnabled(False)
        self.compare_button.setEnabled(False)
        self.swipe_button.setEnabled(False)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.compare_button, self.swipe_button):
            buttons.addWidget(b)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setVisible(False)
        for w in (self.estimate_label, self.warning_label, self.reason_label, self.progress_bar):
            layout.addWidget(w)
        layout.addLayout(buttons)
        return layout

    def _fill_presets(self) -> None:
        model = QStandardItemModel()
        self.preset_combo.setModel(model)
        for name, why in preset_availability().items():
            self.preset_combo.addItem(PRESET_LABELS.get(name, name), name)
            item = model.item(self.preset_combo.count() - 1)
            item.setEnabled(why is None)
            item.setToolTip(f"Not available: {why}" if why else PRESET_LABELS.get(name, name))

    def _fill_devices(self) -> None:
        providers = onnx_providers()
        self.device_combo.addItem(DEVICE_AUTO, None)
        self.device_combo.addItem(DEVICE_CPU, ["CPUExecutionProvider"])
        for p in providers or []:
            if p not in ("CPUExecutionProvider", "AzureExecutionProvider"):
                self.device_combo.addItem(f"GPU: {p.replace('ExecutionProvider', '')}", [p, "CPUExecutionProvider"])
        self.device_combo.setToolTip("onnxruntime is not installed: only bicubic can run (Plugins ▸ Sentinel-2 "
                                     "super-resolution ▸ Install dependencies)" if providers is None else
                                     "onnxruntime providers here: " + ", ".join(providers))

    def _connect(self) -> None:
        self.mode_combo.currentIndexChanged.connect(self.on_mode_changed)
        self.layer_combo.layerChanged.connect(lambda _layer: self.on_input_changed())
        self.layer_list.itemChanged.connect(lambda _item: self.on_input_changed())
        self.check_bands_button.clicked.connect(self.check_recognised_bands)
        for row in range(len(OUTPUT_BANDS)):
            self._layer_cell(row).currentIndexChanged.connect(self.on_table_edited)
            self._index_cell(row).valueChanged.connect(self.on_table_edited)
        self.extent_box.extentChanged.connect(lambda _r: self.refresh())
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        for w in (self.bands_combo, self.device_combo):
            w.currentIndexChanged.connect(lambda _i: self.refresh())
        for w in (self.steps_spin, self.seed_spin, self.tile_spin):
            w.valueChanged.connect(lambda _v: self.refresh())
        self.uncertainty_check.toggled.connect(lambda _c: self.refresh())
        self.output_widget.fileChanged.connect(lambda _f: self.refresh())
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button.clicked.connect(self.cancel_runs)
        project = QgsProject.instance()
        project.layersAdded.connect(self._on_project_layers_changed)
        project.layersRemoved.connect(self._on_project_layers_changed)

    def shutdown(self) -> None:
        """Plugin unload: cancel running tasks (their code is going away) and stop listening to the project."""
        for task in self.tasks:
            task.on_success = None
            task.cancel()
        self.disconnect_project()

    def disconnect_project(self) -> None:
        """Stop listening to the project."""
        project = QgsProject.instance()
        for signal in (project.layersAdded, project.layersRemoved):
            try:
                signal.disconnect(self._on_project_layers_changed)
            except TypeError:
                pass

    # -- settings ------------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = QgsSettings()
        self._select_preset(s.value(SETTINGS_PREFIX + "preset", ""))
        self.steps_spin.setValue(int(s.value(SETTINGS_PREFIX + "steps", 8)))
        self.seed_spin.setValue(int(s.value(SETTINGS_PREFIX + "seed", 0)))
        self.bands_combo.setCurrentIndex(max(0, self.bands_combo.findText(s.value(SETTINGS_PREFIX + "bands", ""))))
        self.uncertainty_check.setChecked(s.value(SETTINGS_PREFIX + "uncertainty", False, type=bool))
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findText(s.value(SETTINGS_PREFIX + "device", ""))))
        self.tile_spin.setValue(int(s.value(SETTINGS_PREFIX + "tile", 288)))
        self.mode_combo.setCurrentIndex(int(s.value(SETTINGS_PREFIX + "mode", MODE_LAYER)))
        self._show_mode(self.mode_combo.currentIndex())
        self.output_widget.setFilePath(str(default_output(self.preset)))

    def save_settings(self) -> None:
        s = QgsSettings()
        for key, value in (("preset", self.preset), ("steps", self.steps_spin.value()),
                           ("seed", self.seed_spin.value()), ("bands", self.bands_combo.currentText()),
                           ("uncertainty", self.uncertainty_check.isChecked()),
                           ("device", self.device_combo.currentText()), ("tile", self.tile_spin.value()),
                           ("mode", self.mode_combo.currentIndex()),
                           ("output_dir", str(Path(self.output_widget.filePath()).parent))):
            s.setValue(SETTINGS_PREFIX + key, value)

    def refresh_presets(self) -> None:
        """Re-read which presets can run (after installing dependencies or adding models)."""
        current = self.preset
        self.preset_combo.blockSignals(True)
        self._fill_presets()
        self._select_preset(current)
        self.preset_combo.blockSignals(False)
        self.refresh()

    def _select_preset(self, name: str) -> None:
        """Select preset ``name``, or the first one that can run when it cannot."""
        index = self.preset_combo.findData(name)
        if index < 0 or not self._preset_enabled(index):
            index = next((i for i in range(self.preset_combo.count()) if self._preset_enabled(i)), 0)
        self.preset_combo.setCurrentIndex(index)

    def _preset_enabled(self, index: int) -> bool:
        return self.preset_combo.model().item(index).isEnabled()

    # -- current values ------------------------------------------------------------------------
    @property
    def preset(self) -> str:
        return self.preset_combo.currentData() or "bicubic"

    @property
    def bands(self) -> tuple[str, ...]:
        return BAND_CHOICES[self.bands_combo.currentText()]

    def input_layers(self) -> list[QgsRasterLayer]:
        """The layer(s) chosen as input."""
        if self.mode_combo.currentIndex() == MODE_LAYER:
            layer = self.layer_combo.currentLayer()
            return [layer] if isinstance(layer, QgsRasterLayer) else []
        project = QgsProject.instance()
        items = (self.layer_list.item(i) for i in range(self.layer_list.count()))
        layers = [project.mapLayer(it.data(Qt.UserRole)) for it in items if it.checkState() == Qt.Checked]
        return [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer)]

    def run_options(self) -> RunOptions:
        providers = self.device_combo.currentData() or self._auto_providers()
        samples = 4 if self.uncertainty_check.isChecked() and self.preset == "diffusion" else 1
        return RunOptions(steps=self.steps_spin.value(), seed=self.seed_spin.value(), samples=samples,
                          providers=list(providers))

    def _auto_providers(self) -> list[str]:
        gpus = [self.device_combo.itemData(i)[0] for i in range(2, self.device_combo.count())]
        return gpus[:1] + ["CPUExecutionProvider"]

    def extent(self) -> Extent | None:
        """The output extent in the raster CRS (metres), or None when not set."""
        r: QgsRectangle = self.extent_box.outputExtent()
        if r.isNull() or r.isEmpty():
            return None
        return Extent(r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum())

    # -- reactions -----------------------------------------------------------------------------
    def _on_preset_changed(self, _index: int) -> None:
        """Keep an automatic output name in step with the preset; a name the user typed is left alone."""
        path = Path(self.output_widget.filePath())
        if AUTO_NAME.fullmatch(path.name):
            name = AUTO_NAME.sub(rf"superres_{self.preset}_\2", path.name)
            self.output_widget.setFilePath(str(path.with_name(name)))
        self.refresh()

    def on_mode_changed(self, index: int) -> None:
        self._show_mode(index)
        self.on_input_changed()

    def _show_mode(self, index: int) -> None:
        self.layer_combo.setVisible(index == MODE_LAYER)
        self.layer_list.setVisible(index == MODE_LIST)
        self.check_bands_button.setVisible(index == MODE_LIST)

    def check_recognised_bands(self) -> None:
        """Check the first layer of each Sentinel-2 band found in the project (one product's worth)."""
        mapping = auto_map(raster_layers())
        project = QgsProject.instance()
        self.set_checked_layers([project.mapLayer(ref.layer_id) for ref in mapping.values()])

    def _on_project_layers_changed(self, *_args) -> None:
        self._fill_layer_list()
        self._fill_table(keep=True)
        self.refresh()

    def _fill_layer_list(self) -> None:
        items = [self.layer_list.item(i) for i in range(self.layer_list.count())]
        checked = {it.data(Qt.UserRole) for it in items if it.checkState() == Qt.Checked}
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for layer in raster_layers():
            ids = [b for b in layer_band_ids(layer) if b]
            item = QListWidgetItem(f"{layer.name()}  [{', '.join(ids) or 'no band id'}]")
            item.setData(Qt.UserRole, layer.id())
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if layer.id() in checked else Qt.Unchecked)
            self.layer_list.addItem(item)
        self.layer_list.blockSignals(False)

    def set_checked_layers(self, layers: list[QgsRasterLayer]) -> None:
        """Check exactly ``layers`` in the single-band list (switches to that mode)."""
        self.mode_combo.setCurrentIndex(MODE_LIST)
        wanted = {lyr.id() for lyr in layers}
        self.layer_list.blockSignals(True)
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            item.setCheckState(Qt.Checked if item.data(Qt.UserRole) in wanted else Qt.Unchecked)
        self.layer_list.blockSignals(False)
        self.on_input_changed()

    def on_input_changed(self) -> None:
        """New input: detect the band mapping, reset the extent to the layer, refresh everything."""
        layers = self.input_layers()
        self.mapping = auto_map(layers)
        self._fill_table()
        self._reset_extent(layers)
        self.refresh()

    def _reset_extent(self, layers: list[QgsRasterLayer]) -> None:
        """Express the extent in the input's CRS; keep the user's extent unless it misses the new input."""
        if not layers:
            return
        ref = layers[0]
        keep = self.extent_box.outputCrs() == ref.crs() and self.extent_box.outputExtent().intersects(ref.extent())
        self.extent_box.setOriginalExtent(ref.extent(), ref.crs())
        if self.iface is not None:
            canvas = self.iface.mapCanvas()
            self.extent_box.setCurrentExtent(canvas.extent(), canvas.mapSettings().destinationCrs())
        if not keep:
            self.extent_box.setOutputCrs(ref.crs())
            self.extent_box.setOutputExtentFromOriginal()

    def _fill_table(self, keep: bool = False) -> None:
        """Show ``self.mapping`` in the table; every project raster layer can be chosen per band."""
        self._filling = True
        layers = raster_layers()
        for row, band in enumerate(OUTPUT_BANDS):
            combo = self._layer_cell(row)
            combo.clear()
            combo.addItem(MISSING, None)
            for layer in layers:
                combo.addItem(layer.name(), layer.id())
            ref = self.mapping.get(band)
            combo.setCurrentIndex(max(0, combo.findData(ref.layer_id)) if ref else 0)
            if ref and combo.currentIndex() == 0 and keep:
                self.mapping.pop(band)
            self._update_index_cell(row)
        self._filling = False
        self._flag_missing()

    def _update_index_cell(self, row: int) -> None:
        band = OUTPUT_BANDS[row]
        ref = self.mapping.get(band)
        layer = QgsProject.instance().mapLayer(ref.layer_id) if ref else None
        spin = self._index_cell(row)
        spin.blockSignals(True)
        spin.setRange(1, max(1, layer.bandCount() if isinstance(layer, QgsRasterLayer) else 1))
        spin.setValue(ref.index if ref else 1)
        spin.setEnabled(ref is not None)
        spin.blockSignals(False)

    def on_table_edited(self, *_args) -> None:
        """The user changed a layer or band index in the mapping table."""
        if self._filling:
            return
        for row, band in enumerate(OUTPUT_BANDS):
            layer_id = self._layer_cell(row).currentData()
            old = self.mapping.get(band)
            if layer_id is None:
                self.mapping.pop(band, None)
            else:
                index = self._index_cell(row).value() if old and old.layer_id == layer_id else 1
                self.mapping[band] = BandRef(layer_id, index)
            self._update_index_cell(row)
        self._flag_missing()
        self.refresh()

    def set_mapping(self, band: str, layer: QgsRasterLayer | None, index: int = 1) -> None:
        """Edit one row of the mapping table (as a user would)."""
        row = OUTPUT_BANDS.index(band)
        combo = self._layer_cell(row)
        combo.setCurrentIndex(combo.findData(layer.id()) if layer else 0)
        self._index_cell(row).setValue(index)

    def _layer_cell(self, row: int) -> QComboBox:
        return self.mapping_table.cellWidget(row, 1)

    def _index_cell(self, row: int) -> QSpinBox:
        return self.mapping_table.cellWidget(row, 2)

    def missing_bands(self) -> list[str]:
        """Bands the chosen output needs (its bands and the 10 m guidance) that are not mapped."""
        from ..core.pipeline import groups_needed
        from ..core.bands import GROUPS
        needed = [b for res in groups_needed(self.bands) for b in GROUPS[res]]
        return [b for b in OUTPUT_BANDS if b in needed and b not in self.mapping]

    def _flag_missing(self) -> None:
        missing = set(self.missing_bands())
        for row, band in enumerate(OUTPUT_BANDS):
            colour = QColor(255, 205, 205) if band in missing else QColor(0, 0, 0, 0)
            self.mapping_table.item(row, 0).setBackground(QBrush(colour))
            self.mapping_table.item(row, 0).setToolTip("missing: map a layer band here" if band in missing else "")
        self.mapping_label.setText(f"Missing: {', '.join(sorted(missing, key=OUTPUT_BANDS.index))}"
                                   if missing else f"{len(self.mapping)} band(s) mapped.")

    # -- validation, estimates -----------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the plan, estimate and Run button state from the widgets."""
        diffusion = self.preset == "diffusion"
        for w in (self.steps_spin, self.seed_spin, self.uncertainty_check):
            w.setEnabled(diffusion)
        self._flag_missing()
        self.reason = self._validate()
        self.run_button.setEnabled(self.reason is None)
        self.reason_label.setText(self.reason or "")
        self.reason_label.setVisible(self.reason is not None)
        self._show_plan()

    def _validate(self) -> str | None:
        """None when a run can start, else the reason shown to the user."""
        self.plan = None
        if not self.input_layers():
            return "Choose an input raster layer (or check the single-band layers of one product)."
        missing = self.missing_bands()
        if missing:
            hint = " or produce only the four 10 m bands" if set(missing).isdisjoint(GROUP_10) else ""
            single = self.mode_combo.currentIndex() == MODE_LAYER and self.input_layers()[0].bandCount() == 1
            if single:
                hint += " (a single-band layer: choose 'Several single-band layers of one product' above)"
            return f"Missing band(s) {', '.join(missing)}: map them in the table{hint}."
        why = preset_availability().get(self.preset)
        if why:
            return f"Preset '{self.preset}' is not available: {why}."
        try:
            self.product = self._open_product()
            self.plan = plan_run(self.product, self.extent(), self.bands, preset_margin(self.preset, self.bands),
                                 tile=self.tile_spin.value())
        except UserError as exc:
            return str(exc)
        return self._validate_output()

    def _open_product(self) -> Product:
        band_map = to_core_band_map(self.mapping)
        key = tuple(sorted(band_map.items()))
        if key != self._product_key or self.product is None:
            self.product = open_product(sorted({p for p, _ in band_map.values()}), band_map=band_map)
            self._product_key = key
        return self.product

    def _validate_output(self) -> str | None:
        text = self.output_widget.filePath().strip()
        if not text:
            return "Choose an output file (GeoTIFF)."
        path = Path(text)
        if path.suffix.lower() not in (".tif", ".tiff"):
            return "The output file must end in .tif (it is a GeoTIFF)."
        if not path.parent.is_dir():
            return f"The output folder '{path.parent}' does not exist."
        if not os.access(path.parent, os.W_OK):
            return f"The output folder '{path.parent}' is not writable."
        return self._check_resources(path.parent)

    def _check_resources(self, folder: Path) -> str | None:
        """core's own pre-flight check (free disk space, memory for one tile), so Run is never a dead end."""
        cost = core_estimate.estimate(self.preset, self.plan.output_shape, len(self.bands), self.plan.tiles[0].rows,
                                      self.plan.margin)
        try:
            core_estimate.check_resources(cost, folder, None, core_estimate.available_memory())
        except UserError as exc:
            return str(exc)
        return None

    def _show_plan(self) -> None:
        if self.plan is None:
            self.pixels_label.setText("")
            self.estimate_label.setText("")
            self.warning_label.setVisible(False)
            return
        rows, cols = self.plan.output_shape
        e = self.plan.extent
        self.pixels_label.setText(
            f"Processed extent (snapped to the 60 m grid): {e.width:,.0f} × {e.height:,.0f} m → output "
            f"{cols:,} × {rows:,} px at 2.5 m ({rows * cols / 1e6:.2f} Mpx, {len(self.plan.tiles)} tile(s))."
            + ("\n" + " ".join(self.plan.notes) if self.plan.notes else ""))
        est = self.current_estimate()
        self.estimate_label.setText(est.summary())
        self.warning_label.setText(est.warning or "")
        self.warning_label.setVisible(est.warning is not None)

    def current_estimate(self) -> Estimate:
        options = self.run_options()
        gpu = any(p != "CPUExecutionProvider" for p in options.providers)
        return estimate(self.preset, self.plan.output_shape, len(self.bands), self.plan.tiles[0].rows,
                        self.plan.margin, options.steps, options.samples, gpu)

    # -- running -------------------------------------------------------------------------------
    def build_request(self) -> RunRequest:
        layers = self.input_layers()
        return RunRequest(band_map=to_core_band_map(self.mapping), output=Path(self.output_widget.filePath()),
                          preset=self.preset, extent=self.plan.extent,
                          bands=self.bands, options=self.run_options(), tile=self.tile_spin.value(),
                          refs=dict(self.mapping), source_name=", ".join(lyr.name() for lyr in layers))

    def start_run(self) -> SuperResolutionTask | None:
        """Queue a task for the current settings; returns it (None when the inputs are invalid)."""
        self.refresh()
        if self.reason is not None:
            return None
        self.save_settings()
        task = SuperResolutionTask(self.build_request(), self.iface)
        task.on_success = self._on_task_success
        task.progressChanged.connect(self._on_progress)    # bound method of a QObject: queued to the GUI thread
        task.taskCompleted.connect(lambda t=task: self._forget(t))
        task.taskTerminated.connect(lambda t=task: self._forget(t))
        self.tasks.append(task)
        QgsApplication.taskManager().addTask(task)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.output_widget.setFilePath(str(default_output(self.preset)))
        return task

    def _on_progress(self, percent: float) -> None:
        self.progress_bar.setValue(int(percent))

    def cancel_runs(self) -> None:
        for task in self.tasks:
            task.cancel()

    def _forget(self, task: SuperResolutionTask) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        self.cancel_button.setEnabled(bool(self.tasks))
        self.progress_bar.setVisible(bool(self.tasks))

    def _on_task_success(self, run: FinishedRun) -> None:
        self.last_run = run
        self.compare_button.setEnabled(True)
        self.swipe_button.setEnabled(self.iface is not None)
