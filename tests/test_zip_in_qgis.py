"""What users install: the zip of `make zip`, unpacked into a fresh QGIS profile, in a real QGIS under Xvfb.

The zip is built with the Makefile's own command (into a temporary folder) and extracted as *Install from
ZIP* does, into ``<profiles>/test/python/plugins/s2_superres``, enabled in the profile's QGIS3.ini. The
profile's private dependency folder (``python/s2_superres_deps``, where the plugin's installer puts
onnxruntime, ui/deps.py) gets onnxruntime and its own dependencies less numpy, copied from this Python's
installed distributions (the same versions, no network), so the "fast" preset can run; where this Python
has no onnxruntime (no wheel for it yet), the fast check is skipped and says so. QGIS runs on its own
system Python, never the venv's.

QGIS (``$QGIS_EXECUTABLE``, default ``qgis``; the Debian roots of .ci/zip_test.sh run the same file on
QGIS 3.40 and 3.44) starts once per module with ``--code`` and runs tests/qgis_zip_probe.py: it checks that
the plugin is active, runs the Processing algorithm (bicubic), opens the dock from the plugin's menu
entry, and clicks **Super-resolve extent** for bicubic and fast on a small extent of the sample. Every
Python exception QGIS would have shown in its message bar or a dialog (QGIS carries on after them) and
every critical log entry is in the report; ``test_no_python_errors`` fails on any.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).with_name("qgis_zip_probe.py")
SAMPLE = ROOT / "sample" / "T18SVG_20160112_L1C"
PLUGIN = "s2_superres"
QGIS = os.environ.get("QGIS_EXECUTABLE", "qgis")
#: the probe's extent, 441000,4166000 - 441720,4166720, snapped outward to the sample's 60 m grid: 720 x 780 m
SIZE = [288, 312]
QGIS_TIMEOUT = 300          # seconds for the whole QGIS session (the probe's own watchdog ends it at 240 s)

pytestmark = [pytest.mark.qgis, pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which(QGIS) and shutil.which("xvfb-run") and shutil.which("zip")),
                                 reason=f"needs the QGIS application ({QGIS}), xvfb-run and zip "
                                        "(Debian packages qgis, xvfb, zip)")]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_distributions(name: str) -> list[importlib.metadata.Distribution]:
    """``name`` and what it requires (no extras), less numpy: QGIS's own numpy must stay the only one, as the
    plugin's installer does it (pip --no-deps, then the missing pure-Python dependencies)."""
    from packaging.requirements import Requirement
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = _canonical(dist.metadata["Name"])
        if key in found:
            continue
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and _canonical(req.name) != "numpy":
                todo.append(req.name)
    return list(found.values())


@pytest.fixture(scope="session")
def onnxruntime_deps(tmp_path_factory) -> tuple[Path | None, str]:
    """A folder holding onnxruntime as the plugin's installer leaves it (copied from this Python's installed
    distributions, once per session), or None and why not."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None, (f"onnxruntime is not installed for Python {sys.version.split()[0]} here (PyPI may have no "
                      "wheel for this Python yet): the 'fast' preset cannot be checked, bicubic still is")
    target = tmp_path_factory.mktemp("s2_superres_deps")
    names = []
    for dist in _runtime_distributions("onnxruntime"):
        names.append(f"{dist.metadata['Name']}=={dist.version}")
        for file in dist.files or []:
            if ".." in file.parts or "__pycache__" in file.parts:     # console scripts, byte code
                continue
            (target / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dist.locate_file(file), target / file)
    return target, ", ".join(sorted(names))


@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory) -> Path:
    """dist/s2_superres.zip as `make zip` builds it (the Makefile's command, written to a temporary folder)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(["make", "-s", "-C", str(ROOT), "zip", f"DIST={dist}"], check=True, capture_output=True)
    return dist / f"{PLUGIN}.zip"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)     # xvfb-run, Xvfb and QGIS: the session this test started
    except ProcessLookupError:
        pass
    proc.wait()


