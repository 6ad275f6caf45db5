"""The project beside the public peer networks, on the same degraded inputs, crops and grids.

Held-out acquisitions (never trained on): s2sucnn_usa, s2sscnn_coastalA, dsen2_mock_crop (Manama), loaded
exactly as scripts/held_out_table.py loads them. Degradation: the project's sensor model
(core.evaluate.degrade_scene, the same call core.evaluate uses) under each degradation of core.degrade.EVAL_K:
"fitted" (k = 0.35 for the 10 m and 20 m bands, the 60 m fit k = 0.40 for B01/B09, as in every project
evaluation), "sharper" (k = 0.25 for all bands) and "blurrier" (k = 0.50), and, for fairness to the peers,
"dsen2": the degradation the AESR nets were trained with (dsen2_ref.degrade, a Gaussian of sigma = 1/f fine
pixels then the f x f block mean: k = 1/f^2, i.e. 0.25 at x2 and 0.03 at x6, sharper than any the project's
models were trained on). Every method, the project's and
the peers', sees the very same degraded arrays; the references are the real bands.

Peers (../shared/peers, read at run time, never copied into the repository; see its README.md):
UP42's AESR Keras nets, run by ../shared/peers/up42_aesr/dsen2_ref.py (imported by path), and EVOLAND's
CARN-light ONNX (onnxruntime). Without ../shared the fidelity part says so and skips.

Fidelity part (default), RMSE in DN per band, the group figure is the mean over its bands:

* 20 m group at x2 (DSen2's setting, 40 -> 20 m): every band degraded x2 (10 -> 20 m, 20 -> 40 m,
  60 -> 120 m). AESR-20 super-resolves the 40 m bands onto the 20 m grid with the 20 m-degraded 10 m bands as
  guide. The project runs its whole tiled pipeline on the degraded scene written as a product on the native
  grids (scale invariance, as core.evaluate does): its "2.5 m" output is then 5 m on the ground and is
  block-averaged 4 x 4 onto the real 20 m grid. CARN-light (below) also yields the 20 m bands on the 10 m
  grid; averaged 2 x 2 it is compared on the same 20 m grid.
* 60 m group at x6 (DSen2's setting, 360 -> 60 m): every band degraded x6 (10 -> 60 m, 20 -> 120 m,
  60 -> 360 m). AESR-60 super-resolves B01/B09 onto the 60 m grid (the degraded 10 m grid) with the degraded
  10 m and 20 m bands as guide; the project's output (15 m on the ground) is averaged 4 x 4 onto the same
  60 m grid.
* 10 m group, CARN-light: its native job is 10 -> 5 m, where no real reference exists. The same-grid,
  same-input comparison with a real reference is one octave down, from the same x2-degraded scene as the
  20 m row: CARN-light takes the ten 20 m-degraded 10/20 m bands (the 40 m bands cubic-upsampled x2 onto
  the 20 m grid, as its README asks) and returns them at 10 m; the project's output from the same degraded
  scene (5 m on the ground) is averaged 2 x 2 onto the 10 m grid. Both are compared with the real 10 m bands.
  CARN-light was trained on L2A (surface reflectance); the held-out scenes are L1C: an offset in its input
  domain it was not trained for, which the table cannot separate from its detail.

All outputs are on one grid whose pixel edges coincide with the reference grid (block averaging and the
degradation start at the same corner; the AESR and CARN-light upsampling is pixel-centre aligned), and the
same border is cut from every method before the RMSE: BORDER_PX (8 px at 10 m, 4 px at 20 m, 2 px at
60 m). The AESR figure that the targets name is the best of the three AESR weight sets on each group
(UP42 L1C, UP42 L2A, lanha/DSen2; the lanha 60 m file is an untrained placeholder, reported for completeness).
Targets (fidelity issue): 20 m <= 0.9 x the best AESR; 60 m <= 0.9 x UP42's L1C AESR-60; 10 m <= CARN-light.

Invented-detail part (``--metrics``): opensr-test's correctness scores (improvement, omission,
hallucination; Aybar et al. 2024), computed by ``opensr_correctness`` below, a re-implementation of
opensr-test 1.3.3 (MIT; ``opensr_test.main.Metrics.correctness`` with its default ``Config``) because the
package pulls in open-clip, lpips, opencv, satalign and a torchvision that would replace the venv's torch.
Variant: detail only, i.e. the spectral harmonisation (histogram matching of SR to HR) is applied, the
spatial one (``harm_apply_spatial``, satalign's phase correlation) is off, since SR and HR are on one grid by
construction. Setting: x4 Wald, fitted degradation, the project's pipeline on the degraded scene, LR = the
degraded bands, SR = the output on each group's real grid, HR = the real bands; per group.

Usage (repository root):
  .venv/bin/python -m bench.peers                      # fidelity table, all degradations
  .venv/bin/python -m bench.peers --metrics            # also the opensr-test scores
  .venv/bin/python -m bench.peers --no-fidelity --metrics --metric-methods bicubic,fast,diffusion
Results are merged into bench/peers.json (a part not run keeps its previous results) and the table printed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from s2_superres.core.bands import GROUP_10, GROUP_20, GROUP_60
from s2_superres.core.degrade import EVAL_K
from s2_superres.core.resample import block_average, upsample_bicubic
from s2_superres.core.scene import Scene

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("S2_PEERS", ROOT.parent / "shared" / "peers"))
JSON = ROOT / "bench" / "peers.json"
#: border cut from every compared image, pixels of the compared grid by grid (80 m, 80 m, 120 m)
BORDER_PX = {10: 8, 20: 4, 60: 2}
#: AESR weight sets (files in ../shared/peers/up42_aesr) by label
AESR = {"AESR l1c": "l1c_aesr_{}m_s2_038_lr_1e-04.hdf5", "AESR l2a": "l2a_aesr_{}m_s2_038_lr_1e-04.hdf5",
        "AESR lanha": "lanha_aesr_{}m_s2_038_lr_1e-04.hdf5"}
#: dsen2_ref's 10 m band order [B4, B3, B2, B8] as indices into core.bands.GROUP_10 (B02, B03, B04, B08)
DSEN2_10 = [GROUP_10.index(b) for b in ("B04", "B03", "B02", "B08")]
#: the degradations of the fidelity table: core.degrade.EVAL_K and the AESR nets' own ("dsen2")
DEGRADATIONS = (*EVAL_K, "dsen2")
K_LABEL = {"fitted": "fitted per grid (0.35; B01/B09 0.40)", "dsen2": "DSen2's: sigma 1/f fine px (k = 1/f^2)"}
TARGETS = {"20m": ("best AESR", 0.9), "60m": ("AESR l1c", 0.9), "10m": ("CARN-light", 1.0)}
THREADS = 2


# ---------------------------------------------------------------------------------------------- helpers
def to_grid(band: np.ndarray, block: int) -> np.ndarray:
    """An output band brought to a coarser grid whose pixels are ``block`` x ``block`` of its own (block mean,
    the pixel edges of both grids start at the same corner)."""
    return block_average(band, block) if block > 1 else np.asarray(band, np.float32)


def crop_border(a: np.ndarray, border: int) -> np.ndarray:
    """``a`` (..., H, W) without ``border`` pixels on every side."""
    return a[..., border:a.shape[-2] - border, border:a.shape[-1] - border] if border else a


def rmse_dn(ref: np.ndarray, est: np.ndarray, border: int) -> list[float]:
    """Per-band RMSE in DN of reflectance arrays (C, H, W) after cutting ``border`` pixels from both; ``est``
    must already be on ``ref``'s grid (its extra trailing rows/columns, if any, are dropped)."""
    if est.shape[-2] < ref.shape[-2] or est.shape[-1] < ref.shape[-1]:
        raise ValueError(f"estimate {est.shape} smaller than reference {ref.shape}")
    est = est[..., : ref.shape[-2], : ref.shape[-1]]
    d = crop_border(est, border).astype(np.float64) - crop_border(ref, border)
    return [float(v) for v in np.sqrt((d ** 2).mean(axis=(-2, -1))) * 1e4]


