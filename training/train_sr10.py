"""Train the x4 conditional diffusion SR model for B02/B03/B04/B08 on real Sentinel-2 (CPU, one thread).

    nohup .venv/bin/python -m training.train_sr10 --minutes 90 > training/cache/sr10.log 2>&1 &   # repository root

Seeded and resumable: a checkpoint (model, EMA, optimiser, step, elapsed time) is written to
training/checkpoints/sr10.pt every few minutes and training resumes from it on restart. The
learning rate follows a cosine decay over the wall-clock budget (--minutes of training time).

Fine-tuning: ``--init-from training/checkpoints/sr10.pt --ckpt training/checkpoints/sr10_v2.pt`` starts a
new cosine cycle from the EMA weights of an earlier run: the network's body starts where the earlier
one ended, layers it lacks or whose shape changed (a new head) start afresh.

Loss: every sample is a Wald pair (blind-degraded 40 m LR, real 10 m target) in residual space
z0 = (hr - bicubic(lr)) / RESIDUAL_SCALE. A fraction (--fast-frac, 25 %) of each batch is the
deterministic "fast" case z_t = 0, t = 1; the rest are diffusion samples z_t = sqrt(ab) z0 +
sqrt(1 - ab) eps with t ~ U(0, 1) on the cosine schedule. Both use an L1 loss on the predicted z0
(x0-prediction), with per-band weights that equalise the bands' residual magnitudes, plus
``--fft-weight`` times the L1 distance of the 2-D Fourier magnitudes of prediction and target (a
spurious 10 m lattice is a peak there that the pixel L1 barely sees).
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

from training.sr10_data import PairSampler, load_scene, train_scenes
from training.sr10_model import RESIDUAL_SCALE, alpha_bar, build

CKPT = os.path.join(HERE, "checkpoints", "sr10.pt")
# typical residual std per band (B02, B03, B04, B08) on the training pairs, reflectance
BAND_STD = np.array([0.0061, 0.0074, 0.0105, 0.0269], dtype=np.float32)


def band_weights() -> torch.Tensor:
    w = BAND_STD.mean() / BAND_STD
    return torch.tensor(w / w.mean()).view(1, 4, 1, 1)


def quick_val(net, lr, hr) -> tuple[float, float]:
    """Fast-preset PSNR vs bicubic on one held-out scene at reduced scale (monitoring only)."""
    from s2_superres.core.resample import upsample_bicubic

    up = upsample_bicubic(lr, 4)
    with torch.no_grad():
        z0 = net(torch.zeros(1, *up.shape), torch.from_numpy(lr)[None], torch.ones(1))[0].numpy()
    sr = up + z0 * RESIDUAL_SCALE
    b = 8

    def psnr(x):
        mse = ((x - hr)[:, b:-b, b:-b] ** 2).mean(axis=(1, 2))
        return float(np.mean(10 * np.log10(1.0 / mse)))

    return psnr(sr), psnr(up)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=90.0, help="training-time budget (cosine LR decay)")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--patch", type=int, default=32, help="LR patch size (HR = 4x)")
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--fast-frac", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--ckpt-every", type=float, default=180.0, help="seconds")
    ap.add_argument("--ckpt", default=CKPT)
    ap.add_argument("--init-from", help="start a new cosine cycle from this checkpoint's EMA weights "
                    "(layers it lacks or of another shape, such as a new head, keep their initialisation)")
    ap.add_argument("--head", type=int, default=12,
                    help="feature maps of the resize-convolution head on the 2.5 m grid (0 = pixel shuffle)")
    ap.add_argument("--anti-image", action=argparse.BooleanOptionalAction, default=True,
                    help="fixed anti-imaging filter on the residual (sr10_model.ANTI_IMAGE_TAPS)")
    ap.add_argument("--fft-weight", type=float, default=0.5,
                    help="weight of the L1 loss on 2-D Fourier magnitudes (penalises lattice peaks)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = dict(widths=(64, 96, 128), blocks0=1, tdim=128, head=args.head, anti_image=args.anti_image)
    net = build(config)
    if args.init_from and not os.path.exists(args.ckpt):
        start = torch.load(args.init_from, map_location="cpu", weights_only=False)
        own = net.state_dict()
        weights = {k: v for k, v in start["ema"].items() if k in own and own[k].shape == v.shape}
        missing, unexpected = net.load_state_dict(weights, strict=False)
        print(f"initialised from {args.init_from}; new layers: {missing}; dropped: {unexpected}", flush=True)
    ema = build(config)
    ema.load_state_dict(net.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    step, elapsed = 0, 0.0
    if os.path.exists(args.ckpt):
        ck = torch.load(args.ckpt, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from {args.ckpt} at step {step}, {elapsed / 60:.1f} min", flush=True)
    sampler = PairSampler(train_scenes(), lr_patch=args.patch, seed=args.seed + step)
    from training.sr10_data import FACTOR
    from s2_superres.core.degrade import wald_degrade

    vhr = load_scene("s2sucnn_usa")[:, :384, :384]
    vlr = wald_degrade(vhr, FACTOR)
    wb = band_weights()
    budget = args.minutes * 60.0
    t_last_ck = time.time()
    t_start = time.time() - elapsed
    run_loss = {"fast": [], "diff": []}

    def save():
        os.makedirs(os.path.dirname(args.ckpt), exist_ok=True)
        tmp = args.ckpt + ".tmp"
        torch.save(dict(model=net.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                        elapsed=time.time() - t_start, torch_rng=torch.get_rng_state(), config=config,
                        args=vars(args), residual_scale=RESIDUAL_SCALE), tmp)
        os.replace(tmp, args.ckpt)

    while True:
        elapsed = time.time() - t_start
        if elapsed >= budget:
            break
        frac = elapsed / budget
        warm = min(1.0, (step + 1) / 200)
        lr_now = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr_now
        lr, up, hr = sampler.batch(args.batch)
        lr_t = torch.from_numpy(lr)
        z0 = torch.from_numpy((hr - up) / RESIDUAL_SCALE)
        B = z0.shape[0]
        fast = torch.rand(B) < args.fast_frac
        t = torch.rand(B)
        t[fast] = 1.0
        ab = alpha_bar(t)[:, None, None, None]
        eps = torch.randn_like(z0)
        z_t = ab.sqrt() * z0 + (1 - ab).sqrt() * eps
        z_t[fast] = 0.0
        pred = net(z_t, lr_t, t)
        err = ((pred - z0).abs() * wb).mean(dim=(1, 2, 3))
        if args.fft_weight:
            spec = (torch.fft.rfft2(pred, norm="ortho").abs() - torch.fft.rfft2(z0, norm="ortho").abs()).abs()
            err = err + args.fft_weight * (spec * wb).mean(dim=(1, 2, 3))
        loss = err.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        d = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.mul_(d).add_(pn.detach(), alpha=1 - d)
        if fast.any():
            run_loss["fast"].append(err[fast].mean().item())
        if (~fast).any():
            run_loss["diff"].append(err[~fast].mean().item())
        if step % 50 == 0:
            msg = (f"step {step} t={elapsed / 60:.1f}min lr={lr_now:.2e} "
                   f"fastL1={np.mean(run_loss['fast']):.4f} diffL1={np.mean(run_loss['diff']):.4f}")
            run_loss = {"fast": [], "diff": []}
            if step % 500 == 0:
                ema.eval()
                p_sr, p_bic = quick_val(ema, vlr, vhr)
                msg += f" | usa fast(EMA) PSNR {p_sr:.2f} bicubic {p_bic:.2f}"
            print(msg, flush=True)
        if time.time() - t_last_ck > args.ckpt_every:
            save()
            t_last_ck = time.time()
    save()
    print(f"done: step {step}, {(time.time() - t_start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
