"""The result layer, made the same way on every path (dock and Processing): name, style, metadata.

A result is named after its source product, preset and pixel size (ui.outputs.layer_name), drawn
in true colour with the stretch of the source layers converted to reflectance (so the result looks
like its source on the map), and carries the run's method, steps, seed and source in its metadata.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from osgeo import gdal
from qgis.core import QgsDataProvider, QgsLayerMetadata, QgsProject, QgsRasterLayer

from ..core.bands import OUTPUT_BANDS
from ..core.errors import UserError
from ..core.pipeline import RunResult
from .layers import BandRef, auto_map, band_descriptions, layer_path
from .outputs import layer_name, product_label
from .render import TRUE_COLOUR, apply_rgb, cumulative_range, rgb_indices, source_reflectance_range

GROUP_NAME = "Super-resolution"


@contextmanager
def no_side_files():
    """Open rasters without GDAL's PAM side file (``.aux.xml``) in this thread: QGIS's default stretch
    computes histograms on open, which GDAL would otherwise cache beside the result (megabytes per file)."""
    old = gdal.GetThreadLocalConfigOption("GDAL_PAM_ENABLED", None)
    gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", "NO")
    try:
        yield
    finally:
        gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", old)


def open_result_layer(path: Path, name: str) -> QgsRasterLayer:
    """A layer of the raster at ``path`` (no .aux.xml side file); raises UserError when QGIS cannot open it."""
    with no_side_files():
        layer = QgsRasterLayer(str(path), name, "gdal")
    if not layer.isValid():
        raise UserError(f"QGIS cannot open the result '{path}'.")
    return layer


def reopen_without_side_file(layer: QgsRasterLayer) -> None:
    """Reopen a result layer that someone else opened (Processing) without GDAL's PAM, and remove the
    histogram cache the first opening wrote beside the file when it closed."""
    aux = Path(layer.source() + ".aux.xml")
    with no_side_files():
        layer.setDataSource(layer.source(), layer.name(), "gdal", QgsDataProvider.ProviderOptions())
    aux.unlink(missing_ok=True)


def shared_stretch(refs: dict[str, BandRef], offset: float, project: QgsProject,
                   fallback: QgsRasterLayer | None = None) -> list[tuple[float, float]] | None:
    """Per channel of true colour: the source layer's renderer range in reflectance (the stretch the
    main map shows the source with), or the 2-98 % cut of ``fallback`` where a source layer is gone."""
    ranges = []
    for k, band in enumerate(TRUE_COLOUR):
        ref = refs.get(band)
        source = project.mapLayer(ref.layer_id) if ref else None
        if isinstance(source, QgsRasterLayer) and source.isValid():
            ranges.append(source_reflectance_range(source, ref.index, offset))
        elif fallback is not None:
            index = rgb_indices(band_descriptions(fallback.source()), TRUE_COLOUR)
            if index is None:
                return None
            ranges.append(cumulative_range(fallback, index[k]))
        else:
            return None
    return ranges


def style_like_source(layer: QgsRasterLayer, refs: dict[str, BandRef], offset: float,
                      project: QgsProject) -> None:
    """True colour (B04, B03, B02) with the min/max of the source layers' renderers, in reflectance."""
    rgb = rgb_indices(band_descriptions(layer.source()), TRUE_COLOUR)
    if rgb is None:
        return  # no true colour in this output: keep the QGIS default rendering
    ranges = shared_stretch(refs, offset, project, fallback=layer)
    if ranges is not None:
        apply_rgb(layer, rgb, ranges)


def result_metadata(meta: QgsLayerMetadata, result: RunResult, preset: str, steps: int, seed: int,
                    source_name: str = "") -> QgsLayerMetadata:
    """Record method, steps, seed and source in the layer metadata (abstract + keywords)."""
    tags = result.tags
    method = tags.get("SR_METHOD", preset)
    meta.setTitle(f"Sentinel-2 super-resolved to 2.5 m ({method})")
    meta.setAbstract(
        f"Super-resolved to 2.5 m by {tags.get('SR_SOFTWARE', 's2-superres')} with method '{method}' "
        f"(preset {preset}, steps {steps}, seed {seed}) from "
        f"{source_name or tags.get('SR_SOURCE', '')}.\nBands: {', '.join(result.bands)} (reflectance). "
        f"Extent: {tags.get('SR_EXTENT', '')}. Created {tags.get('SR_CREATED', '')}.")
    meta.addKeywords("s2-superres", [f"method={method}", f"preset={preset}", f"steps={steps}", f"seed={seed}",
                                     f"source={tags.get('SR_SOURCE', '')}"])
    return meta


def prepare_result_layer(layer: QgsRasterLayer, result: RunResult, product: str, preset: str,
                         refs: dict[str, BandRef], offset: float, project: QgsProject, steps: int = 8,
                         seed: int = 0, source_name: str = "") -> QgsRasterLayer:
    """Name, style and describe a result layer (shared by the dock's task and the Processing algorithm)."""
    layer.setName(layer_name(product, preset))
    style_like_source(layer, refs, offset, project)
    layer.setMetadata(result_metadata(layer.metadata(), result, preset, steps, seed, source_name))
    return layer


def output_bands_only(mapping: dict[str, BandRef]) -> dict[str, BandRef]:
    """The mapping without bands the output does not use (B10, the cirrus band)."""
    return {b: ref for b, ref in mapping.items() if b in OUTPUT_BANDS}


def style_like_dock(layer: QgsRasterLayer, source_ids: list[str], preset: str, offset: float,
                    project: QgsProject | None = None) -> None:
    """Name and style a result made from the project layers ``source_ids`` exactly as the dock does (for the
    Processing algorithm): '<product> <preset> 2.5 m', true colour with the source layers' stretch."""
    project = project or QgsProject.instance()
    reopen_without_side_file(layer)
    sources = [project.mapLayer(i) for i in source_ids]
    sources = [lyr for lyr in sources if isinstance(lyr, QgsRasterLayer) and lyr.isValid()]
    if preset:
        label = product_label(p for p in (layer_path(lyr) for lyr in sources) if p) if sources else None
        layer.setName(layer_name(label or Path(layer.source()).stem, preset))
    style_like_source(layer, output_bands_only(auto_map(sources)), offset, project)


def result_group(project: QgsProject):
    """The 'Super-resolution' group at the top of the layer tree (created when missing)."""
    root = project.layerTreeRoot()
    return root.findGroup(GROUP_NAME) or root.insertGroup(0, GROUP_NAME)