def load_dsen2_ref() -> ModuleType | None:
    """../shared/peers/up42_aesr/dsen2_ref.py imported by path, or None when ../shared is absent."""
    path = PEERS / "up42_aesr" / "dsen2_ref.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("dsen2_ref", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def degradation_k(name: str) -> float | None:
    """The k core.evaluate passes for a degradation of EVAL_K (None: the fit of each grid)."""
    return None if name == "fitted" else EVAL_K[name]


def scenes(names: list[str]) -> dict[str, Scene]:
    from scripts.held_out_table import SCENES, as_scene
    return {n: as_scene(SCENES[n]) for n in names}


# ---------------------------------------------------------------------------------------------- peers
class Peers:
    """The peer networks, loaded once."""

    def __init__(self) -> None:
        self.ref = load_dsen2_ref()
        if self.ref is None:
            raise FileNotFoundError(PEERS / "up42_aesr" / "dsen2_ref.py")
        import onnxruntime as ort
        import torch

        torch.set_num_threads(THREADS)
        self.aesr = {g: {label: self.ref.load_keras_net(str(PEERS / "up42_aesr" / f.format(g)))
                         for label, f in AESR.items()} for g in (20, 60)}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        self.carn = ort.InferenceSession(str(PEERS / "evoland_carn_light_x2" / "carn_light.onnx"), opts,
                                         providers=["CPUExecutionProvider"])

    def sr20(self, label: str, low: Scene) -> np.ndarray:
        """AESR-20 on a degraded scene: the 20 m group on the degraded 10 m grid (reflectance)."""
        im10 = low.groups[10][DSEN2_10] * 1e4
        return self.ref.sr20(im10, low.groups[20] * 1e4, net=self.aesr[20][label]).astype(np.float32) / 1e4

    def sr60(self, label: str, low: Scene) -> np.ndarray:
        """AESR-60 on a degraded scene: B01/B09 on the degraded 10 m grid (reflectance)."""
        im10 = low.groups[10][DSEN2_10] * 1e4
        out = self.ref.sr60(im10, low.groups[20] * 1e4, low.groups[60] * 1e4, net=self.aesr[60][label])
        return out.astype(np.float32) / 1e4

    def carn_light(self, low: Scene) -> np.ndarray:
        """CARN-light on a degraded scene: the ten 10/20 m bands [B02,B03,B04,B08,B05,B06,B07,B8A,B11,B12] on a
        grid twice as fine as the degraded 10 m grid (reflectance)."""
        x = np.concatenate([low.groups[10], upsample_bicubic(low.groups[20], 2)]) * 1e4
        name = self.carn.get_inputs()[0].name
        return self.carn.run(None, {name: x[None].astype(np.float32)})[0][0] / 1e4


