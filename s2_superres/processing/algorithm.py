"""Processing algorithm 's2superres:superresolve': the same core pipeline as the dock."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingLayerPostProcessorInterface, QgsProcessingOutputRasterLayer,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum, QgsProcessingParameterExtent,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterString)

from ..core.bands import OUTPUT_RESOLUTION, PIXEL_SIZES, pixel_label
from ..core.errors import Cancelled, UserError, cancellable, printable
from ..core.extent import Extent
from ..core.gdal_env import gdal_scope
from ..core.remote import private_hosts
from ..core.tile import RunOptions
from ..core.methods.registry import PRESETS, check_pixel_size
from ..core.runtime import BAND_CHOICES, DEVICES, default_preset, preset_availability, providers_for
from ..qgis_compat import ADVANCED_PARAMETER, NUMBER_DOUBLE, NUMBER_INTEGER, RASTER_SOURCE
from ..qgis_layers import layer_path
from ..qgis_results import product_label, sources_of

BAND_SETS = tuple(BAND_CHOICES.items())
DEVICE_CHOICES = tuple(DEVICES)      # auto, cpu, gpu
#: the PIXEL_SIZE choices: core.bands.PIXEL_SIZES as labels ("10 m", ..., "2.5 m", ..., "2 m"); default 2.5 m
PIXEL_SIZE_CHOICES = tuple(f"{pixel_label(p)} m" for p in PIXEL_SIZES)
DEFAULT_PIXEL_SIZE_INDEX = PIXEL_SIZES.index(OUTPUT_RESOLUTION)


class SuperResolveAlgorithm(QgsProcessingAlgorithm):
    """Super-resolve the bands of one Sentinel-2 product over an extent to a GeoTIFF of 2.5 m (or another
    PIXEL_SIZE) pixels."""

    INPUT, PRODUCT, EXTENT, PRESET, STEPS, SEED, BANDS, UNCERTAINTY, TILE, DEVICE, OFFSET, OUTPUT, STD = (
        "INPUT", "PRODUCT", "EXTENT", "PRESET", "STEPS", "SEED", "BANDS", "UNCERTAINTY", "TILE", "DEVICE", "OFFSET",
        "OUTPUT", "UNCERTAINTY_OUTPUT")
    OTHER_DATES, TARGET_DATE, FILL_CLOUDS = "OTHER_DATES", "TARGET_DATE", "FILL_CLOUDS"
    PIXEL_SIZE = "PIXEL_SIZE"
    ALLOW_PRIVATE_HOSTS = "ALLOW_PRIVATE_HOSTS"
    CONFIRM = "CONFIRM_LARGE"

    def createInstance(self) -> "SuperResolveAlgorithm":  # noqa: N802
        return SuperResolveAlgorithm()

    def name(self) -> str:
        return "superresolve"

    def displayName(self) -> str:  # noqa: N802
        return "Super-resolve Sentinel-2 extent"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Super-resolves a Sentinel-2 product to 2.5 m pixels (or another Pixel size).\n\n"
                "Input: the layers of one product: the 10m/20m/60m subdatasets QGIS offers for a .SAFE folder or "
                "zip, one multi-band raster whose band descriptions name the bands (B02, B8A, ...), or the "
                "single-band rasters of one product whose file names end in the band id (…_B04.jp2, also inside "
                "a zip). Or, instead of layers, Product: a .SAFE folder, a zip, or a STAC item (JSON file or "
                "http(s) URL).\n"
                "Offset: DN added before dividing by 10000; empty = read from the product (MTD_MSIL*.xml, tags, "
                "_N0400_ in the name; -1000 from processing baseline 04.00). The log says what was found.\n"
                "Device: onnxruntime on the GPU (CUDA) when 'auto' or 'gpu' and available, else the CPU.\n"
                "Extent: the area to process (any CRS; it is snapped outward to the 60 m grid). Empty = the "
                "whole product.\nPreset: 'fast', 'diffusion' (uses Steps, Seed and Uncertainty), 'bicubic' "
                "or 'hpf' (references without a model, always available: bicubic, and bicubic with HPF "
                "pansharpening of the 20 m and 60 m bands; the others need onnxruntime).\nPixel size: 60 m / n, "
                "10 m down to 2 m (default 2.5 m); bicubic and spacetime make every size, fast, diffusion and hpf "
                "only 2.5 m.\nOutput: float32 GeoTIFF of "
                "reflectance, one band per Sentinel-2 band, band descriptions = band ids, nodata NaN.\n"
                "Other dates: further acquisitions of the same tile, one entry per date (a product path, or one "
                "multi-band layer); they need a preset that uses several dates. Target date (YYYY-MM-DD, empty = "
                "the input's date): a date between two acquisitions is synthesised, and the output's name "
                "(_synthesised_YYYY-MM-DD) and tags say so. Fill clouds: let the other dates fill the target's "
                "cloudy pixels.\nStart large runs without asking: a run estimated over 10 minutes, or an extent "
                "far larger than the product (e.g. the whole world), is refused with its estimate unless this is "
                "checked.")

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, "Sentinel-2 band layer(s) of one product", RASTER_SOURCE, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.PRODUCT, "Or a product path or URL (.SAFE folder, zip, STAC item)", optional=True))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Extent (empty = whole product)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.OTHER_DATES, "Other dates of the same tile (one product or layer per date)", RASTER_SOURCE,
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.TARGET_DATE, "Target date YYYY-MM-DD (empty = the input's date)", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.FILL_CLOUDS, "Fill the target's cloudy pixels from the other dates", defaultValue=False))
        self.addParameter(QgsProcessingParameterEnum(self.PRESET, "Preset", options=list(PRESETS),
                                                     defaultValue=PRESETS.index(default_preset())))
        self.addParameter(QgsProcessingParameterEnum(self.PIXEL_SIZE, "Pixel size (bicubic: any; the others: 2.5 m)",
                                                     options=list(PIXEL_SIZE_CHOICES),
                                                     defaultValue=DEFAULT_PIXEL_SIZE_INDEX))
        self.addParameter(QgsProcessingParameterNumber(self.STEPS, "Sampling steps (diffusion)",
                                                       NUMBER_INTEGER, 8, False, 1, 100))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Random seed (diffusion)",
                                                       NUMBER_INTEGER, 0, False, 0))
        self.addParameter(QgsProcessingParameterEnum(self.BANDS, "Output bands",
                                                     options=[label for label, _ in BAND_SETS], defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(
            self.UNCERTAINTY, "Estimate uncertainty (diffusion: 4 samples, std written beside the output as *_std.tif)",
            defaultValue=False))
        self.addParameter(QgsProcessingParameterNumber(self.TILE, "Tile size (10 m pixels)",
                                                       NUMBER_INTEGER, 288, False, 48, 768))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", options=list(DEVICE_CHOICES),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.OFFSET, "DN offset (empty = from the product; -1000 from baseline 04.00)",
            NUMBER_DOUBLE, optional=True, minValue=-10000, maxValue=10000))
        private = QgsProcessingParameterBoolean(
            self.ALLOW_PRIVATE_HOSTS, "Allow private network hosts (a STAC item on a local catalogue: loopback, "
            "private and link-local addresses, refused by default)", defaultValue=False, optional=True)
        private.setFlags(private.flags() | ADVANCED_PARAMETER)
        self.addParameter(private)
        self.addParameter(QgsProcessingParameterBoolean(
            self.CONFIRM, "Start large runs without asking (over 10 minutes, or an extent far larger than the product)",
            defaultValue=False))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Super-resolved"))
        self.addOutput(QgsProcessingOutputRasterLayer(self.STD, "Uncertainty (std of the samples)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        with gdal_scope(), private_hosts(self.parameterAsBoolean(parameters, self.ALLOW_PRIVATE_HOSTS, context)):
            return self._process(parameters, context, feedback)

    def _process(self, parameters, context, feedback) -> dict:
        from ..core.methods.registry import create_method
        from ..core.pipeline import superresolve
        from ..core.sources import open_product
        inputs = self._inputs(parameters, context)
        preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
        bands = BAND_SETS[self.parameterAsEnum(parameters, self.BANDS, context)][1]
        device = DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        pixel_size = self.pixel_size(parameters, context)
        options = RunOptions(steps=self.parameterAsInt(parameters, self.STEPS, context),
                             seed=self.parameterAsInt(parameters, self.SEED, context),
                             samples=4 if self.parameterAsBoolean(parameters, self.UNCERTAINTY, context) else 1,
                             providers=providers_for(device), pixel_size=pixel_size,
                             fill_clouds=self.parameterAsBoolean(parameters, self.FILL_CLOUDS, context))
        offset = self._offset(parameters, context)
        output = Path(self.parameterAsOutputLayer(parameters, self.OUTPUT, context))
        why = preset_availability().get(preset)
        if why:
            raise QgsProcessingException(f"Preset '{preset}' is not available: {why}. Use 'bicubic'.")
        try:
            check_pixel_size(preset, pixel_size)   # before any input is opened or model loaded
            product = open_product(inputs if len(inputs) > 1 else inputs[0], offset=offset,
                                   **self._extent_as_given(parameters, context))
            feedback.pushInfo(f"{len(product.bands)} band(s) of {product_label(inputs)}; "
                              f"level {product.level or 'unknown'}, "
                              f"processing baseline {product.baseline or 'unknown'}, offset {product.offset:g} DN "
                              f"({printable(product.offset_origin)}), quantification "
                              f"{product.quantification:g}; preset "
                              f"{preset}, pixel size {pixel_label(pixel_size)} m, device {device}.")
            for note in product.notes:
                feedback.pushWarning(printable(note))
            extent = self._extent(parameters, context, product.crs_wkt)
            method = create_method(preset, bands, providers=options.providers)
            stack = self._stack(parameters, context, feedback, product, method, offset, options.fill_clouds)
            with cancellable(feedback.isCanceled):     # stops inside a tile too (model passes, the COG copy)
                result = superresolve(product, method, output, extent=extent, bands=bands, options=options,
                                      tile=self.parameterAsInt(parameters, self.TILE, context), overwrite=True,
                                      progress=lambda f: feedback.setProgress(100.0 * f),
                                      is_cancelled=feedback.isCanceled, stack=stack,
                                      confirmed=self.parameterAsBoolean(parameters, self.CONFIRM, context))
        except Cancelled:
            raise QgsProcessingException("Cancelled by the user; nothing was written.") from None
        except UserError as exc:
            raise QgsProcessingException(printable(exc)) from None
        for note in result.notes:
            feedback.pushWarning(note)
        feedback.pushInfo(f"Wrote {result.output} ({result.tiles} tile(s), {result.seconds:.1f} s).")
        if result.output != output:   # a synthesised date: load the file under its real name
            layers = context.layersToLoadOnCompletion()
            if str(output) in layers:
                layers[str(result.output)] = layers.pop(str(output))
                context.setLayersToLoadOnCompletion(layers)
        if context.willLoadLayerOnCompletion(str(result.output)):
            details = context.layerToLoadOnCompletionDetails(str(result.output))
            layers = self.parameterAsLayerList(parameters, self.INPUT, context)
            details.setPostProcessor(TrueColour.create(sources_of(product, layers), product_label(inputs), preset,
                                                       product.offset, pixel_size))
        return {self.OUTPUT: str(result.output), self.STD: str(result.uncertainty) if result.uncertainty else None}

    def pixel_size(self, parameters, context) -> float:
        """The chosen output pixel size in metres (core.bands.PIXEL_SIZES; 2.5 when not given)."""
        if parameters.get(self.PIXEL_SIZE) in (None, ""):
            return OUTPUT_RESOLUTION
        return PIXEL_SIZES[self.parameterAsEnum(parameters, self.PIXEL_SIZE, context)]

    def _inputs(self, parameters, context) -> list[str]:
        """The product path/URL if given, else what GDAL opens for each input layer."""
        product = (self.parameterAsString(parameters, self.PRODUCT, context) or "").strip()
        if product:
            return [product]
        layers = self.parameterAsLayerList(parameters, self.INPUT, context)
        paths = [p for p in (layer_path(lyr) for lyr in layers) if p]
        if not paths:
            raise QgsProcessingException("No file-based raster layer given: pass the layers of one Sentinel-2 "
                                         "product (its 10m/20m/60m subdatasets, its band files, or one multi-band "
                                         "raster with band descriptions), or a .SAFE/zip/STAC item as Product.")
        return paths

    def _stack(self, parameters, context, feedback, product, method, offset: float | None, fill_clouds: bool):
        """The TimeStack of the input and OTHER_DATES (core.timestack), or None for a single date."""
        from ..core.timestack import open_stack
        others = self._other_dates(parameters, context)
        target = self._target_date(parameters, context)
        if not others:
            if fill_clouds:
                raise QgsProcessingException("Fill clouds needs other dates of the tile: add them as Other dates.")
            if target is not None and target != product.date:
                raise QgsProcessingException(f"Target date {target} is not the input's date "
                                             f"({product.date or 'unknown'}); to synthesise another date, add the "
                                             "acquisitions around it as Other dates.")
            return None
        given = self._extent_as_given(parameters, context)
        stack = open_stack(product, list(others), target, fill_clouds, method, offset, given.get("extent"),
                           given.get("extent_crs"))
        feedback.pushInfo(f"Dates {', '.join(d.isoformat() for d in stack.dates)}; target {stack.target} "
                          f"({stack.kind}); bands read from {stack.dates[stack.reference_index]}.")
        for note in stack.notes:
            feedback.pushWarning(note)
        return stack

    def _other_dates(self, parameters, context) -> list[str]:
        """One GDAL path per other date: paths and URLs as given, layers as what GDAL opens for them."""
        value = parameters.get(self.OTHER_DATES) or []
        paths: list[str] = []
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and (os.path.exists(item) or item.startswith(("/vsi", "http://", "https://",
                                                                                     "SENTINEL2_"))):
                paths.append(item)
                continue
            layers = self.parameterAsLayerList({self.OTHER_DATES: [item]}, self.OTHER_DATES, context)
            paths.extend(p for p in (layer_path(lyr) for lyr in layers) if p)
        return paths

    def _target_date(self, parameters, context) -> dt.date | None:
        text = (self.parameterAsString(parameters, self.TARGET_DATE, context) or "").strip()
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise QgsProcessingException(f"Target date '{text}' is not a date: write it as YYYY-MM-DD.") from None

    def _offset(self, parameters, context) -> float | None:
        """The user's DN offset, or None (detect it) when the parameter is empty."""
        if parameters.get(self.OFFSET) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, self.OFFSET, context)

    def _extent_as_given(self, parameters, context) -> dict:
        """The extent in its own CRS, as open_product's ``extent``/``extent_crs`` (it picks the granule of a
        multi-granule product); {} when none is given."""
        if parameters.get(self.EXTENT) in (None, ""):
            return {}
        crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
        rect = self.parameterAsExtent(parameters, self.EXTENT, context, crs)
        if rect.isNull() or rect.isEmpty():
            return {}
        return {"extent": Extent(rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()),
                "extent_crs": crs.toWkt() if crs.isValid() else None}

    def _extent(self, parameters, context, crs_wkt: str) -> Extent | None:
        if parameters.get(self.EXTENT) in (None, ""):
            return None
        rect = self.parameterAsExtent(parameters, self.EXTENT, context, QgsCoordinateReferenceSystem.fromWkt(crs_wkt))
        if rect.isNull() or rect.isEmpty():
            return None
        return Extent(rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())


