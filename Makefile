PYTHON ?= python3
# Python may keep compiled modules (and pytest its rewritten tests): each test worker and each process a test
# starts then skips compiling them again (about 6 s of `make test` on 2 cores).
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := bot adapters tests migrations $(wildcard bench)

.PHONY: run test test-slow test-all lint bench bench-quick demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/symposium-bot run

demo: $(STAMP)
	$(BIN)/symposium-bot demo

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs on every core at once (pytest-xdist); the slow tier (processes killed, a PostgreSQL server
# restarted, load, a long simulated day, axe on six pages) runs with test-slow. CI runs both (.ci/run).
test: lint
	$(BIN)/pytest -n auto -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -n auto -m slow

test-all: lint
	$(BIN)/pytest -n auto

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