# ---------------------------------------------------------------------------------------------- fidelity
def degraded(scene: Scene, factor: int, degradation: str, peers: Peers) -> Scene:
    """The scene degraded by ``factor``: core.evaluate.degrade_scene under a degradation of EVAL_K, or with
    "dsen2" the AESR nets' own training degradation (dsen2_ref.degrade: Gaussian of sigma 1/factor fine pixels,
    i.e. k = 1/factor^2, then the block mean)."""
    from s2_superres.core.evaluate import degrade_scene

    if degradation != "dsen2":
        return degrade_scene(scene, factor, degradation_k(degradation))
    s = scene.crop_to_multiple(factor)
    return Scene({r: peers.ref.degrade(a, factor).astype(np.float32) for r, a in s.groups.items()},
                 s.crs_wkt, s.origin)


def fidelity_scene(scene: Scene, degradation: str, methods: list[str], peers: Peers, options) -> dict:
    """RMSE (DN) per band of every method and peer on one scene under one degradation."""
    from s2_superres.core.evaluate import run_on_scene

    res: dict[str, dict] = {"20m": {}, "10m": {}, "60m": {}}
    timing: dict[str, float] = {}
    # x2: the 20 m group on the real 20 m grid, the 10 m group on the real 10 m grid
    s2 = scene.crop_to_multiple(2)
    low = degraded(s2, 2, degradation, peers)
    ref10, ref20 = s2.groups[10], s2.groups[20]
    b10, b20 = BORDER_PX[10], BORDER_PX[20]
    for m in methods:
        t = time.perf_counter()
        out = run_on_scene(low, m, options)          # 2.5 m on the degraded grids = 5 m on the ground
        timing[f"{m} x2"] = time.perf_counter() - t
        res["10m"][m] = rmse_dn(ref10, np.stack([to_grid(out[b], 2) for b in GROUP_10]), b10)
        res["20m"][m] = rmse_dn(ref20, np.stack([to_grid(out[b], 4) for b in GROUP_20]), b20)
    for label in AESR:
        t = time.perf_counter()
        res["20m"][label] = rmse_dn(ref20, peers.sr20(label, low), b20)
        timing[f"{label} 20"] = time.perf_counter() - t
    t = time.perf_counter()
    carn = peers.carn_light(low)                        # 10 m on the ground
    timing["CARN-light"] = time.perf_counter() - t
    res["10m"]["CARN-light"] = rmse_dn(ref10, carn[:4], b10)
    res["20m"]["CARN-light"] = rmse_dn(ref20, to_grid(carn[4:], 2), b20)
    # x6: the 60 m group on the real 60 m grid
    s6 = scene.crop_to_multiple(6)
    low = degraded(s6, 6, degradation, peers)
    ref60, b60 = s6.groups[60], BORDER_PX[60]
    for m in methods:
        t = time.perf_counter()
        out = run_on_scene(low, m, options)          # 15 m on the ground
        timing[f"{m} x6"] = time.perf_counter() - t
        res["60m"][m] = rmse_dn(ref60, np.stack([to_grid(out[b], 4) for b in GROUP_60]), b60)
    for label in AESR:
        res["60m"][label] = rmse_dn(ref60, peers.sr60(label, low), b60)
    shapes = {"x2 reference 10 m": list(ref10.shape), "x2 reference 20 m": list(ref20.shape),
              "x6 reference 60 m": list(ref60.shape)}
    return {"rmse_dn": res, "seconds": {n: round(v, 2) for n, v in timing.items()}, "shapes": shapes,
            "border_px": {"10m": b10, "20m": b20, "60m": b60}}


