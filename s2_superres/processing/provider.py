"""The Processing provider 'Sentinel-2 super-resolution' (id ``s2superres``)."""
from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithm import SuperResolveAlgorithm

ICON = Path(__file__).resolve().parents[1] / "icons" / "icon.svg"


class SuperResolutionProvider(QgsProcessingProvider):
    """Holds the plugin's algorithms."""

    def id(self) -> str:
        return "s2superres"

    def name(self) -> str:
        return "Sentinel-2 super-resolution"

    def longName(self) -> str:
        return "Sentinel-2 super-resolution to 2.5 m"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def loadAlgorithms(self) -> None:
        self.addAlgorithm(SuperResolveAlgorithm())
