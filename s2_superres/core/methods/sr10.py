"""x4 super-resolution of the 10 m bands [B02, B03, B04, B08] to 2.5 m.

Three implementations of core.methods.base.SR10Stage,
``superresolve_10m(b10, out_row, out_col, options) -> (4, 4h, 4w)``:

* ``DiffusionSR10``: the conditional diffusion model models/sr10.onnx sampled with DDIM
  (``options.steps``, default 8; ``eta``; position-keyed noise from ``options.seed`` so tiles agree),
  ``superresolve_10m_with_std`` draws ``options.samples`` samples and returns the first (the same
  result as a one-sample run with that seed: asking for uncertainty never changes the image) with the
  per-pixel standard deviation over all of them (the sampler's spread, an uncertainty layer).
* ``FastSR10``: the same network evaluated once with z_t = 0, t = 1 (deterministic regression).
* ``BicubicSR10``: Keys bicubic (core.resample.upsample_bicubic), the reference.

``b10`` is reflectance (float32, nodata filled). With ``options.consistency`` (default) the network
results are back-projected so that core.degrade.wald_degrade(result, 4) reproduces ``b10``
(core.consistency.project); given ``keep`` (core.tile.Tile.keep), only there and GUIDE_CONTEXT pixels
around it, which is all the caller and the fusion stage read (the same values there). Results are not
clipped: a negative reflectance, which the product offset exists to preserve, stays negative in every band.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..bands import SCALE
from ..consistency import project
from ..onnx_model import MODELS_DIR, ModelError, OnnxModel, load_model, read_card, run_session
from ..resample import upsample_bicubic
from ..sampler import ddim_residual, fast_residual, residual_to_reflectance
from ..tile import GUIDE_CONTEXT, Keep, RunOptions

DEFAULT_CARD = MODELS_DIR / "sr10.json"
CONSISTENCY_ITERATIONS = 4


class _SR10Model:
    """Lazy onnxruntime session for models/sr10.onnx (core.onnx_model.load_model checks the card)."""

    def __init__(self, card_path: Path | str | None = None, threads: int = 0):
        self.card_path = Path(card_path) if card_path else DEFAULT_CARD
        self.threads = threads
        self._model: OnnxModel | None = None
        self._providers: tuple[str, ...] | None = None

    def _load(self, providers: list[str]) -> Any:
        key = tuple(providers or [])
        if self._model is None or self._providers != key:
            self._model = load_model(self.card_path, list(providers) if providers else None, threads=self.threads,
                                     card=self.card)
            self._providers = key
        return self._model

    @cached_property
    def card(self) -> dict:
        """The model card, read once (every tile asks for its size multiple and residual scale)."""
        return read_card(self.card_path)

    def denoiser(self, providers: list[str]):
        session = self._load(providers).session

        def denoise(z_t: np.ndarray, lr: np.ndarray, t: np.ndarray) -> np.ndarray:
            return run_session(session, ["z0"], {"z_t": np.ascontiguousarray(z_t, dtype=np.float32),
                                                 "lr": np.ascontiguousarray(lr, dtype=np.float32),
                                                 "t": np.ascontiguousarray(t, dtype=np.float32)})[0]

        return denoise


def _pad_to_multiple(b10: np.ndarray, m: int) -> tuple[np.ndarray, int, int]:
    """``b10`` (C, h, w) mirror-padded at the bottom and right to multiples of ``m``, with the original h, w."""
    h, w = b10.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        b10 = np.pad(b10, ((0, 0), (0, ph), (0, pw)), mode="symmetric")
    return np.ascontiguousarray(b10, dtype=np.float32), h, w


def _with_zero_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic stage's (mean, std): the result and zeros."""
    return x, np.zeros_like(x)


class _NetworkSR10:
    name = "sr10"
    stochastic = False
    margin = 48  # 10 m px of context each side: the U-Net sees this far (tests/test_sr10.py, test_presets.py)

    def __init__(self, card_path: Path | str | None = None, threads: int = 0,
                 consistency_iterations: int = CONSISTENCY_ITERATIONS):
        self.model = _SR10Model(card_path, threads)
        self.consistency_iterations = consistency_iterations

    def _prepare(self, b10: np.ndarray):
        card = self.model.card
        m = int(card.get("size_multiple", 4))
        lr, h, w = _pad_to_multiple(np.asarray(b10, dtype=np.float32), m)
        return lr, h, w, float(card["residual_scale"])

    def _finish(self, x: np.ndarray, b10: np.ndarray, h: int, w: int, options: RunOptions,
                keep: Keep = None) -> np.ndarray:
        """Crop to the input and back-project (on ``keep`` and GUIDE_CONTEXT pixels around it, when given)."""
        x = x[:, : h * SCALE, : w * SCALE]
        if options.consistency and self.consistency_iterations > 0:
            if keep is not None:
                g = GUIDE_CONTEXT
                keep = (keep[0] - g, keep[1] - g, keep[2] + 2 * g, keep[3] + 2 * g)
            x = project(x, b10, self.consistency_iterations, keep=keep)
        return x.astype(np.float32, copy=False)

    def describe(self, options: RunOptions) -> dict[str, str]:
        """Model name, version, checksum, steps, seed and consistency of a run with ``options``."""
        try:
            card = self.model.card
        except ModelError:
            card = {}
        return {"method": self.name, "model": str(card.get("name", "sr10")),
                "version": str(card.get("version", "?")), "sha256": str(card.get("sha256", ""))[:12],
                "steps": str(self._steps(options)), "seed": str(options.seed),
                "consistency": str(bool(options.consistency))}

    def _steps(self, options: RunOptions) -> int:
        return int(options.steps)


