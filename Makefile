# The two commands a fresh machine needs (README): `make demo` and `make test`, on Debian 12 (QGIS 3.22)
# or Debian 13 (QGIS 3.40 LTR). Both install what is missing first: Debian's QGIS (apt), a venv on
# Debian's python3 with system site packages (PyQGIS, GDAL, NumPy and SciPy stay Debian's), the pip
# requirements (NumPy pinned to the system's, so pip never replaces it) and the project itself (editable;
# --no-build-isolation needs setuptools in the venv, which Python 3.12+ venvs no longer have).
PLUGIN := s2_superres
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := qgis python3-qgis qgis-providers python3-venv python3-pip python3-scipy xvfb xauth zip
# torch 2.13.0 (training, and the torch-vs-ONNX parity tests) as a CPU wheel exists here for Python 3.11
# only; on other Pythons those tests skip and say so.
TRAIN_REQ = $(shell /usr/bin/python3 -c 'import sys; print("-r requirements-train.txt" if sys.version_info[:2] == (3, 11) else "")')

.PHONY: demo test test-zip lint bench zip clean

$(STAMP): requirements.txt requirements-train.txt requirements-dev.txt pyproject.toml
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES))
	[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -c 'import numpy; print("numpy==" + numpy.__version__)' > $(VENV)/constraints.txt
	$(VENV)/bin/pip install -q -c $(VENV)/constraints.txt 'setuptools>=64' -r requirements.txt -r requirements-dev.txt $(TRAIN_REQ)
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m $(PLUGIN) demo --output-dir out

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -rs -p no:cacheprovider tests

# only the test of the built zip in a real QGIS window (also part of `make test`); QGIS_EXECUTABLE=qgis by default.
# In a Debian root (QGIS 3.40, 3.44): .ci/zip_test.sh ROOT
test-zip: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -rs -p no:cacheprovider tests/test_zip_in_qgis.py

# ruff (style, pyflakes, bugbear, naming) on the whole tree, mypy on the core; settings in pyproject.toml
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m bench.run

# The zip QGIS installs: the plugin folder as it is, less byte code and GDAL side files. DIST=elsewhere
# writes it there instead of dist/ (tests/test_zip_in_qgis.py builds it into its temporary folder).
DIST ?= dist
zip:
	rm -rf $(DIST) && mkdir -p $(DIST)
	zip -qr $(DIST)/$(PLUGIN).zip $(PLUGIN) -x '*/__pycache__/*' '*.pyc' '*.aux.xml'
	@echo "wrote $(DIST)/$(PLUGIN).zip"

clean:
	rm -rf build dist out
