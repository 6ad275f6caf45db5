"""Dependency detection and the pip command (nothing is installed by these tests)."""
from __future__ import annotations

import os
import sys
import time

import pytest

from qgis.core import QgsApplication

from s2_superres.ui import deps


def test_missing_onnxruntime_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    missing = deps.missing_packages()
    assert "onnxruntime" in missing and "numpy" not in missing


def test_network_presets_blocked_without_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    blocked = deps.preset_availability()
    assert blocked["bicubic"] is None and blocked["hpf"] is None          # no model, no onnxruntime
    assert blocked["fast"] and blocked["diffusion"] and "onnxruntime" in blocked["fast"]


def test_nothing_missing_here():
    assert deps.missing_packages() == {}       # the test venv has onnxruntime


def _as_pip_reads_it(cmd: list[str]):
    """(options, {package name: specifier}) of a ``python -m pip install ...`` command, parsed by pip itself."""
    from packaging.requirements import Requirement
    from pip._internal.commands import create_command
    assert cmd[1:4] == ["-m", "pip", "install"]
    options, args = create_command("install", isolated="--isolated" in cmd).parse_args(cmd[4:])   # as pip would
    return options, {Requirement(a).name: Requirement(a).specifier for a in args}


def _requirements(gpu: bool) -> dict[str, list[str]]:
    """{name: [the --hash options]} of what the installer would install, each line checked to be name==version."""
    found = {}
    for line in deps.requirements_text(gpu).splitlines():
        spec, *hashes = line.split()
        name, _, version = spec.partition("==")
        assert version and all(len(h) == len("--hash=sha256:") + 64 for h in hashes), line
        found[name] = hashes
    return found


def test_pip_command_never_installs_numpy_again(monkeypatch):
    """onnxruntime goes in with --no-deps into the private folder: pip cannot add a second numpy there;
    only onnxruntime's dependencies that are missing here are in the requirements."""
    target = deps.deps_dir()
    assert target.parent.name == "python" and target.name == "s2_superres_deps"
    assert str(target).startswith(QgsApplication.qgisSettingsDirPath().rstrip("/"))
    options, packages = _as_pip_reads_it(deps.pip_command(gpu=False))
    assert options.target_dir == str(target) and options.ignore_dependencies and packages == {}
    assert options.requirements == [str(deps.requirements_path(target))]
    assert set(_requirements(gpu=False)) == {"onnxruntime"}      # flatbuffers, packaging, protobuf are here
    monkeypatch.setattr(deps, "is_importable", lambda name: name != "flatbuffers")
    assert set(_requirements(gpu=True)) == {"onnxruntime-gpu", "flatbuffers"}


def test_installer_is_pinned_hashed_binary_only_and_isolated(monkeypatch, tmp_path):
    """Hostile row 'the onnxruntime installer': every package pinned with the sha256 of each wheel it may pick,
    wheels only, pip's user configuration, PIP_* variables and extra indexes ignored."""
    options, _ = _as_pip_reads_it(deps.pip_command(gpu=False, target=tmp_path / "deps"))
    assert options.require_hashes and options.isolated_mode and options.index_url == deps.INDEX_URL
    assert not options.extra_index_urls and options.format_control.only_binary == {":all:"}
    monkeypatch.setattr(deps, "is_importable", lambda name: name == "numpy")
    pinned = {**_requirements(gpu=False), **_requirements(gpu=True)}
    assert set(pinned) == {"onnxruntime", "onnxruntime-gpu", "flatbuffers", "packaging", "protobuf"}
    assert len(pinned["onnxruntime"]) >= 9          # cp311-cp313 x manylinux x86_64, win_amd64, macOS arm64
    path = deps.write_requirements(gpu=False, target=tmp_path / "deps")
    assert path == deps.requirements_path(tmp_path / "deps") and "numpy" not in path.read_text()
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://evil.example/simple")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = deps.pip_environment()
    assert env["PIP_CONFIG_FILE"] == os.devnull and "PIP_EXTRA_INDEX_URL" not in env and "PYTHONPATH" not in env


def test_installer_never_falls_back_to_a_python_on_path(monkeypatch, qgis_app, tmp_path):
    monkeypatch.setattr(sys, "exec_prefix", str(tmp_path))          # no interpreter under QGIS's prefix
    with pytest.raises(deps.InstallerError, match="QGIS's own Python .* was not found"):
        deps.python_executable()
    dialog = deps.DependencyDialog(gpu=False)
    assert not dialog.install_button.isEnabled() and "was not found" in dialog.command_edit.text()
    dialog.close()


def test_installed_onnxruntime_is_checked_in_a_subprocess(monkeypatch, tmp_path):
    assert deps.verify_install(tmp_path) is None            # this venv's onnxruntime runs the one-node model
    monkeypatch.setattr(deps, "CHECK_MODEL", "bm90IGEgbW9kZWw=")   # 'not a model'
    assert deps.verify_install(tmp_path)                     # the reason, from the subprocess


