"""Optional Python packages: detect what is missing, install it into a plugin-private folder.

The network presets need onnxruntime, which a stock QGIS does not ship. It is installed with pip
into ``<QGIS settings dir>/python/s2_superres_deps`` (never into QGIS's own Python), and that folder
is appended to ``sys.path`` when the plugin starts, so QGIS's own packages (numpy!) always win.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import sys
from pathlib import Path

from qgis.core import QgsApplication

from ..core.runtime import default_preset, is_importable, preset_availability  # noqa: F401 - used by the dock
from qgis.PyQt.QtCore import QProcess
from qgis.PyQt.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                                 QPushButton, QVBoxLayout, QWidget)

#: import name -> why the plugin needs it; every one of these is optional (bicubic needs none)
OPTIONAL = {"onnxruntime": "runs the 'fast' and 'diffusion' networks"}
#: packages core needs that QGIS itself already ships (checked so a broken install is reported clearly)
REQUIRED = {"numpy": "arrays", "osgeo.gdal": "raster input/output"}
DEPS_FOLDER = "s2_superres_deps"


def deps_dir() -> Path:
    """The plugin-private package folder inside the active QGIS profile."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "python" / DEPS_FOLDER


def add_deps_path() -> Path:
    """Append the private folder to sys.path (idempotent); QGIS's packages keep precedence."""
    folder = str(deps_dir())
    if folder not in sys.path:
        sys.path.append(folder)
    return Path(folder)


def missing_packages() -> dict[str, str]:
    """Missing optional and required packages, with what each is for."""
    wanted = {**REQUIRED, **OPTIONAL}
    return {name: why for name, why in wanted.items() if not is_importable(name)}


def has_nvidia_gpu() -> bool:
    """An NVIDIA driver is installed (nvidia-smi on PATH)."""
    return shutil.which("nvidia-smi") is not None


def python_executable() -> str:
    """The interpreter of the Python QGIS embeds (same version, same site-packages).

    sys.executable is unreliable inside QGIS: it is the QGIS binary on Windows/macOS and, on Linux, whatever
    'python3' comes first on PATH (a pyenv shim, a conda env...). The interpreter under sys.exec_prefix is
    the embedded one: <prefix>/bin/python3.X (Linux, macOS bundle) or <prefix>/python.exe (OSGeo4W).
    """
    prefix = Path(sys.exec_prefix)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [prefix / "bin" / f"python{version}", prefix / "bin" / "python3", prefix / "python.exe",
                  prefix / "python3.exe", Path(sys.executable)]
    found = next((c for c in candidates if c.is_file() and c.name.lower().startswith("python")), None)
    return str(found) if found else (shutil.which("python3") or "python3")


def pip_command(gpu: bool | None = None, target: Path | None = None) -> list[str]:
    """The pip command that installs onnxruntime (GPU build with an NVIDIA GPU) into the private folder.

    numpy is pinned to QGIS's own version so pip picks an onnxruntime built for it.
    """
    import numpy
    gpu = has_nvidia_gpu() if gpu is None else gpu
    package = "onnxruntime-gpu" if gpu else "onnxruntime"
    return [python_executable(), "-m", "pip", "install", "--upgrade", "--target", str(target or deps_dir()),
            package, f"numpy=={numpy.__version__}"]


def command_text(cmd: list[str]) -> str:
    """The command as a user would type it in a shell."""
    if os.name == "nt":
        import subprocess
        return subprocess.list2cmdline(cmd)
    return shlex.join(cmd)


class DependencyDialog(QDialog):
    """Explains what is missing, shows the pip command and runs it with QProcess on request."""

    def __init__(self, parent: QWidget | None = None, gpu: bool | None = None):
        super().__init__(parent)
        self.setWindowTitle("Sentinel-2 super-resolution: dependencies")
        self.command = pip_command(gpu)
        self.process: QProcess | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self._status_label())
        layout.addWidget(QLabel("Command (you can also run it yourself in a terminal):"))
        self.command_edit = QLineEdit(command_text(self.command))
        self.command_edit.setReadOnly(True)
        layout.addWidget(self.command_edit)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.log)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.install_button = QPushButton("Install")
        buttons.addButton(self.install_button, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.reject)
        self.install_button.clicked.connect(self.install)
        layout.addWidget(buttons)

    def _status_label(self) -> QLabel:
        missing = missing_packages()
        if missing:
            lines = [f"• {name}: {why}" for name, why in missing.items()]
            text = ("Missing Python packages:\n" + "\n".join(lines) +
                    "\n\nBicubic works without them. They are installed into the plugin's own folder:\n"
                    f"{deps_dir()}")
        else:
            text = "All packages are installed."
        self.status_label = QLabel(text)
        self.status_label.setWordWrap(True)
        return self.status_label

    def install(self) -> None:
        """Run the pip command in the background, streaming its output."""
        deps_dir().mkdir(parents=True, exist_ok=True)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        self.install_button.setEnabled(False)
        self.log.appendPlainText("$ " + command_text(self.command))
        self.process.start(self.command[0], self.command[1:])

    def _read_output(self) -> None:
        data = bytes(self.process.readAllStandardOutput()).decode(errors="replace")
        self.log.appendPlainText(data.rstrip())

    def _on_finished(self, code: int, _status) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.install_button.setEnabled(True)
        add_deps_path()
        importlib.invalidate_caches()
        self.log.appendPlainText(f"Installed into {deps_dir()}. Close and reopen the dock to use the network "
                                 "presets (restart QGIS if they stay unavailable)." if code == 0 else
                                 f"pip failed (exit code {code}); see the output above. You can run the "
                                 "command yourself in a terminal.")
