# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## simulate ~200,000 events and run the whole pipeline on embedded defaults
	$(BIN)/salesflow demo

test: $(STAMP)  ## every test
	$(BIN)/python -m pytest

bench: $(STAMP)  ## benchmarks (not part of `make test`)
	$(BIN)/python bench/batch_bench.py

clean:
	rm -rf $(VENV) data .pytest_cache
