# The two commands a newcomer needs: `make dev` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit integration e2e infra browser chromium clean bench bench-triage bench-cold bench-warm bench-calls bench-surge bench-live bench-webhook train-triage triage-bundle

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	$(BIN)/peerline dev

test: $(STAMP) lint typecheck chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The browser tests (tests/browser) drive Debian's chromium through Playwright; installed here when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else \
	    echo "NOTE: chromium is not installed, so the browser tests (tests/browser) will be skipped." >&2; \
	    echo "      Install it with: sudo apt-get install -y chromium   (or set PEERLINE_CHROMIUM=/path/to/chromium)" >&2; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

unit integration e2e infra: $(STAMP)
	$(BIN)/python -m pytest tests/$@

browser: $(STAMP) chromium
	$(BIN)/python -m pytest tests/browser

# Benchmarks read ../shared/datasets at run time (never copied here) and write bench/results/*.json.
bench: bench-triage bench-surge bench-cold bench-warm bench-calls bench-live bench-webhook

# After editing shared/peerline/triage/frames/*.toml or rules/*.toml: the pre-parsed copy a cold start reads.
triage-bundle: $(STAMP)
	$(BIN)/python -m peerline.triage.bundle

bench-triage: $(STAMP)
	$(BIN)/python bench/triage_bench.py

# The learned second stage of triage: trains on tests/triage and ../shared/datasets, writes
# shared/peerline/triage/model/triage-model.bin and training-report.json (byte-identical on every run).
train-triage: $(STAMP)
	$(BIN)/python tools/train_triage.py

# Cold init per function (fresh interpreters), warm CPU per event, AWS calls per conversation (moto on loopback).
bench-live: $(STAMP)
	$(BIN)/python bench/live_push.py

bench-cold: $(STAMP)
	$(BIN)/python bench/cold_init.py

bench-warm: $(STAMP)
	$(BIN)/python bench/warm_cost.py

bench-calls: $(STAMP)
	$(BIN)/python bench/aws_calls.py

# CPU per forged POST at Twilio's webhooks: 1 MB refused on its length vs a small one parsed and signature-checked.
bench-webhook: $(STAMP)
	$(BIN)/python bench/webhook_cost.py

# Surge on the local line (loopback only, stops by itself within --max-seconds): bench/surge.py --help.
bench-surge: $(STAMP)
	$(BIN)/python bench/surge.py

clean:
	rm -rf $(VENV) .peerline .pytest_cache .mypy_cache .ruff_cache
