"""The classical baseline: high-pass-filter (HPF) pansharpening of the 20 m and 60 m bands.

For a band at ``f`` times the 10 m pixel (f = 2 for the 20 m group, 6 for the 60 m group)::

    band_10m = bicubic_up(band, f) + P - bicubic_up(wald_degrade(P, f), f)

where P, the "pan" band, is the mean of some real 10 m bands (reflectance): the detail P has
between 10 m and the band's native grid is added to the bicubic band. The result is then taken
to 2.5 m by bicubic x4, like the 10 m bands of the bicubic path, since no classical method adds
detail finer than the finest band. The lowpass uses the same MTF-matched Gaussian as the Wald
degradation (core.degrade), as in MTF-based HPF/GLP pansharpening (Aiazzi et al. 2006).

The guide of each band (the visible bands, B08, or all four) is the one with the lowest error on
the TRAINING scenes of the fusion networks, chosen by training/eval_fusion.py (``hpf_guides`` in
models/fusion20.json and fusion60.json); the issue's "mean of the visible bands" is one of them.
"""
from __future__ import annotations

import numpy as np

from ..bands import GROUP_20, GROUP_60
from ..coregister import shift_image
from ..degrade import wald_degrade
from ..resample import upsample_bicubic
from ..tile import Tile
from .fusion import _assemble

#: guide band indices into [B02, B03, B04, B08]
GUIDES = {"vis": (0, 1, 2), "nir": (3,), "all": (0, 1, 2, 3)}
#: per band guide, chosen on the training scenes (training/eval_fusion.py, choose_hpf_guides)
BAND_GUIDES = {"B05": "all", "B06": "nir", "B07": "nir", "B8A": "nir", "B11": "all", "B12": "vis",
               "B01": "vis", "B09": "all"}


def hpf_detail(pan: np.ndarray, factor: int) -> np.ndarray:
    """What ``pan`` (h, w) has beyond a ``factor`` times coarser sensor: pan - bicubic_up(wald_degrade(pan))."""
    return pan - upsample_bicubic(wald_degrade(pan, factor), factor)


def hpf_sharpen(b10: np.ndarray, lr: np.ndarray, names: tuple[str, ...], factor: int) -> np.ndarray:
    """Bands ``lr`` (C, h/f, w/f) at ``factor`` x 10 m, HPF-sharpened onto the 10 m grid of ``b10`` (4, h, w).

    Reflectance in, reflectance out, (C, h, w) float32.
    """
    b10 = np.asarray(b10, dtype=np.float32)
    up = upsample_bicubic(np.asarray(lr, dtype=np.float32), factor)
    detail = {g: hpf_detail(b10[list(GUIDES[g])].mean(axis=0), factor) for g in {BAND_GUIDES[n] for n in names}}
    return np.stack([up[k] + detail[BAND_GUIDES[n]] for k, n in enumerate(names)]).astype(np.float32)


class HPFFusionStage:
    """HPF pansharpening at 10 m, then bicubic x4 (a core.methods.base.FusionStage): ``fuse`` gives (8, 4h, 4w)
    reflectance (``sr10`` unused)."""

    name = "hpf"
    margin = 30  # bicubic support at 60 m (12) + block (6) + Gaussian radius (9) of wald_degrade(., 6) + x4 (2)
    coregisters = True  # the pans are moved by Tile.guide_shift / guide_shift_60, as for the fusion networks

    def fuse(self, tile: Tile, sr10: np.ndarray) -> np.ndarray:
        """(8, 4h, 4w) reflectance at 2.5 m in FUSED_BANDS order."""
        b20 = hpf_sharpen(shift_image(tile.b10, *tile.guide_shift), tile.b20, GROUP_20, 2)
        b60 = hpf_sharpen(shift_image(tile.b10, *tile.guide_shift_60), tile.b60, GROUP_60, 6)
        return upsample_bicubic(_assemble(b20, b60), 4)

    def describe(self) -> dict[str, str]:
        """Human-readable summary."""
        return {"fusion": "HPF pansharpening at 10 m (pan = mean of 10 m bands per band: "
                          + ", ".join(f"{b} {g}" for b, g in BAND_GUIDES.items()) + "), then bicubic x4"}
