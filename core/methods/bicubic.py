"""The reference method: every band bicubic-upsampled from its native grid to 2.5 m (no model)."""
from __future__ import annotations

from ..bands import OUTPUT_BANDS
from .composite import Composite
from .fusion import BicubicFusionStage
from .sr10 import BicubicSR10


class Bicubic(Composite):
    """Keys bicubic (a = -0.5) per band: the 10 m bands x4, the 20 m bands x8, the 60 m bands x24."""

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS):
        super().__init__("bicubic", BicubicSR10(), BicubicFusionStage(), bands)
