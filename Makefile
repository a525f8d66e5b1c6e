# The two commands of the README, and the rest of the everyday loop.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Real-process tests mostly wait, so more workers than cores still shortens the run.
PYTEST_ARGS ?= -n 4 --dist worksteal
BENCH_ARGS ?=

.PHONY: run test lint check format bench migrate clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

# The shop's payments go to the sandbox gateway (test cards in docs/commerce.md), stopped with
# the server.
run: $(VENV)/.installed-run
	$(BIN)/bazaar migrate
	$(BIN)/bazaar seed --demo
	@echo "Bazaar on http://$${BAZAAR_HOST:-127.0.0.1}:$${BAZAAR_PORT:-8000}  docs: /docs  health: /health/ready"
	$(BIN)/bazaar commerce sandbox-gateway & sandbox=$$!; \
	trap 'kill $$sandbox' EXIT INT TERM; $(BIN)/bazaar serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Lint first: a type or style error stops before the suite runs.
check:
	$(MAKE) lint
	$(MAKE) test

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run $(BENCH_ARGS)

migrate: $(VENV)/.installed-run
	$(BIN)/bazaar migrate

clean:
	rm -rf $(VENV) bazaar.db bazaar.db-wal bazaar.db-shm .pytest_cache .mypy_cache .ruff_cache .hypothesis
