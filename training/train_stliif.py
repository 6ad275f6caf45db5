"""Train the space-time model "stliif" (training/stliif_model.py) on real Sentinel-2, CPU.

    nohup .venv/bin/python -m training.train_stliif --minutes 60 > training/cache/stliif.log 2>&1 &

Seeded and resumable (``--resume``): model, optimiser, step and elapsed training time go to
``--ckpt`` every few minutes. The learning rate follows a cosine decay over ``--minutes``.

Each step draws a kind of sample (training/stliif_data.py: single date, simulated dates, real
tanzania dates), a scale s from SCALES and a number of dates, and a batch of samples of that shape.
Loss: L1 between the model's output (the whole composition of core.spacetime: date weights on the
bicubic images plus the box-filtered residual) and the real target, per-band weights that equalise
the bands' residual magnitudes, borders of 2 LR pixels left out, unknown target pixels masked.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
from training.stliif_data import SCALES, Sampler
from training.stliif_model import RESIDUAL_SCALE, box_filter_torch, build, n_params, psnr, query_tensors

from s2_superres.core.degrade import DEFAULT_K
from s2_superres.core.resize import box_taps, cubic_matrix, resize_cubic, sensor_degrade
from s2_superres.core.spacetime import nearest_mask

CKPT = os.path.join(HERE, "checkpoints", "stliif.pt")
BAND_W = torch.tensor([1.6, 1.3, 1.0, 0.5]).view(4, 1, 1)
DATES = (1, 2, 3)
#: share of single-date, simulated-date and real multi-date samples
MIX = (0.6, 0.2, 0.2)


def forward(net, lr: np.ndarray, clear: np.ndarray, days: np.ndarray, scale) -> torch.Tensor:
    """The whole composition for one sample: (4, H, W) reflectance (differentiable)."""
    lr_t = torch.from_numpy(lr)
    clear_t = torch.from_numpy(clear[:, None].astype(np.float32))
    codes = net.encoder(lr_t, clear_t)
    iy, ry, wy, ix, rx, wx = query_tensors(lr.shape[-2], lr.shape[-1], scale)
    clear_q = torch.from_numpy(nearest_mask(clear, scale).astype(np.float32))
    cell = torch.tensor([1.0 / float(scale)])
    residual, weights = net.decoder(codes, iy, ry, wy, ix, rx, wx, cell, torch.from_numpy(days), clear_q)
    rows = torch.from_numpy(cubic_matrix(lr.shape[-2], scale).toarray())
    cols = torch.from_numpy(cubic_matrix(lr.shape[-1], scale).toarray())
    base = torch.matmul(torch.matmul(rows, lr_t), cols.T)                 # (D, 4, H, W)
    mix = (base * weights.unsqueeze(1)).sum(0)
    detail = box_filter_torch(residual.unsqueeze(0) * RESIDUAL_SCALE, box_taps(scale))[0]
    return mix + detail


def step_loss(net, samples) -> torch.Tensor:
    total = 0.0
    for s in samples:
        out = forward(net, s.lr, s.clear, s.days, s.scale)
        b = int(2 * s.scale)
        err = (out - torch.from_numpy(s.hr)).abs() * BAND_W
        valid = torch.from_numpy(s.valid.astype(np.float32))
        err, valid = err[:, b:-b, b:-b], valid[b:-b, b:-b]
        total = total + (err * valid).sum() / (4 * valid.sum() + 1)
    return total / len(samples)


def quick_val(net, hr: np.ndarray) -> str:
    """PSNR gain over bicubic of single-date SR on one held-out crop at x4 and x3 (monitoring only)."""
    out = []
    for s in (SCALES[5], SCALES[3]):
        side = int(hr.shape[-1] // (6 * s.denominator) * 6 * s.denominator)
        h = hr[:, :side, :side]
        lr = sensor_degrade(h, s, DEFAULT_K)
        with torch.no_grad():
            sr = forward(net, lr[None], np.ones((1,) + lr.shape[1:], bool), np.zeros(1, np.float32), s).numpy()
        inner = (slice(None), slice(8, -8), slice(8, -8))
        gain = psnr(sr[inner], h[inner]) - psnr(resize_cubic(lr, s)[inner], h[inner])
        out.append(f"x{float(s):.1f} {gain:+.2f} dB")
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ckpt", default=CKPT)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", help="start from these weights with a new optimiser and schedule")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net = build()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    step, elapsed = 0, 0.0
    if args.resume and os.path.exists(args.ckpt):
        ck = torch.load(args.ckpt, weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
    elif args.init_from:
        net.load_state_dict(torch.load(args.init_from, weights_only=False)["model"])
    sampler = Sampler(seed=step, mix=MIX)
    from training.sr10_data import load_scene
    val = load_scene("s2sucnn_usa")[:, :240, :240]
    print(f"stliif: {n_params(net)} parameters, from step {step}, {elapsed / 60:.1f} min", flush=True)
    t0, last_save, losses = time.time() - elapsed, time.time(), []
    while (time.time() - t0) < args.minutes * 60:
        frac = (time.time() - t0) / (args.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        kind = sampler.kind()
        s = SCALES[sampler.rng.integers(len(SCALES))]
        d = 1 if kind == "single" else int(sampler.rng.choice(DATES[1:]))
        samples = [sampler.sample(kind, s, d) for _ in range(args.batch)]
        loss = step_loss(net, samples)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 200 == 0:
            print(f"step {step} {(time.time() - t0) / 60:.1f} min loss {np.mean(losses):.5f} | {quick_val(net, val)}",
                  flush=True)
            losses = []
        if time.time() - last_save > 300:
            save(net, opt, step, time.time() - t0, args.ckpt)
            last_save = time.time()
    save(net, opt, step, time.time() - t0, args.ckpt)
    print(f"done: step {step} | {quick_val(net, val)}", flush=True)


def save(net, opt, step: int, elapsed: float, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed}, path + ".tmp")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
