"""The contracts between the tiled pipeline and a super-resolution method: one protocol per concept.

* ``Method`` (a preset: "fast", "diffusion", "bicubic", "hpf"): ``superresolve_tile(tile, options)``
  maps a whole Tile to the output grid of ``options.pixel_size`` metres: (bands, h*s, w*s) with
  s = core.bands.output_scale(options.pixel_size) output pixels per 10 m pixel (4 at 2.5 m; h and w are
  multiples of 6, so h*s and w*s are whole). ``pixel_sizes`` lists the sizes it can make (None: any
  of core.bands.PIXEL_SIZES). The pipeline (core.pipeline) calls only this protocol.
* ``SR10Stage`` (core.methods.sr10): ``superresolve_10m(b10, out_row, out_col, options)`` takes the four
  10 m bands to 2.5 m.
* ``FusionStage`` (core.methods.fusion, core.methods.hpf): ``fuse(tile, sr10)`` takes the eight 20 m and
  60 m bands to 2.5 m, guided by the 10 m bands and the super-resolved ``sr10``.

core.methods.composite.Composite is the one ``Method``: an ``SR10Stage`` followed by a ``FusionStage``.
All arrays are reflectance (float32, DN/10000 after the product offset) with nodata already filled.
Tiles arrive with a margin of real neighbouring pixels (``margin``, 10 m pixels, a multiple of 6); the
pipeline crops and blends, so a method never needs to know about its neighbours. ``Tile.keep`` names the
part the pipeline keeps, so a stage may skip work that only refines the margin. ``describe`` takes
what it describes as parameters: no stage keeps state from its last call.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ..tile import Keep, RunOptions, Tile

__all__ = ["FusionStage", "Method", "RunOptions", "SR10Stage", "Tile"]  # Tile, RunOptions: from core.tile


class SR10Stage(Protocol):
    """x4 super-resolution of the 10 m bands [B02, B03, B04, B08]."""

    name: str
    margin: int  # context needed on each side, in 10 m pixels (a multiple of 6)
    stochastic: bool  # True when options.samples draws distinct samples (their std is an uncertainty layer)

    def superresolve_10m(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                         keep: Keep = None) -> np.ndarray:
        """(4, h, w) -> (4, 4h, 4w); ``out_row``/``out_col`` as in Tile; one result (sample 0 of options.seed).
        With ``keep`` (Tile.keep) the result need only be exact on it and GUIDE_CONTEXT pixels around it."""
        ...

    def superresolve_10m_with_std(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                                  keep: Keep = None) -> tuple[np.ndarray, np.ndarray]:
        """(the superresolve_10m result, per-pixel std over options.samples samples), both (4, 4h, 4w); std is 0
        when not stochastic. Asking for the std never changes the result."""
        ...

    def describe(self, options: RunOptions) -> dict[str, str]:
        """What ran with ``options`` (model, version, steps, seed, ...), for the output metadata."""
        ...


class FusionStage(Protocol):
    """The 20 m and 60 m bands onto the 2.5 m grid, in core.methods.fusion.FUSED_BANDS order."""

    name: str
    margin: int  # context needed on each side, in 10 m pixels (a multiple of 6)
    coregisters: bool  # True when it moves its guide by Tile.guide_shift (the run must measure it)

    def fuse(self, tile: Tile, sr10: np.ndarray) -> np.ndarray:
        """(8, 4h, 4w) from the tile and its super-resolved 10 m bands ``sr10`` (4, 4h, 4w); it need only be
        exact on ``tile.keep``, and reads ``sr10`` at most GUIDE_CONTEXT pixels around it."""
        ...

    def describe(self) -> dict[str, str]:
        """What the stage does (models, versions, checksums, providers), for the output metadata."""
        ...


class Method(Protocol):
    """A preset: maps a Tile to (len(bands), h*s, w*s) reflectance at ``options.pixel_size`` metres (s output
    pixels per 10 m pixel, core.bands.output_scale), bands in ``bands`` order."""

    name: str
    bands: tuple[str, ...]
    margin: int  # context needed on each side, in 10 m pixels (a multiple of 6)
    coregisters: bool  # True when the run must measure Tile.guide_shift (core.coregister)
    uncertainty_bands: tuple[str, ...]  # std layers appended by superresolve_tile when options.samples > 1
    uses_dates: bool  # True when it reads Tile.dates (several acquisitions); the pipeline refuses dates otherwise
    pixel_sizes: tuple[float, ...] | None  # output pixel sizes (metres) it can make; None = any of PIXEL_SIZES

    def superresolve_tile(self, tile: Tile, options: RunOptions) -> np.ndarray:
        """(len(bands), h*s, w*s) with s = output_scale(options.pixel_size) (4h, 4w at 2.5 m); with
        options.samples > 1, ``uncertainty_bands`` planes follow (std)."""
        ...

    def describe(self, options: RunOptions) -> dict[str, str]:
        """What ran with ``options``, for the output metadata (SR_* tags)."""
        ...

