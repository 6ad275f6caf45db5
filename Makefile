# The two commands a fresh machine needs (README): `make demo` and `make test`.
# Both install what is missing first: Debian's QGIS (apt), a venv on Debian's python3 with
# system site packages (PyQGIS, GDAL), and the pip requirements.
PLUGIN := s2_superres
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := qgis python3-qgis qgis-providers python3-venv python3-pip python3-scipy xvfb
RUNTIME := __init__.py plugin.py qgis_layers.py qgis_render.py metadata.txt resources.qrc LICENSE core ui processing icons models

.PHONY: demo test lint bench zip clean

$(STAMP): requirements.txt requirements-train.txt requirements-dev.txt
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES))
	[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt -r requirements-train.txt -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m core demo --output-dir out

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider tests

# ruff (style, pyflakes, bugbear, naming) on the whole tree, mypy on core/; settings in pyproject.toml
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m bench.run

zip:
	rm -rf build && mkdir -p build/$(PLUGIN) dist
	cp -r $(wildcard $(RUNTIME)) build/$(PLUGIN)/
	find build -name __pycache__ -prune -exec rm -rf {} +
	cd build && zip -qr ../dist/$(PLUGIN).zip $(PLUGIN)
	@echo "wrote dist/$(PLUGIN).zip"

clean:
	rm -rf build dist out