class TrueColour(QgsProcessingLayerPostProcessorInterface):
    """Names and renders the loaded result like the dock (qgis_results): '<product> <preset> <p> m', true colour
    with the source layers' stretch, no .aux.xml beside it."""

    instance = None   # Processing does not keep a reference: keep the live one here

    @classmethod
    def create(cls, sources: dict | None = None, label: str = "", preset: str = "",
               offset: float = 0.0, pixel_size: float = OUTPUT_RESOLUTION) -> "TrueColour":
        cls.instance = TrueColour()
        cls.instance.source_ids = {b: (lyr.id(), i) for b, (lyr, i) in (sources or {}).items()}
        cls.instance.label, cls.instance.preset, cls.instance.offset = label, preset, offset
        cls.instance.pixel_size = pixel_size
        return cls.instance

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 - QGIS API
        from qgis.core import QgsProject
        from ..qgis_results import layer_name, reopen_without_side_file, style_like_sources
        if layer is None:
            return
        reopen_without_side_file(layer)
        if self.preset:
            layer.setName(layer_name(self.label, self.preset, self.pixel_size))
        project = QgsProject.instance()
        sources = {b: (project.mapLayer(i), k) for b, (i, k) in self.source_ids.items() if project.mapLayer(i)}
        style_like_sources(layer, sources, self.offset)
