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
from qgis.PyQt.QtCore import QProcess, pyqtSignal
from qgis.PyQt.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                                 QPushButton, QVBoxLayout, QWidget)

from ..core.runtime import default_preset, is_importable, preset_availability  # noqa: F401 - used by the dock

#: import name -> why the plugin needs it; every one of these is optional (bicubic needs none)
OPTIONAL = {"onnxruntime": "runs the 'fast' and 'diffusion' networks"}
#: packages core needs that QGIS itself already ships (checked so a broken install is reported clearly)
REQUIRED = {"numpy": "arrays", "osgeo.gdal": "raster input/output"}
#: onnxruntime's own pure-Python dependencies (import name -> PyPI name). onnxruntime is installed with
#: --no-deps so pip never puts a second numpy into the private folder; these are added only when missing.
ONNXRUNTIME_DEPS = {"flatbuffers": "flatbuffers", "packaging": "packaging", "google.protobuf": "protobuf",
                    "coloredlogs": "coloredlogs", "humanfriendly": "humanfriendly", "sympy": "sympy",
                    "mpmath": "mpmath"}
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

    ``--no-deps``: numpy (and anything else QGIS already has) is never installed a second time; only the
    missing pure-Python dependencies of onnxruntime are named.
    """
    gpu = has_nvidia_gpu() if gpu is None else gpu
    package = "onnxruntime-gpu" if gpu else "onnxruntime"
    extra = [pypi for name, pypi in ONNXRUNTIME_DEPS.items() if not is_importable(name)]
    return [python_executable(), "-m", "pip", "install", "--upgrade", "--no-deps", "--target",
            str(target or deps_dir()), package, *extra]


def classical_presets_text() -> str:
    """'bicubic and hpf': the presets that run without onnxruntime."""
    from ..core.methods.registry import CLASSICAL
    names = list(CLASSICAL)
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


def command_text(cmd: list[str]) -> str:
    """The command as a user would type it in a shell."""
    if os.name == "nt":
        import subprocess
        return subprocess.list2cmdline(cmd)
    return shlex.join(cmd)


class DependencyDialog(QDialog):
    """Explains what is missing, shows the pip command and runs it with QProcess on request; emits
    ``installed`` after a successful install, once the new packages are importable."""

    installed = pyqtSignal()

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
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.update_status()
        return self.status_label

    def update_status(self) -> None:
        """Say what is missing now (after an install, the new packages count)."""
        missing = missing_packages()
        if missing:
            lines = [f"• {name}: {why}" for name, why in missing.items()]
            text = ("Missing Python packages:\n" + "\n".join(lines) +
                    f"\n\nThe {classical_presets_text()} presets work without them. They are installed into the "
                    f"plugin's own folder:\n{deps_dir()}")
        else:
            text = "All packages are installed."
        self.status_label.setText(text)

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
        self.update_status()
        if code != 0:
            self.log.appendPlainText(f"pip failed (exit code {code}); see the output above. You can run the "
                                     "command yourself in a terminal.")
            return
        still = missing_packages()
        self.log.appendPlainText(f"Installed into {deps_dir()}." + (
            " The network presets are available now." if "onnxruntime" not in still else
            " onnxruntime still cannot be imported here: restart QGIS."))
        self.installed.emit()
