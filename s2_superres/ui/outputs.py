"""Where results go and what they are called: a persistent output folder, names from the source product.

Results never go to a temporary folder: they land beside the saved project, else in the folder
remembered in QgsSettings (the last one used), else in a proposed ``S2 super-resolution`` folder
in the user's documents, created on the first run.
"""
from __future__ import annotations

import os
from pathlib import Path

from qgis.core import QgsProject, QgsSettings
from qgis.PyQt.QtCore import QStandardPaths

from ..qgis_results import layer_name, output_name, product_label  # noqa: F401 - the names, shared with Processing

FOLDER_KEY = "s2_superres/output_dir"
PROPOSED_FOLDER = "S2 super-resolution"


def _writable_dir(path: str | os.PathLike) -> bool:
    return bool(path) and os.path.isdir(path) and os.access(path, os.W_OK)


def proposed_folder() -> Path:
    """The folder offered when neither a saved project nor a remembered folder gives one (not created here)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
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
