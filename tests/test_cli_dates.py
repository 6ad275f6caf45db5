"""Several dates on the command line (superresolve --with/--date/--fill-clouds, info --with) and in Processing
(OTHER_DATES, TARGET_DATE, FILL_CLOUDS), on the real Corrientes pair of ../shared/data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from qgis.core import QgsProcessingException

from s2_superres.core.methods.registry import PRESETS
from dates_support import CORRIENTES_DATES, corrientes
from test_processing import ALG, provider  # noqa: F401 - the module-scoped Processing provider fixture

ROOT = Path(__file__).resolve().parents[1]
DEC17, JAN01 = CORRIENTES_DATES


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def test_info_lists_the_date_of_each_input():
    r = _cli("info", corrientes(DEC17), "--with", corrientes(JAN01), "--offset", "-1000")
    assert r.returncode == 0, r.stderr
    assert "date: 2023-12-17" in r.stdout
    assert f"dates:\n  2023-12-17  {corrientes(DEC17)}\n  2024-01-01  {corrientes(JAN01)}" in r.stdout


def test_a_single_date_method_refuses_several_dates(tmp_path):
    out = tmp_path / "o.tif"
    r = _cli("superresolve", corrientes(DEC17), "--with", corrientes(JAN01), "--offset", "-1000", "--method",
             "bicubic", "--bands", "10m", "-o", out)
    assert r.returncode == 2 and "error: Several dates need the spacetime preset: 'bicubic'" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (("--date", "2023-12-24"), "--date 2023-12-24 is not the date of INPUT (2023-12-17); to synthesise"),
    (("--date", "24/12/2023"), "--date '24/12/2023' is not a date: write it as YYYY-MM-DD"),
    (("--fill-clouds",), "--fill-clouds needs other dates of the tile: add them with --with"),
])
def test_date_options_without_other_dates_are_refused(tmp_path, args, message):
    r = _cli("superresolve", corrientes(DEC17), "--offset", "-1000", "--method", "bicubic", "--bands", "10m",
             "-o", tmp_path / "o.tif", *args)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_the_method_is_checked_before_the_other_dates_are_read(tmp_path):
    r = _cli("superresolve", corrientes(DEC17), "--with", corrientes(JAN01), "--date", "2024-03-01", "--offset",
             "-1000", "--method", "bicubic", "-o", tmp_path / "o.tif")
    assert r.returncode == 2 and "Several dates need the spacetime preset" in r.stderr   # the method is checked first


def test_processing_refuses_several_dates_for_a_single_date_preset(provider, tmp_path):  # noqa: F811
    import processing
    with pytest.raises(QgsProcessingException, match="Several dates need the spacetime preset"):
        processing.run(ALG, {"PRODUCT": str(corrientes(DEC17)), "OTHER_DATES": [str(corrientes(JAN01))],
                             "TARGET_DATE": "2023-12-26", "FILL_CLOUDS": True, "OFFSET": -1000,
                             "PRESET": PRESETS.index("bicubic"), "BANDS": 1, "OUTPUT": str(tmp_path / "o.tif")})
    with pytest.raises(QgsProcessingException, match="Target date 2023-12-26 is not the input's date"):
        processing.run(ALG, {"PRODUCT": str(corrientes(DEC17)), "TARGET_DATE": "2023-12-26", "OFFSET": -1000,
                             "PRESET": PRESETS.index("bicubic"), "BANDS": 1, "OUTPUT": str(tmp_path / "o.tif")})
    assert list(tmp_path.iterdir()) == []


def test_processing_takes_other_dates_as_layers(provider, tmp_path):  # noqa: F811
    """A raster layer as the other date is resolved to its file (else the run would go on with one date)."""
    import processing
    from qgis.core import QgsProject, QgsRasterLayer
    layer = QgsRasterLayer(str(corrientes(JAN01)), "2024-01-01")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer, False)   # the project owns the layer and deletes it while QGIS runs
    try:
        with pytest.raises(QgsProcessingException, match="Several dates need the spacetime preset"):
            processing.run(ALG, {"PRODUCT": str(corrientes(DEC17)), "OTHER_DATES": [layer], "OFFSET": -1000,
                                 "PRESET": PRESETS.index("bicubic"), "BANDS": 1, "OUTPUT": str(tmp_path / "o.tif")})
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not (ROOT / "s2_superres" / "models" / "stliif_encoder.json").is_file(),
                    reason="the spacetime model files (models/stliif_*.json) are not here yet")
def test_processing_synthesises_a_date_between_other_dates(provider, tmp_path):  # noqa: F811
    """Processing builds the dates with core.timestack.open_stack, as the command line and the dock do."""
    import processing
    from osgeo import gdal
    from s2_superres.core.bands import PIXEL_SIZES
    out = processing.run(ALG, {"PRODUCT": str(corrientes(DEC17)), "OTHER_DATES": [str(corrientes(JAN01))],
                               "TARGET_DATE": "2023-12-24", "OFFSET": -1000, "PRESET": PRESETS.index("spacetime"),
                               "BANDS": 1, "PIXEL_SIZE": PIXEL_SIZES.index(10.0),
                               "EXTENT": "316000,316360,6960170,6960530 [EPSG:32721]",
                               "OUTPUT": str(tmp_path / "p.tif")})["OUTPUT"]
    assert Path(out).name == "p_synthesised_2023-12-24.tif"
    tags = gdal.Open(out).GetMetadata()
    assert tags["SR_DATES"] == "2023-12-17, 2024-01-01" and tags["SR_TARGET_KIND"].startswith("synthesised")
