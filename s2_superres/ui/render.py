"""The rendering helpers live in the plugin's top-level ``qgis_render`` (Processing uses them too, without ui)."""
from ..qgis_render import (COMBINATIONS, QUANTIFICATION, TRUE_COLOUR, apply_rgb,  # noqa: F401 - re-exported
                           cumulative_range, renderer_range, rgb_indices, source_reflectance_range)
from ..qgis_layers import band_descriptions  # noqa: E402 - after the re-exports above


def renderer_ranges(layer, combo: tuple[str, ...]) -> list[tuple[float, float]] | None:
    """The renderer's min/max of each band of ``combo`` in ``layer`` (bands found by description), or None."""
    rgb = rgb_indices(band_descriptions(layer.source()), combo)
    ranges = [renderer_range(layer, i) for i in rgb] if rgb else None
    return None if ranges is None or None in ranges else ranges
