# Every target creates .venv with python3 if it is missing, so a fresh clone needs only Python 3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DOCS_STAMP := $(VENV)/.docs-installed-stamp
# quiet the upstream notices about MkDocs 2 / material end of life
DOCS_ENV := DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1
# pytest-xdist workers; each test file runs whole in one worker (its module fixtures once).
# A crashed worker ends the run (--max-worker-restart=0): with --dist loadfile, pytest-xdist
# 3.8 can deadlock after replacing a crashed worker (pytest-xdist issues #784, #1378), which
# turned one segfault into a CI timeout.
TEST_WORKERS ?= 2
PYTEST_XDIST := -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=0

.PHONY: demo test test-all lint bench figures docs docs-check docs-serve clean

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
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_XDIST)

test-all: lint
	$(BIN)/python -m pytest $(PYTEST_XDIST)

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script --quick || exit 1; done

# the documentation site: tutorials executed, strict (a warning, a broken link or a failing
# tutorial is an error); docs-check is the same build without running the tutorials
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	DOCS_EXECUTE=true $(DOCS_ENV) $(BIN)/mkdocs build --strict --site-dir site

docs-check: $(DOCS_STAMP)
	DOCS_EXECUTE=false $(DOCS_ENV) $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(DOCS_STAMP)
	DOCS_EXECUTE=true $(DOCS_ENV) $(BIN)/mkdocs serve

figures: $(STAMP)
	for experiment in experiments/*/plot.py; do $(BIN)/python -m $$(dirname $$experiment | tr / .).plot || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
