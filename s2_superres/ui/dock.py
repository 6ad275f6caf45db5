"""The dock: choose the input, the extent and the settings, see the cost, run in the background.

The widgets live in small section classes (ui.input_section, ui.settings_section, ui.run_panel);
this module holds the dock's behaviour: detecting the input, validating, estimating and running.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject,
                       QgsRasterLayer, QgsRectangle, QgsSettings)
from qgis.gui import QgsCollapsibleGroupBox, QgsDockWidget, QgsExtentWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QFileDialog, QListWidgetItem, QMessageBox, QScrollArea, QVBoxLayout, QWidget

from ..core import estimate as core_estimate
from ..core.bands import GROUP_10, OUTPUT_BANDS, OUTPUT_RESOLUTION, pixel_label
from ..core.dates import source_date
from ..core.errors import UserError, printable
from ..core.estimate import Estimate
from ..core.extent import Extent, to_raster_crs
from ..core.methods.base import RunOptions
from ..core.methods.registry import PRESETS, check_pixel_size, preset_margin, preset_pixel_sizes, uses_dates
from ..core.pipeline import Plan, plan_run
from ..core.remote import private_hosts
from ..core.sources import GranuleChoiceError, Product, open_product
from .dates_section import DatesSection, group_by_date
from .deps import preset_availability
from .help_dialog import HelpDialog
from .estimates import estimate, needs_confirmation, summary, warning
from .input_detection import (DEFAULT_WINDOW, best_input, has_unnamed_bands, safe_extent, standard_mapping,
                              zipped_product)
from .input_section import MODE_LAYER, MODE_LIST, MODE_PRODUCT, InputSection
from .layers import BAND_CHOICES, BandRef, auto_map, layer_band_ids, layer_path, raster_layers, to_core_band_map
from .lens import lens_inputs
from .live_preview import TilePreviewItem
from .outputs import default_folder, output_name, product_label, proposed_folder, remember_folder
from .product_state import ProductState, product_key
from .render import TRUE_COLOUR
from .result_layer import GROUP_NAME, output_bands_only, shared_stretch
from .run_panel import RunPanel
from .settings_section import AdvancedSection, MethodSection, onnx_providers
from .task import FinishedRun, RunRequest, SuperResolutionTask, TileProgress
from .widgets import check_state, guard_wheel, wrapping_label

SETTINGS_PREFIX = "s2_superres/"
HELP_SECTION = "Using the dock"   #: the user guide's section the dock's Help opens
#: the scrolled sections keep at least this many lines of text in view, however small QGIS makes the dock
#: (the estimate and the buttons below them are pinned)
SCROLL_LINES = 10
#: how the user chose an extent, by QgsExtentWidget.ExtentState
EXTENT_CHOICES = {QgsExtentWidget.ExtentState.UserExtent: "typed",
                  QgsExtentWidget.ExtentState.ProjectLayerExtent: "a layer's extent",
                  QgsExtentWidget.ExtentState.DrawOnCanvas: "drawn on the map",
                  QgsExtentWidget.ExtentState.OriginalExtent: "the whole data"}
#: QGIS setting (Options > Advanced, s2_superres/allow_private_hosts): STAC items and their assets may be read
#: from loopback, private and link-local hosts (a local catalogue); off by default (core.remote)
ALLOW_PRIVATE_HOSTS_KEY = SETTINGS_PREFIX + "allow_private_hosts"


def allow_private_hosts() -> bool:
    """The QGIS setting ALLOW_PRIVATE_HOSTS_KEY (False when unset)."""
    return QgsSettings().value(ALLOW_PRIVATE_HOSTS_KEY, False, type=bool)



class SuperResolutionDock(QgsDockWidget):
    """Input, extent, settings, estimates and the Run button (pinned at the bottom)."""

    def __init__(self, iface, parent: QWidget | None = None):
        super().__init__("Sentinel-2 super-resolution", parent)
        self.setObjectName("S2SuperResolutionDock")
        self.iface = iface
        self.tasks: list[SuperResolutionTask] = []
        self.previews: dict[SuperResolutionTask, TilePreviewItem] = {}
        self.cancelling = False   # Cancel was clicked and the tasks have not ended yet
        self.last_run: FinishedRun | None = None
        self.state = ProductState()      # the band mapping, opened product and offset override of the product
        self.plan: Plan | None = None
        self.reason: str | None = None
        self.progress: TileProgress | None = None
        self.help_dialog: HelpDialog | None = None
        self._auto_output = True         # the output field holds a name the dock chose
        self._preset_fallback = False    # the preset shown is a fallback (the wanted one could not run)
        self._question: QMessageBox | None = None
        self._date_cache: dict[str, dt.date | None] = {}   # file path -> acquisition date (core)
        self._setting_extent = False     # the dock itself is setting the extent box
        self._build()
        self._load_settings()
        self._connect()
        self._fill_layer_list()
        self.detect_input()

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        self.input_section = InputSection()
        self.extent_section = QgsCollapsibleGroupBox("Extent")
        self.extent_box = QgsExtentWidget(None, QgsExtentWidget.WidgetStyle.CondensedStyle)
        self.extent_box.setToolTip("The area to super-resolve (snapped outward to the 60 m grid). Default: the "
                                   "current map view, clipped to the data. The button offers the map view, "
                                   "a layer's extent or drawing on the canvas")
        if self.iface is not None:
            self.extent_box.setMapCanvas(self.iface.mapCanvas())
        self.extent_note = wrapping_label(style="color: #555;")
        extent_layout = QVBoxLayout(self.extent_section)
        extent_layout.addWidget(self.extent_box)
        extent_layout.addWidget(self.extent_note)
        self.dates_section = DatesSection()
        self.method_section = MethodSection()
        self.advanced_section = AdvancedSection()
        self.run_panel = RunPanel()
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        for section in (self.input_section, self.extent_section, self.dates_section, self.method_section,
                        self.advanced_section):
            layout.addWidget(section)
        layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setWidget(body)
        self.scroll.setMinimumHeight(SCROLL_LINES * self.fontMetrics().height())   # usable on a 768 px screen
        outer = QWidget()
        outer_layout = QVBoxLayout(outer)
        outer_layout.setContentsMargins(0, 0, 0, 0)
        outer_layout.setSpacing(2)
        outer_layout.addWidget(self.scroll, 1)
        outer_layout.addWidget(self.run_panel)       # pinned: never scrolls out of view
        self.setWidget(outer)
        self._expose_widgets()
        self.method_section.fill_presets(preset_availability())
        self.advanced_section.fill_devices(onnx_providers())
        self._grey_pixel_sizes()
        self._bands_tip = self.bands_combo.toolTip()
        guard_wheel(self)

    def _expose_widgets(self) -> None:
        """The controls, as attributes of the dock (the plugin, the tests and scripts use them)."""
        for section, names in (
                (self.input_section, ("mode_combo", "layer_combo", "layer_list", "check_bands_button",
                                      "standard_order_button", "mapping_box", "mapping_table", "mapping_label",
                                      "product_label", "offset_warning", "offset_check", "offset_spin",
                                      "product_row", "product_edit", "product_button")),
                (self.dates_section, ("date_tree", "target_edit", "target_label", "fill_clouds_check",
                                      "spacetime_button")),
                (self.method_section, ("preset_combo", "pixel_combo", "bands_combo", "output_widget", "output_note")),
                (self.advanced_section, ("steps_spin", "seed_spin", "uncertainty_check", "device_combo",
                                         "tile_spin")),
                (self.run_panel, ("pixels_label", "estimate_label", "warning_label", "reason_label", "progress_bar",
                                  "progress_label", "run_button", "cancel_button", "compare_button",
                                  "swipe_button", "lens_button", "help_button"))):
            for name in names:
                setattr(self, name, getattr(section, name))

    def _connect(self) -> None:
        self.mode_combo.currentIndexChanged.connect(self.on_mode_changed)
        self.layer_combo.layerChanged.connect(lambda _layer: self.on_input_changed())
        self.layer_list.itemChanged.connect(lambda _item: self.on_input_changed())
        self.check_bands_button.clicked.connect(self.check_recognised_bands)
        self.standard_order_button.clicked.connect(self.map_standard_order)
        self.product_edit.editingFinished.connect(self.on_input_changed)
        self.product_button.clicked.connect(self.choose_product_file)
        self.mapping_table.edited.connect(self.on_table_edited)
        self.offset_check.toggled.connect(self._on_offset_edited)
        self.offset_spin.valueChanged.connect(self._on_offset_edited)
        self.extent_box.extentChanged.connect(lambda _r: self._on_extent_changed())
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.pixel_combo.currentIndexChanged.connect(self._on_pixel_size_changed)
        for w in (self.bands_combo, self.device_combo):
            w.currentIndexChanged.connect(lambda _i: self.refresh())
        for w in (self.steps_spin, self.seed_spin, self.tile_spin):
            w.valueChanged.connect(lambda _v: self.refresh())
        self.uncertainty_check.toggled.connect(lambda _c: self.refresh())
        self.output_widget.fileChanged.connect(self._on_output_edited)
        self.run_button.clicked.connect(self.start_run)
        self.dates_section.changed.connect(self._on_dates_changed)
        self.spacetime_button.clicked.connect(lambda _c=False: self._select_preset("spacetime"))
        self.cancel_button.clicked.connect(self.cancel_runs)
        self.help_button.clicked.connect(self.open_help)
        for signal, slot in self._outside_signals():
            signal.connect(slot)

    def _outside_signals(self) -> list[tuple]:
        """The project's and the map canvas' signals the dock follows, with its slots."""
        project = QgsProject.instance()
        pairs = [(project.layersAdded, self._on_layers_added), (project.layersRemoved, self._on_project_layers_changed),
                 (project.cleared, self._on_project_cleared), (project.crsChanged, self._on_project_crs_changed)]
        if self.iface is not None and self.iface.mapCanvas() is not None:
            pairs.append((self.iface.mapCanvas().extentsChanged, self._on_view_changed))
        return pairs

    def shutdown(self) -> None:
        """Plugin unload: cancel running tasks (their code is going away) and stop listening to the project."""
        for task in self.tasks:
            task.on_success = None
            task.cancel()
        for preview in self.previews.values():
            preview.remove()
        self.previews.clear()
        self.disconnect_project()

    def disconnect_project(self) -> None:
        """Stop listening to the project and the map canvas."""
        for signal, slot in self._outside_signals():
            try:
                signal.disconnect(slot)
            except TypeError:
                pass

    def open_help(self) -> HelpDialog:
        """Open the user guide (shipped with the plugin, offline) at its section about the dock."""
        if self.help_dialog is None:
            self.help_dialog = HelpDialog(self)
        self.help_dialog.show()
        self.help_dialog.raise_()
        self.help_dialog.show_section(HELP_SECTION)
        return self.help_dialog

    # -- settings ------------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = QgsSettings()
        self._select_preset(s.value(SETTINGS_PREFIX + "preset", "") or PRESETS[0])
        self.method_section.select_pixel_size(float(s.value(SETTINGS_PREFIX + "pixel_size", OUTPUT_RESOLUTION)))
        self._grey_pixel_sizes()
        self.steps_spin.setValue(int(s.value(SETTINGS_PREFIX + "steps", 8)))
        self.seed_spin.setValue(int(s.value(SETTINGS_PREFIX + "seed", 0)))
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findText(s.value(SETTINGS_PREFIX + "device", ""))))
        self.tile_spin.setValue(int(s.value(SETTINGS_PREFIX + "tile", 288)))
        self._set_auto_output()

    def save_settings(self) -> None:
        """Remember the preferences (not what belongs to one product or one run: bands, uncertainty, offset)."""
        s = QgsSettings()
        for key, value in (("preset", self.preset), ("pixel_size", self.pixel_size), ("steps", self.steps_spin.value()),
                           ("seed", self.seed_spin.value()), ("device", self.device_combo.currentText()),
                           ("tile", self.tile_spin.value())):
            s.setValue(SETTINGS_PREFIX + key, value)
        remember_folder(Path(self.output_widget.filePath()).parent)

    def refresh_presets(self) -> None:
        """Re-read which presets and devices can run (after installing dependencies or adding models)."""
        current = self.preset
        self.preset_combo.blockSignals(True)
        self.method_section.fill_presets(preset_availability())
        self._select_preset("" if self._preset_fallback else current)
        self.preset_combo.blockSignals(False)
        self._grey_pixel_sizes()
        self.device_combo.blockSignals(True)
        self.advanced_section.fill_devices(onnx_providers())
        self.device_combo.blockSignals(False)
        self._set_auto_output()
        self.refresh()

    def _select_preset(self, name: str) -> None:
        """Select preset ``name``, or the first one that can run when it cannot."""
        index = self.preset_combo.findData(name)
        fallback = index < 0 or not self._preset_enabled(index)
        if fallback:
            index = next((i for i in range(self.preset_combo.count()) if self._preset_enabled(i)), 0)
        self.preset_combo.setCurrentIndex(index)
        self._preset_fallback = fallback and bool(name)   # the wanted preset could not run: not the user's choice

    def _preset_enabled(self, index: int) -> bool:
        return self.preset_combo.model().item(index).isEnabled()

    # -- current values ------------------------------------------------------------------------
    @property
    def preset(self) -> str:
        return self.preset_combo.currentData() or "bicubic"

    @property
    def pixel_size(self) -> float:
        """The chosen output pixel size in metres (core.bands.PIXEL_SIZES)."""
        value = self.pixel_combo.currentData()
        return float(value) if value is not None else OUTPUT_RESOLUTION

    @property
    def bands(self) -> tuple[str, ...]:
        return BAND_CHOICES[self.bands_combo.currentText()]

    @property
    def offset_override(self) -> float | None:
        """The DN offset the user set for this product, or None to use the product's own."""
        return self.state.offset

    @property
    def mapping(self) -> dict[str, BandRef]:
        return self.state.mapping

    @mapping.setter
    def mapping(self, value: dict[str, BandRef]) -> None:
        self.state.mapping = value

    @property
    def product(self) -> Product | None:
        return self.state.product

    @product.setter
    def product(self, value: Product | None) -> None:
        self.state.product = value

    def _on_offset_edited(self, *_args) -> None:
        self.state.offset = float(self.offset_spin.value()) if self.offset_check.isChecked() else None
        self.refresh()

    def _follow_product(self) -> None:
        """Start a new ProductState when the input is another product: the mapping, the opened product and the
        offset override of the last one do not carry over (the widgets show the new state)."""
        key = product_key(filter(None, map(layer_path, self.input_layers())), self.product_source())
        if self.state.same_product(key):
            self.state.key = key
            return
        self.state = ProductState(key)
        for w in (self.offset_check, self.offset_spin):
            w.blockSignals(True)
        self.offset_check.setChecked(False)
        self.offset_spin.setEnabled(False)
        self.offset_spin.setValue(-1000)
        for w in (self.offset_check, self.offset_spin):
            w.blockSignals(False)

    def input_layers(self) -> list[QgsRasterLayer]:
        """The layer(s) chosen as input."""
        if self.mode_combo.currentIndex() == MODE_PRODUCT:
            return []
        if self.mode_combo.currentIndex() == MODE_LAYER:
            layer = self.layer_combo.currentLayer()
            return [layer] if isinstance(layer, QgsRasterLayer) else []
        project = QgsProject.instance()
        items = (self.layer_list.item(i) for i in range(self.layer_list.count()))
        checked = (it for it in items if it.checkState() == Qt.CheckState.Checked)
        layers = [project.mapLayer(it.data(Qt.ItemDataRole.UserRole)) for it in checked]
        return [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer)]

    def run_options(self) -> RunOptions:
        providers = self.device_combo.currentData() or self._auto_providers()
        samples = 4 if self.uncertainty_check.isChecked() and self.preset == "diffusion" else 1
        return RunOptions(steps=self.steps_spin.value(), seed=self.seed_spin.value(), samples=samples,
                          providers=list(providers), pixel_size=self.pixel_size)

    def _auto_providers(self) -> list[str]:
        gpus = [self.device_combo.itemData(i)[0] for i in range(2, self.device_combo.count())]
        return gpus[:1] + ["CPUExecutionProvider"]

    def extent(self) -> Extent | None:
        """The output extent in the raster CRS (metres), or None when not set."""
        given = self.extent_as_given()
        if given is None or given[1] is None or self.product is None or self.product_source() is None:
            return given[0] if given else None
        return to_raster_crs(given[0], given[1], self.product.crs_wkt)

    def extent_as_given(self) -> tuple[Extent, str | None] | None:
        """The extent box's rectangle (metres) and the WKT of its CRS (None when it has none), or None."""
        r: QgsRectangle = self.extent_box.outputExtent()
        if r.isNull() or r.isEmpty():
            return None
        crs = self.extent_box.outputCrs()
        return Extent(r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum()), crs.toWkt() if crs.isValid() else None

    def product_source(self) -> str | None:
        """The STAC item / product path or URL typed in the input section ('' when empty); None in the layer modes."""
        return self.product_edit.text().strip() if self.mode_combo.currentIndex() == MODE_PRODUCT else None

    def product_name(self) -> str:
        """The source product's short name (from its file names), which names outputs and layers."""
        if self.product_source():
            return product_label([self.product_source().rstrip("/")])
        return product_label(p for p, _ in to_core_band_map(self.mapping).values()) if self.mapping else "sentinel2"

    # -- output name ---------------------------------------------------------------------------
    def _set_auto_output(self) -> None:
        """Propose ``<folder>/<product>_<preset>_<p>m.tif`` unless the user typed a name."""
        if not self._auto_output:
            return
        path = str(default_folder() / output_name(self.product_name(), self.preset, self.pixel_size))
        self._auto_value = path
        self.output_widget.setFilePath(path)

    def _on_output_edited(self, path: str) -> None:
        self._auto_output = path == getattr(self, "_auto_value", None) or not path.strip()
        if not path.strip():
            self._set_auto_output()      # emptied: propose a name again
            return
        self.refresh()

    def _on_preset_changed(self, _index: int) -> None:
        self._preset_fallback = False      # chosen by the user
        self.pixel_combo.blockSignals(True)
        self._grey_pixel_sizes()
        self.pixel_combo.blockSignals(False)
        self._set_auto_output()
        self.refresh()

    def _on_pixel_size_changed(self, _index: int) -> None:
        self._set_auto_output()
        self.refresh()

    def _grey_pixel_sizes(self) -> None:
        """Grey out the pixel sizes the current preset cannot make (known without loading its models)."""
        self.method_section.grey_pixel_sizes(self.preset, preset_pixel_sizes(self.preset))

    # -- input ---------------------------------------------------------------------------------
    def detect_input(self) -> None:
        """Select what the project holds: the band layers of one product (one per band), a multi-band layer, or
        a zip QGIS 3.22 could not open (opened by its path)."""
        layers = raster_layers()
        if not layers:
            self.on_input_changed()
            return
        zipped = zipped_product(layers)
        if zipped is not None:
            self.set_product_source(zipped)
            return
        mode, chosen = best_input(layers)
        if mode == MODE_LIST:
            self.set_checked_layers(chosen)
        else:
            self.mode_combo.setCurrentIndex(MODE_LAYER)
            self.layer_combo.setLayer(chosen[0])
            self.on_input_changed()

    def on_mode_changed(self, index: int) -> None:
        self._show_mode(index)
        self.on_input_changed()

    def _show_mode(self, index: int) -> None:
        self.layer_combo.setVisible(index == MODE_LAYER)
        self.layer_list.setVisible(index == MODE_LIST)
        self.check_bands_button.setVisible(index == MODE_LIST)
        self.product_row.setVisible(index == MODE_PRODUCT)
        self.mapping_box.setVisible(index != MODE_PRODUCT)     # core detects the bands of an item or product

    def set_product_source(self, location: str) -> None:
        """Use the STAC item (JSON path or http(s) URL), .SAFE folder or zip at ``location`` as the input."""
        self.product_edit.setText(location)
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(MODE_PRODUCT)
        self.mode_combo.blockSignals(False)
        self._show_mode(MODE_PRODUCT)
        self.on_input_changed()

    def choose_product_file(self) -> None:
        """Ask for a STAC item JSON file (or a product's metadata file or zip) and use it."""
        path, _ = QFileDialog.getOpenFileName(self, "STAC item or product", self.product_edit.text(),
                                              "STAC item or product (*.json *.xml *.zip);;All files (*)")
        if path:
            if os.path.basename(path).upper().startswith(("MTD_", "S2A_OPER_MTD", "S2B_OPER_MTD")):
                path = os.path.dirname(path)        # a product's metadata file: the product folder
            self.set_product_source(path)

    def check_recognised_bands(self) -> None:
        """Check the first layer of each Sentinel-2 output band found in the project (one product's worth)."""
        project = QgsProject.instance()
        self.set_checked_layers([project.mapLayer(ref.layer_id) for ref in self._band_layers().values()])

    @staticmethod
    def _band_layers() -> dict[str, BandRef]:
        """The first single-band layer of each output band in the project."""
        return output_bands_only(auto_map([lyr for lyr in raster_layers() if lyr.bandCount() == 1]))

    def map_standard_order(self) -> None:
        """Map the bands of the (multi-band) input in the standard Sentinel-2 order."""
        layers = self.input_layers()
        if len(layers) != 1 or not standard_mapping(layers[0]):
            return
        self.mapping = standard_mapping(layers[0])
        self._fill_table()
        self.refresh()

    def _on_layers_added(self, layers: list) -> None:
        """Layers were added: a zip QGIS 3.22 could not open is opened by its path; while the input misses bands,
        the input is detected again (band files added one by one, subdataset layers of one product)."""
        missing = self.product_source() is None and self.input_layers() and self.missing_bands()
        if zipped_product(layers) is not None or missing:
            self._fill_layer_list()
            self.detect_input()
        else:
            self._on_project_layers_changed()

    def _zip_note(self) -> str:
        """What the dock did with a zip QGIS 3.22 added as invalid layers (nothing when it did not)."""
        source = self.product_source()
        if not source or zipped_product(QgsProject.instance().mapLayers().values()) != source:
            return ""
        return (f" QGIS could not open the subdatasets of {os.path.basename(source)} (invalid layers, which can be "
                "removed): the dock opens the zip itself.")

    def _on_project_cleared(self) -> None:
        """New project (or one opened): nothing of the last product stays, the extent box is emptied and takes
        the project's CRS."""
        self.product_edit.clear()
        self._follow_product()
        self._setting_extent = True
        self.extent_box.clear()
        self._setting_extent = False
        self._on_project_crs_changed()
        self.detect_input()

    def _on_project_crs_changed(self) -> None:
        """Without an input the extent is in the project's CRS."""
        crs = QgsProject.instance().crs()
        if crs.isValid() and not self.input_layers() and not self.product_source():
            self.extent_box.setOutputCrs(crs)

    def _on_project_layers_changed(self, *_args) -> None:
        self._fill_layer_list()
        if self.product_source() is not None:      # the input is a path or URL, not a layer
            self._show_dates()
            return
        if not self.input_layers():
            self.detect_input()
            return
        self._fill_table(keep=True)
        self.refresh()

    def _fill_layer_list(self) -> None:
        items = [self.layer_list.item(i) for i in range(self.layer_list.count())]
        checked = {it.data(Qt.ItemDataRole.UserRole) for it in items if it.checkState() == Qt.CheckState.Checked}
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for layer in raster_layers():
            ids = [b for b in layer_band_ids(layer) if b]
            item = QListWidgetItem(f"{layer.name()}  [{', '.join(ids) or 'no band id'}]")
            item.setData(Qt.ItemDataRole.UserRole, layer.id())
            item.setToolTip(layer_path(layer) or layer.name())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(check_state(layer.id() in checked))
            self.layer_list.addItem(item)
        self.layer_list.blockSignals(False)

    def set_checked_layers(self, layers: list[QgsRasterLayer]) -> None:
        """Check exactly ``layers`` in the single-band list (switches to that mode)."""
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(MODE_LIST)
        self.mode_combo.blockSignals(False)
        self._show_mode(MODE_LIST)
        wanted = {lyr.id() for lyr in layers}
        self.layer_list.blockSignals(True)
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            item.setCheckState(check_state(item.data(Qt.ItemDataRole.UserRole) in wanted))
        self.layer_list.blockSignals(False)
        self.on_input_changed()

    def on_input_changed(self) -> None:
        """New input: detect the band mapping, set a safe extent, refresh everything."""
        self._follow_product()
        layers = self.input_layers()
        self.mapping = output_bands_only(auto_map(layers))
        self._fill_table()
        self._place_extent()
        self._set_auto_output()
        self.refresh()

    def _place_extent(self) -> None:
        """The default extent of the input: the map view clipped to the data, unless the user chose one."""
        if self.product_source():
            self._reset_product_extent()
        else:
            self._reset_extent(self.input_layers())

    def _reset_product_extent(self) -> None:
        """Express the extent in the CRS of the item / product typed in (see _set_default_extent). A multi-granule
        product opens only with an extent inside one granule: the box is then put in
        the granules' CRS, so what the user types or draws is in the product CRS."""
        try:
            product = self._open_source()
        except GranuleChoiceError as exc:
            if exc.footprints:
                self.extent_box.setOutputCrs(QgsCoordinateReferenceSystem.fromWkt(exc.footprints[0].crs_wkt))
            return
        except UserError:
            return                      # refresh() shows the reason
        self._set_default_extent(QgsRectangle(*product.data_bounds(tuple(product.bands))),
                                 QgsCoordinateReferenceSystem.fromWkt(product.crs_wkt))

    def _reset_extent(self, layers: list[QgsRasterLayer]) -> None:
        """Express the extent in the input's CRS (see _set_default_extent)."""
        if layers:
            self._set_default_extent(layers[0].extent(), layers[0].crs())

    def _set_default_extent(self, data: QgsRectangle, crs: QgsCoordinateReferenceSystem) -> None:
        """Follow the map view, clipped to ``data`` (never the whole product by surprise; a small window at the
        centre of the data when the view misses it), unless the user chose an extent that meets the data."""
        self.extent_box.setOriginalExtent(data, crs)
        if self.iface is not None and self.iface.mapCanvas() is not None:
            canvas = self.iface.mapCanvas()
            self.extent_box.setCurrentExtent(canvas.extent(), canvas.mapSettings().destinationCrs())
        chosen = self.extent_box.outputCrs() == crs and self.extent_box.outputExtent().intersects(data)
        self.state.extent_chosen = self.state.extent_chosen and chosen
        if not self.state.extent_chosen:
            self._setting_extent = True
            self.extent_box.setOutputCrs(crs)
            self.extent_box.setOutputExtentFromUser(safe_extent(data, self._view_extent_in(crs)), crs)
            self._setting_extent = False

    def _show_extent_note(self) -> None:
        """Say where the extent comes from: the map view, or the user's choice (and how to follow the view)."""
        data = self.extent_box.originalExtent()
        view = self._view_extent_in(self.extent_box.originalCrs())
        if self.extent_box.outputExtent().isEmpty():
            text = ""
        elif self.state.extent_chosen:
            text = (f"Your extent ({EXTENT_CHOICES.get(self.extent_box.extentState(), 'typed')}) is kept as the "
                    "map moves; choose the map canvas extent under the button to follow the map view again.")
        elif view is not None and view.intersects(data):
            text = "Follows the map view, clipped to the data."
        else:
            text = (f"The map view misses the data: a {DEFAULT_WINDOW / 1000:g} km window at its centre (the extent "
                    "follows the map view once it shows the data).")
        self.extent_note.setText(text)

    def _on_extent_changed(self) -> None:
        """A rectangle the user chose (typed, a layer's, drawn) stays; choosing the map view follows it again."""
        if not self._setting_extent:
            self.state.extent_chosen = self.extent_box.extentState() != QgsExtentWidget.ExtentState.CurrentExtent
            if not self.state.extent_chosen:
                self._place_extent()         # the view, clipped to the data
        self.refresh()

    def _on_view_changed(self) -> None:
        """The map moved: the extent follows it unless the user chose one."""
        if not self.state.extent_chosen and (self.input_layers() or self.product_source()):
            self._place_extent()
            self.refresh()

    def _view_extent_in(self, target: QgsCoordinateReferenceSystem) -> QgsRectangle | None:
        """The map canvas' view in ``target``, or None without a canvas."""
        if self.iface is None or self.iface.mapCanvas() is None:
            return None
        canvas = self.iface.mapCanvas()
        view = canvas.extent()
        if view.isEmpty():
            return None
        crs = canvas.mapSettings().destinationCrs()
        if crs.isValid() and crs != target:
            try:
                view = QgsCoordinateTransform(crs, target, QgsProject.instance()).transformBoundingBox(view)
            except Exception:  # a view that cannot be transformed is no view
                return None
        return view

    # -- mapping table -------------------------------------------------------------------------
    def _fill_table(self, keep: bool = False) -> None:
        """Show ``self.mapping`` in the table; every project raster layer can be chosen per band."""
        self.mapping = self.mapping_table.show_mapping(self.mapping, raster_layers(), keep)
        self._flag_missing()

    def on_table_edited(self) -> None:
        """The user changed a layer or band index in the mapping table."""
        self.mapping = self.mapping_table.read(self.mapping)
        self._flag_missing()
        self.refresh()

    def set_mapping(self, band: str, layer: QgsRasterLayer | None, index: int = 1) -> None:
        """Edit one row of the mapping table (as a user would)."""
        self.mapping_table.set_row(band, layer.id() if layer else None, index)

    def missing_bands(self) -> list[str]:
        """Bands the chosen output needs (its bands and the 10 m guidance) that are not mapped."""
        from ..core.bands import GROUPS
        from ..core.pipeline import groups_needed
        needed = [b for res in groups_needed(self.bands) for b in GROUPS[res]]
        present = self.mapping if self.product_source() is None else (self.product.bands if self.product else {})
        return [b for b in OUTPUT_BANDS if b in needed and b not in present]

    def _flag_missing(self) -> None:
        missing = set(self.missing_bands())
        self.mapping_table.flag(missing)
        mapped = len(self.mapping)
        if self.product_source() is not None:
            found = len(set(self.product.bands) & set(OUTPUT_BANDS)) if self.product else 0
            self.mapping_label.setText((f"{found} of {len(OUTPUT_BANDS)} output bands found in the product."
                                        if self.product and self.product_source() else "") + self._zip_note())
        else:
            self.mapping_label.setText(f"Missing: {', '.join(sorted(missing, key=OUTPUT_BANDS.index))}" if missing
                                       else f"{mapped} of {len(OUTPUT_BANDS)} output bands mapped.")
        self.mapping_box.setCollapsed(not missing)
        layers = self.input_layers()
        unnamed = self.mode_combo.currentIndex() == MODE_LAYER and len(layers) == 1 and has_unnamed_bands(layers[0])
        self.standard_order_button.setVisible(self.mode_combo.currentIndex() == MODE_LAYER)
        self.standard_order_button.setEnabled(unnamed)

    # -- dates ---------------------------------------------------------------------------------
    def _show_dates(self) -> None:
        """List the project's Sentinel-2 layers by date (the input's date is the reference), grey the section
        for presets that do not use dates, and keep a synthesised target to the four 10 m bands."""
        groups = group_by_date(self._dated_layers(), self._date_of)
        ids = {lyr.id() for lyr in self.input_layers()}
        known = self.product.date if self.product is not None else None
        reference = next((g.date for g in groups if ids & set(g.layer_ids)), known)
        self.dates_section.show_groups(groups, reference)
        dates = uses_dates(self.preset)
        self.dates_section.set_uses_dates(dates, self.preset, preset_availability().get("spacetime"))
        self._limit_bands(dates and self.dates_section.is_synthesised())

    def _dated_layers(self) -> list[QgsRasterLayer]:
        """The project's raster layers, without the results and originals in the 'Super-resolution' group."""
        group = QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME)
        results = set(group.findLayerIds()) if group is not None else set()
        return [lyr for lyr in raster_layers() if lyr.id() not in results]

    def _date_of(self, path: str) -> dt.date | None:
        """The acquisition date of the product at ``path`` (core.dates.source_date), read once per file."""
        if path not in self._date_cache:
            with private_hosts(allow_private_hosts()):
                self._date_cache[path] = source_date(path)
        return self._date_cache[path]

    def _limit_bands(self, synthesised: bool) -> None:
        """A synthesised date has only the four 10 m bands: switch the bands combo there and say why."""
        self.bands_combo.setEnabled(not synthesised)
        self.bands_combo.setToolTip("A synthesised date (between two observations) is made of the four 10 m bands "
                                    "only" if synthesised else self._bands_tip)
        ten = list(BAND_CHOICES.values()).index(GROUP_10)
        if synthesised and self.bands_combo.currentIndex() != ten:
            self.bands_combo.blockSignals(True)
            self.bands_combo.setCurrentIndex(ten)
            self.bands_combo.blockSignals(False)

    def _on_dates_changed(self) -> None:
        self.refresh()

    def date_options(self) -> dict:
        """The RunRequest fields of the dates: the other dates' files, the target date and fill_clouds (none
        for a preset that does not use dates, or without other dates)."""
        groups = self.dates_section.context_groups() if uses_dates(self.preset) else []
        if not groups:
            return {"other_dates": [], "target_date": None, "fill_clouds": False}
        return {"other_dates": [list(g.sources) for g in groups], "target_date": self.dates_section.target(),
                "fill_clouds": self.dates_section.fill_clouds()}

    def _validate_dates(self) -> str | None:
        """Why other dates cannot be used (None when they can, or none are chosen)."""
        if self.date_options()["other_dates"] and self.dates_section.reference is None:
            return ("The acquisition date of the input is unknown: put it in the file name (e.g. '..._20240602.tif') "
                    "or give the product as delivered, to use other dates.")
        return None

    # -- validation, estimates -----------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the plan, estimate and Run button state from the widgets."""
        diffusion = self.preset == "diffusion"
        for w in (self.steps_spin, self.seed_spin, self.uncertainty_check):
            w.setEnabled(diffusion)
        self._flag_missing()
        self._show_dates()
        self._show_extent_note()
        self.reason = self._validate() or self._validate_dates()
        if self.product_source() is not None:
            self._flag_missing()          # the bands are known once the product is open
        self.run_button.setEnabled(self.reason is None and not self.tasks)   # one run at a time from the button
        self.reason_label.setText(self.reason or "")
        self.reason_label.setVisible(self.reason is not None)
        self._show_product()
        self._show_plan()
        why_not = self.lens_reason()
        self.lens_button.setEnabled(why_not is None)
        self.lens_button.setToolTip(self.run_panel.LENS_TIP + (f" — not now: {why_not}" if why_not else ""))

    def lens_reason(self) -> str | None:
        """None when the live lens can run on the current input, else why not."""
        if self.iface is None:
            return "no map canvas"
        why = preset_availability().get("fast")
        if why:
            return f"the fast preset is not available ({why})"
        if self.product_source() is not None:
            return "the lens reads layers: add the 10 m band layers (or use Run)"
        if not set(GROUP_10) <= set(self.mapping):
            return "map the four 10 m bands first"
        return None

    def lens_setup(self) -> tuple | None:
        """What ui.lens.LensTool needs for the current input, or None when the lens cannot run."""
        if self.lens_reason() is not None:
            return None
        return lens_inputs({b: self.mapping[b] for b in GROUP_10}, self.offset_override,
                           self.run_options().providers)

    def _validate(self) -> str | None:
        """None when a run can start, else the reason shown to the user."""
        self.plan = None
        layers = self.input_layers()
        if self.product_source() == "":
            return "Give a STAC item (JSON file or http(s) URL), a .SAFE folder or a zipped product."
        if self.product_source():
            return self._validate_source()
        if not layers:
            return "Choose an input raster layer (or check the single-band layers of one product)."
        missing = self.missing_bands()
        if missing:
            hint = " or produce only the four 10 m bands" if set(missing).isdisjoint(GROUP_10) else ""
            if self.mode_combo.currentIndex() == MODE_LAYER and layers[0].bandCount() == 1:
                hint += " (a single-band layer: choose 'Single-band layers' above)"
            elif self.mode_combo.currentIndex() == MODE_LIST and set(missing) & set(self._band_layers()):
                hint += " (the project has them: click 'One layer per band')"
            elif self.standard_order_button.isEnabled():
                hint += " (its bands have no names: click 'Standard S2 order' if they are in ESA order)"
            return f"Missing band(s) {', '.join(missing)}: map them in the table{hint}."
        why = preset_availability().get(self.preset)
        if why:
            return f"Preset '{self.preset}' is not available: {why}."
        try:
            check_pixel_size(self.preset, self.pixel_size)
            with private_hosts(allow_private_hosts()):
                self.product = self._open_product()
            self.plan = plan_run(self.product, self.extent(), self.bands, preset_margin(self.preset, self.bands),
                                 tile=self.tile_spin.value(), pixel_size=self.pixel_size)
        except UserError as exc:
            return printable(exc)
        return self._validate_output()

    def _validate_source(self) -> str | None:
        """_validate for a STAC item / product given by path or URL: core opens it as the CLI does."""
        why = preset_availability().get(self.preset)
        if why:
            return f"Preset '{self.preset}' is not available: {why}."
        try:
            with private_hosts(allow_private_hosts()):
                self.product = self._open_source()
            missing = self.missing_bands()
            if missing:
                hint = " or produce only the four 10 m bands" if set(missing).isdisjoint(GROUP_10) else ""
                return f"Missing band(s) {', '.join(missing)} in the product: give a complete item or product{hint}."
            check_pixel_size(self.preset, self.pixel_size)
            self.plan = plan_run(self.product, self.extent(), self.bands, preset_margin(self.preset, self.bands),
                                 tile=self.tile_spin.value(), pixel_size=self.pixel_size)
        except GranuleChoiceError as exc:
            return f"Choose an extent inside one granule (in the Extent section). {printable(exc)}"
        except UserError as exc:
            return printable(exc)
        return self._validate_output()

    def _open_source(self) -> Product:
        """The product at product_source(), opened once per (source, offset); a multi-granule product again
        whenever the extent changes (the extent picks its granule)."""
        source, given = self.product_source(), self.extent_as_given()
        key = (source, self.offset_override)
        granular = self.state.granular == key
        full_key = key + ((given,) if granular else ())
        if full_key == self.state.opened_with and self.product is not None:
            return self.product
        self.product, self.state.opened_with = None, None
        try:
            product = open_product(source, offset=self.offset_override, extent=given[0] if given else None,
                                   extent_crs=given[1] if given else None)
        except GranuleChoiceError:
            self.state.granular = key
            raise
        if product.granule:
            self.state.granular = key
        self.product = product
        self.state.opened_with = key + ((given,) if self.state.granular == key else ())
        return product

    def _open_product(self) -> Product:
        band_map = to_core_band_map(self.mapping)
        key = (tuple(sorted(band_map.items())), self.offset_override)
        if key != self.state.opened_with or self.product is None:
            self.product = open_product(sorted({p for p, _ in band_map.values()}), band_map=band_map,
                                        offset=self.offset_override)
            self.state.opened_with = key
        return self.product

    def _show_product(self) -> None:
        """Level, processing baseline and DN offset of the product, with a warning when the offset is a guess."""
        product = self.product if self.mapping or self.product_source() else None
        if product is None:
            self.product_label.setText("")
            self.offset_warning.setVisible(False)
            return
        level = getattr(product, "level", None) or "level unknown"
        baseline = getattr(product, "baseline", None)
        self.product_label.setText(f"{level} · baseline {printable(baseline or 'unknown')} · DN offset "
                                   f"{product.offset:g} ({printable(product.offset_origin)})")
        origin = str(product.offset_origin).lower()
        guessed = self.offset_override is None and ("unknown" in origin or origin.startswith("default"))
        self.offset_warning.setText("The processing baseline is unknown, so no DN offset is applied. Products of "
                                    "baseline 04.00 and later (from 25 January 2022) need -1000: set it below."
                                    if guessed else "")
        self.offset_warning.setVisible(guessed)

    def _validate_output(self) -> str | None:
        text = self.output_widget.filePath().strip()
        if not text:
            return "Choose an output file (GeoTIFF)."
        path = Path(text)
        if path.suffix.lower() not in (".tif", ".tiff"):
            return "The output file must end in .tif (it is a GeoTIFF)."
        folder = path.parent
        existing = folder if folder.is_dir() else folder.parent   # a missing last folder is created on Run
        if folder == proposed_folder():
            existing = next(p for p in folder.parents if p.is_dir())
        if not existing.is_dir():
            return f"The output folder '{folder}' does not exist."
        if not os.access(existing, os.W_OK):
            return f"The output folder '{existing}' is not writable."
        self.output_note.setText("" if folder.is_dir() else f"The folder '{folder.name}' will be created.")
        return self._check_resources(existing)

    def _check_resources(self, folder: Path) -> str | None:
        """core's own pre-flight check (free disk space, memory for one tile), so Run is never a dead end."""
        cost = self.current_estimate()
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
            f"{e.width / 1000:,.2f} × {e.height / 1000:,.2f} km → {cols:,} × {rows:,} px at "
            f"{pixel_label(self.plan.pixel_size)} m "
            f"({rows * cols / 1e6:.2f} Mpx, {len(self.plan.tiles)} tile(s))."
            + ("\n" + " ".join(self.plan.notes) if self.plan.notes else ""))
        self.pixels_label.setToolTip("Processed extent, snapped outward to the 60 m grid: "
                                     f"{e.xmin:.0f}, {e.ymin:.0f}, {e.xmax:.0f}, {e.ymax:.0f}")
        est = self.current_estimate()
        self.estimate_label.setText(summary(est))
        self.warning_label.setText(warning(est) or "")
        self.warning_label.setVisible(warning(est) is not None)

    def current_estimate(self) -> Estimate:
        options = self.run_options()
        gpu = any(p != "CPUExecutionProvider" for p in options.providers)
        return estimate(self.preset, self.plan.output_shape, len(self.bands), self.plan.tiles[0].rows,
                        self.plan.margin, options.steps, options.samples, gpu, self.plan.pixel_size,
                        self.plan.window_pixels)

    # -- running -------------------------------------------------------------------------------
    def build_request(self) -> RunRequest:
        layers = self.input_layers()
        refs = dict(self.mapping)
        source = self.product_source() or None
        return RunRequest(band_map=to_core_band_map(self.mapping), output=Path(self.output_widget.filePath()),
                          preset=self.preset, extent=self.plan.extent,
                          bands=self.bands, options=self.run_options(), tile=self.tile_spin.value(),
                          refs=refs, source_name=source or ", ".join(lyr.name() for lyr in layers),
                          product_label=self.product_name(), offset=self.offset_override,
                          preview_ranges=shared_stretch(refs, self.product.offset, QgsProject.instance()),
                          product_source=source, extent_crs=self.product.crs_wkt if source else None,
                          allow_private_hosts=allow_private_hosts(),
                          **self.date_options())

    def confirm_long_run(self, est: Estimate) -> bool:
        """Ask before a run estimated over a few minutes; the question states the time and the disk."""
        from ..core.estimate import format_duration
        self._question = QMessageBox(QMessageBox.Icon.Question, "Super-resolve a large extent?",
                                     f"This run is estimated to take about {format_duration(est.seconds)} and to need "
                                     f"about {est.disk_bytes / 2**30:,.1f} GB of disk while writing "
                                     f"({est.output_bytes / 2**30:,.1f} GB for the result).\n\nStart it anyway?",
                                     QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        self._question.setDefaultButton(QMessageBox.StandardButton.No)
        try:
            return self._question.exec() == QMessageBox.StandardButton.Yes
        finally:
            self._question = None

    def start_run(self) -> SuperResolutionTask | None:
        """Queue a task for the current settings; returns it (None when the inputs are invalid or the user
        declined a long run)."""
        self.refresh()
        if self.reason is not None:
            return None
        est = self.current_estimate()
        if needs_confirmation(est) and not self.confirm_long_run(est):
            return None
        Path(self.output_widget.filePath()).parent.mkdir(parents=True, exist_ok=True)
        self.save_settings()
        task = SuperResolutionTask(self.build_request(), self.iface)
        task.on_success = self._on_task_success
        task.progressChanged.connect(self._on_progress)    # bound methods of a QObject: queued to the GUI thread
        task.tileDone.connect(self._on_tile_done)
        task.taskCompleted.connect(lambda t=task: self._forget(t))
        task.taskTerminated.connect(lambda t=task: self._forget(t))
        self.tasks.append(task)
        self._show_preview(task)
        QgsApplication.taskManager().addTask(task)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.progress_label.setText(f"Tile 0 of {len(self.plan.tiles)}")
        self.progress_label.setVisible(True)
        self._set_running_output(task.request.output)
        return task

    def _set_running_output(self, path: Path) -> None:
        """The field names the file being written (reserve_output may have added a suffix)."""
        self._auto_value = str(path)
        self.output_widget.blockSignals(True)
        self.output_widget.setFilePath(str(path))
        self.output_widget.blockSignals(False)

    def _show_preview(self, task: SuperResolutionTask) -> None:
        """Outline the processed extent on the canvas and fill it with each tile as it is finished."""
        if self.iface is None or self.iface.mapCanvas() is None or not (self.input_layers() or self.product_source()):
            return
        crs = (self.input_layers()[0].crs() if self.input_layers()
               else QgsCoordinateReferenceSystem.fromWkt(self.product.crs_wkt))
        preview = TilePreviewItem(self.iface.mapCanvas(), crs, self.plan.extent)
        task.tilePicture.connect(preview.add)
        self.previews[task] = preview

    def _on_progress(self, percent: float) -> None:
        self.progress_bar.setValue(int(percent))

    def _on_tile_done(self, progress: TileProgress) -> None:
        if self.cancelling:
            return       # the time left stops: "Cancelling…" until the task ends
        self.progress = progress
        self.progress_label.setText(progress.text())

    def cancel_runs(self) -> None:
        """Cancel every running task; the dock says so until they end (within a second or two)."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            self.cancelling = True
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling…")

    def _forget(self, task: SuperResolutionTask) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        preview = self.previews.pop(task, None)
        if preview is not None:
            preview.remove()
        running = bool(self.tasks)
        self.cancelling = self.cancelling and running
        self.run_button.setEnabled(self.reason is None and not running)
        self.cancel_button.setEnabled(running and not self.cancelling)
        self.progress_bar.setVisible(running)
        self.progress_label.setVisible(running)

    def _on_task_success(self, run: FinishedRun) -> None:
        self.last_run = run
        self.compare_button.setEnabled(True)
        self.swipe_button.setEnabled(self.iface is not None)


__all__ = ["MODE_LAYER", "MODE_LIST", "MODE_PRODUCT", "SuperResolutionDock", "TRUE_COLOUR"]
