"""A preset = a stage that super-resolves the 10 m bands + a stage that fuses the 20 m and 60 m bands.

``Composite`` is the one implementation of core.methods.base.Method: an SR10Stage, then (when the
output has bands other than the 10 m ones) a FusionStage guided by its result.

"fast": single-pass network for B02/B03/B04/B08, then the fusion networks guided by its output.
"diffusion": diffusion sampling for B02/B03/B04/B08, then the same fusion networks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bands import GROUP_10, OUTPUT_BANDS, OUTPUT_RESOLUTION
from ..tile import RunOptions, Tile
from .base import FusionStage, SR10Stage
from .fusion import FUSED_BANDS, LearnedFusionStage
from .sr10 import DiffusionSR10, FastSR10


#: the output pixel sizes (metres) the stages make: their networks and filters are x4 (2.5 m) only
COMPOSITE_PIXEL_SIZES: tuple[float, ...] = (OUTPUT_RESOLUTION,)


class Composite:
    """Runs ``sr10`` on the tile's 10 m bands and, when other bands are wanted, ``fusion`` on top (2.5 m only)."""

    #: output pixel sizes (metres) this preset makes (core.methods.base.Method.pixel_sizes)
    pixel_sizes: tuple[float, ...] | None = COMPOSITE_PIXEL_SIZES

    def __init__(self, name: str, sr10: SR10Stage, fusion: FusionStage | None,
                 bands: tuple[str, ...] = OUTPUT_BANDS):
        if needs_fusion(bands) and fusion is None:
            raise ValueError(f"bands {bands} need a fusion stage")
        self.name, self.sr10, self.bands = name, sr10, bands
        self.fusion = fusion if needs_fusion(bands) else None
        #: whether the run should measure Tile.guide_shift (core.coregister) for this method
        self.coregisters = self.fusion is not None and self.fusion.coregisters
        #: names of the std layers this preset adds when several samples are drawn
        self.uncertainty_bands = tuple(f"{b}_std" for b in GROUP_10) if sr10.stochastic else ()
        #: single-date presets: a run with several dates is refused (core.pipeline)
        self.uses_dates = False
        self.margin = _margin(sr10.margin, fusion.margin if fusion is not None else 0, bands)

    def superresolve_tile(self, tile: Tile, options: RunOptions) -> np.ndarray:
        """(len(bands), 4h, 4w) reflectance at 2.5 m; with several samples, the per-pixel std of the
        10 m bands (reflectance) follows as four more planes. Another ``options.pixel_size`` is refused
        (UserError naming the presets that make it)."""
        from .registry import check_pixel_size  # the registry imports this module
        check_pixel_size(self.name, options.pixel_size, self.pixel_sizes)
        std = None
        if options.samples > 1 and self.uncertainty_bands:
            sr, std = self.sr10.superresolve_10m_with_std(tile.b10, tile.out_row, tile.out_col, options, tile.keep)
        else:
            sr = self.sr10.superresolve_10m(tile.b10, tile.out_row, tile.out_col, options, tile.keep)
        planes = dict(zip(GROUP_10, sr))
        if self.fusion is not None:
            planes.update(zip(FUSED_BANDS, self.fusion.fuse(tile, sr)))
        out = np.stack([planes[b] for b in self.bands])
        return out if std is None else np.concatenate([out, std])

    def describe(self, options: RunOptions) -> dict[str, str]:
        """The preset's name and each stage's description, prefixed ``sr10_`` / ``fusion_``."""
        info = {"method": self.name}
        info.update({f"sr10_{k}": v for k, v in self.sr10.describe(options).items()})
        if self.fusion is not None:
            info.update({f"fusion_{k}": v for k, v in self.fusion.describe().items()})
        return info


def needs_fusion(bands: tuple[str, ...]) -> bool:
    """True when ``bands`` holds a band that is not one of the four 10 m bands."""
    return any(b not in GROUP_10 for b in bands)


def _margin(sr10_margin: int, fusion_margin: int, bands: tuple[str, ...]) -> int:
    return max(sr10_margin, fusion_margin) if needs_fusion(bands) else sr10_margin


SR10_STAGES: dict[str, type[FastSR10] | type[DiffusionSR10]] = {"fast": FastSR10, "diffusion": DiffusionSR10}


def composite_margin(name: str, bands: tuple[str, ...]) -> int:
    """Context (10 m pixels) preset ``name`` reads around a tile, from the stage classes (no model loaded)."""
    return _margin(SR10_STAGES[name].margin, LearnedFusionStage.margin, bands)


def build_composite(name: str, bands: tuple[str, ...], models_dir: Path, providers: list[str] | None) -> Composite:
    """The "fast" or "diffusion" preset from the model cards in ``models_dir``."""
    sr10 = SR10_STAGES[name](models_dir / "sr10.json")
    fusion = LearnedFusionStage(models_dir, providers) if needs_fusion(bands) else None
    return Composite(name, sr10, fusion, bands)
