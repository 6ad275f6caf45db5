"""Optional Python packages: detect what is missing, install it into a plugin-private folder.

The network presets need onnxruntime, which a stock QGIS does not ship. It is installed with pip
into ``<QGIS settings dir>/python/s2_superres_deps`` (never into QGIS's own Python), and that folder
is appended to ``sys.path`` when the plugin starts, so QGIS's own packages (numpy!) always win.

The install is pinned: the versions and the sha256 of every wheel come from ``onnxruntime_requirements.txt``
(scripts/pin_onnxruntime.py), pip runs with ``--require-hashes --only-binary=:all:`` in isolated mode (the
user's pip configuration and PIP_* variables are ignored; PyPI only), with QGIS's own interpreter. After the
install, a separate process imports onnxruntime from the folder and runs a tiny model; only then are the
network presets offered.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QProcess, QProcessEnvironment, pyqtSignal
from qgis.PyQt.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                                 QPushButton, QVBoxLayout, QWidget)

from ..core.runtime import default_preset, is_importable, preset_availability  # noqa: F401 - used by the dock

#: import name -> why the plugin needs it; every one of these is optional (bicubic needs none)
OPTIONAL = {"onnxruntime": "runs the 'fast' and 'diffusion' networks"}
#: packages core needs that QGIS itself already ships (checked so a broken install is reported clearly)
REQUIRED = {"numpy": "arrays", "osgeo.gdal": "raster input/output"}
#: onnxruntime's dependencies besides numpy (import name -> PyPI name), as the pinned release declares them.
#: onnxruntime is installed with --no-deps so pip never puts a second numpy into the private folder; these
#: are added only when missing.
ONNXRUNTIME_DEPS = {"flatbuffers": "flatbuffers", "packaging": "packaging", "google.protobuf": "protobuf"}
#: the pinned requirements with their wheels' sha256, one a line (scripts/pin_onnxruntime.py writes it)
PINNED = Path(__file__).with_name("onnxruntime_requirements.txt")
INDEX_URL = "https://pypi.org/simple/"
#: a model of one Add node (y = x + 1, float32 [2], opset 13, IR 7) that the post-install check runs
CHECK_MODEL = ("CAcSADpMChAKAXgKA29uZRIBeSIDQWRkEgVjaGVjayoPCAEQASIEAACAP0IDb25lWg8KAXgSCgoICAESBAoCCAJiDwoBeRIK"
               "CggIARIECgIIAkIECgAQDQ==")
CHECK_SCRIPT = """import base64, sys
sys.path.append(sys.argv[1])
import numpy as np, onnxruntime as ort
session = ort.InferenceSession(base64.b64decode(sys.argv[2]), providers=["CPUExecutionProvider"])
y = session.run(None, {"x": np.array([1.0, 2.0], np.float32)})[0]
assert y.tolist() == [2.0, 3.0], y
print(ort.__version__, ort.__file__)
"""
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


class InstallerError(RuntimeError):
    """The installer cannot run here; the message says why and what to do."""


def python_executable() -> str:
    """The interpreter of the Python QGIS embeds (same version, same site-packages).

    sys.executable is unreliable inside QGIS: it is the QGIS binary on Windows/macOS and, on Linux, may be
    whatever 'python3' comes first on PATH (a pyenv shim, a conda env...). The interpreter under sys.exec_prefix
    is the embedded one: <prefix>/bin/python3.X (Linux, macOS bundle) or <prefix>/python.exe (OSGeo4W). There
    is no fallback to PATH: InstallerError when none is there.
    """
    prefix = Path(sys.exec_prefix)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [prefix / "bin" / f"python{version}", prefix / "bin" / "python3", prefix / "python.exe",
                  prefix / "python3.exe"]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise InstallerError(f"QGIS's own Python {version} was not found under {prefix} (looked for "
                             f"{', '.join(c.name for c in candidates)}), so onnxruntime cannot be installed from "
                             "here. Install it with that Python yourself (see the plugin's README), or use the "
                             f"{classical_presets_text()} presets.")
    return str(found)


def requirements_text(gpu: bool) -> str:
    """The pinned lines (with their hashes) of onnxruntime (or onnxruntime-gpu) and of its missing dependencies."""
    wanted = {"onnxruntime-gpu" if gpu else "onnxruntime"}
    wanted |= {pypi for name, pypi in ONNXRUNTIME_DEPS.items() if not is_importable(name)}
    lines = [line for line in PINNED.read_text().splitlines() if line.split("==")[0] in wanted]
    if len(lines) != len(wanted):
        raise InstallerError(f"{PINNED.name} does not pin {', '.join(sorted(wanted))}; reinstall the plugin.")
    return "\n".join(lines) + "\n"


def requirements_path(target: Path | None = None) -> Path:
    """Where the installer writes the requirements of this install (beside the private folder)."""
    target = target or deps_dir()
    return target.with_name(f"{target.name}_requirements.txt")


def pip_command(gpu: bool | None = None, target: Path | None = None) -> list[str]:
    """The pip command that installs the pinned onnxruntime (GPU build with an NVIDIA GPU) into the private
    folder from ``requirements_path(target)`` (written by :func:`write_requirements`).

    ``--no-deps``: numpy (and anything else QGIS already has) is never installed a second time; only the
    missing dependencies of onnxruntime are in the requirements. ``--require-hashes``: every file pip
    fetches must match a pinned sha256; ``--only-binary=:all:``: no package is built from source;
    ``--isolated`` and one ``--index-url``: the user's pip configuration, PIP_* variables and extra
    indexes play no part.
    """
    target = target or deps_dir()
    return [python_executable(), "-m", "pip", "install", "--isolated", "--disable-pip-version-check",
            "--no-input", "--index-url", INDEX_URL, "--require-hashes", "--only-binary=:all:", "--no-deps",
            "--upgrade", "--target", str(target), "-r", str(requirements_path(target))]


def write_requirements(gpu: bool | None = None, target: Path | None = None) -> Path:
    """Write the requirements :func:`pip_command` installs; returns their path."""
    gpu = has_nvidia_gpu() if gpu is None else gpu
    path = requirements_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(requirements_text(gpu))
    return path


def pip_environment() -> dict[str, str]:
    """The environment pip runs in: this one without PIP_* variables and PYTHONPATH, and no pip config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def verify_install(target: Path | None = None, timeout: float = 120) -> str | None:
    """Import onnxruntime from the private folder in a separate process of QGIS's Python (QGIS's packages
    first, as the plugin does) and run a one-node model; None when it works, else what went wrong."""
    try:
        done = subprocess.run([python_executable(), "-s", "-c", CHECK_SCRIPT, str(target or deps_dir()), CHECK_MODEL],
                              capture_output=True, text=True, timeout=timeout, env=pip_environment())
    except (InstallerError, OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {done.returncode}"
    return None


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


def remove_onnxruntime(target: Path | None = None) -> None:
    """Remove onnxruntime from the private folder (after a failed check), so the plugin never imports it."""
    for entry in (target or deps_dir()).glob("onnxruntime*"):
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


class DependencyDialog(QDialog):
    """Explains what is missing, shows the pip command and runs it with QProcess on request; emits
    ``installed`` after a successful install, once the new packages are importable."""

    installed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None, gpu: bool | None = None):
        super().__init__(parent)
        self.setWindowTitle("Sentinel-2 super-resolution: dependencies")
        self.gpu = has_nvidia_gpu() if gpu is None else gpu
        try:
            self.command, self.problem = pip_command(self.gpu), ""
        except InstallerError as exc:
            self.command, self.problem = [], str(exc)
        self.process: QProcess | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self._status_label())
        layout.addWidget(QLabel("Command (you can also run it yourself in a terminal):"))
        self.command_edit = QLineEdit(command_text(self.command) if self.command else self.problem)
        self.command_edit.setReadOnly(True)
        layout.addWidget(self.command_edit)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.log)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.install_button = QPushButton("Install")
        buttons.addButton(self.install_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.install_button.clicked.connect(self.install)
        self.install_button.setEnabled(not self.problem)
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
        write_requirements(self.gpu)
        self.process = QProcess(self)
        env = QProcessEnvironment()
        for key, value in pip_environment().items():
            env.insert(key, value)
        self.process.setProcessEnvironment(env)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
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
        if code != 0:
            self.log.appendPlainText(f"pip failed (exit code {code}); see the output above. You can run the "
                                     "command yourself in a terminal.")
            return
        problem = verify_install()
        if problem:
            remove_onnxruntime()
            self.log.appendPlainText(f"onnxruntime was installed into {deps_dir()} but does not run here ({problem}); "
                                     f"it was removed again and the network presets stay off. The "
                                     f"{classical_presets_text()} presets work.")
            return
        add_deps_path()
        importlib.invalidate_caches()
        self.update_status()
        still = missing_packages()
        self.log.appendPlainText(f"Installed into {deps_dir()} and checked." + (
            " The network presets are available now." if "onnxruntime" not in still else
            " onnxruntime still cannot be imported here: restart QGIS."))
        self.installed.emit()