@pytest.fixture(scope="module")
def qgis_report(plugin_zip, onnxruntime_deps, tmp_path_factory, pytestconfig) -> dict:
    """Install the zip into a fresh profile, run QGIS once with the probe, return its JSON report."""
    tmp = tmp_path_factory.mktemp("qgis")
    profile = tmp / "profiles" / "test"          # --profiles-path P keeps the profiles in P/profiles
    plugins = profile / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:   # what Install from ZIP does
        archive.extractall(plugins)
    (profile / "QGIS").mkdir()
    (profile / "QGIS" / "QGIS3.ini").write_text(f"[PythonPlugins]\n{PLUGIN}=true\n")
    deps, deps_text = onnxruntime_deps
    if deps is not None:
        shutil.copytree(deps, profile / "python" / "s2_superres_deps")
    probe_dir = tmp / "probe"
    probe_dir.mkdir()
    shutil.copy2(PROBE, probe_dir / PROBE.name)
    load = f"import sys\nsys.path.insert(0, {str(probe_dir)!r})\nimport qgis_zip_probe\n"
    # QGIS runs <XDG_DATA_HOME>/QGIS/QGIS3/startup.py before it loads the plugins: the hooks see load errors too
    startup = tmp / "xdg" / "data" / "QGIS" / "QGIS3" / "startup.py"
    startup.parent.mkdir(parents=True)
    startup.write_text(load + "qgis_zip_probe.install_hooks()\n")
    code = tmp / "code.py"
    code.write_text(load + "qgis_zip_probe.start()\n")
    data = tmp / "data"     # a copy: QGIS writes .aux.xml statistics beside the band files it renders
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.aux.xml"))
    out = tmp / "out"
    out.mkdir()
    report_path = tmp / "report.json"
    # QGIS on its system Python, as users have it: none of the venv's packages, nothing of the test process's Qt
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(XDG_DATA_HOME=str(tmp / "xdg" / "data"), XDG_CONFIG_HOME=str(tmp / "xdg" / "config"),
               XDG_CACHE_HOME=str(tmp / "xdg" / "cache"), S2_ZIP_REPORT=str(report_path),
               S2_ZIP_DATA=str(data), S2_ZIP_OUT=str(out),
               S2_ZIP_PRESETS="bicubic,fast" if deps is not None else "bicubic")
    command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", QGIS, "--profiles-path", str(tmp),
               "--profile", "test", "--nologo", "--noversioncheck", "--code", str(code)]
    log = tmp / "qgis.log"
    start = time.monotonic()
    with open(log, "wb") as stream:
        proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=stream, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(QGIS_TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
    seconds = time.monotonic() - start
    tail = log.read_text(errors="replace")[-3000:]
    if not report_path.exists():
        pytest.fail(f"QGIS ({QGIS}) wrote no report (exit code {proc.returncode}, {seconds:.0f} s); its output:\n"
                    f"{tail}", pytrace=False)
    report = json.loads(report_path.read_text())
    report.update(returncode=proc.returncode, seconds=round(seconds, 1), log_tail=tail, deps=deps_text,
                  profile=str(profile))
    # shown even under -q and output capture: which QGIS ran, how long, what it found
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{PLUGIN} zip in QGIS {report.get('qgis_version')} (Python {report.get('python')}): "
              f"QGIS ran {seconds:.1f} s, steps {report['steps']}, {len(report['errors'])} error(s), "
              f"{len(report['python_warnings'])} Python warning(s); report {report_path}", flush=True)
    return report


def _step_ok(report: dict, step: str) -> None:
    failed = report.get("failed_steps", {})
    for name in (step, "probe", "watchdog"):
        assert name not in failed, f"QGIS {report.get('qgis_version')}: step '{name}' failed:\n{failed[name]}"


def test_zip_holds_the_plugin_folder(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert names and all(n.startswith(f"{PLUGIN}/") for n in names), names[:10]
    for needed in ("__init__.py", "metadata.txt", "plugin.py", "LICENSE", "icons/icon.svg", "models/sr10.onnx"):
        assert f"{PLUGIN}/{needed}" in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".aux.xml"))]