class DiffusionSR10(_NetworkSR10):
    """Conditional diffusion x4 SR of [B02, B03, B04, B08], DDIM sampling with position-keyed noise."""

    name = "sr10-diffusion"
    stochastic = True
    margin = 54  # each of the steps feeds the U-Net its own output, so the result reads further than one pass

    def __init__(self, card_path: Path | str | None = None, eta: float | None = None, threads: int = 0,
                 consistency_iterations: int = CONSISTENCY_ITERATIONS, temperature: float | None = None):
        super().__init__(card_path, threads, consistency_iterations)
        self._eta = eta
        self._temperature = temperature

    def _default(self, key: str, fallback: float) -> float:
        try:
            return float(self.model.card.get("sampler_defaults", {}).get(key, fallback))
        except ModelError:
            return fallback

    @property
    def eta(self) -> float:
        """DDIM eta (0 = deterministic after the initial noise); the card's default unless given."""
        return float(self._eta) if self._eta is not None else self._default("eta", 0.0)

    @property
    def temperature(self) -> float:
        """Scale of the initial noise; the card's default unless given."""
        return float(self._temperature) if self._temperature is not None else self._default("temperature", 1.0)

    def _samples(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                 keep: Keep = None) -> list[np.ndarray]:
        lr, h, w, scale = self._prepare(b10)
        denoise = self.model.denoiser(options.providers)
        eta, temperature = self.eta, self.temperature
        outs = []
        for k in range(max(1, int(options.samples))):
            z0 = ddim_residual(denoise, lr, out_row, out_col, steps=options.steps, eta=eta,
                               seed=options.seed, sample=k, temperature=temperature)
            outs.append(self._finish(residual_to_reflectance(z0, lr, scale), b10, h, w, options, keep))
        return outs

    def superresolve_10m(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                         keep: Keep = None) -> np.ndarray:
        """(4, h, w) reflectance -> (4, 4h, 4w): one sample (sample 0 of ``options.seed``)."""
        return self._samples(b10, out_row, out_col, replace(options, samples=1), keep)[0]

    def superresolve_10m_with_std(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                                  keep: Keep = None) -> tuple[np.ndarray, np.ndarray]:
        """(sample 0, per-pixel std over options.samples samples); std is zeros for one sample."""
        outs = self._samples(b10, out_row, out_col, options, keep)
        return outs[0], np.stack(outs).std(axis=0).astype(np.float32)

    def describe(self, options: RunOptions) -> dict[str, str]:
        """As for the fast stage, plus eta, temperature and the number of samples."""
        d = super().describe(options)
        d["eta"] = str(self.eta)
        d["temperature"] = str(self.temperature)
        d["samples"] = str(options.samples)
        return d


class FastSR10(_NetworkSR10):
    """The diffusion network evaluated once at z_t = 0, t = 1: a deterministic regression."""

    name = "sr10-fast"

    def superresolve_10m(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                         keep: Keep = None) -> np.ndarray:
        """(4, h, w) reflectance -> (4, 4h, 4w); ``out_row``, ``out_col`` and the seed are unused (no noise)."""
        lr, h, w, scale = self._prepare(b10)
        z0 = fast_residual(self.model.denoiser(options.providers), lr)
        return self._finish(residual_to_reflectance(z0, lr, scale), b10, h, w, options, keep)

    def superresolve_10m_with_std(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                                  keep: Keep = None) -> tuple[np.ndarray, np.ndarray]:
        """(result, zeros): the stage is deterministic."""
        return _with_zero_std(self.superresolve_10m(b10, out_row, out_col, options, keep))

    def _steps(self, options: RunOptions) -> int:
        return 1


class BicubicSR10:
    """Keys bicubic x4 (no network, no projection): the reference."""

    name = "sr10-bicubic"
    stochastic = False
    margin = 6

    def superresolve_10m(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                         keep: Keep = None) -> np.ndarray:
        """(4, h, w) reflectance -> (4, 4h, 4w) by Keys bicubic (``keep`` is unused)."""
        return upsample_bicubic(np.asarray(b10, dtype=np.float32), SCALE)

    def superresolve_10m_with_std(self, b10: np.ndarray, out_row: int, out_col: int, options: RunOptions,
                                  keep: Keep = None) -> tuple[np.ndarray, np.ndarray]:
        """(result, zeros): the stage is deterministic."""
        return _with_zero_std(self.superresolve_10m(b10, out_row, out_col, options))

    def describe(self, options: RunOptions) -> dict[str, str]:
        """Fixed: no model, no steps, no seed."""
        return {"method": self.name, "model": "bicubic (Keys a=-0.5)", "version": "1", "steps": "0",
                "seed": "-"}
