"""Write s2_superres/ui/onnxruntime_requirements.txt: the onnxruntime the plugin's installer (ui/deps.py) installs,
pinned, with the sha256 of every wheel it may pick (pip --require-hashes).

The versions and hashes come from PyPI's JSON API (https://pypi.org/pypi/<name>/json, the latest release, or
/pypi/<name>/<version>/json for ``name==version``). Wheels kept: CPython 3.11-3.14 on manylinux x86_64,
Windows x86_64 and macOS arm64 (the platforms QGIS ships for), plus pure-Python and abi3 wheels of the
dependencies. Run it again to move to newer releases: ``python -m scripts.pin_onnxruntime``.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
import urllib.request
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "s2_superres" / "ui" / "onnxruntime_requirements.txt"
#: onnxruntime (CPU), onnxruntime-gpu (CUDA: Linux and Windows) and their dependencies besides numpy
#: (QGIS's numpy is used, never installed), as their requires_dist names them
PACKAGES = ["onnxruntime", "onnxruntime-gpu", "flatbuffers", "packaging", "protobuf"]
PYTHONS = ("cp311", "cp312", "cp313", "cp314", "py3", "py2.py3", "cp39-abi3", "cp310-abi3")
PLATFORM = re.compile(r"(manylinux\w*_x86_64|win_amd64|macosx_\d+_\d+_(arm64|universal2)|none-any)\.whl$")


def release(spec: str) -> tuple[str, str, list[str]]:
    """(name, version, sha256 of the wheels kept) of ``name`` or ``name==version`` on PyPI."""
    name, _, version = spec.partition("==")
    url = f"https://pypi.org/pypi/{name}/{version + '/' if version else ''}json"
    with urllib.request.urlopen(url, timeout=60) as response:
        data = json.load(response)
    files = [f for f in data["urls"] if f["packagetype"] == "bdist_wheel" and PLATFORM.search(f["filename"])
             and any(f"-{py}-" in f["filename"] or f"-{py.split('-')[0]}-abi3-" in f["filename"] for py in PYTHONS)]
    if not files:
        sys.exit(f"{name} {data['info']['version']}: no wheel for the supported Pythons and platforms")
    return name, data["info"]["version"], sorted(f["digests"]["sha256"] for f in files)


def main(specs: list[str]) -> None:
    lines = [f"# written by scripts/pin_onnxruntime.py on {dt.date.today()} from PyPI's JSON API; one requirement a "
             "line,", "# every wheel's sha256 (CPython 3.11-3.14; manylinux x86_64, win_amd64, macOS arm64)"]
    for spec in specs or PACKAGES:
        name, version, hashes = release(spec)
        lines.append(f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes))
        print(f"{name}=={version}: {len(hashes)} wheel(s)")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
