"""The plugin loads through classFactory into a (stub) QGIS, registers its action and provider, unloads cleanly."""
from __future__ import annotations

import builtins
import importlib
import sys

import pytest
from qgis.core import QgsApplication

import s2_superres

PROVIDER_ID = "s2superres"


@pytest.fixture
def plugin(qgis_iface):
    plugin = s2_superres.classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    plugin.unload()


def test_loads_and_registers_action_and_provider(plugin, qgis_iface):
    assert plugin.action.text() == "Super-resolve extent"
    assert not plugin.action.icon().isNull()
    assert QgsApplication.processingRegistry().providerById(PROVIDER_ID) is not None
    alg = QgsApplication.processingRegistry().algorithmById("s2superres:superresolve")
    assert alg is not None and alg.displayName() == "Super-resolve Sentinel-2 extent"


def test_action_opens_dock(plugin, qgis_iface):
    plugin.action.trigger()
    assert plugin.dock is not None and not plugin.dock.isHidden()
    assert plugin.dock.windowTitle() == "Sentinel-2 super-resolution"


def test_unload_removes_everything_and_reload_works(qgis_iface):
    plugin = s2_superres.classFactory(qgis_iface)
    plugin.initGui()
    plugin.show_dock()
    plugin.unload()
    assert QgsApplication.processingRegistry().providerById(PROVIDER_ID) is None
    assert plugin.dock is None and plugin.actions == []
    again = s2_superres.classFactory(qgis_iface)
    again.initGui()
    assert QgsApplication.processingRegistry().providerById(PROVIDER_ID) is not None
    again.unload()


def test_loads_without_onnxruntime(qgis_iface, monkeypatch):
    """A stock QGIS has no onnxruntime: the plugin must load and report it."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # makes `import onnxruntime` raise ImportError
    for name in [m for m in sys.modules if m.startswith("s2_superres.") and not m.startswith("s2_superres.core")]:
        monkeypatch.delitem(sys.modules, name)
    plugin_module = importlib.import_module("s2_superres.plugin")
    plugin = plugin_module.SuperResolutionPlugin(qgis_iface)
    plugin.initGui()
    try:
        assert "onnxruntime" in plugin.missing
        plugin.show_dock()
        assert plugin.dock.device_combo.count() == 2              # Automatic, CPU
        assert "not installed" in plugin.dock.device_combo.toolTip()
    finally:
        plugin.unload()
