#!/usr/bin/env bash
# The test of the built zip in a real QGIS (tests/test_zip_in_qgis.py), on this machine's QGIS or in a
# Debian root made by .ci/debian_root.sh (another QGIS version, run through .ci/in_root.sh):
#   .ci/zip_test.sh                                   this machine's QGIS (Debian 12: 3.22), `make test-zip`
#   .ci/zip_test.sh /var/cache/s2_superres/trixie     QGIS 3.40 (Python 3.13)
#   .ci/zip_test.sh /var/cache/s2_superres/sid        QGIS 3.44 (Python 3.14)
# In a root the test runs in VENV (default .venv-zip-<root's name>): taken as it is when it exists (e.g.
# VENV=.venv-trixie, made by `make .venv-trixie/.installed VENV=.venv-trixie`), else made here with only
# pytest, pytest-qgis and onnxruntime (the test copies onnxruntime into the plugin's private folder; where
# PyPI has no onnxruntime for the root's Python, the test's "fast" check is skipped with that reason).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --inside ]; then
  venv=$2
  [ -x "$venv/bin/python" ] || python3 -m venv --system-site-packages "$venv"
  if ! "$venv/bin/python" -c 'import pytest, pytest_qgis' 2>/dev/null; then
    "$venv/bin/python" -c 'import numpy; print("numpy==" + numpy.__version__)' > "$venv/constraints.txt"
    "$venv/bin/pip" install -q -c "$venv/constraints.txt" 'pytest>=7' 'pytest-qgis>=2'
    "$venv/bin/pip" install -q -c "$venv/constraints.txt" "$(grep -o '^onnxruntime[^ #]*' requirements.txt)" ||
      echo "zip_test: no onnxruntime for $("$venv/bin/python" -V): the fast check will be skipped"
  fi
  QT_QPA_PLATFORM=offscreen exec "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests/test_zip_in_qgis.py
fi
if [ $# -eq 0 ]; then
  exec make test-zip
fi
root=$1
exec .ci/in_root.sh "$root" .ci/zip_test.sh --inside "${VENV:-.venv-zip-$(basename "$root")}"
