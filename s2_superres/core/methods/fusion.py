"""Fusion of the 20 m and 60 m bands onto the 2.5 m grid, guided by the 10 m bands.

Two stages (chain of scales), both with the ONNX fusion networks (models/fusion20, fusion60):

* Stage A, 10 m grid: guide = the real 10 m bands; fusion20 gets the 20 m bands bicubic-upsampled
  x2, fusion60 the 60 m bands upsampled x6 -> all eight bands at 10 m. Each network runs on the four
  flips of its input and the results, turned back, are averaged (a self-ensemble: the result does not
  depend on which way the scene is flipped, and the networks' errors partly cancel). Each result is then
  back-projected once onto its observed band through the fitted sensor model (core.consistency.project
  with core.degrade.k_for_grid): degraded to the band's own grid it gives back the band's mean exactly
  and most of its coarse content, so the networks cannot shift a band's level (over dark open water they
  did; README, *Honest limits*) and nothing is amplified. One pass (``projection_passes``): the operator
  is exact only for the fitted blur, and more passes did not pay under the sharper and blurrier
  degradations (training/eval_stage_a_projection.py).
* Stage B, 2.5 m grid: guide = the super-resolved 10 m bands at 2.5 m (``sr10``); the stage-A
  20 m-group results are upsampled x4 and fused again by fusion20, whose added detail loses its low-pass
  (LEVEL_SIGMA): stage B adds detail, never level. The stage-A 60 m-group results
  are only bicubic-upsampled x4: a second fusion60 pass re-injects detail the first one already
  added, and made B01/B09 worse at reduced scale (training/eval_chain.py; figures in the README,
  *Methods and models*).

The guides are first moved by the tile's ``guide_shift`` (20 m group) and ``guide_shift_60`` (60 m
group; core.coregister), so the detail they add sits on the bands' own edges.

The networks were trained at these factors (fusion20: 2 and 4; fusion60: 4 and 6) by the Wald
protocol. All arrays are reflectance (float32); band orders as in core.bands.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bands import GROUP_20, GROUP_60
from ..consistency import project
from ..coregister import shift_image
from ..degrade import k_for_grid
from ..onnx_model import MODELS_DIR, OnnxModel, load_model
from ..resample import anti_image, gaussian_blur, gaussian_kernel, upsample_bicubic

from ..tile import GUIDE_CONTEXT, Keep, Tile

#: order of the returned bands (the non-10 m bands of core.bands.OUTPUT_BANDS)
FUSED_BANDS = ("B01", "B05", "B06", "B07", "B8A", "B09", "B11", "B12")
#: sigma (2.5 m pixels, i.e. 40 m) of the low-pass taken out of stage B's detail: stage A has set the coarse
#: scales (over dark open sea fusion20's stage-B pass moved the 20 m group's level; README, *Honest limits*)
LEVEL_SIGMA = 16


def _flip(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` with its rows reversed when bit 1 of ``k`` is set and its columns when bit 2 is (its own inverse)."""
    if k & 1:
        x = x[..., ::-1, :]
    if k & 2:
        x = x[..., :, ::-1]
    return np.ascontiguousarray(x)


def self_ensemble(net: OnnxModel, x: np.ndarray) -> np.ndarray:
    """Mean of ``net`` over the four flips of ``x`` (C, H, W), each result flipped back (adding the transposes
    doubled the time and gained no measurable accuracy on the held-out scenes). H and W must be even so that
    the networks' x2 pixel-unshuffle blocks stay the same blocks."""
    return np.mean([_flip(net.run(_flip(x, k)), k) for k in range(4)], axis=0, dtype=np.float32)


def _assemble(b20: np.ndarray, b60: np.ndarray) -> np.ndarray:
    """Stack (6, H, W) 20 m-group and (2, H, W) 60 m-group arrays into FUSED_BANDS order."""
    parts = [b60[GROUP_60.index(b)] if b in GROUP_60 else b20[GROUP_20.index(b)] for b in FUSED_BANDS]
    return np.stack(parts).astype(np.float32, copy=False)


