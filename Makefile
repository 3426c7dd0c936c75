# The two commands a newcomer needs: `make dev` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit integration e2e infra clean bench bench-triage

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	$(BIN)/peerline dev

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

unit integration e2e infra: $(STAMP)
	$(BIN)/python -m pytest tests/$@

# Benchmarks read ../shared/datasets at run time (never copied here) and write bench/results/*.json.
bench: bench-triage

bench-triage: $(STAMP)
	$(BIN)/python bench/triage_bench.py

clean:
	rm -rf $(VENV) .peerline .pytest_cache .mypy_cache .ruff_cache
