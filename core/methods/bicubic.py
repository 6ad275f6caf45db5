"""The reference methods without a model: bicubic everywhere, and bicubic + HPF pansharpening."""
from __future__ import annotations

from ..bands import OUTPUT_BANDS
from .composite import Composite
from .fusion import BicubicFusionStage
from .hpf import HPFFusionStage
from .sr10 import BicubicSR10


class Bicubic(Composite):
    """Keys bicubic (a = -0.5) per band: the 10 m bands x4, the 20 m bands x8, the 60 m bands x24."""

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS):
        super().__init__("bicubic", BicubicSR10(), BicubicFusionStage(), bands)


class HPF(Composite):
    """The classical baseline: the 10 m bands bicubic x4, the others HPF-pansharpened (core.methods.hpf)."""

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS):
        super().__init__("hpf", BicubicSR10(), HPFFusionStage(), bands)
