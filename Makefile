# The project's table of contents for commands. Everything runs from a local .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test faults soak lint format clean chromium faketime screenshots bench bench-quick bench-env

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/underway demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/mypy --strict --warn-unused-ignores tests/typing
	$(BIN)/lint-imports

# Everything but the fault suite, which takes minutes of its own: `make faults`. Two test
# processes: much of the suite waits on worker processes, servers and a browser, and each
# test has a database of its own (a schema, a file, or a private PostgreSQL server).
test: lint chromium
	$(BIN)/pytest -n 2 --ignore=tests/faults --ignore=tests/soak

# The dashboard tests drive Debian's Chromium through Playwright (no browser download).
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)

# PNGs of every dashboard page for docs/dashboard.md.
screenshots: $(STAMP) chromium
	$(BIN)/python -m tests.dashboard.screenshots docs/screenshots

# The clock-skew scenario runs a worker under libfaketime (Debian's faketime package).
faketime:
	@ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y faketime)

# The fault suite (real processes, crashes, outages on both backends), then its figures.
faults: $(STAMP) faketime chromium
	rm -f .faults-results.jsonl
	$(BIN)/pytest tests/faults
	$(BIN)/python -m tests.faults.table .faults-results.jsonl

# Scenario 23: a steady load with faults and a 2-minute retention, on both backends at once.
SOAK_SECONDS ?= 1800
soak: $(STAMP)
	rm -f .soak-results.jsonl
	UNDERWAY_SOAK_SECONDS=$(SOAK_SECONDS) FAULT_RESULTS=.soak-results.jsonl $(BIN)/pytest tests/soak
	$(BIN)/python -m tests.faults.table .soak-results.jsonl

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The benchmark suite (bench/README.md) runs from its own venv: underway plus the peer
# libraries it is compared with, which are never dependencies of underway itself.
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml bench/requirements-peers.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e '.[postgres,server]' httpx -r bench/requirements-peers.txt
	touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)

# Every scenario on underway and its peers, medians of 3 runs (~30 min): bench/RESULTS.md.
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m bench.run

# Smaller sizes, one run, no 1M-row depth: for working on the suite (~5 min).
bench-quick: $(BENCH_STAMP)
	BENCH_QUICK=1 $(BENCH_VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