def summarise(per_scene: dict) -> dict:
    """Means over scenes of the group RMSE (mean over bands), the best AESR and the targets."""
    out: dict = {}
    for group in ("20m", "60m", "10m"):
        names = next(iter(per_scene.values()))["rmse_dn"][group]
        mean = {n: float(np.mean([np.mean(s["rmse_dn"][group][n]) for s in per_scene.values()])) for n in names}
        aesr = {n: v for n, v in mean.items() if n.startswith("AESR")}
        row: dict = {"rmse_dn": {n: round(v, 2) for n, v in mean.items()}}
        if aesr:
            best = min(aesr, key=aesr.get)
            row["best_aesr"] = best
            row["ratio_to_best_aesr"] = {n: round(v / aesr[best], 3) for n, v in mean.items()}
        peer, limit = TARGETS[group]
        peer = row.get("best_aesr", peer) if peer == "best AESR" else peer
        ratio = mean["fast"] / mean[peer] if "fast" in mean and peer in mean else None
        row["target"] = {"peer": peer, "max_ratio": limit, "fast_ratio": None if ratio is None else round(ratio, 3),
                         "met": None if ratio is None else bool(ratio <= limit)}
        out[group] = row
    return out


def run_fidelity(names: list[str], degradations: list[str], methods: list[str]) -> dict | None:
    from s2_superres.core.tile import RunOptions

    try:
        peers = Peers()
    except FileNotFoundError as e:
        print(f"bench.peers: peer networks not found ({e}); they live in ../shared/peers, outside the repository. "
              "Skipping the peer comparison.", file=sys.stderr)
        return None
    options = RunOptions(steps=8, seed=0)
    data = scenes(names)
    result: dict = {"methods": methods, "degradations": {}}
    for d in degradations:
        per_scene = {}
        for name, scene in data.items():
            per_scene[name] = fidelity_scene(scene, d, methods, peers, options)
            print(f"done fidelity {d} {name} {per_scene[name]['seconds']}", file=sys.stderr, flush=True)
        result["degradations"][d] = {"k": K_LABEL.get(d, EVAL_K.get(d)),
                                     "scenes": per_scene, "mean": summarise(per_scene)}
    return result


# ---------------------------------------------------------------------------------------------- opensr-test
#: opensr_test.config.Config defaults used by Metrics.correctness / Metrics.compute (opensr-test 1.3.3)
OSR = {"border_mask": 16, "im_score": 0.05, "om_score": 0.05, "ha_score": 0.05, "temperature": 0.25,
       "gradient_threshold": "auto75"}


