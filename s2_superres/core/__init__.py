"""Sentinel-2 super-resolution core: plain Python, numpy, GDAL and onnxruntime (no Qt, no QGIS)."""
