"""bench.peers plumbing on synthetic arrays (no model, no data): grid alignment, borders, RMSE, the
opensr-test re-implementation's bookkeeping, and the clean skip without ../shared."""
from __future__ import annotations

import numpy as np
import pytest

from bench import peers
from s2_superres.core.degrade import wald_degrade


def test_to_grid_block_average_keeps_the_corner():
    fine = np.arange(8 * 12, dtype=np.float32).reshape(8, 12)
    coarse = peers.to_grid(fine, 4)
    assert coarse.shape == (2, 3)
    assert coarse[0, 0] == pytest.approx(fine[:4, :4].mean())
    assert coarse[1, 2] == pytest.approx(fine[4:, 8:].mean())
    assert np.array_equal(peers.to_grid(fine, 1), fine)


def test_a_piecewise_constant_image_comes_back_exactly_on_the_coarse_grid():
    """An image constant on 20 m blocks, sampled at 5 m, block-averaged 4 x 4 onto 20 m: zero RMSE; one 5 m
    pixel of shift shows up."""
    rng = np.random.default_rng(0)
    ref = rng.random((2, 6, 6)).astype(np.float32)
    fine = np.repeat(np.repeat(ref, 4, axis=1), 4, axis=2)
    assert peers.rmse_dn(ref, np.stack([peers.to_grid(b, 4) for b in fine]), 1) == pytest.approx([0, 0], abs=1e-3)
    shifted = np.roll(fine, 1, axis=2)
    assert min(peers.rmse_dn(ref, np.stack([peers.to_grid(b, 4) for b in shifted]), 1)) > 100


def test_rmse_cuts_the_same_border_and_drops_trailing_pixels():
    ref = np.zeros((1, 10, 10), np.float32)
    est = np.zeros((1, 11, 12), np.float32)
    est[0, 0, :] = 1.0                   # an error in the border only
    est[0, 10, :] = 1.0                  # and in a trailing row beyond the reference
    assert peers.rmse_dn(ref, est, 1) == [0.0]
    est[0, 5, 5] = 0.01
    assert peers.rmse_dn(ref, est, 1)[0] == pytest.approx(100 * np.sqrt(1 / 64), rel=1e-4)
    with pytest.raises(ValueError):
        peers.rmse_dn(ref, est[:, :9], 0)


def test_crop_border():
    a = np.ones((3, 7, 9))
    assert peers.crop_border(a, 2).shape == (3, 3, 5)
    assert peers.crop_border(a, 0) is a


def test_match_histograms_maps_onto_the_reference_values():
    rng = np.random.default_rng(1)
    src = rng.random((2, 16, 16))
    ref = rng.random((2, 16, 16)) * 3 + 1
    out = peers._match_histograms(src, ref)
    assert np.allclose(np.sort(out, axis=None), np.sort(ref, axis=None))
    assert np.array_equal(np.argsort(out[0], axis=None), np.argsort(src[0], axis=None))


def test_opensr_correctness_scores_sum_to_one_and_rank_a_perfect_result_as_improvement():
    pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    hr = (0.1 + 0.2 * rng.random((4, 64, 64))).astype(np.float32)
    lr = wald_degrade(hr, 4)
    perfect = peers.opensr_correctness(lr, hr.copy(), hr)
    assert sum(perfect[k] for k in ("improvement", "omission", "hallucination")) == pytest.approx(1, abs=1e-6)
    from s2_superres.core.resample import upsample_bicubic
    blurry = peers.opensr_correctness(lr, upsample_bicubic(lr, 4), hr)
    assert perfect["improvement"] > blurry["improvement"]
    assert blurry["omission"] > perfect["omission"]


def test_missing_peers_skip_with_a_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(peers, "PEERS", tmp_path / "absent")
    assert peers.load_dsen2_ref() is None
    assert peers.run_fidelity(["usa"], ["fitted"], ["bicubic"]) is None
    assert "../shared/peers" in capsys.readouterr().err


def test_band_order_for_dsen2_ref():
    from s2_superres.core.bands import GROUP_10
    assert [GROUP_10[i] for i in peers.DSEN2_10] == ["B04", "B03", "B02", "B08"]
