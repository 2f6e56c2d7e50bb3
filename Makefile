# audiokit: the two commands of the README, each setting up .venv on first use.
#   make demo   - run the main job on the bundled example audio (writes demo_out/)
#   make test   - run the test suite
# TORCH_SPEC selects the torch build (default: the CPU wheel); e.g. TORCH_SPEC="torch==2.13.0" or a CUDA build.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_out
PY := $(VENV)/bin/python
STAMP := $(VENV)/.audiokit-installed

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/audiokit demo $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check audiokit tests benchmarks recipes

bench: $(STAMP)
	$(PY) benchmarks/bench_frontend.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
