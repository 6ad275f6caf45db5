"""The "spacetime" preset: the stliif model (core.spacetime) at any output pixel size, with other dates.

10 m bands [B02, B03, B04, B08]: the stliif model on every date of ``Tile.dates`` (or the tile's own
bands when the run has one date), queried on the output grid. An observed target date is then
back-projected onto its own 10 m bands through the fitted sensor model; under its clouds, when the
user asked for cloud filling, the other dates' prediction is kept as it is (and flagged by the
pipeline). A synthesised date (no observation at the target time) is the model's mix of the dates
around it and has only these four bands.

20 m and 60 m bands (observed dates only): the learned fusion stage A onto the 10 m grid (the real
10 m guide, core.methods.fusion), then to the output grid by bicubic plus, for the 20 m group, the
HPF detail of the super-resolved 10 m bands beyond 10 m (per band guide as core.methods.hpf).

``spread`` (reflectance): the weighted standard deviation of the dates' predictions at each output
pixel, a change indicator between dates, not an error estimate (README).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..bands import GROUP_10, GROUP_20, OUTPUT_BANDS, output_scale
from ..degrade import DEFAULT_K
from ..onnx_model import MODELS_DIR, OnnxModel, load_model
from ..resize import box_filter, resize_cubic, sensor_degrade
from ..spacetime import DECODE_ROWS, nearest_mask, project, query_axis
from ..tile import DateStack, RunOptions, Tile
from .fusion import FUSED_BANDS, LearnedFusionStage, _assemble
from .hpf import BAND_GUIDES, GUIDES

RESIDUAL_SCALE = 0.02   # reflectance per unit of the decoder's residual output (training/stliif_model.py)


@dataclass
class SpaceTimeResult:
    """The 10 m bands on the output grid (4, H, W), the dates' spread (4, H, W), and where the target
    date was filled from other dates (H, W) bool."""

    image: np.ndarray
    spread: np.ndarray
    filled: np.ndarray


class SpaceTimeModel:
    """The two stliif graphs and their composition (core.spacetime)."""

    def __init__(self, models_dir: Path = MODELS_DIR, providers: list[str] | None = None, threads: int = 0):
        self.encoder: OnnxModel = load_model(Path(models_dir) / "stliif_encoder.json", providers, threads)
        self.decoder: OnnxModel = load_model(Path(models_dir) / "stliif_decoder.json", providers, threads)

    def superresolve(self, dates: DateStack, scale: Fraction, fill_clouds: bool = False) -> SpaceTimeResult:
        """``dates`` (D, 4, h, w) on the 10 m grid to the grid ``scale`` times finer."""
        lr = np.ascontiguousarray(dates.b10, np.float32)
        target = np.flatnonzero(dates.days == 0)
        clear = dates.clear.copy()
        if len(target) and not fill_clouds:
            clear[target[0]] = True          # the target's own observation is used as it is, clouds included
        codes = self.encoder.session.run(None, {"lr": lr, "clear": clear[:, None].astype(np.float32)})[0]
        residual, weights = self._decode(codes, clear, dates.days.astype(np.float32), scale)
        bases = np.stack([resize_cubic(date, scale) for date in lr])                    # (D, 4, H, W)
        image = (weights[:, None] * bases).sum(0) + box_filter((residual * weights[:, None]).sum(0), scale)
        spread = np.zeros_like(image)
        if len(lr) > 1:   # each date's own prediction against the mix
            per_date = bases + box_filter(residual, scale)
            spread = np.sqrt((weights[:, None] * (per_date - image[None]) ** 2).sum(0))
        filled = np.zeros(image.shape[1:], bool)
        if len(target):
            observed = project(image, lr[target[0]], scale)
            filled = ~nearest_mask(clear[target[0]], scale)
            image = np.where(filled[None], image, observed)
        return SpaceTimeResult(image.astype(np.float32), spread.astype(np.float32), filled)

    def _decode(self, codes: np.ndarray, clear: np.ndarray, days: np.ndarray,
                scale: Fraction) -> tuple[np.ndarray, np.ndarray]:
        """Each date's residual (D, 4, H, W, reflectance) and weight (D, H, W), decoded DECODE_ROWS rows at a time."""
        h, w = codes.shape[-2:]
        qy, qx = query_axis(h, scale), query_axis(w, scale)
        clear_q = nearest_mask(clear, scale).astype(np.float32)
        feeds = {"codes": codes, "ix": qx[0], "rx": qx[1], "wx": qx[2], "dt": days,
                 "cell": np.array([1 / float(scale)], np.float32)}
        residuals, weights = [], []
        for r0 in range(0, qy[0].shape[1], DECODE_ROWS):
            rows = slice(r0, r0 + DECODE_ROWS)
            feeds.update(iy=np.ascontiguousarray(qy[0][:, rows]), ry=np.ascontiguousarray(qy[1][:, rows]),
                         wy=np.ascontiguousarray(qy[2][:, rows]), clear_q=np.ascontiguousarray(clear_q[:, rows]))
            res, wts = self.decoder.session.run(None, feeds)
            residuals.append(res)
            weights.append(wts)
        return np.concatenate(residuals, 2) * RESIDUAL_SCALE, np.concatenate(weights, 1)

    def describe(self) -> dict[str, str]:
        """Model versions, checksums and providers, for the output metadata."""
        return {net.name: f"v{net.card.get('version', '?')} sha256 {net.card['sha256'][:12]} on {net.providers[0]}"
                for net in (self.encoder, self.decoder)}


