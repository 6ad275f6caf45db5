"""Where results go and what they are called: a persistent output folder, names from the source product.

Results never go to a temporary folder: they land beside the saved project, else in the folder
remembered in QgsSettings (the last one used), else in a proposed ``S2 super-resolution`` folder
in the user's documents, created on the first run.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from qgis.core import QgsProject, QgsSettings
from qgis.PyQt.QtCore import QStandardPaths

FOLDER_KEY = "s2_superres/output_dir"
PROPOSED_FOLDER = "S2 super-resolution"
PIXEL = "2.5m"
#: the end of a common file-name prefix that is (part of) a band id: "s2_B", "T18SVG_20160112_B0", "_B8A"
_BAND_TAIL = re.compile(r"[ _.\-]*(B(AND)?[ _\-]?(0?[1-9]?|1[0-2]?|8A?)?)?$", re.IGNORECASE)


def _writable_dir(path: str | os.PathLike) -> bool:
    return bool(path) and os.path.isdir(path) and os.access(path, os.W_OK)


def proposed_folder() -> Path:
    """The folder offered when neither a saved project nor a remembered folder gives one (not created here)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())
    return Path(docs) / PROPOSED_FOLDER


def default_folder(project: QgsProject | None = None) -> Path:
    """The saved project's folder, else the remembered output folder, else the proposed one."""
    home = (project or QgsProject.instance()).homePath()
    if _writable_dir(home):
        return Path(home)
    saved = QgsSettings().value(FOLDER_KEY, "")
    if _writable_dir(saved):
        return Path(saved)
    return proposed_folder()


def remember_folder(folder: Path) -> None:
    """Remember ``folder`` as the output folder for the next sessions."""
    QgsSettings().setValue(FOLDER_KEY, str(folder))


def product_label(paths: Iterable[str]) -> str:
    """A short name of the source product from its file names: their common stem without the band id.

    ``T18SVG_20160112_B02.jp2`` … ``_B12.jp2`` -> ``T18SVG_20160112``; one multi-band ``scene.tif`` -> ``scene``.
    Falls back to the folder name.
    """
    files = sorted({str(p) for p in paths})
    if not files:
        return "sentinel2"
    stems = [Path(p).stem for p in files]
    label = _BAND_TAIL.sub("", os.path.commonprefix(stems)).strip(" _.-")
    if len(label) < 2:
        label = Path(files[0]).parent.name.strip(" _.-")
    return re.sub(r"[^\w.\-]+", "_", label) or "sentinel2"


def output_name(product: str, preset: str) -> str:
    """The file name of a result: ``<product>_<preset>_2.5m.tif``."""
    return f"{product}_{preset}_{PIXEL}.tif"


def layer_name(product: str, preset: str) -> str:
    """The layer name of a result, the same on every path (dock, Processing)."""
    return f"{product} {preset} 2.5 m"