def _match_histograms(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """skimage.exposure.match_histograms(image, reference, channel_axis=0) for float arrays (per channel:
    skimage's _match_cumulative_cdf), which opensr_test.utils.hq_histogram_matching calls."""
    out = np.empty(image.shape, np.float64)
    for c in range(image.shape[0]):
        src_values, src_lookup, src_counts = np.unique(image[c].ravel(), return_inverse=True, return_counts=True)
        tmpl_values, tmpl_counts = np.unique(reference[c].ravel(), return_counts=True)
        src_q = np.cumsum(src_counts) / image[c].size
        tmpl_q = np.cumsum(tmpl_counts) / reference[c].size
        out[c] = np.interp(src_q, tmpl_q, tmpl_values)[src_lookup].reshape(image[c].shape)
    return out


def _nd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """opensr_test.distance.FractionalDifference at pixel level ("nd"): mean over bands of |x - y| / |x + y|."""
    return np.nanmean(np.abs(x - y) / np.abs(x + y + 1e-8), axis=0)


def opensr_correctness(lr: np.ndarray, sr: np.ndarray, hr: np.ndarray) -> dict[str, float]:
    """opensr-test 1.3.3 ``Metrics(harm_apply_spatial=False).compute(lr, sr, hr)``'s correctness scores
    (``Metrics.correctness`` with gradient_threshold "auto", as ``compute`` passes it): improvement, omission,
    hallucination, each the mean over the unmasked pixels of its softmin weight (``correctness_norm``
    "softmin"), so the three add up to 1. lr (C, h, w), sr and hr (C, s h, s w) reflectance."""
    import torch

    scale = hr.shape[-1] // lr.shape[-1]
    if hr.shape[-1] != scale * lr.shape[-1] or sr.shape != hr.shape:
        raise ValueError(f"shapes lr {lr.shape}, sr {sr.shape}, hr {hr.shape}")
    bm = OSR["border_mask"]
    lr, sr, hr = (crop_border(np.asarray(a, np.float32), b) for a, b in ((lr, bm // scale), (sr, bm), (hr, bm)))
    # Metrics.setup: the LR on the HR grid, bilinear (utils.apply_downsampling)
    lr_to_hr = torch.nn.functional.interpolate(torch.from_numpy(np.ascontiguousarray(lr))[None], scale_factor=scale,
                             mode="bilinear", antialias=True)[0].numpy().astype(np.float64)
    # Metrics.sr_harm_setup, spectral part only
    sr_harm = _match_histograms(sr, hr)
    hr = hr.astype(np.float64)
    # correctness.get_distances
    d_ref, d_im, d_om = _nd(lr_to_hr, hr), _nd(sr_harm, hr), _nd(sr_harm, lr_to_hr)
    # Metrics._create_mask, "auto" -> the 75 % quantile of d_ref (torch.kthvalue, 1-based k)
    flat = d_ref.ravel()
    kth = int(int(OSR["gradient_threshold"][4:]) / 100 * flat.size)
    t = float(np.partition(flat, kth - 1)[kth - 1])
    mask = np.where((d_ref > t) | (d_im > t) | (d_om > t), 1.0, np.nan)
    d_im_ref, d_om_ref = d_im * mask / (d_ref * mask), d_om * mask / (d_ref * mask)
    # correctness.tc_hallucination / tc_omission / tc_improvement
    h = d_im_ref + d_om_ref - 1
    ha = np.exp(-d_im_ref * d_om_ref * OSR["ha_score"])
    om = d_om_ref + d_im_ref * (1 - np.exp(-h * OSR["om_score"]))
    im = d_im_ref + d_om_ref * (1 - np.exp(-h * OSR["im_score"]))
    # correctness.get_correctness_stats with softmin(T = correctness_temperature)
    stack = np.exp(-np.stack([im, om, ha]) / OSR["temperature"])
    stack = stack / stack.sum(axis=0)
    return {"improvement": float(np.nanmean(stack[0])), "omission": float(np.nanmean(stack[1])),
            "hallucination": float(np.nanmean(stack[2])),
            "masked_fraction": float(np.isnan(mask).mean())}


def run_metrics(names: list[str], methods: list[str]) -> dict:
    """opensr-test correctness per scene, group and method at x4 Wald, fitted degradation."""
    from s2_superres.core.evaluate import degrade_scene, run_on_scene
    from s2_superres.core.tile import RunOptions

    options = RunOptions(steps=8, seed=0)
    per_scene: dict = {}
    seconds: dict = {}
    for name, scene in scenes(names).items():
        s4 = scene.crop_to_multiple(4)
        low = degrade_scene(s4, 4, None)
        for m in methods:
            t = time.perf_counter()
            out = run_on_scene(low, m, options)      # 2.5 m on the degraded grids = 10 m on the ground
            seconds[f"{name} {m}"] = round(time.perf_counter() - t, 2)
            for res, bands in ((10, GROUP_10), (20, GROUP_20), (60, GROUP_60)):
                sr = np.stack([to_grid(out[b], res // 10) for b in bands])
                per_scene.setdefault(name, {}).setdefault(f"{res}m", {})[m] = opensr_correctness(
                    low.groups[res], sr[:, : s4.groups[res].shape[1], : s4.groups[res].shape[2]], s4.groups[res])
            print(f"done metrics {name} {m} {seconds[f'{name} {m}']} s", file=sys.stderr, flush=True)
    groups = ("10m", "20m", "60m")
    mean = {g: {m: {key: round(float(np.mean([per_scene[s][g][m][key] for s in per_scene])), 4)
                    for key in ("improvement", "omission", "hallucination")} for m in methods} for g in groups}
    return {"setting": "x4 Wald, fitted degradation; opensr-test 1.3.3 correctness re-implemented "
                       "(nd distance, pixel level, border 16, softmin T=0.25, scores 0.05, threshold auto75; "
                       "spectral harmonisation only)",
            "methods": methods, "scenes": per_scene, "mean": mean, "seconds": seconds}


# ---------------------------------------------------------------------------------------------- tables
def fidelity_markdown(fid: dict) -> str:
    lines = []
    cols = None
    for d, block in fid["degradations"].items():
        for group, setting in (("20m", "x2, 40 -> 20 m"), ("60m", "x6, 360 -> 60 m"), ("10m", "x2, 20 -> 10 m")):
            row = block["mean"][group]
            if cols is None:
                cols = list(dict.fromkeys([*fid["methods"], *AESR, "CARN-light"]))
                head = " | ".join(f"{c} RMSE" for c in cols)
                lines = [f"| degradation | group (setting) | {head} | fast / best AESR | target | fast / target peer"
                         " | met |", "| --- " * (len(cols) + 6) + "|"]
            vals = [f"{row['rmse_dn'][c]:.1f}" if c in row["rmse_dn"] else "" for c in cols]
            r_best = row.get("ratio_to_best_aesr", {}).get("fast")
            tgt = row["target"]
            lines.append(f"| {d} | {group} ({setting}) | " + " | ".join(vals)
                         + f" | {'' if r_best is None else format(r_best, '.3f')}"
                         + f" | <= {tgt['max_ratio']} x {tgt['peer']} | {tgt['fast_ratio']} | "
                         + ("yes" if tgt["met"] else "no") + " |")
    return "\n".join(lines)


def metrics_markdown(met: dict) -> str:
    lines = ["| group | " + " | ".join(f"{m} improvement / omission / hallucination" for m in met["methods"]) + " |",
             "| --- " * (1 + len(met["methods"])) + "|"]
    for g, row in met["mean"].items():
        lines.append(f"| {g} | " + " | ".join(
            f"{row[m]['improvement']:.3f} / {row[m]['omission']:.3f} / {row[m]['hallucination']:.3f}"
            for m in met["methods"]) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenes", default="usa,coastalA,mock_crop")
    p.add_argument("--degradations", default=",".join(DEGRADATIONS))
    p.add_argument("--methods", default="bicubic,fast", help="project presets in the fidelity table")
    p.add_argument("--metrics", action="store_true", help="also the opensr-test correctness scores")
    p.add_argument("--metric-methods", default="bicubic,fast")
    p.add_argument("--no-fidelity", action="store_true")
    p.add_argument("--json", type=Path, default=JSON)
    args = p.parse_args()
    from training.fusion_data import DATA
    if not DATA.is_dir():
        print(f"bench.peers: {DATA} not found (the held-out scenes live in ../shared/data). Skipping.", file=sys.stderr)
        return
    names = args.scenes.split(",")
    results = json.loads(args.json.read_text()) if args.json.is_file() else {}
    t0 = time.perf_counter()
    fid = None
    if not args.no_fidelity:
        fid = run_fidelity(names, args.degradations.split(","), args.methods.split(","))
        if fid is not None:
            fid["seconds_total"] = round(time.perf_counter() - t0, 1)
            results["fidelity"] = fid
    if args.metrics:
        t1 = time.perf_counter()
        results["opensr_test"] = run_metrics(names, args.metric_methods.split(","))
        results["opensr_test"]["seconds_total"] = round(time.perf_counter() - t1, 1)
    if fid is None and not args.metrics:
        return                                         # nothing ran: leave the JSON as it was
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    if "fidelity" in results:
        print("RMSE (DN), mean over the held-out scenes of the mean over each group's bands\n")
        print(fidelity_markdown(results["fidelity"]))
    if "opensr_test" in results:
        print("\nopensr-test correctness (x4 Wald, fitted), mean over the held-out scenes\n")
        print(metrics_markdown(results["opensr_test"]))


if __name__ == "__main__":
    main()
