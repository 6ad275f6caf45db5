"""Full-scale check of a training checkpoint's fast path: core.fullscale statistics beside bicubic.

    .venv/bin/python -m training.check_lattice training/checkpoints/sr10_v2.pt

Real undegraded 10 m input: 240 x 240 px crops (rows and columns 60-300) of the held-out s2sucnn_usa
and s2sscnn_coastalA. Prints, per crop, the mean over B02/B03/B04/B08 of core.fullscale.band_report
(high-pass std, overshoot and consistency in DN) for bicubic, the raw network output and the output
after core.consistency.project. The lattice ratios of the sr10 training history in models/sr10.json
come from it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core import fullscale
from s2_superres.core.consistency import project
from s2_superres.core.resample import upsample_bicubic
from training.sr10_data import load_scene
from training.sr10_model import RESIDUAL_SCALE, build

DN_KEYS = ("highpass_std", "overshoot", "consistency")


def main() -> None:
    torch.set_num_threads(1)
    ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
    net = build(ck["config"])
    net.load_state_dict(ck["ema"])
    net.eval()
    print("step", ck["step"], "minutes", round(ck["elapsed"] / 60, 1))
    for name in ("s2sucnn_usa", "s2sscnn_coastalA"):
        img = np.ascontiguousarray(load_scene(name)[:, 60:300, 60:300])
        up = upsample_bicubic(img, 4)
        with torch.no_grad():
            z0 = net(torch.zeros(1, *up.shape), torch.from_numpy(img)[None], torch.ones(1))[0].numpy()
        raw = up + RESIDUAL_SCALE * z0
        for tag, x in (("bicubic", up), ("raw", raw), ("fast", project(raw, img, 4))):
            reports = [fullscale.band_report(x[i], img[i], 4, 10) for i in range(4)]
            print(name, tag, {k: round(float(np.mean([r[k] for r in reports])) * (1e4 if k in DN_KEYS else 1), 2)
                              for k in reports[0]})


if __name__ == "__main__":
    main()
