"""DDIM sampling of the residual-space diffusion SR model, in NumPy around onnxruntime.

State: z = (x0 - upsample_bicubic(lr, 4)) / residual_scale on the 2.5 m grid. The denoiser
``denoise(z_t, lr, t) -> z0`` predicts the clean state (x0-prediction); the schedule is the cosine
schedule alpha_bar(t) = cos^2((t + s) / (1 + s) * pi / 2) / cos^2(s / (1 + s) * pi / 2), s = 0.008,
t in [0, 1], alpha_bar(1) = 0.

Noise is keyed by position: ``noise(seed, step, out_row, out_col, shape)`` assembles it from
fixed 64 x 64 blocks on the absolute 2.5 m lattice, block (br, bc) drawn from
``np.random.default_rng([seed, step, br + OFFSET, bc + OFFSET])`` (plus the sample index for
extra samples). Two tiles that overlap therefore see identical noise in the overlap, and the
result does not depend on how a scene is tiled.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .bands import SCALE
from .resample import upsample_bicubic

BLOCK = 64
OFFSET = 1 << 40  # keeps block indices of negative positions non-negative for SeedSequence
COSINE_S = 0.008

Denoiser = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def alpha_bar(t: float) -> float:
    """Cosine-schedule signal fraction at time t in [0, 1] (1 at t = 0, 0 at t = 1)."""
    f = math.cos((t + COSINE_S) / (1 + COSINE_S) * math.pi / 2) ** 2
    f0 = math.cos(COSINE_S / (1 + COSINE_S) * math.pi / 2) ** 2
    return min(1.0, max(0.0, f / f0))


def noise(seed: int, step: int, out_row: int, out_col: int, shape: tuple[int, ...], sample: int = 0) -> np.ndarray:
    """Standard normal float32 noise of ``shape`` (C, H, W) whose pixel (r, c) is a function of
    (seed, step, sample, out_row + r, out_col + c) only."""
    c, h, w = shape
    out = np.empty((c, h, w), dtype=np.float32)
    r0, c0 = out_row // BLOCK, out_col // BLOCK
    r1, c1 = (out_row + h - 1) // BLOCK, (out_col + w - 1) // BLOCK
    for br in range(r0, r1 + 1):
        for bc in range(c0, c1 + 1):
            key = [int(seed) & 0xFFFFFFFF, int(step), br + OFFSET, bc + OFFSET]
            if sample:
                key.append(int(sample))
            block = np.random.default_rng(key).standard_normal((c, BLOCK, BLOCK), dtype=np.float32)
            # overlap of this block with the requested window, in absolute coordinates
            ar0, ar1 = max(br * BLOCK, out_row), min((br + 1) * BLOCK, out_row + h)
            ac0, ac1 = max(bc * BLOCK, out_col), min((bc + 1) * BLOCK, out_col + w)
            out[:, ar0 - out_row:ar1 - out_row, ac0 - out_col:ac1 - out_col] = \
                block[:, ar0 - br * BLOCK:ar1 - br * BLOCK, ac0 - bc * BLOCK:ac1 - bc * BLOCK]
    return out


def ddim_residual(denoise: Denoiser, lr: np.ndarray, out_row: int, out_col: int, steps: int = 8,
                  eta: float = 0.0, seed: int = 0, sample: int = 0, temperature: float = 1.0) -> np.ndarray:
    """Run DDIM from pure (position-keyed) noise at t = 1 to t = 0; returns z0 (C, 4h, 4w).

    ``lr`` is (C, h, w) and must already satisfy the model's size multiple. ``eta`` = 0 is the
    deterministic DDIM path after the initial noise; eta = 1 is DDPM-like ancestral sampling.
    ``temperature`` scales the initial noise (and any fresh noise); < 1 trades diversity and
    hallucinated detail for fidelity.
    """
    c, h, w = lr.shape
    shape = (c, h * SCALE, w * SCALE)
    lr_b = np.ascontiguousarray(lr[None], dtype=np.float32)
    z = noise(seed, 0, out_row, out_col, shape, sample) * np.float32(temperature)
    steps = max(1, int(steps))
    for i in range(steps, 0, -1):
        t, t_prev = i / steps, (i - 1) / steps
        ab, ab_prev = alpha_bar(t), alpha_bar(t_prev)
        z0 = denoise(z[None], lr_b, np.array([t], dtype=np.float32))[0]
        if i == 1:
            z = z0
            break
        eps = (z - math.sqrt(ab) * z0) / math.sqrt(max(1.0 - ab, 1e-8))
        sigma = 0.0
        if eta > 0:
            sigma = eta * math.sqrt(max(0.0, (1 - ab_prev) / max(1 - ab, 1e-8) * (1 - ab / max(ab_prev, 1e-8))))
        dir_coef = math.sqrt(max(0.0, 1 - ab_prev - sigma * sigma))
        z = math.sqrt(ab_prev) * z0 + dir_coef * eps
        if sigma > 0:
            z = z + (sigma * temperature) * noise(seed, steps - i + 1, out_row, out_col, shape, sample)
        z = z.astype(np.float32, copy=False)
    return z


def fast_residual(denoise: Denoiser, lr: np.ndarray) -> np.ndarray:
    """The deterministic single-pass preset: z_t = 0, t = 1."""
    c, h, w = lr.shape
    z = np.zeros((1, c, h * SCALE, w * SCALE), dtype=np.float32)
    return denoise(z, np.ascontiguousarray(lr[None], dtype=np.float32), np.ones(1, dtype=np.float32))[0]


def residual_to_reflectance(z0: np.ndarray, lr: np.ndarray, residual_scale: float) -> np.ndarray:
    """The 2.5 m reflectance x0 = upsample_bicubic(lr, 4) + residual_scale * z0 of the sampled residual state ``z0``
    (C, 4h, 4w; unitless) over the 10 m reflectance ``lr`` (C, h, w)."""
    return upsample_bicubic(lr, SCALE) + np.float32(residual_scale) * z0
