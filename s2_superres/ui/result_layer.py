"""The dock's result layer: named and styled as qgis_results does it for every path (dock and Processing),
with the run's method, steps, seed and source in its metadata, in the 'Super-resolution' group.
"""
from __future__ import annotations

from qgis.core import QgsLayerMetadata, QgsProject, QgsRasterLayer

from ..core.bands import OUTPUT_BANDS, pixel_label
from ..core.pipeline import RunResult
from ..qgis_results import (Sources, layer_name, open_result_layer,  # noqa: F401 - open_result_layer for the task
                            style_like_sources, true_colour_ranges)
from .layers import BandRef

GROUP_NAME = "Super-resolution"


def sources_of_refs(refs: dict[str, BandRef], project: QgsProject) -> Sources:
    """The dock's mapping as qgis_results.Sources: {band: (project layer, band index)} of the layers present."""
    found = {band: (project.mapLayer(ref.layer_id), ref.index) for band, ref in refs.items()}
    return {band: (lyr, i) for band, (lyr, i) in found.items() if isinstance(lyr, QgsRasterLayer)}


def shared_stretch(refs: dict[str, BandRef], offset: float, project: QgsProject,
                   fallback: QgsRasterLayer | None = None) -> list[tuple[float, float]] | None:
    """The true-colour stretch of the mapped source layers, in reflectance (qgis_results.true_colour_ranges)."""
    return true_colour_ranges(sources_of_refs(refs, project), offset, fallback)


def result_metadata(meta: QgsLayerMetadata, result: RunResult, preset: str, steps: int, seed: int,
                    source_name: str = "") -> QgsLayerMetadata:
    """Record method, steps, seed and source in the layer metadata (abstract + keywords)."""
    tags = result.tags
    method = tags.get("SR_METHOD", preset)
    size = f"{pixel_label(result.pixel_size)} m"
    meta.setTitle(f"Sentinel-2 super-resolved to {size} ({method})")
    meta.setAbstract(
        f"Super-resolved to {size} by {tags.get('SR_SOFTWARE', 's2-superres')} with method '{method}' "
        f"(preset {preset}, steps {steps}, seed {seed}) from "
        f"{source_name or tags.get('SR_SOURCE', '')}.\nBands: {', '.join(result.bands)} (reflectance). "
        f"Extent: {tags.get('SR_EXTENT', '')}. Created {tags.get('SR_CREATED', '')}.")
    meta.addKeywords("s2-superres", [f"method={method}", f"preset={preset}", f"steps={steps}", f"seed={seed}",
                                     f"source={tags.get('SR_SOURCE', '')}"])
    return meta


def prepare_result_layer(layer: QgsRasterLayer, result: RunResult, product: str, preset: str,
                         refs: dict[str, BandRef], offset: float, project: QgsProject, steps: int = 8,
                         seed: int = 0, source_name: str = "",
                         ranges: list[tuple[float, float]] | None = None) -> QgsRasterLayer:
    """Name, style and describe a result layer: true colour with ``ranges`` (reflectance) when given, else the
    stretch of the source layers of ``refs`` in ``project``, else the result's own 2-98 % cut."""
    layer.setName(layer_name(product, preset, result.pixel_size))
    style_like_sources(layer, sources_of_refs(refs, project), offset, ranges)
    layer.setMetadata(result_metadata(layer.metadata(), result, preset, steps, seed, source_name))
    return layer


def output_bands_only(mapping: dict[str, BandRef]) -> dict[str, BandRef]:
    """The mapping without bands the output does not use (B10, the cirrus band)."""
    return {b: ref for b, ref in mapping.items() if b in OUTPUT_BANDS}


def distinct_suffix(name: str, project: QgsProject) -> str:
    """'' when no layer of ``project`` is called ``name``, else the first free ' (2)', ' (3)' …: distinct
    results get distinct layer names."""
    names = {lyr.name() for lyr in project.mapLayers().values()}
    k, suffix = 1, ""
    while name + suffix in names:
        k += 1
        suffix = f" ({k})"
    return suffix


def result_group(project: QgsProject):
    """The 'Super-resolution' group at the top of the layer tree (created when missing)."""
    root = project.layerTreeRoot()
    return root.findGroup(GROUP_NAME) or root.insertGroup(0, GROUP_NAME)
