"""A preset = a stage that super-resolves the 10 m bands + a stage that fuses the 20 m and 60 m bands.

"fast": single-pass network for B02/B03/B04/B08, then the fusion networks guided by its output.
"diffusion": diffusion sampling for B02/B03/B04/B08, then the same fusion networks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bands import GROUP_10, OUTPUT_BANDS
from .base import RunOptions, Tile
from .fusion import FUSED_BANDS, FusionStage
from .sr10 import DiffusionSR10, FastSR10


class Composite:
    """Runs ``sr10`` on the tile's 10 m bands and, when other bands are wanted, ``fusion`` on top."""

    def __init__(self, name: str, sr10, fusion, bands: tuple[str, ...] = OUTPUT_BANDS):
        self.name, self.sr10, self.fusion, self.bands = name, sr10, fusion, bands
        self.needs_fusion = needs_fusion(bands)
        #: whether the run should measure Tile.guide_shift (core.coregister) for this method
        self.coregisters = self.needs_fusion and getattr(fusion, "coregisters", False)
        self.margin = _margin(sr10, fusion, bands)

    @property
    def uncertainty_bands(self) -> tuple[str, ...]:
        """Names of the std layers this preset can add when several samples are drawn."""
        return tuple(f"{b}_std" for b in GROUP_10) if hasattr(self.sr10, "run_with_std") else ()

    def run(self, tile: Tile, options: RunOptions) -> np.ndarray:
        """(len(bands), 4h, 4w) reflectance at 2.5 m; with several samples, the per-pixel std of the
        10 m bands (reflectance) follows as four more planes."""
        std = None
        if options.samples > 1 and self.uncertainty_bands:
            sr, std = self.sr10.run_with_std(tile.b10, tile.out_row, tile.out_col, options)
        else:
            sr = self.sr10.run(tile.b10, tile.out_row, tile.out_col, options)
        planes = dict(zip(GROUP_10, sr))
        if self.needs_fusion:
            planes.update(zip(FUSED_BANDS, self.fusion.run(tile, sr)))
        out = np.stack([planes[b] for b in self.bands])
        return out if std is None else np.concatenate([out, std])

    def describe(self) -> dict[str, str]:
        info = {"method": self.name}
        for prefix, stage in (("sr10", self.sr10), ("fusion", self.fusion if self.needs_fusion else None)):
            if stage is not None:
                info.update({f"{prefix}_{k}": v for k, v in stage.describe().items()})
        return info


def needs_fusion(bands: tuple[str, ...]) -> bool:
    return any(b not in GROUP_10 for b in bands)


def _margin(sr10, fusion, bands: tuple[str, ...]) -> int:
    return max(sr10.margin, fusion.margin) if needs_fusion(bands) else sr10.margin


SR10_STAGES = {"fast": FastSR10, "diffusion": DiffusionSR10}


def composite_margin(name: str, bands: tuple[str, ...]) -> int:
    """Context (10 m pixels) preset ``name`` reads around a tile, from the stage classes (no model loaded)."""
    return _margin(SR10_STAGES[name], FusionStage, bands)


def build_composite(name: str, bands: tuple[str, ...], models_dir: Path, providers: list[str] | None) -> Composite:
    """The "fast" or "diffusion" preset from the model cards in ``models_dir``."""
    sr10 = SR10_STAGES[name](models_dir / "sr10.json")
    fusion = FusionStage(models_dir, providers) if needs_fusion(bands) else None
    return Composite(name, sr10, fusion, bands)