def fuse_at_scale(tile: Tile, fusion: LearnedFusionStage, sr10: np.ndarray, scale: Fraction) -> np.ndarray:
    """The 20 m and 60 m bands on the output grid (8, H, W) in FUSED_BANDS order: stage A onto 10 m, then
    bicubic plus (20 m group) the HPF detail of the super-resolved 10 m bands ``sr10`` beyond 10 m."""
    b20, b60 = fusion.stage_a(tile)
    up20, up60 = resize_cubic(b20, scale), resize_cubic(b60, scale)
    detail = {}
    for g in {BAND_GUIDES[b] for b in GROUP_20}:
        pan = sr10[list(GUIDES[g])].mean(axis=0)
        detail[g] = pan - resize_cubic(sensor_degrade(pan, scale, DEFAULT_K), scale)
    b20_out = np.stack([up20[i] + detail[BAND_GUIDES[b]] for i, b in enumerate(GROUP_20)])
    return _assemble(b20_out, up60)


class SpaceTime:
    """The "spacetime" preset (a core.methods.base.Method) at any pixel size, with or without other dates."""

    name = "spacetime"
    pixel_sizes: tuple[float, ...] | None = None   # any size of core.bands.PIXEL_SIZES
    uses_dates = True
    #: context in 10 m pixels: the encoder's reach (14), the decoder's neighbour (1), the back-projection's
    #: operators (4 passes of about 4) and the fusion stage's own margin, rounded up to the 60 m lattice
    margin = 36
    uncertainty_bands = tuple(f"{b}_spread" for b in GROUP_10)

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS, models_dir: Path = MODELS_DIR,
                 providers: list[str] | None = None, threads: int = 0):
        self.bands = bands
        self.model = SpaceTimeModel(models_dir, providers, threads)
        needs_fusion = any(b not in GROUP_10 for b in bands)
        self.fusion = LearnedFusionStage(models_dir, providers, threads) if needs_fusion else None
        self.coregisters = self.fusion is not None

    def superresolve_tile(self, tile: Tile, options: RunOptions) -> np.ndarray:
        """(len(bands), h*s, w*s) reflectance at options.pixel_size; with options.samples > 1, and always for a
        synthesised date, the dates' spread of the 10 m bands follows as four more planes."""
        scale = output_scale(options.pixel_size)
        dates = tile.dates if tile.dates is not None else single_date(tile.b10)
        result = self.model.superresolve(dates, scale, options.fill_clouds)
        planes = dict(zip(GROUP_10, result.image))
        if self.fusion is not None:
            planes.update(zip(FUSED_BANDS, fuse_at_scale(tile, self.fusion, result.image, scale)))
        out = np.stack([planes[b] for b in self.bands])
        synthesised = not np.any(dates.days == 0)
        return np.concatenate([out, result.spread]) if options.samples > 1 or synthesised else out

    def describe(self, options: RunOptions) -> dict[str, str]:
        """What ran, for the SR_* tags."""
        info = {"method": self.name}   # SR_PIXEL_SIZE and SR_FILL_CLOUDS come from the pipeline and the stack
        info.update({f"sr10_{k}": v for k, v in self.model.describe().items()})
        if self.fusion is not None:
            info["fusion"] = ("learned stage A at 10 m, then bicubic plus the HPF detail of the super-resolved "
                              "10 m bands (20 m group) / bicubic (60 m group)")
        return info


def single_date(b10: np.ndarray) -> DateStack:
    """One acquisition's 10 m bands (4, h, w) as a one-date stack: the observed target, clear everywhere."""
    return DateStack(b10[None], np.ones((1,) + b10.shape[-2:], bool), np.zeros(1, np.float32))
