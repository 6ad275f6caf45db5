"""The comparison view: original (left) and result (right) in two linked canvases, band combinations with
one stretch, a pixel inspector, 1:1 zoom, PNG export and "open in a new map view". A result made from several
dates can step the original side through them (each date read from its own product), at the same place and zoom.

The original is shown through a reflectance VRT (ui.reflectance_vrt) whose bands follow the result's
order (core.bands.OUTPUT_BANDS), so both sides share one band order and one stretch. In true colour that
stretch is the one the result layer has on the main map, so the view and the map look alike.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from qgis.core import QgsMapRendererSequentialJob, QgsPointXY, QgsProject, QgsRasterLayer, QgsRectangle
from qgis.gui import QgsMapCanvas, QgsVertexMarker
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QColor, QImage, QPainter
from qgis.PyQt.QtWidgets import (QComboBox, QDialog, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter,
                                 QVBoxLayout, QWidget)

from ..core.bands import OUTPUT_RESOLUTION, pixel_label
from .inspector import PixelInspector, layer_band_descriptions
from .map_tools import PanOrPickTool
from .reflectance_vrt import reflectance_vrt
from .render import COMBINATIONS, TRUE_COLOUR, apply_rgb, cumulative_range, renderer_ranges, rgb_indices
from .result_layer import open_result_layer
from .task import FinishedRun, synthesised_date

PNG_GAP = 8   # pixels between the two halves of an exported picture


class CompareDialog(QDialog):
    """Original (left) and result (right) in two linked canvases, with band combinations and an inspector."""

    def __init__(self, original: QgsRasterLayer, result: QgsRasterLayer, parent: QWidget | None = None,
                 cleanup: Path | None = None, map_layer: QgsRasterLayer | None = None, iface=None,
                 dates: list | None = None, date_index: int = 0, synthesised: str | None = None):
        super().__init__(parent)
        self.synthesised = synthesised      # the target date (YYYY-MM-DD) of a synthesised result, else None
        self.setWindowTitle("Compare: original (left) · super-resolved (right)")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the canvases' signal lambdas keep a Python cycle alive
        self.original, self.result = original, result
        self.map_layer_id = map_layer.id() if map_layer is not None else None
        self.iface = iface
        self.map_views: list[QgsMapCanvas] = []
        self._cleanup = cleanup
        self._syncing = False
        self.dates = list(dates or [])        # (datetime.date, core.sources.Product) of each input date
        self.date_combo = self._date_combo(date_index)
        self.left, self.right = self._canvas(original), self._canvas(result)
        self.inspector = PixelInspector(original, result)
        self.combo = QComboBox()
        self.combo.setToolTip("Band combination shown on both sides, with one stretch")
        self._fill_combinations()
        self._build()
        self._link()
        self.tools = [self._click_tool(c) for c in (self.left, self.right)]
        self.markers = [self._marker(c) for c in (self.left, self.right)]
        self.apply_combination(TRUE_COLOUR)
        self.zoom_native()

    @classmethod
    def from_run(cls, run: FinishedRun, parent: QWidget | None = None, iface=None) -> "CompareDialog":
        """Build the comparison of a finished run (the original comes from the run's band files)."""
        folder = Path(tempfile.mkdtemp(prefix="s2sr_compare_"))
        product = run.request.open_product(offset=run.offset)
        original = QgsRasterLayer(str(reflectance_vrt(product, folder / "original.vrt")), "original (10/20/60 m)")
        result = open_result_layer(run.result.output, f"super-resolved ({pixel_label(run.result.pixel_size)} m)")
        map_layer = QgsProject.instance().mapLayer(run.layer_id) if run.layer_id else None
        dates = list(zip(run.dates, run.date_products))
        if len(dates) > 1:
            original = original_layer(dates[run.reference_index][1], folder, dates[run.reference_index][0])
        return cls(original, result, parent, cleanup=folder,
                   map_layer=map_layer if isinstance(map_layer, QgsRasterLayer) else None, iface=iface,
                   dates=dates if len(dates) > 1 else None, date_index=run.reference_index,
                   synthesised=synthesised_date(run.result))

    # -- dates ---------------------------------------------------------------------------------
    def _date_combo(self, index: int) -> QComboBox:
        combo = QComboBox()
        combo.setToolTip("The input date shown on the original side (its own product, at the same place and zoom)")
        for day, _product in self.dates:
            combo.addItem(day.isoformat(), day.isoformat())
        combo.setCurrentIndex(index if self.dates else -1)
        combo.setVisible(bool(self.dates))
        combo.currentIndexChanged.connect(self.show_date)
        return combo

    def show_date(self, index: int) -> None:
        """Show input date ``index`` on the original side (same view, same band combination and stretch)."""
        if not 0 <= index < len(self.dates) or self._cleanup is None:
            return
        day, product = self.dates[index]
        layer = original_layer(product, self._cleanup, day)
        self.left.stopRendering()
        self.left.setLayers([layer])
        self.original = self.inspector.original = layer
        self.original_title.setText(f"<b>Original {day.isoformat()}</b>")
        self.apply_combination(self.combo.currentData())

    # -- views ---------------------------------------------------------------------------------
    def zoom_to_result(self) -> None:
        """Show the whole result on both sides."""
        self.left.setExtent(self.result.extent())
        self.left.refresh()

    def zoom_native(self) -> None:
        """1:1: one screen pixel is one output pixel (2.5 m, or the result's own size), centred on the current view
        (the result at first)."""
        if sip.isdeleted(self) or self.result is None:
            return
        centre = self.left.center() if not self.left.extent().isEmpty() else self.result.extent().center()
        if self.left.extent().isEmpty() or not self.result.extent().contains(centre):
            centre = self.result.extent().center()
        size = self.left.mapSettings().outputSize()      # the drawing area, inside the canvas frame
        pixel = self.result.rasterUnitsPerPixelX() or OUTPUT_RESOLUTION
        half_w, half_h = size.width() * pixel / 2, size.height() * pixel / 2
        self.left.setExtent(QgsRectangle(centre.x() - half_w, centre.y() - half_h,
                                         centre.x() + half_w, centre.y() + half_h))
        self.left.refresh()

    def showEvent(self, event) -> None:
        """The canvases only know their size once shown and laid out: zoom to 1:1 then."""
        super().showEvent(event)
        QTimer.singleShot(0, self.zoom_native)

    def _canvas(self, layer: QgsRasterLayer) -> QgsMapCanvas:
        canvas = QgsMapCanvas()
        canvas.setDestinationCrs(self.result.crs())
        canvas.setCanvasColor(QColor(255, 255, 255))
        canvas.setLayers([layer])
        canvas.setMinimumSize(320, 320)
        return canvas

    def _build(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Bands:"))
        top.addWidget(self.combo, 1)
        size = f"{pixel_label(self.result.rasterUnitsPerPixelX() or OUTPUT_RESOLUTION)} m"
        self.native_button = self._button(f"1:1 ({size})", f"One screen pixel = one {size} output pixel",
                                          self.zoom_native)
        self.fit_button = self._button("Whole result", "Zoom to the whole result", self.zoom_to_result)
        self.png_button = self._button("Export PNG…", "Save the side-by-side view as a PNG picture", self._ask_png)
        self.map_view_button = self._button("Open in map view", "Open a new QGIS map view with the result over "
                                            "the original true colour, at this place and scale", self.open_map_view)
        for b in (self.native_button, self.fit_button, self.png_button, self.map_view_button):
            top.addWidget(b)
        split = QSplitter(Qt.Orientation.Horizontal)
        if self.dates:
            top.addWidget(QLabel("Date:"))
            top.addWidget(self.date_combo)
        day = f" {self.date_combo.currentData()}" if self.dates else ""
        self.original_title = QLabel(f"<b>Original{day}</b>")
        self.result_title = QLabel(f"<b>Synthesised {self.synthesised} (not an observation), {size}</b>"
                                   if self.synthesised else f"<b>Super-resolved {size}</b>")
        for canvas, title in ((self.left, self.original_title), (self.right, self.result_title)):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(title)
            lay.addWidget(canvas, 1)
            split.addWidget(box)
        split.addWidget(self.inspector)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.resize(1300, 620)

    def _button(self, text: str, tooltip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tooltip)
        button.clicked.connect(lambda _c=False: slot())
        return button

    def _fill_combinations(self) -> None:
        ids_o, ids_r = layer_band_descriptions(self.original), layer_band_descriptions(self.result)
        for name, combo in COMBINATIONS.items():
            self.combo.addItem(name, combo)
            ok = rgb_indices(ids_o, combo) is not None and rgb_indices(ids_r, combo) is not None
            self.combo.model().item(self.combo.count() - 1).setEnabled(ok)
        self.combo.currentIndexChanged.connect(lambda _i: self.apply_combination(self.combo.currentData()))

    # -- linked navigation ---------------------------------------------------------------------
    def _link(self) -> None:
        for src, dst in ((self.left, self.right), (self.right, self.left)):
            src.extentsChanged.connect(lambda s=src, d=dst: self.sync(s, d))
            src.rotationChanged.connect(lambda _r, s=src, d=dst: self.sync(s, d))

    def sync(self, src: QgsMapCanvas, dst: QgsMapCanvas) -> None:
        """Give ``dst`` the centre, scale and rotation of ``src`` (re-entrancy guarded)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            dst.setRotation(src.rotation())
            if dst.extent().isEmpty():
                dst.setExtent(src.extent())
            dst.setCenter(src.center())
            dst.zoomScale(src.scale())
            dst.refresh()
        finally:
            self._syncing = False

    # -- band combinations ---------------------------------------------------------------------
    def stretch(self, combo: tuple[str, str, str]) -> list[tuple[float, float]] | None:
        """One min/max per channel for both sides: in true colour the main-map result layer's (so the view
        matches the map), otherwise the 2-98 % range of the original over the result extent."""
        rgb_o = rgb_indices(layer_band_descriptions(self.original), combo)
        if rgb_o is None:
            return None
        layer = QgsProject.instance().mapLayer(self.map_layer_id) if self.map_layer_id else None
        if combo == TRUE_COLOUR and isinstance(layer, QgsRasterLayer):
            ranges = renderer_ranges(layer, combo)
            if ranges is not None:
                return ranges
        return [cumulative_range(self.original, i, self.result.extent()) for i in rgb_o]

    def apply_combination(self, combo: tuple[str, str, str]) -> None:
        """Render both sides with ``combo`` and one stretch (see ``stretch``)."""
        rgb_o = rgb_indices(layer_band_descriptions(self.original), combo)
        rgb_r = rgb_indices(layer_band_descriptions(self.result), combo)
        ranges = self.stretch(combo)
        if rgb_o is None or rgb_r is None or ranges is None:
            return
        apply_rgb(self.original, rgb_o, ranges)
        apply_rgb(self.result, rgb_r, ranges)
        for canvas in (self.left, self.right):
            canvas.refresh()

    # -- export and map view -------------------------------------------------------------------
    def render_side_by_side(self) -> QImage:
        """Both canvases' current views rendered (not grabbed from the screen), left | gap | right."""
        images = []
        for canvas in (self.left, self.right):
            job = QgsMapRendererSequentialJob(canvas.mapSettings())
            job.start()
            job.waitForFinished()
            images.append(job.renderedImage())
        width = images[0].width() + PNG_GAP + images[1].width()
        out = QImage(width, max(i.height() for i in images), QImage.Format.Format_ARGB32)
        out.fill(QColor(255, 255, 255))
        painter = QPainter(out)
        painter.drawImage(0, 0, images[0])
        painter.drawImage(images[0].width() + PNG_GAP, 0, images[1])
        painter.end()
        return out

    def export_png(self, path: Path) -> Path:
        """Write the side-by-side view to ``path`` (PNG)."""
        if not self.render_side_by_side().save(str(path), "PNG"):
            raise OSError(f"Cannot write '{path}'.")
        return Path(path)

    def _ask_png(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export the comparison", str(Path(self.result.source()).with_suffix(
            ".comparison.png")), "PNG (*.png)")
        if name:
            self.export_png(Path(name))

    def open_map_view(self) -> QgsMapCanvas:
        """A new map view (QGIS's own when available, else a window) with the main-map result layer over the
        project's layers, at the comparison's place and scale."""
        layer = QgsProject.instance().mapLayer(self.map_layer_id) if self.map_layer_id else None
        layers = [layer] if isinstance(layer, QgsRasterLayer) else [self.result]
        if self.iface is not None and self.iface.mapCanvas() is not None:
            below = [lyr for lyr in self.iface.mapCanvas().layers() if lyr not in layers]
            layers += below
        canvas = None
        if self.iface is not None and hasattr(self.iface, "createNewMapCanvas"):
            name = f"Super-resolution {len(self.map_views) + 1}"
            canvas = self.iface.createNewMapCanvas(name)
        if canvas is None:
            canvas = QgsMapCanvas()
            canvas.setWindowTitle("Super-resolution map view")
            canvas.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            canvas.resize(800, 600)
            canvas.show()
        canvas.setDestinationCrs(self.left.mapSettings().destinationCrs())
        canvas.setLayers(layers)
        canvas.setExtent(self.left.extent())
        canvas.refresh()
        self.map_views.append(canvas)
        return canvas

    # -- pixel inspector -----------------------------------------------------------------------
    def _click_tool(self, canvas: QgsMapCanvas) -> PanOrPickTool:
        tool = PanOrPickTool(canvas)
        tool.picked.connect(self.inspect)
        canvas.setMapTool(tool)
        return tool

    def _marker(self, canvas: QgsMapCanvas) -> QgsVertexMarker:
        marker = QgsVertexMarker(canvas)
        marker.setIconType(QgsVertexMarker.IconType.ICON_CROSS)
        marker.setColor(QColor(255, 0, 255))
        marker.setIconSize(14)
        marker.setPenWidth(2)
        marker.hide()
        return marker

    def inspect(self, point: QgsPointXY) -> None:
        for marker in self.markers:
            marker.setCenter(point)
            marker.show()
        self.inspector.inspect(point)

    def done(self, result: int) -> None:
        """Close: remove markers and tools from the canvases, drop the layers and the temporary VRT folder."""
        for canvas, marker, tool in zip((self.left, self.right), self.markers, self.tools):
            canvas.stopRendering()
            canvas.scene().removeItem(marker)
            canvas.unsetMapTool(tool)
            canvas.setLayers([])
            sip.delete(marker)   # both are also owned by C++ (canvas scene / QObject parent): delete once, now
            sip.delete(tool)
        self.markers, self.tools = [], []
        for view in self.map_views:   # windows of our own show the dialog's result layer: close them too
            if not sip.isdeleted(view) and view.parent() is None:
                view.setLayers([])
                view.close()
        self.map_views = []
        # release the layers now: a layer destroyed after QGIS has exited crashes in GDALClose
        self.inspector.original = self.inspector.result = self.original = self.result = None
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None
        super().done(result)


def original_layer(product, folder: Path, day) -> QgsRasterLayer:
    """The original of input date ``day`` (its product's bands in reflectance, ui.reflectance_vrt)."""
    path = reflectance_vrt(product, folder / f"original_{day.isoformat()}.vrt")
    return QgsRasterLayer(str(path), f"original {day.isoformat()} (10/20/60 m)")
