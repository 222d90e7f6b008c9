# Every target creates .venv with python3 if it is missing, so a fresh clone needs only Python 3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pytest-xdist workers; each test file runs whole in one worker (its module fixtures once)
TEST_WORKERS ?= 2

.PHONY: demo test test-all lint bench figures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m experiments.demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile

test-all: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script --quick || exit 1; done

figures: $(STAMP)
	for experiment in experiments/*/plot.py; do $(BIN)/python -m $$(dirname $$experiment | tr / .).plot || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
