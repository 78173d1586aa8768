# make quickstart : set up, then train and validate on the offline Fashion-MNIST
# make test       : set up, then run the whole test suite
# make mutants    : break features on purpose in a copy, check that their tests fail
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
FASHION_MNIST_DIR ?= /usr/share/datasets/fashion-mnist
PYTEST_ARGS ?=
export FASHION_MNIST_DIR

.PHONY: setup data quickstart test mutants lint clean

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

# Breaks one feature at a time in a temporary copy and checks that its tests fail
# (scripts/mutant_list.py); by hand, a few minutes, not part of `make test`.
mutants: setup data
	$(PY) scripts/mutants.py

lint: setup
	$(PY) -m flake8 robustkit tests scripts

clean:
	rm -rf runs build *.egg-info .pytest_cache