def test_messages_name_every_preset_that_runs_without_onnxruntime(monkeypatch, qgis_app):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    runnable = [name for name, why in deps.preset_availability().items() if why is None]
    assert deps.classical_presets_text() == " and ".join(runnable) == "bicubic and hpf"
    dialog = deps.DependencyDialog(gpu=False)
    assert "bicubic and hpf presets work without them" in dialog.status_label.text()
    dialog.close()


def test_install_takes_effect_without_restart(monkeypatch, qgis_iface, tmp_path):
    """After a successful install the dialog, the message bar and the dock all say so at once."""
    import s2_superres
    from qgis.core import QgsSettings
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(deps, "deps_dir", lambda: tmp_path / "deps")
    QgsSettings().remove("s2_superres/preset")
    monkeypatch.setattr(sys, "path", list(sys.path))      # the plugin appends the (temporary) private folder
    plugin = s2_superres.classFactory(qgis_iface)
    plugin.initGui()
    try:
        plugin.show_dock()
        assert plugin.dock.preset == "bicubic" and plugin.deps_message is not None
        assert "only the bicubic and hpf presets can run" in plugin.deps_message.text()
        dialog = deps.DependencyDialog(gpu=False)
        dialog.installed.connect(plugin.on_dependencies_installed)
        dialog.command = [sys.executable, "-c", "print('pretend pip ran')"]     # never pip in tests
        dialog.install()
        monkeypatch.delitem(sys.modules, "onnxruntime")      # what pip did: onnxruntime is importable now
        end = time.monotonic() + 30
        while not dialog.install_button.isEnabled():
            QgsApplication.processEvents()
            assert time.monotonic() < end
        assert dialog.status_label.text() == "All packages are installed."
        assert "available now" in dialog.log.toPlainText()
        assert plugin.missing == {} and plugin.deps_message is None
        assert plugin.dock.preset == "fast"
        assert plugin.dock.preset_combo.model().item(plugin.dock.preset_combo.findData("fast")).isEnabled()
        dialog.close()
    finally:
        plugin.unload()


def test_gpu_detected_from_nvidia_smi(monkeypatch, tmp_path):
    monkeypatch.setattr(deps.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None)
    assert deps.has_nvidia_gpu()
    assert deps.write_requirements(target=tmp_path / "d").read_text().startswith("onnxruntime-gpu==")
    monkeypatch.setattr(deps.shutil, "which", lambda name: None)
    assert deps.write_requirements(target=tmp_path / "d").read_text().startswith("onnxruntime==")


def test_deps_path_appended_once():
    before = list(sys.path)
    try:
        folder = deps.add_deps_path()
        deps.add_deps_path()
        assert sys.path.count(str(folder)) == 1 and sys.path[-1] == str(folder)   # QGIS's packages win
    finally:
        sys.path[:] = before


def test_dialog_shows_command_and_runs_it_with_qprocess(monkeypatch, qgis_app, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(deps, "deps_dir", lambda: tmp_path / "deps")
    dialog = deps.DependencyDialog(gpu=False)
    assert dialog.command_edit.text() == deps.command_text(deps.pip_command(gpu=False))
    assert "onnxruntime" in dialog.status_label.text() and str(tmp_path / "deps") in dialog.status_label.text()
    dialog.command = [sys.executable, "-c", "print('pretend pip ran')"]     # never pip in tests
    dialog.install()
    end = time.monotonic() + 30
    while dialog.process.state() != dialog.process.NotRunning or not dialog.install_button.isEnabled():
        QgsApplication.processEvents()
        assert time.monotonic() < end
    QgsApplication.processEvents()
    assert "pretend pip ran" in dialog.log.toPlainText()
    assert "Installed" in dialog.log.toPlainText()
    dialog.close()


def test_pip_runs_with_the_embedded_python(monkeypatch):
    """Inside QGIS sys.executable may be a PATH shim of another Python: use the one under sys.exec_prefix."""
    import subprocess
    monkeypatch.setattr(sys, "executable", "/somewhere/else/python3")
    exe = deps.python_executable()
    version = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == str(sys.version_info[:2]) and exe != "/somewhere/else/python3"


def test_an_install_that_does_not_run_is_removed_and_not_used(monkeypatch, qgis_app, tmp_path):
    """pip succeeded but the installed onnxruntime fails the subprocess check: it is removed from the private
    folder, the folder is not added to sys.path and the network presets stay off."""
    monkeypatch.setattr(deps, "deps_dir", lambda: tmp_path / "deps")
    monkeypatch.setattr(deps, "CHECK_MODEL", "bm90IGEgbW9kZWw=")
    monkeypatch.setattr(sys, "path", list(sys.path))
    dialog = deps.DependencyDialog(gpu=False)
    emitted = []
    dialog.installed.connect(lambda: emitted.append(1))
    dialog.command = [sys.executable, "-c", "import os; os.makedirs('%s/onnxruntime')" % (tmp_path / "deps")]
    dialog.install()
    end = time.monotonic() + 60
    while "stay off" not in dialog.log.toPlainText():
        QgsApplication.processEvents()
        assert time.monotonic() < end
    assert not emitted and not (tmp_path / "deps" / "onnxruntime").exists()
    assert str(tmp_path / "deps") not in sys.path
    dialog.close()
