# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run demo test bench bench-scale clean system-deps

# `make run` installs the runtime set only (the embedded default and the dashboard), with pip's
# progress; `make test` adds every extra and the test tools. Either stamp is refreshed by pyproject.toml.
$(RUNTIME): pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e '.[dashboard]'
	touch $(RUNTIME)

$(STAMP): pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP) $(RUNTIME)

run: demo  ## the main job: stream + scheduled steps + dashboard (prints its URL), until Ctrl-C
	SALESFLOW__RUN__DASHBOARD=true $(BIN)/salesflow run

demo: $(RUNTIME)  ## simulate ~200,000 events (into an empty ./data only) and run the whole pipeline once
	$(BIN)/salesflow demo $(DEMO_ARGS)

system-deps:  ## Debian packages the tests start for real: PostgreSQL, Redis, Chromium (dashboard), Java 17 (Spark)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! [ -x /usr/bin/chromium ] || \
			! [ -x /usr/bin/redis-server ] || ! command -v java >/dev/null 2>&1; then \
		echo "installing Debian's postgresql, redis-server, chromium and openjdk-17 for the tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql redis-server chromium \
			openjdk-17-jre-headless >/dev/null; \
	fi

test: $(STAMP) system-deps  ## every test
	$(BIN)/python -m pytest

bench: $(STAMP)  ## benchmarks (not part of `make test`)
	$(BIN)/python bench/batch_bench.py
	$(BIN)/python bench/stream_bench.py
	$(BIN)/python bench/sources_bench.py
	$(BIN)/python bench/forecast_bench.py
	$(BIN)/python bench/engines_bench.py
	$(BIN)/python bench/compare.py

bench-scale: $(STAMP)  ## 2M/10M/50M events through the batch under a 4 GiB cgroup cap (root; ~40 min, ~25 GB disk)
	$(BIN)/python bench/scale_bench.py --sizes 2000000,10000000,50000000 --cap-gib 4

clean:
	rm -rf $(VENV) data .pytest_cache
