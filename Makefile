# The README's two set-up commands: `make demo` and `make test`.
# Each creates (or reuses) .venv and installs what it needs.
#
# TORCH_SPEC is installed before the project so that pip never resolves a CUDA
# build on a CPU machine. On this kind of machine pip finds a local CPU wheel for
# torch==2.13.0. Elsewhere on a CPU-only machine use
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# and on a CUDA machine see the README ("GPU install").
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnkit-installed

.PHONY: demo test test-slow bench install clean docs lint

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/mypy

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || \
	  $(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rnnkit demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/bench_layers.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

docs: $(STAMP)
	$(PY) scripts/cli_docs.py