class LearnedFusionStage:
    """Learned guided fusion (a core.methods.base.FusionStage): ``fuse`` maps a Tile and sr10 to (8, 4h, 4w)
    reflectance in FUSED_BANDS order.

    ``margin`` is the context needed on each side in 10 m pixels (a multiple of 6): the networks' reach plus that
    of stage A's back-projection, enough for a tiled run to equal an untiled one to 1e-5 reflectance
    (tests/test_presets.py, test_tiled_and_untiled_agree: the spacetime preset reads just this margin).
    """

    name = "fusion"
    margin = 36
    #: back-projection passes of stage A (training/eval_stage_a_projection.py chose one)
    projection_passes = 1
    coregisters = True  # uses Tile.guide_shift and Tile.guide_shift_60

    def __init__(self, models_dir: Path = MODELS_DIR, providers: list[str] | None = None, threads: int = 0) -> None:
        self.net20: OnnxModel = load_model(Path(models_dir) / "fusion20.json", providers, threads)
        self.net60: OnnxModel = load_model(Path(models_dir) / "fusion60.json", providers, threads)
        self.fallback_message = self.net20.fallback_message

    def stage_a(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """20 m and 60 m groups fused onto the 10 m grid: ((6, h, w), (2, h, w)) reflectance, each network
        self-ensembled over the four flips of the tile, then back-projected once onto the observed bands."""
        guide20 = shift_image(tile.b10, *tile.guide_shift)
        b20 = self_ensemble(self.net20, np.concatenate([guide20, upsample_bicubic(tile.b20, 2)]))
        guide60 = shift_image(tile.b10, *tile.guide_shift_60)
        b60 = self_ensemble(self.net60, np.concatenate([guide60, upsample_bicubic(tile.b60, 6)]))
        passes = self.projection_passes
        return (project(b20, tile.b20, passes, 2, k=k_for_grid(20)),
                project(b60, tile.b60, passes, 6, k=k_for_grid(60)))

    def stage_b(self, b20_10m: np.ndarray, b60_10m: np.ndarray, sr10: np.ndarray,
                guide_shift: tuple[float, float] = (0.0, 0.0), keep: Keep = None) -> tuple[np.ndarray, np.ndarray]:
        """Stage-A results (10 m) onto the 2.5 m grid of ``sr10`` (4, 4h, 4w): the 20 m group fused again (guide
        moved by ``guide_shift``, 10 m px), the 60 m group bicubic. The detail stage B adds over its bicubic
        input passes the anti-imaging filter: fusion20 works through a x2 pixel shuffle, whose phases would
        otherwise draw a 5 m lattice on the 2.5 m grid. Its low-pass (LEVEL_SIGMA) is then taken out, so stage B
        adds detail and never moves a band's level.

        With ``keep`` (Tile.keep) the network runs only on ``keep`` and ``stage_b_context`` 2.5 m pixels around
        it, which gives the same values there (its receptive field is finite); the rest of the 20 m group is
        left bicubic."""
        up20 = upsample_bicubic(b20_10m, 4)
        h4, w4 = up20.shape[-2:]
        r0, c0, r1, c1 = 0, 0, h4, w4
        context = self.stage_b_context
        if keep is not None and context is not None:
            # the guide's cubic shift reads ceil(4 |shift|) + 2 pixels beyond the network's context: sr10 is exact
            # only GUIDE_CONTEXT 10 m pixels around keep
            if context + 4 * max(map(abs, guide_shift)) + 3 <= 4 * GUIDE_CONTEXT:
                r0, c0 = max(0, 4 * keep[0] - context), max(0, 4 * keep[1] - context)
                r1, c1 = min(h4, 4 * (keep[0] + keep[2]) + context), min(w4, 4 * (keep[1] + keep[3]) + context)
        window = (slice(None), slice(r0, r1), slice(c0, c1))
        guide20 = (shift_image(sr10, 4 * guide_shift[0], 4 * guide_shift[1]) if any(guide_shift) else sr10)[window]
        b20 = up20.copy() if (r0, c0, r1, c1) != (0, 0, h4, w4) else up20
        up = up20[window]
        detail = anti_image(self.net20.run(np.concatenate([guide20, up])) - up)
        b20[window] = up + detail - gaussian_blur(detail, LEVEL_SIGMA)
        return b20, upsample_bicubic(b60_10m, 4)

    @property
    def stage_b_context(self) -> int | None:
        """2.5 m pixels of context stage B needs around what is kept: fusion20's receptive radius (its card) plus
        the anti-imaging filter's 2 and the level filter's radius, rounded up to 4 so the network's x2 pixel shuffle
        keeps its phase; None when the card does not give the receptive field."""
        field = self.net20.card.get("architecture", {}).get("receptive_field_px")
        if field is None:
            return None
        return -(-(int(field) // 2 + 2 + len(gaussian_kernel(LEVEL_SIGMA)) // 2) // 4) * 4

    def fuse(self, tile: Tile, sr10: np.ndarray) -> np.ndarray:
        """(8, 4h, 4w) reflectance at 2.5 m, bands FUSED_BANDS; ``sr10`` is [B02,B03,B04,B08] at 2.5 m."""
        h, w = tile.b10.shape[-2:]
        if sr10.shape != (4, 4 * h, 4 * w):
            raise ValueError(f"sr10 must be (4, {4 * h}, {4 * w}), got {sr10.shape}")
        b20, b60 = self.stage_b(*self.stage_a(tile), np.asarray(sr10, dtype=np.float32), tile.guide_shift,
                                tile.keep)
        return _assemble(b20, b60)

    def describe(self) -> dict[str, str]:
        """Human-readable summary for logs and the output metadata."""
        info = {"fusion": "learned guided fusion (stage A at 10 m; stage B at 2.5 m for the 20 m group, bicubic x4 "
                          "for the 60 m group)"}
        for net in (self.net20, self.net60):
            info[net.name] = f"v{net.card.get('version', '?')} sha256 {net.card['sha256'][:12]} on {net.providers[0]}"
        if self.fallback_message:
            info["provider_fallback"] = self.fallback_message
        return info


class BicubicFusionStage:
    """The bicubic path: 20 m bands upsampled x8 and 60 m bands x24 to 2.5 m (``sr10`` unused)."""

    name = "bicubic"
    margin = 12  # bicubic support: 2 pixels at 60 m
    coregisters = False

    def fuse(self, tile: Tile, sr10: np.ndarray) -> np.ndarray:
        """(8, 4h, 4w) reflectance at 2.5 m in FUSED_BANDS order."""
        return _assemble(upsample_bicubic(tile.b20, 8), upsample_bicubic(tile.b60, 24))

    def describe(self) -> dict[str, str]:
        """Human-readable summary."""
        return {"fusion": "bicubic (Keys a=-0.5): 20 m bands x8, 60 m bands x24"}
