"""The rendering helpers live in the plugin's top-level ``qgis_render`` (Processing uses them too, without ui)."""
from ..qgis_render import (COMBINATIONS, QUANTIFICATION, TRUE_COLOUR, apply_rgb,  # noqa: F401 - re-exported
                           cumulative_range, renderer_range, rgb_indices, source_reflectance_range)
