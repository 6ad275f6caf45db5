"""The reference methods without a model: bicubic everywhere (any output pixel size), and bicubic + HPF
pansharpening (2.5 m)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..bands import GROUP_10, GROUP_20, GROUP_60, OUTPUT_BANDS, output_scale, pixel_label
from ..resample import upsample_bicubic
from ..resize import resize_cubic
from ..tile import RunOptions, Tile
from .composite import Composite
from .fusion import BicubicFusionStage
from .hpf import HPFFusionStage
from .sr10 import BicubicSR10


def cubic(img: np.ndarray, scale: Fraction) -> np.ndarray:
    """Keys bicubic of the last two axes to ``scale`` output pixels per input pixel: the integer-factor kernel
    (core.resample) for whole scales, so 2.5 m stays what it was, else core.resize."""
    if scale.denominator == 1:
        return upsample_bicubic(img, int(scale))
    return resize_cubic(img, scale)


class Bicubic(Composite):
    """Keys bicubic (a = -0.5) per band from its own grid to any output pixel size: the 10 m bands x s, the
    20 m bands x 2s, the 60 m bands x 6s, with s = output_scale(pixel_size) (x4, x8, x24 at 2.5 m). The grids
    share their corner on the 60 m lattice."""

    pixel_sizes: tuple[float, ...] | None = None   # any of core.bands.PIXEL_SIZES

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS):
        super().__init__("bicubic", BicubicSR10(), BicubicFusionStage(), bands)

    def superresolve_tile(self, tile: Tile, options: RunOptions) -> np.ndarray:
        """(len(bands), h*s, w*s) reflectance at ``options.pixel_size`` metres; each group resampled only when
        one of its bands is wanted."""
        s = output_scale(options.pixel_size)
        planes: dict[str, np.ndarray] = {}
        for group, grid, factor in ((GROUP_10, tile.b10, s), (GROUP_20, tile.b20, 2 * s), (GROUP_60, tile.b60, 6 * s)):
            if not set(group).isdisjoint(self.bands):
                planes.update(zip(group, cubic(np.asarray(grid, dtype=np.float32), factor)))
        return np.stack([planes[b] for b in self.bands]).astype(np.float32, copy=False)

    def describe(self, options: RunOptions) -> dict[str, str]:
        """As Composite's, with the factors of this run's pixel size."""
        info = super().describe(options)
        s = output_scale(options.pixel_size)
        info["sr10_model"] = f"bicubic (Keys a=-0.5) x{s} to {pixel_label(options.pixel_size)} m"
        if "fusion_fusion" in info:
            info["fusion_fusion"] = f"bicubic (Keys a=-0.5): 20 m bands x{2 * s}, 60 m bands x{6 * s}"
        return info


class HPF(Composite):
    """The classical baseline: the 10 m bands bicubic x4, the others HPF-pansharpened (core.methods.hpf);
    2.5 m only."""

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS):
        super().__init__("hpf", BicubicSR10(), HPFFusionStage(), bands)
