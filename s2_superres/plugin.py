"""QGIS plugin class: toolbar button and menu entries, the dock, and the Processing provider.

Nothing heavy is imported at module import time (no onnxruntime): the plugin loads in a stock QGIS.
"""
from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsProject
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QPushButton

from .core.errors import UserError
from .ui.deps import add_deps_path, classical_presets_text, missing_packages

MENU = "&Sentinel-2 super-resolution"
SHORTCUT = "Ctrl+Alt+S"   # opens the dock; changeable in Settings ▸ Keyboard Shortcuts
ICON = Path(__file__).resolve().parent / "icons" / "icon.svg"


class SuperResolutionPlugin:
    """Entry point created by ``classFactory``; reload-safe (unload removes everything it added)."""

    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.dock = None
        self.actions: list[QAction] = []
        self.action: QAction | None = None
        self.deps_action: QAction | None = None
        self.swipe = None
        self.lens = None
        self.compare_dialogs: list = []
        self.missing: dict[str, str] = {}
        self.offered_dependencies = False
        self.deps_message = None     # the message bar's "not installed" offer, while shown
        self.deps_dialog = None

    # -- Processing (also called alone by qgis_process) ----------------------------------------
    def initProcessing(self) -> None:
        """Make the private dependency folder importable and register the Processing provider (once)."""
        add_deps_path()
        if self.provider is None:
            from .processing.provider import SuperResolutionProvider
            self.provider = SuperResolutionProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    # -- GUI -----------------------------------------------------------------------------------
    def initGui(self) -> None:
        self.initProcessing()
        self.action = QAction(QIcon(str(ICON)), "Super-resolve extent", self.iface.mainWindow())
        self.action.setObjectName("S2SuperResolveExtent")
        self.action.setToolTip(f"Super-resolve a Sentinel-2 extent to 2.5 m ({SHORTCUT})")
        self.action.triggered.connect(self.show_dock)
        self.action.setShortcut(SHORTCUT)
        if hasattr(self.iface, "registerMainWindowAction"):
            self.iface.registerMainWindowAction(self.action, SHORTCUT)   # listed in QGIS's shortcut manager
        self.iface.addToolBarIcon(self.action)
        self.iface.addPluginToMenu(MENU, self.action)
        self.deps_action = QAction("Install dependencies…", self.iface.mainWindow())
        self.deps_action.triggered.connect(self.show_dependencies)
        self.iface.addPluginToMenu(MENU, self.deps_action)
        self.actions = [self.action, self.deps_action]
        self.missing = missing_packages()

    def unload(self) -> None:
        """Remove the actions, dock, map tools and provider."""
        if self.action is not None and hasattr(self.iface, "unregisterMainWindowAction"):
            self.iface.unregisterMainWindowAction(self.action)
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
        if self.action is not None:
            self.iface.removeToolBarIcon(self.action)
        self.actions, self.action, self.deps_action = [], None, None
        if self.swipe is not None:
            self.swipe.stop()
        if self.lens is not None:
            self.lens.stop()
        for dialog in self.compare_dialogs:
            dialog.close()
        self.compare_dialogs = []
        if self.dock is not None:
            self.dock.shutdown()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    def show_dock(self) -> None:
        """Create the dock on first use, then show it."""
        if self.dock is None:
            from .ui.dock import SuperResolutionDock
            self.dock = SuperResolutionDock(self.iface, self.iface.mainWindow())
            self.dock.compare_button.clicked.connect(self.show_compare)
            self.dock.swipe_button.toggled.connect(self.toggle_swipe)
            self.dock.lens_button.toggled.connect(self.toggle_lens)
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.show()
        self.dock.raise_()
        self._offer_dependencies()

    def _offer_dependencies(self) -> None:
        """Once per session, when onnxruntime is missing: say so in the message bar, with an Install button."""
        if "onnxruntime" not in self.missing or self.offered_dependencies:
            return
        self.offered_dependencies = True
        bar = self.iface.messageBar()
        message = bar.createMessage("Super-resolution", f"onnxruntime is not installed: only the "
                                    f"{classical_presets_text()} presets can run. Install it into the plugin's own "
                                    "folder?")
        button = QPushButton("Install…", message)
        button.clicked.connect(self.show_dependencies)
        message.layout().addWidget(button)
        bar.pushWidget(message, Qgis.MessageLevel.Info, 20)
        self.deps_message = message

    def show_dependencies(self) -> None:
        """The dependency dialog; a successful install takes effect at once (no restart)."""
        from .ui.deps import DependencyDialog
        self.deps_dialog = DependencyDialog(self.iface.mainWindow())
        self.deps_dialog.installed.connect(self.on_dependencies_installed)
        self.deps_dialog.exec()
        self.deps_dialog = None

    def on_dependencies_installed(self) -> None:
        """Re-read what is missing, drop the stale message, and let the dock offer the network presets."""
        self.missing = missing_packages()
        if self.deps_message is not None and "onnxruntime" not in self.missing:
            if not sip.isdeleted(self.deps_message):
                self.iface.messageBar().popWidget(self.deps_message)
            self.deps_message = None
        if self.dock is not None:
            self.dock.refresh_presets()

    def show_compare(self) -> None:
        """Open a side-by-side comparison of the last result and its source."""
        from .ui.compare_dialog import CompareDialog
        run = self.dock.last_run if self.dock else None
        if run is None:
            return
        try:
            dialog = CompareDialog.from_run(run, self.iface.mainWindow(), iface=self.iface)
        except UserError as exc:   # e.g. the source files were moved since the run
            self.iface.messageBar().pushMessage("Super-resolution", f"Cannot compare: {exc}",
                                                level=Qgis.MessageLevel.Warning)
            return
        self.compare_dialogs.append(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._forget_dialog(d))
        dialog.show()

    def _forget_dialog(self, dialog) -> None:
        if dialog in self.compare_dialogs:
            self.compare_dialogs.remove(dialog)

    def toggle_swipe(self, on: bool) -> None:
        """Swipe the last result over the layers below it on the main canvas."""
        from .ui.swipe import SwipeTool
        if self.swipe is not None:
            self.swipe.stop()
        run = self.dock.last_run if self.dock else None
        layer = QgsProject.instance().mapLayer(run.layer_id) if run else None
        if on and layer is not None:
            self.swipe = SwipeTool(self.iface.mapCanvas(), layer)
            self.swipe.stopped.connect(self._on_swipe_stopped)
            self.swipe.start()
        elif on:
            self._on_swipe_stopped()   # the result layer is gone: nothing to swipe

    def _on_swipe_stopped(self) -> None:
        """Keep the Swipe button in step when the swipe ends by itself (other tool, layer removed)."""
        self.swipe = None
        self._uncheck("swipe_button")

    def toggle_lens(self, on: bool) -> None:
        """The live lens over the dock's input (fast preset, 10 m bands) on the main canvas."""
        if self.lens is not None:
            self.lens.stop()
        if not on:
            return
        from .ui.lens import LensTool
        setup = self.dock.lens_setup() if self.dock else None
        if setup is None:
            self._on_lens_stopped()
            return
        self.lens = LensTool(self.iface.mapCanvas(), *setup)
        self.lens.stopped.connect(self._on_lens_stopped)
        self.lens.start()

    def _on_lens_stopped(self) -> None:
        self.lens = None
        self._uncheck("lens_button")

    def _uncheck(self, button: str) -> None:
        """Uncheck the dock's toggle ``button`` without re-entering its slot (the tool has already stopped)."""
        if self.dock is not None:
            widget = getattr(self.dock, button)
            widget.blockSignals(True)
            widget.setChecked(False)
            widget.blockSignals(False)
