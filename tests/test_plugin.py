"""The plugin loads through classFactory into a (stub) QGIS, registers its action and provider, unloads cleanly."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qgis.core import QgsApplication

import s2_superres

PROVIDER_ID = "s2superres"
ROOT = Path(__file__).resolve().parents[1]


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


def test_keyboard_shortcut_and_help(plugin, qgis_iface):
    """Ctrl+Alt+S opens the dock; Help opens the user guide shipped with the plugin, offline, at the dock's section."""
    from s2_superres.plugin import SHORTCUT
    from s2_superres.ui.help_dialog import GUIDE
    assert plugin.action.shortcut().toString() == SHORTCUT == "Ctrl+Alt+S"
    plugin.action.trigger()
    plugin.dock.help_button.click()
    dialog = plugin.dock.help_dialog
    assert dialog is not None and dialog.isVisible()
    assert GUIDE.is_relative_to(Path(s2_superres.__file__).parent)            # inside the plugin: the zip has it
    assert dialog.top_heading() == "Using the dock"
    assert "Accepted inputs" in dialog.browser.toPlainText()
    assert not dialog.show_section("No such section")
    dialog.close()


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
        parent, _, child = name.rpartition(".")
        if hasattr(sys.modules.get(parent), child):   # restore the package attributes too, not only sys.modules
            monkeypatch.setattr(sys.modules[parent], child, getattr(sys.modules[parent], child))
        monkeypatch.delitem(sys.modules, name)
    plugin_module = importlib.import_module("s2_superres.plugin")
    plugin = plugin_module.SuperResolutionPlugin(qgis_iface)
    plugin.initGui()
    try:
        assert "onnxruntime" in plugin.missing
        plugin.show_dock()
        assert plugin.dock.device_combo.count() == 2              # Automatic, CPU
        assert "not installed" in plugin.dock.device_combo.toolTip()
        combo = plugin.dock.preset_combo
        for name in ("fast", "diffusion"):
            item = combo.model().item(combo.findData(name))
            assert not item.isEnabled() and item.toolTip().startswith("Not available")
        assert combo.currentData() == "bicubic"
        assert plugin.offered_dependencies                       # the message bar offered the installer
    finally:
        plugin.unload()


def test_every_module_imports_as_a_plugin_package(tmp_path):
    """In QGIS the plugin is the package 's2_superres' and its folder is NOT on sys.path: every module must
    import with package-relative imports only (an absolute 'from core.x import' breaks in QGIS)."""
    code = f"""
import importlib, importlib.util, pkgutil, sys
root = {str(ROOT / 's2_superres')!r}
sys.path[:] = [p for p in sys.path if p not in ('', '.', root)]
spec = importlib.util.spec_from_file_location('s2_superres', root + '/__init__.py', submodule_search_locations=[root])
pkg = importlib.util.module_from_spec(spec); sys.modules['s2_superres'] = pkg; spec.loader.exec_module(pkg)
bad = []
for sub in ('core', 'ui', 'processing'):
    mod = importlib.import_module('s2_superres.' + sub)
    for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + '.'):
        if info.name.endswith('__main__'):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            bad.append(f'{{info.name}}: {{exc}}')
print('\\n'.join(bad))
sys.exit(1 if bad else 0)
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout + proc.stderr[-1500:]
