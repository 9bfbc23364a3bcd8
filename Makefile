# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/redline demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Lint, types and tests at once: the suite mostly waits (on subprocesses, servers, the demo), so
# mypy's work fits beside it, and pytest-xdist runs it on more workers than this 2-core machine
# has cores (worksteal: a worker that runs dry takes tests queued on a busy one).
test: $(STAMP)
	$(MAKE) --no-print-directory --output-sync=target -j3 lint typecheck pytest

pytest: $(STAMP)
	$(BIN)/pytest -q -n 4 --dist worksteal

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) redline-data redline-demo build redline.egg-info .pytest_cache .mypy_cache .ruff_cache
