# make quickstart : set up, then train and validate on the offline Fashion-MNIST
# make test       : set up, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
FASHION_MNIST_DIR ?= /usr/share/datasets/fashion-mnist
PYTEST_ARGS ?=
export FASHION_MNIST_DIR

.PHONY: setup data quickstart test lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when the dependency list changes.
$(INSTALLED): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(INSTALLED)

data:
	@scripts/ensure_fashion_mnist.sh

quickstart: setup
	@scripts/ensure_fashion_mnist.sh --required
	@scripts/quickstart.sh

test: setup data
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m flake8 robustkit tests scripts

clean:
	rm -rf runs build *.egg-info .pytest_cache