def test_plugin_is_active_from_the_profile(qgis_report):
    _step_ok(qgis_report, "environment")
    version = qgis_report["qgis_version"]
    assert PLUGIN in qgis_report["active_plugins"], (version, qgis_report["errors"])
    # the copy from the zip, not the checkout (QGIS's Python does not see the venv's editable install)
    plugin_file = qgis_report["plugin_file"]
    assert plugin_file.startswith(qgis_report["profile"] + "/python/plugins/"), plugin_file
    assert qgis_report["menu"] == ["Super-resolve extent", "Install dependencies…"], version
    assert qgis_report["in_plugin_toolbar"], version


def test_processing_algorithm_runs(qgis_report):
    _step_ok(qgis_report, "processing")
    assert qgis_report["algorithm"] == "Super-resolve Sentinel-2 extent"
    result = qgis_report["processing"]
    assert result["valid"] and result["bands"] == 12 and result["crs"] == "EPSG:32618", result
    assert result["pixel"] == [2.5, 2.5] and result["size"] == SIZE, result


@pytest.mark.parametrize("preset", ["bicubic", "fast"])
def test_dock_run_adds_result_layer(qgis_report, onnxruntime_deps, preset):
    if preset == "fast" and onnxruntime_deps[0] is None:
        pytest.skip(onnxruntime_deps[1])
    _step_ok(qgis_report, "open dock")
    version = qgis_report["qgis_version"]
    dock = qgis_report["dock"]
    assert dock["visible"] and dock["input_layers"] == 12, (version, dock)
    if preset == "fast":    # the network runs on the onnxruntime of the plugin's private folder
        assert "/python/s2_superres_deps/" in qgis_report["onnxruntime"].get("file", ""), qgis_report["onnxruntime"]
    _step_ok(qgis_report, f"dock {preset}")
    run = qgis_report["dock_runs"][preset]
    assert run["preset_enabled"], (version, run)
    assert run["reason"] is None and run["button"] == ["Super-resolve extent", True], (version, run)
    errors = "\n".join(f"--- {e['source']} during '{e['step']}':\n{e['text'][-800:]}" for e in qgis_report["errors"])
    assert run["finished"], f"QGIS {version}: no result after clicking Super-resolve extent ({preset}):\n{errors}"
    result = run["result"]
    assert result["bands"] == 12 and result["crs"] == "EPSG:32618", result
    assert result["pixel"] == [2.5, 2.5] and result["size"] == SIZE, result
    assert result in run["new_layers"], run


def test_no_python_errors(qgis_report):
    """No exception in the plugin's code (load, slots, tasks, unload), no critical log entry, no dialog left."""
    assert qgis_report.get("done"), f"the probe did not finish:\n{qgis_report.get('failed_steps')}"
    errors = qgis_report["errors"]
    assert not errors, (f"QGIS {qgis_report['qgis_version']} showed {len(errors)} Python error(s):\n"
                        + "\n".join(f"--- {e['source']} during '{e['step']}':\n{e['text']}" for e in errors))
    assert not qgis_report.get("failed_steps"), qgis_report["failed_steps"]
    assert qgis_report["unloaded"] and not qgis_report["provider_after_unload"]


def test_no_deprecation_warnings_from_the_plugin_from_qgis_3_40(qgis_report):
    """Ready for QGIS 4: from QGIS 3.40 on, no QGIS or PyQt deprecation warning raised by the plugin's code
    (QGIS logs Python warnings with the file that raised them)."""
    version = tuple(int(p) for p in qgis_report["qgis_version"].split("-")[0].split(".")[:2])
    if version < (3, 40):
        pytest.skip(f"QGIS {qgis_report['qgis_version']} lacks some of the replacements (3.40 has them all)")
    ours = [w for w in qgis_report["python_warnings"] if "Deprecat" in w and "s2_superres" in w]
    assert not ours, "\n---\n".join(ours)
